"""``async-compositions``: the command-line tool (needs the ``cli`` extra for rich)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
from collections.abc import Coroutine, Sequence
from typing import Any

from ..errors import CompositionFailedError, CompositionsError, WaitTimeoutError
from ._args import (
    EXIT_API,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    EXIT_WAIT,
    UsageError,
    check_provider_options,
    parse,
    resolve_provider,
)

__all__ = ["main"]

_NO_RICH = (
    "error: the command-line tool needs the 'rich' package: pip install 'async-compositions[cli]'"
)


def _fail(exc: BaseException, code: int) -> int:
    """Print one line to stderr and return the exit status."""
    # Provider messages and quoted bodies may span lines; a log line should not.
    message = " ".join(str(exc).split()) or type(exc).__name__
    print(f"error: {message}", file=sys.stderr)
    return code


def _exit_code(exc: SystemExit) -> int:
    code = exc.code
    if code is None:
        return EXIT_OK
    return code if isinstance(code, int) else EXIT_USAGE


def _emulator(argv: list[str]) -> int:
    from ..emulator.__main__ import main as emulator_main

    try:
        return emulator_main(argv)
    except SystemExit as exc:  # its --help, or a malformed option
        return _exit_code(exc)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _silence_stdout() -> None:
    """After a closed pipe (``| head``), keep the interpreter from complaining at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


async def _interruptible(job: Coroutine[Any, Any, int]) -> int:
    """Await ``job``; Ctrl-C cancels it from inside the event loop.

    asyncio.run's own handler cancels the main task from the signal handler itself, which
    can land between aiohttp's check that a future is pending and its completing it: the
    interrupt then surfaces as a fatal InvalidStateError instead of a clean stop.
    """
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    handled = task is not None and threading.current_thread() is threading.main_thread()
    if handled:
        assert task is not None
        try:
            loop.add_signal_handler(signal.SIGINT, task.cancel)
        except NotImplementedError:  # Windows' event loops: asyncio.run's handler stays
            handled = False
    try:
        return await job
    finally:
        if handled:
            loop.remove_signal_handler(signal.SIGINT)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (documented in ``--help``)."""
    try:
        args = parse(argv)
    except SystemExit as exc:  # --help, --version, or a malformed command line
        return _exit_code(exc)
    if args.command == "emulator":
        return _emulator(args.emulator_args)
    try:
        from ._commands import prepare, run
        from ._output import Output
    except ImportError as exc:
        if exc.name is None or exc.name.partition(".")[0] != "rich":
            raise
        print(_NO_RICH, file=sys.stderr)
        return EXIT_USAGE
    try:
        provider = resolve_provider(args)
        check_provider_options(args, provider)
        job = prepare(args, provider)
        output = Output(json_lines=args.json, provider=provider)
        return asyncio.run(_interruptible(run(args, provider, job, output)))
    except (KeyboardInterrupt, asyncio.CancelledError):
        return EXIT_INTERRUPTED
    except UsageError as exc:
        return _fail(exc, EXIT_USAGE)
    except (CompositionFailedError, WaitTimeoutError) as exc:
        return _fail(exc, EXIT_WAIT)
    except CompositionsError as exc:
        return _fail(exc, EXIT_API)
    except (ValueError, TypeError) as exc:
        # The library checks ids, sizes, URLs and layouts before sending anything.
        return _fail(exc, EXIT_USAGE)
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_API
    except OSError as exc:  # writing the download, or reading a file
        return _fail(exc, EXIT_API)
