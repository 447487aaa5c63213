"""A bot that reports each newly completed composition once, polling the listing.

Every ``--interval`` seconds it lists the completed compositions created within the last
``--window`` hours (newest first) and reports the ones it has not reported before, one
line each: printed by default, or handed to any ``report`` callback (sync or async) when
used from Python, which is where a chat post would go.

Why a window and a set of reported ids rather than "created after the newest one seen":
compositions do not complete in the order they were created (a long room takes longer to
compose), so a composition created before the last one reported can complete after it.
The window should be longer than any composition takes to complete; ids older than it
are forgotten.

What was reported is kept in memory, or in ``--state FILE`` (JSON, replaced atomically
after each poll that reported something), so a restart does not report anything twice.
A composition is remembered after its line was reported: a crash in between reports it
again on the next run, never not at all. ``--skip-existing`` starts a fresh state by
remembering what is already there without reporting it.

    python examples/new_compositions_bot.py --interval 60 --state bot-state.json
    python examples/new_compositions_bot.py --once
    python examples/new_compositions_bot.py --provider telnyx --window 48

Ctrl-C stops it at once, even mid-poll; SIGTERM once the poll in progress is done. Either
way the client is closed, no task is left behind and the exit status is 0.

Credentials and API roots come from the environment, as for the library's clients
(``TWILIO_ACCOUNT_SID``/``TWILIO_AUTH_TOKEN``, ``TWILIO_VIDEO_BASE_URL``;
``TELNYX_API_KEY``, ``TELNYX_BASE_URL``). Against the built-in emulator::

    python -m async_compositions.emulator --port 8080 --seed-twilio 5
    # export the TWILIO_* lines it prints, then:
    python examples/new_compositions_bot.py --interval 5
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import inspect
import json
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeAlias

from async_compositions import CompositionsError, TelnyxClient, TwilioClient
from async_compositions.telnyx import RoomComposition
from async_compositions.twilio import Composition

__all__ = ["Seen", "describe", "main", "poll_once", "run_bot"]

Report: TypeAlias = Callable[[str], object]
AnyComposition: TypeAlias = Composition | RoomComposition


class Seen:
    """The ids reported so far, with their creation times, optionally kept in a file."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.ids: dict[str, datetime] = {}
        if path is not None and path.exists():
            document = json.loads(path.read_text(encoding="utf-8"))
            entries = document.get("seen") if isinstance(document, dict) else None
            if not isinstance(entries, dict):
                raise ValueError(f"{path} is not a state file of this bot")
            self.ids = {str(id): datetime.fromisoformat(when) for id, when in entries.items()}

    @property
    def fresh(self) -> bool:
        """True when nothing has been recorded yet (no state file, or an empty one)."""
        return not self.ids

    def __contains__(self, id: object) -> bool:
        return id in self.ids

    def add(self, id: str, created: datetime) -> None:
        self.ids[id] = created

    def forget_before(self, cutoff: datetime) -> None:
        """Drop ids older than the window: the listing will not return them again."""
        self.ids = {id: when for id, when in self.ids.items() if when >= cutoff}

    def save(self) -> None:
        """Write the state file atomically, so a crash mid-write keeps the previous one."""
        if self.path is None:
            return
        document = {"seen": {id: when.isoformat() for id, when in self.ids.items()}}
        directory = self.path.parent
        fd, temporary = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                json.dump(document, file, indent=1, sort_keys=True)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise


def _created(composition: AnyComposition) -> datetime:
    if isinstance(composition, Composition):
        created = composition.date_created
    else:
        created = composition.created_at
    # A record without a date is kept for one window from now.
    return created or datetime.now(UTC)


def describe(composition: AnyComposition) -> str:
    """The line reported for a composition."""
    when = f"{_created(composition):%Y-%m-%d %H:%M} UTC"
    if isinstance(composition, Composition):
        size = f"{composition.size} bytes" if composition.size is not None else "size unknown"
        return (
            f"composition {composition.sid} of room {composition.room_sid} is ready: "
            f"{composition.duration} s, {size}, created {when}"
        )
    size = f"{composition.size_mb} MB" if composition.size_mb is not None else "size unknown"
    duration = composition.duration_secs if composition.duration_secs is not None else "?"
    return (
        f"composition {composition.id} of session {composition.session_id} is ready: "
        f"{duration} s, {size}, created {when}"
    )


async def _completed(client: TwilioClient | TelnyxClient, since: datetime) -> list[AnyComposition]:
    """Completed compositions created since ``since``, newest first, as the listing gives."""
    found: list[AnyComposition] = []
    if isinstance(client, TwilioClient):
        stream = client.compositions.stream(status="completed", date_created_after=since)
        async with contextlib.aclosing(stream) as items:
            found.extend([c async for c in items])
    else:
        # Telnyx filters by day: the window widens to its first whole day.
        telnyx = client.compositions.stream(status="completed", date_created_after=since.date())
        async with contextlib.aclosing(telnyx) as items:
            found.extend([c async for c in items])
    return found


