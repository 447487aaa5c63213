"""A tour of the library against the in-process emulator: ``python -m async_compositions.demo``.

For each provider in turn: create compositions, wait for them (woken by signed webhooks
that a local receiver verifies), stream a listing while the next page is prefetched,
fetch one, download its media with a progress line, and delete one. Everything runs on
127.0.0.1; nothing touches the internet.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TextIO

import aiohttp
from aiohttp import web
from yarl import URL

from .aiohttp_webhooks import webhook_handler
from .emulator import Emulator, WebhookDelivery
from .errors import NotFoundError
from .telnyx.webhooks import CompositionEvent as TelnyxEvent
from .twilio.webhooks import CompositionEvent as TwilioEvent

__all__ = ["main", "run"]

ROOM_SID = "RM" + "5ca1ab1e" * 4
STREAM_ROOM_SID = "RM" + "0ddba11c" * 4
SESSION_ID = "7c4da191-2600-4df6-a35e-0ecae6caa5d3"
STREAM_SESSION_ID = "0ccc7b54-4df3-4bca-a65a-3da1ecc777b0"

LATENCY = 0.03  # seconds the emulator holds every request, like a real network
MEDIA_SIZE = 3 * 1024 * 1024
CHUNK_SIZE = 128 * 1024
PAGE_SIZE = 8
PAGES = 3
WORK_PER_ITEM = 0.006  # what the caller spends on each item while the next page loads
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _say(out: TextIO, label: str, text: str) -> None:
    print(f"  {label:<9} {text}", file=out)


def _short(value: str) -> str:
    """An id short enough for one line: its head and tail."""
    return f"{value[:8]}…{value[-4:]}"


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB"


# -- the webhook endpoint ----------------------------------------------------------------


@contextlib.asynccontextmanager
async def webhook_endpoint(path: str, handler: Handler) -> AsyncIterator[str]:
    """Serve ``handler`` at ``path`` on 127.0.0.1, standing in for the application's endpoint.

    Yields the full URL to give the provider as the callback.
    """
    app = web.Application()
    app.router.add_post(path, handler)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}{path}"
    finally:
        await runner.cleanup()


async def post_forgery(delivery: WebhookDelivery, body: bytes) -> int:
    """Replay a delivery's signed headers with another body; return the receiver's status."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(delivery.url, data=body, headers=dict(delivery.headers)) as response,
    ):
        return response.status


# -- the prefetch timeline ---------------------------------------------------------------


class Timeline:
    """Prints page requests (seen by an aiohttp trace) and the consumer's progress, in order."""

    def __init__(self, out: TextIO, page_of: Callable[[URL], int]) -> None:
        self._out = out
        self._page_of = page_of
        self._t0 = time.perf_counter()
        self.requests = 0

    def now(self) -> float:
        """Milliseconds since the timeline started."""
        return (time.perf_counter() - self._t0) * 1000

    def mark(self, text: str) -> None:
        """Print one event with its time."""
        print(f"  {self.now():7.0f} ms  {text}", file=self._out)

    def trace_config(self) -> aiohttp.TraceConfig:
        """Hooks that report each page request as it starts and as its response arrives."""
        config = aiohttp.TraceConfig()
        config.on_request_start.append(self._started)
        config.on_request_end.append(self._ended)
        return config

    async def _started(
        self,
        session: aiohttp.ClientSession,
        ctx: SimpleNamespace,
        params: aiohttp.TraceRequestStartParams,
    ) -> None:
        self.requests += 1
        self.mark(f"→ GET page {self._page_of(params.url)}")

    async def _ended(
        self,
        session: aiohttp.ClientSession,
        ctx: SimpleNamespace,
        params: aiohttp.TraceRequestEndParams,
    ) -> None:
        self.mark(f"← page {self._page_of(params.url)} arrived (HTTP {params.response.status})")


def twilio_page_of(url: URL) -> int:
    """Twilio numbers pages from 0 in ``Page``; shown from 1."""
    return int(url.query.get("Page", "0")) + 1


