"""Archive last month's completed compositions to a directory or an S3 bucket.

"Last month" is the previous calendar month in UTC, from its first day (inclusive) to the
first day of the current month (exclusive), whenever the script runs: a monthly cron job
on the 1st archives the month that just ended, and a rerun skips what is already archived
(the manifest, a SQLite file, remembers every copy and is checked against the files).

    python examples/archive_last_month.py recordings/
    python examples/archive_last_month.py recordings/ --dry-run
    python examples/archive_last_month.py recordings/ --delete-after
    python examples/archive_last_month.py s3://bucket/compositions --manifest archive.sqlite3
    python examples/archive_last_month.py recordings/ --provider telnyx --month 2026-10

Every file is verified (byte count and the composition's own size) and made durable
before it is recorded, and ``--delete-after`` deletes a composition at the provider only
once its copy is recorded. The summary goes to stdout, one line per failure to stderr;
the exit status is 0 when everything was archived, 1 when anything failed (or the
listing could not be read), 2 for bad arguments, 130 when interrupted.

Credentials and API roots come from the environment, as for the library's clients:
``TWILIO_ACCOUNT_SID`` and ``TWILIO_AUTH_TOKEN`` (or ``TWILIO_API_KEY`` and
``TWILIO_API_SECRET``) and ``TWILIO_VIDEO_BASE_URL``; ``TELNYX_API_KEY`` and
``TELNYX_BASE_URL``. An s3:// destination takes AWS credentials the usual way (the ``s3``
extra). To try it against the built-in emulator, start it with compositions seeded (they
are dated the last few hours, so pick the current month with ``--month``)::

    python -m async_compositions.emulator --port 8080 --seed-twilio 20
    # export the TWILIO_* lines it prints, then:
    python examples/archive_last_month.py /tmp/archive --month "$(date -u +%Y-%m)"
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Literal, TextIO

from async_compositions import ArchiveReport, CompositionsError, TelnyxClient, TwilioClient
from async_compositions.archive import ArchiveEvent, CompositionArchived, CompositionFailed

__all__ = ["Options", "archive", "main", "month_range", "parse_args", "previous_month", "run"]

Provider = Literal["twilio", "telnyx"]


@dataclass(frozen=True, kw_only=True)
class Options:
    """The command line, parsed."""

    dest: str
    provider: Provider = "twilio"
    month: date | None = None
    manifest: str | None = None
    delete_after: bool = False
    dry_run: bool = False
    concurrency: int = 4
    name: str = "{date_created:%Y/%m}/{id}{ext}"
    s3_endpoint_url: str | None = None
    quiet: bool = False


def previous_month(today: date) -> date:
    """The first day of the month before ``today``'s."""
    return (today.replace(day=1) - timedelta(days=1)).replace(day=1)


def month_range(first: date) -> tuple[datetime, datetime]:
    """``[first day of the month, first day of the next month)`` as aware UTC datetimes."""
    start = datetime(first.year, first.month, 1, tzinfo=UTC)
    after = (start + timedelta(days=32)).replace(day=1)
    return start, after


def _month(text: str) -> date:
    try:
        return datetime.strptime(text, "%Y-%m").date()
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM, not {text!r}") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="archive_last_month.py",
        description="Archive last month's (UTC) completed compositions.",
    )
    parser.add_argument("dest", help="a directory, or s3://bucket[/prefix]")
    parser.add_argument("--provider", choices=("twilio", "telnyx"), default="twilio")
    parser.add_argument("--month", type=_month, help="YYYY-MM instead of last month")
    parser.add_argument(
        "--manifest", help="the SQLite manifest (default: inside a directory destination)"
    )
    parser.add_argument(
        "--delete-after",
        action="store_true",
        help="delete each composition at the provider once its copy is verified and recorded",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="say what would be done; change nothing"
    )
    parser.add_argument("--concurrency", type=int, default=4, help="downloads at once (4)")
    parser.add_argument(
        "--name",
        default=Options.name,
        help="file name template (default: %(default)s; fields: id, ext, date_created, "
        "room, session, provider)",
    )
    parser.add_argument("--s3-endpoint-url", help="an S3-compatible endpoint (MinIO, R2, ...)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only the summary")
    return parser