async def poll_once(
    client: TwilioClient | TelnyxClient,
    seen: Seen,
    *,
    report: Report = print,
    window: timedelta = timedelta(hours=24),
    quietly: bool = False,
) -> list[str]:
    """One poll: report (unless ``quietly``) what is new; return the new ids, oldest first."""
    since = datetime.now(UTC) - window
    listed = await _completed(client, since)
    new = [c for c in reversed(listed) if c.id not in seen]
    for composition in new:
        if not quietly:
            result = report(describe(composition))
            if inspect.isawaitable(result):
                await result
        seen.add(composition.id, _created(composition))
    # A day's margin: a Telnyx listing starts at the window's first whole day, so it
    # returns compositions up to a day older than the window.
    seen.forget_before(since - timedelta(days=1))
    if new:
        seen.save()
    return [c.id for c in new]


async def run_bot(
    client: TwilioClient | TelnyxClient,
    seen: Seen,
    *,
    interval: float = 60.0,
    window: timedelta = timedelta(hours=24),
    report: Report = print,
    iterations: int | None = None,
    skip_existing: bool = False,
    stop: asyncio.Event | None = None,
    on_error: Report | None = None,
) -> int:
    """Poll ``iterations`` times (None: until cancelled or ``stop`` is set); the polls made.

    A failed poll (the API down, a timeout) is reported to ``on_error`` (default: stderr)
    and tried again at the next interval; cancellation stops the bot at once.
    """
    complain = on_error or (lambda line: print(line, file=sys.stderr))
    quietly = skip_existing and seen.fresh
    polls = 0
    while iterations is None or polls < iterations:
        if polls:
            if stop is None:
                await asyncio.sleep(interval)
            else:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(interval):
                        await stop.wait()
        if stop is not None and stop.is_set():
            break
        polls += 1
        try:
            await poll_once(client, seen, report=report, window=window, quietly=quietly)
        except CompositionsError as exc:
            complain(f"poll failed: {exc}")
            continue
        quietly = False
    return polls


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="new_compositions_bot.py",
        description="Report each newly completed composition once.",
    )
    parser.add_argument("--provider", choices=("twilio", "telnyx"), default="twilio")
    parser.add_argument("--interval", type=float, default=60.0, help="seconds between polls")
    parser.add_argument(
        "--window", type=float, default=24.0, help="hours back to look for compositions (24)"
    )
    parser.add_argument("--state", type=Path, help="JSON file remembering what was reported")
    parser.add_argument(
        "--skip-existing",
        action="store_true",
        help="with a fresh state, remember what is already there without reporting it",
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--once", action="store_true", help="poll once and exit")
    group.add_argument("--iterations", type=int, help="poll this many times and exit")
    return parser


async def _serve(args: argparse.Namespace, report: Report) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # Signal handlers can only be set from the main thread; elsewhere (a test running the
    # bot in a thread) cancellation is the only way to stop it early.
    handled = threading.current_thread() is threading.main_thread()
    if handled:
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        # Ctrl-C cancels the bot from inside the loop. (asyncio.run's own handler cancels
        # straight from the signal handler, which can land between two steps of a library
        # completing a future and make it fail with InvalidStateError.)
        task = asyncio.current_task()
        assert task is not None
        loop.add_signal_handler(signal.SIGINT, task.cancel)
    try:
        seen = Seen(args.state)
        client: TwilioClient | TelnyxClient
        client = TwilioClient() if args.provider == "twilio" else TelnyxClient()
        async with client:
            await run_bot(
                client,
                seen,
                interval=args.interval,
                window=timedelta(hours=args.window),
                report=report,
                iterations=1 if args.once else args.iterations,
                skip_existing=args.skip_existing,
                stop=stop,
            )
    finally:
        if handled:
            loop.remove_signal_handler(signal.SIGTERM)
            loop.remove_signal_handler(signal.SIGINT)
    return 0


def main(argv: Sequence[str] | None = None, *, report: Report = print) -> int:
    """Run the bot; 0 after a clean stop (Ctrl-C included), 2 for bad arguments."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not args.interval > 0 or not args.window > 0:
        parser.error("--interval and --window must be > 0")
    if args.iterations is not None and args.iterations < 1:
        parser.error("--iterations must be at least 1")
    try:
        # Ctrl-C cancels the bot, so the client is closed on the way out.
        return asyncio.run(_serve(args, report))
    except (KeyboardInterrupt, asyncio.CancelledError):
        return 0
    except (ValueError, OSError) as exc:
        # Missing credentials or an unreadable state file, found before the first poll.
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