def telnyx_page_of(url: URL) -> int:
    """Telnyx leaves ``page[number]`` out on the first page."""
    return int(url.query.get("page[number]", "1"))


async def consume(stream: AsyncIterator[Any], timeline: Timeline, page_size: int) -> int:
    """Work through a stream item by item, reporting where each page starts and ends."""
    count = 0
    asked = timeline.now()
    async for _item in stream:
        if count % page_size == 0:
            waited = timeline.now() - asked
            timeline.mark(
                f"  consumer starts page {count // page_size + 1} (waited {waited:.0f} ms)"
            )
        await asyncio.sleep(WORK_PER_ITEM)  # stands in for real per-item work
        count += 1
        if count % page_size == 0:
            timeline.mark(f"  consumer done with page {count // page_size}")
        asked = timeline.now()
    return count


# -- download progress -------------------------------------------------------------------


class Progress:
    """A progress bar on a terminal; on a pipe, only the finished bar."""

    width = 30

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._tty = out.isatty()

    def __call__(self, done: int, total: int | None) -> None:
        finished = total is not None and done >= total
        if not self._tty and not finished:
            return
        share = done / total if total else 0.0
        bar = "#" * round(share * self.width)
        line = f"  {'download':<9} [{bar:<{self.width}}] {share:4.0%}  {_mib(done)}"
        if self._tty:
            end = "\n" if finished else ""
            print(f"\r{line}", end=end, file=self._out, flush=True)
        else:
            print(line, file=self._out)


# -- one section per provider ------------------------------------------------------------


async def twilio_tour(emu: Emulator, out: TextIO) -> None:
    """Twilio Video v1: every verb, signed status callbacks and prefetching."""
    print(f"\n== Twilio Video v1 Compositions (emulator at {emu.twilio_base_url}) ==", file=out)
    events: list[TwilioEvent] = []
    async with emu.twilio_client() as client:
        resource = client.compositions
        # Verifies X-Twilio-Signature, wakes wait() through notify(), then hands us the event.
        handler = webhook_handler(client, secret=emu.twilio_auth_token, on_event=events.append)
        async with webhook_endpoint("/hooks/twilio", handler) as callback:
            _say(out, "receiver", f"{callback} (aiohttp.web + webhook_handler)")
            layout = {"grid": {"video_sources": ["*"], "max_columns": 2}}
            created = await asyncio.gather(
                *(
                    resource.create(
                        ROOM_SID,
                        audio_sources=["*"],
                        video_layout=layout,
                        format="mp4",
                        resolution="1280x720",
                        status_callback=callback,
                    )
                    for _ in range(3)
                )
            )
            sids = [c.sid for c in created]
            shown = ", ".join(_short(sid) for sid in sids)
            _say(out, "create", f"{shown} (room {_short(ROOM_SID)}): {created[0].status}")

            started = time.perf_counter()
            # A long poll interval: the status callbacks wake wait() long before it polls.
            done = await asyncio.gather(*(resource.wait(sid, poll_interval=5.0) for sid in sids))
            elapsed = time.perf_counter() - started
            states = "/".join(sorted({str(c.status) for c in done}))
            _say(
                out,
                "wait",
                f"all 3 {states} in {elapsed:.1f} s, woken by the status callbacks "
                "(poll interval 5 s)",
            )

            await emu.wait_webhooks()
            deliveries = [d for d in emu.webhook_deliveries if d.provider == "twilio"]
            answered = sum(d.ok for d in deliveries)
            _say(
                out,
                "webhook",
                f"{len(events)} status callbacks verified (X-Twilio-Signature), "
                f"{answered} answered 200",
            )
            first = next(e for e in events if e.event == "composition-available")
            _say(
                out,
                "",
                f"{first.event}: {_short(first.composition_sid or '')}, "
                f"{first.size or 0:,} bytes, {first.duration} s",
            )
            _say(out, "forgery", "replaying that callback with its Size changed ...")
            forged_body = deliveries[-1].body.replace(b"Size=", b"Size=1")
            forged = await post_forgery(deliveries[-1], forged_body)
            _say(out, "", f"answered HTTP {forged}")

        emu.seed_twilio(PAGE_SIZE * PAGES, room_sid=STREAM_ROOM_SID)
        await _stream_section(
            out,
            emu,
            "/v1/Compositions",
            twilio_page_of,
            lambda session: emu.twilio_client(session=session),
            {"room_sid": STREAM_ROOM_SID},
            prefetch=1,
        )

        one = await resource.fetch(sids[0])
        _say(
            out,
            "fetch",
            f"{one.sid}: {one.status}, {one.resolution} {one.format}, "
            f"{one.duration} s, {one.size or 0:,} bytes",
        )
        await _download(out, emu, resource, one.sid)

        await resource.delete(sids[-1])
        gone = await resource.fetch(sids[-1])
        _say(out, "delete", f"{_short(gone.sid)}: media deleted, the record now says {gone.status}")