def parse_args(argv: Sequence[str] | None = None) -> Options:
    """Parse the command line (argparse exits with status 2 on bad arguments)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.dest.startswith("s3://") and args.manifest is None:
        parser.error("an s3:// destination needs --manifest (a local path)")
    if not 1 <= args.concurrency <= 64:
        parser.error("--concurrency must be between 1 and 64")
    return Options(
        dest=args.dest,
        provider=args.provider,
        month=args.month,
        manifest=args.manifest,
        delete_after=args.delete_after,
        dry_run=args.dry_run,
        concurrency=args.concurrency,
        name=args.name,
        s3_endpoint_url=args.s3_endpoint_url,
        quiet=args.quiet,
    )


async def archive(options: Options, *, today: date, out: TextIO) -> ArchiveReport:
    """Archive the chosen month; progress lines (unless quiet) go to ``out``."""
    first = options.month or previous_month(today)
    start, end = month_range(first)
    print(
        f"{'dry run: ' if options.dry_run else ''}archiving {options.provider} compositions "
        f"created {start:%Y-%m-%d} to {end - timedelta(days=1):%Y-%m-%d} (UTC) "
        f"into {options.dest}",
        file=out,
    )

    def progress(event: ArchiveEvent) -> None:
        if options.quiet:
            return
        if isinstance(event, CompositionArchived):
            print(f"  archived {event.id} -> {event.key} ({event.size} bytes)", file=out)
        elif isinstance(event, CompositionFailed):
            failure = event.failure
            print(f"  FAILED {failure.id} ({failure.stage}): {failure.message}", file=out)

    if options.provider == "twilio":
        async with TwilioClient() as twilio:
            return await twilio.compositions.archive(
                options.dest,
                concurrency=options.concurrency,
                delete_after=options.delete_after,
                manifest=options.manifest,
                dry_run=options.dry_run,
                progress=progress,
                name=options.name,
                s3_endpoint_url=options.s3_endpoint_url,
                date_created_after=start,  # on or after
                date_created_before=end,  # strictly before
            )
    async with TelnyxClient() as telnyx:
        # Telnyx filters by day, both ends inclusive: the month's first and last days.
        return await telnyx.compositions.archive(
            options.dest,
            concurrency=options.concurrency,
            delete_after=options.delete_after,
            manifest=options.manifest,
            dry_run=options.dry_run,
            progress=progress,
            name=options.name,
            s3_endpoint_url=options.s3_endpoint_url,
            date_created_after=start.date(),
            date_created_before=(end - timedelta(days=1)).date(),
        )


def summarize(report: ArchiveReport, out: TextIO, err: TextIO) -> None:
    """The summary to ``out``, each failure to ``err``."""
    verb = "would archive" if report.dry_run else "archived"
    parts = [f"{verb} {len(report.archived)}"]
    if not report.dry_run:
        parts[0] += f" ({report.bytes} bytes)"
    parts.append(f"already archived {len(report.skipped)}")
    if report.deleted:
        parts.append(f"{'would delete' if report.dry_run else 'deleted'} {len(report.deleted)}")
    if report.left_alone:  # listed although not completed (the listing asks for completed)
        parts.append(f"not completed {len(report.left_alone)}")
    parts.append(f"failed {len(report.failed)}")
    print(", ".join(parts), file=out)
    if report.manifest:
        print(f"manifest: {report.manifest}", file=out)
    for failure in report.failed:
        print(f"failed: {failure.id} ({failure.stage}): {failure.message}", file=err)


async def run(
    options: Options,
    *,
    today: date | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Archive and summarize; the exit status."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    day = datetime.now(UTC).date() if today is None else today
    try:
        if not options.dest.startswith("s3://") and not options.dry_run:
            await asyncio.to_thread(Path(options.dest).mkdir, parents=True, exist_ok=True)
        report = await archive(options, today=day, out=out)
    except (CompositionsError, OSError) as exc:
        # The listing itself failed (credentials, network), or the destination is unusable.
        print(f"error: {exc}", file=err)
        return 1
    except ValueError as exc:
        # Missing credentials, a bad name template or destination: refused before sending.
        print(f"error: {exc}", file=err)
        return 2
    summarize(report, out, err)
    return 0 if report.ok else 1


def main(argv: Sequence[str] | None = None, *, today: date | None = None) -> int:
    """Run the script; ``today`` (default: today in UTC) decides which month is last month."""
    options = parse_args(argv)
    try:
        return asyncio.run(run(options, today=today))
    except KeyboardInterrupt:
        # archive() has already removed partial files; the manifest says what is done.
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
