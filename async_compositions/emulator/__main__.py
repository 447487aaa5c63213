"""``python -m async_compositions.emulator``: serve both provider APIs until SIGINT/SIGTERM.

Compositions move on by themselves on the same short schedule as an in-process
``Emulator()``; ``--manual`` stops the clock (they stay where they are).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence

from ..ratelimit import RateLimit
from ._emulator import DEFAULT_COMPLETION_DELAY, DEFAULT_PROCESSING_DELAY, Emulator

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m async_compositions.emulator",
        description="Local emulator of the Twilio Video v1 Compositions and "
        "Telnyx Room Compositions APIs.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port (0: any free port)")
    # None when not given, so that --manual can refuse an explicit delay.
    parser.add_argument(
        "--processing-delay",
        type=float,
        default=None,
        help=f"seconds from created to processing ({DEFAULT_PROCESSING_DELAY})",
    )
    parser.add_argument(
        "--completion-delay",
        type=float,
        default=None,
        help=f"seconds from processing to completed ({DEFAULT_COMPLETION_DELAY})",
    )
    parser.add_argument(
        "--manual",
        action="store_true",
        help="no timers: compositions stay where they are (no --*-delay with it)",
    )
    parser.add_argument(
        "--latency", type=float, default=0.0, help="seconds added to each API request"
    )
    parser.add_argument(
        "--media-latency", type=float, default=0.0, help="seconds added to each media request"
    )
    parser.add_argument(
        "--rate-limit",
        metavar="READS[,WRITES]",
        default=None,
        help="refuse API requests beyond READS (GET) and WRITES (POST, DELETE) a second, "
        "with a 429 as the providers do",
    )
    parser.add_argument("--media-size", type=int, default=65_536, help="bytes of each media file")
    parser.add_argument("--seed-twilio", type=int, default=0, metavar="N", help="N compositions")
    parser.add_argument("--seed-telnyx", type=int, default=0, metavar="N", help="N compositions")
    parser.add_argument("--seed", type=int, default=None, help="random seed for ids")
    parser.add_argument("--account-sid", default=None, help="Twilio Account SID to accept")
    parser.add_argument("--auth-token", default=None, help="Twilio Auth Token to accept")
    parser.add_argument("--telnyx-api-key", default=None, help="Telnyx API key to accept")
    return parser


def _public_key(emu: Emulator) -> str:
    try:
        return emu.telnyx_public_key
    except RuntimeError as exc:
        return f"(unavailable: {exc})"


async def _serve(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    emulator = Emulator(
        host=args.host,
        port=args.port,
        processing_delay=args.processing_delay,
        completion_delay=args.completion_delay,
        manual=args.manual,
        latency=args.latency,
        media_latency=args.media_latency,
        rate_limit=args.rate_limit,
        media_size=args.media_size,
        seed=args.seed,
        account_sid=args.account_sid,
        auth_token=args.auth_token,
        telnyx_api_key=args.telnyx_api_key,
    )
    async with emulator as emu:
        emu.seed_twilio(args.seed_twilio)
        emu.seed_telnyx(args.seed_telnyx)
        lines = [
            f"# async-compositions emulator listening on {emu.url} (Ctrl-C to stop)",
            f"TWILIO_VIDEO_BASE_URL={emu.twilio_base_url}",
            f"TWILIO_ACCOUNT_SID={emu.twilio_account_sid}",
            f"TWILIO_AUTH_TOKEN={emu.twilio_auth_token}",
            f"TWILIO_API_KEY={emu.twilio_api_key_sid}",
            f"TWILIO_API_SECRET={emu.twilio_api_key_secret}",
            f"TELNYX_BASE_URL={emu.telnyx_base_url}",
            f"TELNYX_API_KEY={emu.telnyx_api_key}",
            f"TELNYX_PUBLIC_KEY={_public_key(emu)}",
        ]
        print("\n".join(lines), flush=True)
        await stop.wait()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.remove_signal_handler(signum)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the emulator until interrupted; the exit status is 0 after a clean stop."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.manual and (args.processing_delay is not None or args.completion_delay is not None):
        parser.error("--manual takes no --processing-delay or --completion-delay")
    if args.rate_limit is not None:
        try:
            rates = [float(x) for x in args.rate_limit.split(",")]
            reads, writes = (rates * 2)[:2] if len(rates) == 1 else rates
            args.rate_limit = RateLimit(reads=reads, writes=writes)
        except (ValueError, TypeError):
            parser.error("--rate-limit must be READS or READS,WRITES (requests a second)")
    for name in ("processing_delay", "completion_delay", "latency", "media_latency"):
        value = getattr(args, name)
        if value is not None and not value >= 0:
            parser.error(f"--{name.replace('_', '-')} must be >= 0")
    try:
        asyncio.run(_serve(args))
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