async def telnyx_tour(emu: Emulator, out: TextIO) -> None:
    """Telnyx Room Compositions: every verb, Ed25519-signed webhooks, multi-page prefetch."""
    print(f"\n== Telnyx Room Compositions (emulator at {emu.telnyx_base_url}) ==", file=out)
    events: list[TelnyxEvent] = []
    async with emu.telnyx_client() as client:
        resource = client.compositions
        # Verifies the Ed25519 signature and timestamp, wakes wait(), hands us the event.
        handler = webhook_handler(client, secret=emu.telnyx_public_key, on_event=events.append)
        async with webhook_endpoint("/hooks/telnyx", handler) as webhook_url:
            _say(out, "receiver", f"{webhook_url} (aiohttp.web + webhook_handler)")
            created = await asyncio.gather(
                *(
                    resource.create(
                        session_id=SESSION_ID,
                        resolution="1280x720",
                        video_layout={"main": {"video_sources": ["*"]}},
                        webhook_event_url=webhook_url,
                    )
                    for _ in range(3)
                )
            )
            ids = [c.id for c in created]
            shown = ", ".join(_short(id) for id in ids)
            _say(out, "create", f"{shown} (session {_short(SESSION_ID)}): {created[0].status}")

            started = time.perf_counter()
            done = await asyncio.gather(*(resource.wait(id, poll_interval=5.0) for id in ids))
            elapsed = time.perf_counter() - started
            states = "/".join(sorted({str(c.status) for c in done}))
            _say(
                out,
                "wait",
                f"all 3 {states} in {elapsed:.1f} s, woken by the webhooks (poll interval 5 s)",
            )

            await emu.wait_webhooks()
            deliveries = [d for d in emu.webhook_deliveries if d.provider == "telnyx"]
            answered = sum(d.ok for d in deliveries)
            _say(
                out,
                "webhook",
                f"{len(events)} events verified (Ed25519 over timestamp|body), "
                f"{answered} answered 200",
            )
            event = events[0]
            _say(
                out,
                "",
                f"{event.event_type}: {_short(event.composition_id)}, "
                f"{event.size_mb} MB, {event.duration_secs} s",
            )
            _say(out, "forgery", "replaying that event with its size_mb changed ...")
            forged_body = deliveries[-1].body.replace(b'"size_mb":', b'"size_mb":1')
            forged = await post_forgery(deliveries[-1], forged_body)
            _say(out, "", f"answered HTTP {forged}")

        emu.seed_telnyx(PAGE_SIZE * PAGES, session_id=STREAM_SESSION_ID)
        await _stream_section(
            out,
            emu,
            "/v2/room_compositions",
            telnyx_page_of,
            lambda session: emu.telnyx_client(session=session),
            {"session_id": STREAM_SESSION_ID},
            prefetch=2,
        )

        one = await resource.fetch(ids[0])
        _say(
            out,
            "fetch",
            f"{one.id}: {one.status}, {one.resolution} {one.format}, "
            f"{one.duration_secs} s, {one.size_mb} MB",
        )
        await _download(out, emu, resource, one.id)

        await resource.delete(ids[-1])
        try:
            await resource.fetch(ids[-1])
        except NotFoundError as exc:
            _say(
                out,
                "delete",
                f"{_short(ids[-1])}: gone; fetch now raises NotFoundError "
                f"(HTTP {exc.status}, code {exc.code})",
            )


