"""The commands: input checked up front (no I/O), then one client and the library's verbs."""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeAlias

from .._timeouts import NOT_GIVEN, TimeoutArg
from .._validate import check_day
from ..errors import CompositionFailedError
from ..retry import RetryPolicy
from ..telnyx import RoomCompositions, TelnyxClient
from ..twilio import Compositions, TwilioClient
from ._args import EXIT_API, EXIT_OK, UsageError
from ._output import Output

__all__ = ["Job", "make_client", "prepare", "run"]

Resource: TypeAlias = Compositions | RoomCompositions
# A command ready to run: every option already checked, waiting for a resource to act on.
Job: TypeAlias = Callable[[Resource, Output], Awaitable[int]]

# -- configuration ---------------------------------------------------------------------------


def make_client(args: argparse.Namespace, provider: str) -> TwilioClient | TelnyxClient:
    """A client with the library's own credential lookup; UsageError (never echoing them)."""
    timeout: TimeoutArg = NOT_GIVEN if args.timeout is None else args.timeout
    base_url = args.base_url or None
    retry = RetryPolicy() if args.retries is None else RetryPolicy(max_attempts=args.retries + 1)
    client_class = TelnyxClient if provider == "telnyx" else TwilioClient
    try:
        return client_class(base_url=base_url, timeout=timeout, retry=retry)
    except ValueError as exc:
        # Missing or malformed credentials, or a bad base URL: nothing has been sent.
        raise UsageError(str(exc)) from None


async def run(args: argparse.Namespace, provider: str, job: Job, output: Output) -> int:
    """Open the client, run the command, close the client."""
    async with make_client(args, provider) as client:
        return await job(client.compositions, output)


# -- option values ---------------------------------------------------------------------------


def _timestamp(text: str | None, flag: str) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"{flag} must be an ISO-8601 timestamp like 2024-05-01T00:00:00Z, got {text!r}"
        ) from None
    if value.tzinfo is None:
        raise UsageError(f"{flag} needs a time zone, like 2024-05-01T00:00:00Z; got {text!r}")
    return value


def _day(text: str | None, flag: str) -> date | None:
    if text is None:
        return None
    try:
        return check_day(text, flag)
    except ValueError:
        raise UsageError(
            f"{flag} must be a day like 2024-05-01 (Telnyx filters by day), got {text!r}"
        ) from None


def _layout(text: str | None) -> dict[str, Any] | None:
    """--layout: a JSON object, inline or from @file."""
    if text is None:
        return None
    source = "--layout"
    if text.startswith("@"):
        path = Path(text[1:])
        source = f"--layout file {path}"
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot read {source}: {exc.strerror or exc}") from None
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{source} is not valid JSON: {exc}") from None
    if not isinstance(value, dict) or not value:
        example = '{"grid": {"video_sources": ["*"]}}'
        raise UsageError(f"{source} must be a JSON object of regions, like {example}")
    return value


