"""What the command line prints: rich tables and progress on a terminal, JSON lines for scripts."""

from __future__ import annotations

import contextlib
import enum
import json
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime, timedelta
from typing import IO, Any

import attrs
from rich import box
from rich.console import Console
from rich.filesize import decimal
from rich.measure import Measurement
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from rich.text import Text
from yarl import URL

from .._download import DownloadResult
from .._log import redact_url
from ..layout import VideoLayout

__all__ = ["Output", "to_json"]

# Piped output is not wrapped at 80 columns: a table row stays one line for grep and awk.
_PIPE_WIDTH = 240
_STATUS_STYLE = {
    "completed": "green",
    "failed": "bold red",
    "processing": "yellow",
    "enqueued": "cyan",
    "deleted": "dim",
}
# One cell of a `list` row, from the JSON form of a composition.
_Row = Callable[[dict[str, Any]], str]


def _plain(inst: Any, field: Any, value: Any) -> Any:
    """attrs.asdict hook: the JSON form of datetimes, URLs and status enums."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, URL):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, VideoLayout):
        return {name: attrs.asdict(region) for name, region in value.items()}
    return value


def to_json(model: Any) -> dict[str, Any]:
    """A composition model as a JSON-ready dict (ISO-8601 datetimes, status as its text)."""
    data: dict[str, Any] = attrs.asdict(model, value_serializer=_plain)
    return data


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # replaced or closed streams
        return False


def _when(value: Any) -> str:
    """An ISO-8601 timestamp to the second, ``Z`` for UTC (the library's normal form)."""
    if not isinstance(value, str):
        return ""
    moment = datetime.fromisoformat(value)
    zone = "Z" if moment.utcoffset() == timedelta(0) else moment.strftime("%z")
    return moment.strftime("%Y-%m-%d %H:%M:%S") + zone


def _duration(value: Any) -> str:
    if not isinstance(value, int) or isinstance(value, bool):
        return ""
    minutes, seconds = divmod(value, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def _bytes(value: Any) -> str:
    return decimal(value) if isinstance(value, int) and not isinstance(value, bool) else ""


def _megabytes(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return decimal(round(value * 1_000_000))
    return ""


def _text(key: str) -> _Row:
    return lambda d: "" if d.get(key) is None else str(d[key])


# The columns of `list` for each provider: (heading, cell).
_COLUMNS: dict[str, list[tuple[str, _Row]]] = {
    "twilio": [
        ("SID", _text("sid")),
        ("STATUS", _text("status")),
        ("ROOM", _text("room_sid")),
        ("CREATED", lambda d: _when(d.get("date_created"))),
        ("DURATION", lambda d: _duration(d.get("duration"))),
        ("SIZE", lambda d: _bytes(d.get("size"))),
        ("FORMAT", _text("format")),
        ("RESOLUTION", _text("resolution")),
    ],
    "telnyx": [
        ("ID", _text("id")),
        ("STATUS", _text("status")),
        ("SESSION", _text("session_id")),
        ("CREATED", lambda d: _when(d.get("created_at"))),
        ("DURATION", lambda d: _duration(d.get("duration_secs"))),
        ("SIZE", lambda d: _megabytes(d.get("size_mb"))),
        ("FORMAT", _text("format")),
        ("RESOLUTION", _text("resolution")),
    ],
}


# Columns left out, in this order, when a table is wider than the terminal.
_DROP_ORDER = ("ROOM", "SESSION", "FORMAT", "RESOLUTION", "DURATION", "SIZE")


def _status(text: str) -> Text:
    return Text(text, style=_STATUS_STYLE.get(text, ""))


def _compact(value: Any) -> Any:
    """JSON without its null members: a region's unset properties are noise on screen."""
    if isinstance(value, dict):
        return {k: _compact(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_compact(v) for v in value]
    return value


def _detail_value(key: str, raw: Any, value: Any) -> Text:
    if key == "status":
        return _status(str(value))
    if key == "download_url":
        # Pre-signed: the full URL is in --json output, not on a screen or in a log.
        return Text(redact_url(str(value)))
    if isinstance(raw, datetime):
        return Text(_when(value))
    if isinstance(value, dict | list):
        return Text(json.dumps(_compact(value), separators=(",", ":")))
    if isinstance(value, bool):
        return Text(str(value).lower())
    return Text(str(value))


class Output:
    """Prints results to stdout and progress to stderr; progress only on a terminal."""

    def __init__(self, *, json_lines: bool, provider: str) -> None:
        self.json_lines = json_lines
        self.provider = provider
        # Progress needs both streams on a terminal: nothing animated goes into a pipe or a file.
        self.interactive = _isatty(sys.stdout) and _isatty(sys.stderr)
        self.out = Console(markup=False, emoji=False, highlight=False)
        if not self.out.is_terminal:
            self.out.width = max(self.out.width, _PIPE_WIDTH)
        self.err = Console(stderr=True, markup=False, emoji=False, highlight=False)

    # -- results -----------------------------------------------------------------------------

    def _print(self, table: Table) -> None:
        if self.out.is_terminal:
            self.out.print(table)
            return
        # Into a pipe or file: plain text, without the padding that fills each cell.
        with self.out.capture() as captured:
            self.out.print(table)
        lines = [line.rstrip() for line in captured.get().splitlines()]
        sys.stdout.write("\n".join(lines) + "\n")
        sys.stdout.flush()

    def _line(self, text: str) -> None:
        # Plain text, never wrapped or styled: a path must survive copy and paste.
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    def _json_line(self, data: dict[str, Any]) -> None:
        self._line(json.dumps(data, ensure_ascii=False))

    def composition(self, model: Any) -> None:
        """One composition: a field/value table, or one JSON line."""
        data = to_json(model)
        if self.json_lines:
            self._json_line(data)
            return
        table = Table(box=box.SIMPLE, show_header=False, show_edge=False, pad_edge=False)
        table.add_column("field", style="bold", no_wrap=True)
        table.add_column("value", overflow="fold")
        for key, value in data.items():
            if value not in (None, "", {}, []):
                table.add_row(key, _detail_value(key, getattr(model, key), value))
        self._print(table)

    async def compositions(self, items: AsyncIterator[Any]) -> int:
        """Print compositions as they arrive (JSON) or as one table; return the count."""
        count = 0
        if self.json_lines:
            async for model in items:
                self._json_line(to_json(model))
                count += 1
            return count
        columns = _COLUMNS[self.provider]
        rows: list[list[str | Text]] = []
        with self.activity("fetching compositions") as update:
            async for model in items:
                data = to_json(model)
                cells: list[str | Text] = [row(data) for _, row in columns]
                cells[1] = _status(str(cells[1]))
                rows.append(cells)
                count += 1
                update(f"fetching compositions: {count}")
        if count:
            self._print(self._fitted_table([heading for heading, _ in columns], rows))
        else:
            self.err.print("no compositions")
        return count

    def _fitted_table(self, headings: list[str], rows: list[list[str | Text]]) -> Table:
        """The widest table that fits the terminal: minor columns go before any id is cut."""
        keep = list(range(len(headings)))
        while True:
            table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
            for i in keep:
                numeric = headings[i] in ("DURATION", "SIZE")
                table.add_column(headings[i], no_wrap=True, justify="right" if numeric else "left")
            for cells in rows:
                table.add_row(*(cells[i] for i in keep))
            droppable = [i for i in keep if headings[i] in _DROP_ORDER]
            unbounded = self.out.options.update_width(1_000_000)
            if (
                not droppable
                or Measurement.get(self.out, unbounded, table).maximum <= self.out.width
            ):
                return table
            keep.remove(min(droppable, key=lambda i: _DROP_ORDER.index(headings[i])))

    def deleted(self, id: str) -> None:
        """Confirm a deletion."""
        if self.json_lines:
            self._json_line({"id": id, "deleted": True})
        else:
            self._line(f"deleted {id}")

    def downloaded(self, id: str, result: DownloadResult) -> None:
        """Where the media went and its size."""
        path = None if result.path is None else str(result.path)
        if self.json_lines:
            self._json_line(
                {"id": id, "path": path, "size": result.size, "content_type": result.content_type}
            )
        else:
            self._line(f"{path}  {result.size:,} bytes")

    # -- progress ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def activity(self, text: str) -> Iterator[Callable[[str], None]]:
        """A spinner with elapsed time on stderr (a terminal only); yields a relabel function."""
        if not self.interactive:
            yield lambda _: None
            return
        progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=self.err,
            transient=True,
        )
        with progress:
            task = progress.add_task(text, total=None)
            yield lambda label: progress.update(task, description=label)

    @contextlib.contextmanager
    def transfer(self, label: str) -> Iterator[Callable[[int, int | None], None] | None]:
        """A download progress bar on stderr (a terminal only); yields the progress callback."""
        if not self.interactive:
            yield None
            return
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=self.err,
        )
        with progress:
            task = progress.add_task(label, total=None)

            def report(done: int, total: int | None) -> None:
                progress.update(task, completed=done, total=total)

            yield report