async def _stream_section(
    out: TextIO,
    emu: Emulator,
    list_path: str,
    page_of: Callable[[URL], int],
    make_client: Callable[[aiohttp.ClientSession], Any],
    filters: dict[str, str],
    *,
    prefetch: int,
) -> None:
    total = PAGE_SIZE * PAGES
    _say(
        out,
        "stream",
        f"{total} seeded, page_size={PAGE_SIZE}, prefetch={prefetch}; "
        f"{LATENCY * 1000:.0f} ms per request, {WORK_PER_ITEM * 1000:.0f} ms of work per item",
    )
    timeline = Timeline(out, page_of)
    logged = len(emu.requests)
    # A borrowed session with a trace shows when each page request leaves and returns.
    async with (
        aiohttp.ClientSession(trace_configs=[timeline.trace_config()]) as session,
        make_client(session) as client,
    ):
        stream = client.compositions.stream(**filters, page_size=PAGE_SIZE, prefetch=prefetch)
        async with contextlib.aclosing(stream):
            count = await consume(stream, timeline, PAGE_SIZE)
    pages = [r for r in emu.requests[logged:] if r.method == "GET" and r.path == list_path]
    _say(
        out,
        "",
        f"{count} items in {timeline.now():.0f} ms; the emulator logged {len(pages)} page "
        f"requests ({timeline.requests} traced)",
    )


async def _download(out: TextIO, emu: Emulator, resource: Any, id: str) -> None:
    progress = Progress(out)
    with tempfile.TemporaryDirectory(prefix="compositions-demo-") as folder:
        result = await resource.download(id, folder, progress=progress, chunk_size=CHUNK_SIZE)
        size, digest = await asyncio.to_thread(_size_and_digest, result.path)
    same = digest == hashlib.sha256(emu.media_bytes(id)).hexdigest()
    _say(
        out,
        "",
        f"{_short(result.path.stem)}{result.path.suffix}: {size:,} bytes on disk, "
        f"{result.content_type}, {'identical to' if same else 'DIFFERENT from'} the served media",
    )


def _size_and_digest(path: Path) -> tuple[int, str]:
    """The file's size on disk and its SHA-256."""
    data = path.read_bytes()
    return path.stat().st_size, hashlib.sha256(data).hexdigest()


# -- entry point -------------------------------------------------------------------------


async def run(out: TextIO | None = None) -> None:
    """Run the whole tour against a fresh emulator, printing to ``out`` (stdout by default)."""
    out = sys.stdout if out is None else out
    started = time.perf_counter()
    # The library logs why it rejected a webhook; show that in the tour's own layout.
    log_handler = logging.StreamHandler(out)
    log_handler.setFormatter(logging.Formatter(f"  {'':<9} library log: %(message)s"))
    logger = logging.getLogger("async_compositions")
    logger.addHandler(log_handler)
    try:
        async with Emulator(
            processing_delay=0.15,
            completion_delay=0.15,
            latency=LATENCY,
            media_size=MEDIA_SIZE,
            seed=2024,
        ) as emu:
            print(f"async-compositions demo: an in-process emulator at {emu.url}", file=out)
            await twilio_tour(emu, out)
            await telnyx_tour(emu, out)
            served = len(emu.requests)
    finally:
        logger.removeHandler(log_handler)
    elapsed = time.perf_counter() - started
    print(f"\ndone: {served} requests served in {elapsed:.1f} s; every client closed", file=out)


def main() -> int:
    """Console entry point."""
    asyncio.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