def _drop_none(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


# -- commands --------------------------------------------------------------------------------


async def _list(filters: dict[str, Any], resource: Resource, output: Output) -> int:
    # stream() checks every filter before its first request.
    await output.compositions(resource.stream(**filters))
    return EXIT_OK


async def _get(id: str, resource: Resource, output: Output) -> int:
    output.composition(await resource.fetch(id))
    return EXIT_OK


async def _create(params: dict[str, Any], resource: Resource, output: Output) -> int:
    output.composition(await resource.create(**params))
    return EXIT_OK


async def _delete(id: str, resource: Resource, output: Output) -> int:
    await resource.delete(id)
    output.deleted(id)
    return EXIT_OK


async def _wait(
    id: str, timeout: float, poll_interval: float, resource: Resource, output: Output
) -> int:
    try:
        with output.activity(f"waiting for {id}"):
            model = await resource.wait(id, timeout=timeout, poll_interval=poll_interval)
    except CompositionFailedError as exc:
        # The failed composition is the final state: print it, then report the failure.
        output.composition(exc.composition)
        raise
    output.composition(model)
    return EXIT_OK


async def _download(
    id: str, dest: Path, chunk_size: int, resource: Resource, output: Output
) -> int:
    with output.transfer(id) as progress:
        result = await resource.download(id, dest, progress=progress, chunk_size=chunk_size)
    output.downloaded(id, result)
    return EXIT_OK


def _filters(args: argparse.Namespace, provider: str) -> dict[str, Any]:
    """The provider's list filters from the options list and archive share."""
    if provider == "twilio":
        return _drop_none(
            status=args.status,
            room_sid=args.room_sid,
            date_created_after=_timestamp(args.created_after, "--created-after"),
            date_created_before=_timestamp(args.created_before, "--created-before"),
        )
    return _drop_none(
        status=args.status,
        session_id=args.session_id,
        date_created_on=_day(args.created_on, "--created-on"),
        date_created_after=_day(args.created_after, "--created-after"),
        date_created_before=_day(args.created_before, "--created-before"),
    )


def _list_filters(args: argparse.Namespace, provider: str) -> dict[str, Any]:
    paging = _drop_none(limit=args.limit, page_size=args.page_size, prefetch=args.prefetch)
    return _filters(args, provider) | paging


def _archive_options(args: argparse.Namespace, provider: str) -> dict[str, Any]:
    dest = args.dest
    if not dest.startswith("s3://") and not Path(dest).is_dir():
        raise UsageError(f"cannot archive to {dest}: not an existing directory")
    if dest.startswith("s3://") and args.manifest is None:
        raise UsageError("an s3:// destination needs --manifest PATH (a local SQLite file)")
    return {
        "dest": dest,
        "concurrency": args.concurrency,
        "delete_after": args.delete_after,
        "dry_run": args.dry_run,
        "manifest": args.manifest,
        "name": args.name,
        "s3_endpoint_url": args.s3_endpoint_url,
        **_filters(args, provider),
    }


async def _archive(options: dict[str, Any], resource: Resource, output: Output) -> int:
    with output.archive_progress() as on_event:
        try:
            report = await resource.archive(progress=on_event, **options)
        except asyncio.CancelledError:
            # Ctrl-C: the downloads in flight are stopped and their temporary files gone;
            # everything archived so far is in the manifest. Say what was done.
            output.archive_summary(None)
            raise
    output.archive_summary(report)
    return EXIT_OK if report.ok else EXIT_API


def _create_params(args: argparse.Namespace, provider: str) -> dict[str, Any]:
    layout = _layout(args.layout)
    common = _drop_none(video_layout=layout, resolution=args.resolution, format=args.format)
    if provider == "twilio":
        if args.room_sid is None:
            raise UsageError("create needs --room-sid on Twilio")
        if layout is None and args.audio_source is None:
            raise UsageError("create needs --layout and/or --audio-source on Twilio")
        return common | _drop_none(
            room_sid=args.room_sid,
            audio_sources=args.audio_source,
            audio_sources_excluded=args.audio_source_excluded,
            status_callback=args.status_callback,
            status_callback_method=args.status_callback_method,
            trim=args.trim,
        )
    return common | _drop_none(
        session_id=args.session_id,
        webhook_event_url=args.webhook_url,
        webhook_event_failover_url=args.webhook_failover_url,
        webhook_timeout_secs=args.webhook_timeout,
    )


def _download_dest(text: str) -> Path:
    dest = Path(text)
    if not dest.is_dir() and not dest.parent.is_dir():
        raise UsageError(f"cannot write {dest}: directory {dest.parent} does not exist")
    return dest


def prepare(args: argparse.Namespace, provider: str) -> Job:
    """Check and convert the command's options (no I/O beyond reading a --layout file)."""
    command = args.command
    if command == "list":
        return functools.partial(_list, _list_filters(args, provider))
    if command == "archive":
        return functools.partial(_archive, _archive_options(args, provider))
    if command == "get":
        return functools.partial(_get, args.id)
    if command == "create":
        return functools.partial(_create, _create_params(args, provider))
    if command == "delete":
        return functools.partial(_delete, args.id)
    if command == "wait":
        return functools.partial(_wait, args.id, args.wait_timeout, args.poll_interval)
    if command == "download":
        return functools.partial(_download, args.id, _download_dest(args.dest), args.chunk_size)
    raise AssertionError(f"unhandled command {command!r}")
