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
from ..archive import (
    ArchiveEvent,
    ArchiveReport,
    CompositionArchived,
    CompositionDeleted,
    CompositionFailed,
    CompositionLeftAlone,
    CompositionSkipped,
    TransferProgress,
    TransferStarted,
)
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
        # What an archive run has done so far, by outcome, and the bytes it moved.
        self._tally: dict[str, int] = {}
        self._moved = 0

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

    # -- archive -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def archive_progress(self) -> Iterator[Callable[[ArchiveEvent], None]]:
        """The archive's event handler: a line (or JSON line) per composition, and on a
        terminal, bars for the whole run and for each file in flight."""
        if not self.interactive or self.json_lines:
            yield self._archive_line
            return
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            console=self.err,
            transient=True,
        )
        with progress:
            overall = progress.add_task("archived 0", total=None)
            files: dict[str, Any] = {}

            def on_event(event: ArchiveEvent) -> None:
                if isinstance(event, TransferStarted):
                    files[event.id] = progress.add_task(f"  {event.key}", total=event.size)
                elif isinstance(event, TransferProgress):
                    task = files.get(event.id)
                    if task is not None:
                        progress.update(task, completed=event.done, total=event.total)
                else:
                    self._archive_line(event)
                    id = event.failure.id if isinstance(event, CompositionFailed) else None
                    id = id or getattr(event, "id", None)
                    task = files.pop(id, None) if isinstance(id, str) else None
                    if task is not None:
                        progress.remove_task(task)
                    counts = ", ".join(f"{k} {v}" for k, v in self._tally.items())
                    progress.update(
                        overall, description=counts or "archived 0", completed=self._moved
                    )

            yield on_event

    def _archive_line(self, event: ArchiveEvent) -> None:
        """One composition's outcome, as it happens."""
        line: dict[str, Any] | None = None
        if isinstance(event, CompositionArchived):
            self._moved += event.size
            line = {"id": event.id, "archived": event.key, "size": event.size}
            line["sha256"] = event.sha256
        elif isinstance(event, CompositionSkipped):
            line = {"id": event.id, "skipped": event.key}
        elif isinstance(event, CompositionDeleted):
            line = {"id": event.id, "deleted": True}
        elif isinstance(event, CompositionLeftAlone):
            line = {"id": event.id, "left_alone": event.status}
        elif isinstance(event, CompositionFailed):
            failure = event.failure
            line = {"id": failure.id, "failed": failure.stage, "error": failure.message}
        if line is None:
            return
        outcome = next(k for k in line if k != "id")
        self._tally[outcome] = self._tally.get(outcome, 0) + 1
        if self.json_lines:
            self._json_line(line)
        elif not self.interactive or outcome in ("failed",):
            detail = "" if line[outcome] is True else f"  {line[outcome]}"
            # A quoted body (S3's XML) may span lines; one composition is one line.
            extra = f"  {' '.join(line['error'].split())}" if "error" in line else ""
            self._line(f"{outcome:<10} {line['id']}{detail}{extra}")

    def archive_summary(self, report: ArchiveReport | None) -> None:
        """What the run did: from the report, or (interrupted) from what was seen so far."""
        if report is not None:
            counts = {
                "archived": len(report.archived),
                "skipped": len(report.skipped),
                "deleted": len(report.deleted),
                "left_alone": len(report.left_alone),
                "failed": len(report.failed),
            }
            moved = report.bytes
        else:
            counts = {k: self._tally.get(k, 0) for k in ("archived", "skipped", "deleted")}
            counts |= {k: self._tally.get(k, 0) for k in ("left_alone", "failed")}
            moved = self._moved
        summary: dict[str, Any] = {**counts, "bytes": moved, "interrupted": report is None}
        if report is not None:
            summary |= {"dry_run": report.dry_run, "manifest": report.manifest}
        if self.json_lines:
            self._json_line({"summary": summary})
            return
        done = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in counts.items())
        what = "interrupted after" if report is None else "would do" if report.dry_run else "done"
        target = sys.stderr if report is None else sys.stdout
        target.write(f"{what}: {done}; {moved:,} bytes\n")
        target.flush()
