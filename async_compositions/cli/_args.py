"""The command line: argparse parser, value types and provider-option checks."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from typing import Any

from .._version import __version__

__all__ = [
    "EXIT_API",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "EXIT_WAIT",
    "PROVIDERS",
    "UsageError",
    "build_parser",
    "check_provider_options",
]

PROVIDERS = ("twilio", "telnyx")
PROVIDER_ENV = "ASYNC_COMPOSITIONS_PROVIDER"
STATUSES = ("enqueued", "processing", "completed", "failed", "deleted")

EXIT_OK = 0
EXIT_API = 1
EXIT_USAGE = 2
EXIT_WAIT = 3
EXIT_INTERRUPTED = 130

EPILOG = """\
environment:
  ASYNC_COMPOSITIONS_PROVIDER          twilio (default) or telnyx
  TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN
  TWILIO_API_KEY, TWILIO_API_SECRET    (instead of the Auth Token)
  TWILIO_VIDEO_BASE_URL                Twilio API root (default https://video.twilio.com/v1)
  TELNYX_API_KEY
  TELNYX_BASE_URL                      Telnyx API root (default https://api.telnyx.com/v2)

exit status:
  0    success
  1    the API answered with an error, or the network or a file failed
  2    usage or configuration error (bad option or id, missing credentials);
       nothing was sent
  3    wait: the composition failed, or did not settle before --timeout
  130  interrupted (Ctrl-C)
"""


class UsageError(Exception):
    """Bad input or configuration found before any request was sent (exit status 2)."""


class _Formatter(argparse.HelpFormatter):
    """Widens the option column a little."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=34)


class _MainFormatter(_Formatter, argparse.RawDescriptionHelpFormatter):
    """Keeps the layout of the tool's epilog (environment and exit status tables)."""


# -- value types -----------------------------------------------------------------------------


def _positive(kind: Callable[[str], Any], what: str) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} expected, got {text!r}") from None
        if not value > 0 or value == float("inf"):
            raise argparse.ArgumentTypeError(f"must be > 0, got {text!r}")
        return value

    return parse


positive_int = _positive(int, "a whole number")
positive_float = _positive(float, "a number of seconds")


def non_negative_int(text: str) -> int:
    """An int >= 0 (``--limit 0`` asks for nothing, as in the library)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a whole number expected, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text!r}")
    return value


# -- the parser ------------------------------------------------------------------------------


def _common(parser: argparse.ArgumentParser, *, suppress: bool, request_timeout: bool) -> None:
    """Options every command takes, before or after the command name.

    On subcommands their default is SUPPRESS, so that a value given before the command is
    not overwritten by the subcommand's default.
    """

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    group = parser.add_argument_group("common options")
    group.add_argument(
        "--provider",
        choices=PROVIDERS,
        default=default(None),
        help=f"API provider (default: ${PROVIDER_ENV}, else twilio)",
    )
    group.add_argument(
        "--base-url",
        metavar="URL",
        default=default(None),
        help="API root with its version (default: $TWILIO_VIDEO_BASE_URL or $TELNYX_BASE_URL)",
    )
    if request_timeout:
        group.add_argument(
            "--timeout",
            type=positive_float,
            metavar="S",
            default=default(None),
            help="seconds allowed for each HTTP request (default 30)",
        )
    group.add_argument(
        "--retries",
        type=non_negative_int,
        metavar="N",
        default=default(None),
        help="retries of a request that failed on the network, 429 or 5xx (default 3)",
    )
    group.add_argument(
        "--json",
        action="store_true",
        default=default(False),
        help="print JSON lines (one object per composition) instead of a table",
    )


def _list_parser(sub: Any) -> None:
    p = sub.add_parser(
        "list",
        help="list compositions",
        description="List compositions, streaming page after page (the next page is "
        "fetched while the current one is printed).",
        formatter_class=_Formatter,
    )
    p.add_argument(
        "--status",
        choices=STATUSES,
        metavar="STATUS",
        help=f"only compositions in this state: {', '.join(STATUSES)} "
        "(Telnyx filters on the first three)",
    )
    p.add_argument("--limit", type=non_negative_int, metavar="N", help="print at most N")
    p.add_argument(
        "--prefetch",
        type=positive_int,
        metavar="K",
        help="pages fetched ahead while printing (Telnyx 1..8, default 1)",
    )
    p.add_argument(
        "--page-size",
        type=positive_int,
        metavar="N",
        help="items per request (Twilio 1..100, Telnyx 1..250)",
    )
    _filters(p)
    _common(p, suppress=True, request_timeout=True)


def _filters(p: argparse.ArgumentParser) -> None:
    """The list filters, shared by list and archive."""
    tw = p.add_argument_group("Twilio filters")
    tw.add_argument("--room-sid", metavar="RM...", help="only compositions of this room")
    tel = p.add_argument_group("Telnyx filters")
    tel.add_argument("--session-id", metavar="UUID", help="only compositions of this session")
    tel.add_argument("--created-on", metavar="DATE", help="created on this day (YYYY-MM-DD)")
    both = p.add_argument_group(
        "creation time",
        "Twilio takes a timestamp with a zone (2024-05-01T00:00:00Z); "
        "Telnyx takes a day (2024-05-01).",
    )
    both.add_argument("--created-after", metavar="WHEN", help="created after WHEN")
    both.add_argument("--created-before", metavar="WHEN", help="created before WHEN")


def _archive_parser(sub: Any) -> None:
    p = sub.add_parser(
        "archive",
        help="copy compositions' media to a directory or S3, then maybe delete them",
        description="Archive completed compositions: stream the listing, download each "
        "one's media, verify it (byte count and the composition's size), store it durably "
        "in DEST (a directory, or s3://bucket/prefix), record it in a SQLite manifest, and "
        "with --delete-after delete it at the provider, only once its copy is safe. A rerun "
        "skips what is archived and still present. Exit status 0 when nothing failed, 1 "
        "otherwise, 130 when interrupted (what was done is printed, and kept).",
        formatter_class=_Formatter,
    )
    p.add_argument("dest", metavar="DEST", help="an existing directory, or s3://bucket/prefix")
    p.add_argument(
        "--status",
        choices=STATUSES,
        metavar="STATUS",
        default="completed",
        help="which compositions to list (default completed; others are left alone)",
    )
    _filters(p)
    p.add_argument(
        "--concurrency",
        type=positive_int,
        default=4,
        metavar="N",
        help="downloads in flight at once (1..64, default 4)",
    )
    p.add_argument(
        "--delete-after",
        action="store_true",
        help="delete each composition at the provider once its copy is verified and durable",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="say what would be archived and deleted; download and delete nothing",
    )
    p.add_argument(
        "--manifest",
        metavar="PATH",
        help="the SQLite manifest (default: inside a directory DEST; required for S3)",
    )
    p.add_argument(
        "--name",
        metavar="TEMPLATE",
        default="{id}{ext}",
        help="file name under DEST, e.g. '{date_created:%%Y/%%m/%%d}/{id}{ext}' "
        "(fields: id, ext, date_created, room, session, provider)",
    )
    p.add_argument(
        "--s3-endpoint-url",
        metavar="URL",
        help="an S3-compatible store (MinIO, R2...); default $AWS_ENDPOINT_URL",
    )
    _common(p, suppress=True, request_timeout=True)


def _create_parser(sub: Any) -> None:
    p = sub.add_parser(
        "create",
        help="create a composition",
        description="Create a composition of a room's (Twilio) or a session's (Telnyx) "
        "recordings and print it. A create is never sent twice.",
        formatter_class=_Formatter,
    )
    p.add_argument(
        "--layout",
        metavar="JSON|@FILE",
        help="video layout: a JSON object of regions, or @path to a JSON file",
    )
    p.add_argument("--resolution", metavar="WxH", help="e.g. 1280x720")
    p.add_argument("--format", help="mp4 (both) or webm (Twilio)")
    tw = p.add_argument_group("Twilio options")
    tw.add_argument("--room-sid", metavar="RM...", help="the room (required for Twilio)")
    tw.add_argument(
        "--audio-source",
        action="append",
        metavar="TRACK",
        help="audio track name or pattern ('*' for all); repeatable",
    )
    tw.add_argument(
        "--audio-source-excluded",
        action="append",
        metavar="TRACK",
        help="audio track to leave out; repeatable",
    )
    tw.add_argument("--status-callback", metavar="URL", help="URL for status callbacks")
    tw.add_argument(
        "--status-callback-method", choices=("GET", "POST"), help="HTTP method of callbacks"
    )
    tw.add_argument(
        "--trim",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="cut the silent parts (Twilio's default: trim)",
    )
    tel = p.add_argument_group("Telnyx options")
    tel.add_argument("--session-id", metavar="UUID", help="the room session")
    tel.add_argument("--webhook-url", metavar="URL", help="URL for webhook events")
    tel.add_argument("--webhook-failover-url", metavar="URL", help="failover URL for events")
    tel.add_argument(
        "--webhook-timeout",
        type=non_negative_int,
        metavar="S",
        help="seconds Telnyx waits for the webhook (0..30)",
    )
    _common(p, suppress=True, request_timeout=True)


def _id_parser(sub: Any, name: str, help: str, description: str) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        name, help=help, description=description, formatter_class=_Formatter
    )
    p.add_argument("id", metavar="ID", help="composition SID (Twilio CJ...) or id (Telnyx UUID)")
    return p


def build_parser() -> argparse.ArgumentParser:
    """The ``async-compositions`` parser with one subparser per command."""
    parser = argparse.ArgumentParser(
        prog="async-compositions",
        description="Manage video-room compositions on Twilio Video or Telnyx.",
        epilog=EPILOG,
        formatter_class=_MainFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _common(parser, suppress=False, request_timeout=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    _list_parser(sub)
    _archive_parser(sub)
    p = _id_parser(sub, "get", "show one composition", "Fetch one composition and print it.")
    _common(p, suppress=True, request_timeout=True)
    _create_parser(sub)
    p = _id_parser(
        sub,
        "delete",
        "delete a composition",
        "Delete a composition (Twilio keeps its record, status deleted, for 30 days).",
    )
    _common(p, suppress=True, request_timeout=True)
    p = _id_parser(
        sub,
        "wait",
        "wait until a composition is completed or failed",
        "Poll a composition until it is completed, failed or deleted, then print it. "
        "Exit status 0 when completed or deleted, 3 when it failed or --timeout passed. "
        "The per-request timeout is the --timeout given before the command.",
    )
    p.add_argument(
        "--timeout",
        dest="wait_timeout",
        type=positive_float,
        default=600.0,
        metavar="S",
        help="give up after S seconds (default 600)",
    )
    p.add_argument(
        "--poll-interval",
        type=positive_float,
        default=2.0,
        metavar="S",
        help="seconds before the first re-check, growing to 30 (default 2)",
    )
    _common(p, suppress=True, request_timeout=False)
    p = _id_parser(
        sub,
        "download",
        "download a composition's media",
        "Download a completed composition's media to DEST (a file, or a directory to "
        "name the file after the composition). The file appears only when complete.",
    )
    p.add_argument("dest", metavar="DEST", help="file path or existing directory")
    p.add_argument(
        "--chunk-size",
        type=positive_int,
        default=256 * 1024,
        metavar="BYTES",
        help="bytes read at a time (default 262144)",
    )
    _common(p, suppress=True, request_timeout=True)
    sub.add_parser(
        "emulator",
        help="run the local API emulator (options: emulator --help)",
        description="Run the local emulator of both APIs; the options are those of "
        "python -m async_compositions.emulator.",
        add_help=False,
        prefix_chars="\0",  # every argument, --help included, belongs to the emulator
    ).add_argument("emulator_args", nargs=argparse.REMAINDER)
    return parser


def resolve_provider(args: argparse.Namespace) -> str:
    """--provider, else $ASYNC_COMPOSITIONS_PROVIDER, else twilio."""
    provider: str | None = args.provider
    if provider is None:
        provider = os.environ.get(PROVIDER_ENV, "").strip().lower() or "twilio"
        if provider not in PROVIDERS:
            raise UsageError(
                f"${PROVIDER_ENV} must be one of {', '.join(PROVIDERS)}, got {provider!r}"
            )
    return provider


# Options that mean something to one provider only: (dest, flag, provider).
_PROVIDER_ONLY: tuple[tuple[str, str, str], ...] = (
    ("room_sid", "--room-sid", "twilio"),
    ("audio_source", "--audio-source", "twilio"),
    ("audio_source_excluded", "--audio-source-excluded", "twilio"),
    ("status_callback", "--status-callback", "twilio"),
    ("status_callback_method", "--status-callback-method", "twilio"),
    ("trim", "--trim/--no-trim", "twilio"),
    ("session_id", "--session-id", "telnyx"),
    ("created_on", "--created-on", "telnyx"),
    ("prefetch", "--prefetch", "telnyx"),
    ("webhook_url", "--webhook-url", "telnyx"),
    ("webhook_failover_url", "--webhook-failover-url", "telnyx"),
    ("webhook_timeout", "--webhook-timeout", "telnyx"),
)


def check_provider_options(args: argparse.Namespace, provider: str) -> None:
    """Refuse an option of the other provider instead of silently ignoring it."""
    for dest, flag, owner in _PROVIDER_ONLY:
        if owner != provider and getattr(args, dest, None) is not None:
            raise UsageError(
                f"{flag} is a {owner.capitalize()} option; this command uses {provider} "
                f"(choose with --provider or ${PROVIDER_ENV})"
            )


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line (argparse exits 2 on a malformed one)."""
    return build_parser().parse_args(argv)
