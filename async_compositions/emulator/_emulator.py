"""Emulator: both provider APIs on one local aiohttp server, with knobs for tests.

Compositions move through their lifecycle on their own, on a short timer
(``DEFAULT_PROCESSING_DELAY`` then ``DEFAULT_COMPLETION_DELAY`` seconds), unless the
emulator is built with ``manual=True``: then only ``advance()``/``finish()`` move them.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from aiohttp import web
from yarl import URL

from ..ratelimit import RateLimit
from ._events import telnyx_completed_event, twilio_callbacks
from ._faults import Fault, FaultKind, RecordedRequest
from ._gateway import Gateway
from ._holds import DEFAULT_WAIT, Hold
from ._limits import ServerLimit
from ._media import MediaSigner, media_bytes
from ._store import (
    COMPLETED,
    DELETED,
    ENQUEUED,
    FAILED,
    PROCESSING,
    Store,
    TelnyxComposition,
    Transition,
    TwilioComposition,
)
from ._telnyx import TelnyxAPI, telnyx_json
from ._twilio import TwilioAPI, twilio_json
from ._webhooks import Ed25519Signer, WebhookDelivery, WebhookDispatcher

if TYPE_CHECKING:
    from ..telnyx import TelnyxClient
    from ..twilio import TwilioClient

__all__ = ["DEFAULT_COMPLETION_DELAY", "DEFAULT_PROCESSING_DELAY", "Emulator"]

logger = logging.getLogger("async_compositions.emulator")

_ORIGIN = {"x_pos": 0, "y_pos": 0, "z_pos": 0}

# The one default schedule, shared by ``Emulator()`` and ``python -m ...emulator``: a new
# composition is ``enqueued`` for 0.25 s, ``processing`` for 0.5 s, then ``completed``.
DEFAULT_PROCESSING_DELAY = 0.25
DEFAULT_COMPLETION_DELAY = 0.5


class Emulator:
    """Twilio Video v1 Compositions and Telnyx Room Compositions on ``127.0.0.1``.

    By default compositions move on by themselves, as the real services do: ``enqueued``
    for ``processing_delay`` seconds, then ``processing`` for ``completion_delay`` seconds,
    then ``completed`` (or ``failed``, see ``mark_failing``). Either delay left as None
    takes its default (``DEFAULT_PROCESSING_DELAY``, ``DEFAULT_COMPLETION_DELAY``): a
    composition completes about 0.75 s after it was created, so ``client.compositions.
    wait(id)`` returns on its second poll.

    ``manual=True`` stops the clock: compositions stay where they are until
    ``await emu.advance()`` or ``await emu.finish()`` moves them. Passing a delay as well
    is a ValueError, as a manual emulator has no timer to apply it to.

    ``advance()``/``finish()`` work in the automatic mode too: a composition moved on by
    hand gets the full delay of its next step counted from that moment.

    For tests: every request is logged (``requests``); ``inject()`` makes the next ones
    fail; ``hold()`` stops them until released; ``in_flight``/``max_in_flight`` count
    what is being served; ``wait_for_requests()``/``wait_for_responses()``/
    ``wait_until()`` wait on the log instead of sleeping; ``latency`` slows every API
    request; ``public_origin`` names another host in Twilio's API URLs. Media URLs are
    pre-signed and expire, as S3's do: Twilio's after the ``Ttl`` the client asked for,
    Telnyx's ``download_url`` after ``download_url_ttl`` seconds; ``store.clock`` is the
    emulator's clock (replace it to make time pass). ``rate_limit`` (a ``RateLimit``)
    refuses API requests beyond its reads and writes a second per provider with a 429,
    ``Retry-After`` and the provider's own error body, as the real services do.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        processing_delay: float | None = None,
        completion_delay: float | None = None,
        manual: bool = False,
        latency: float = 0.0,
        media_latency: float = 0.0,
        media_size: int = 65_536,
        seed: int | None = None,
        account_sid: str | None = None,
        auth_token: str | None = None,
        api_key_sid: str | None = None,
        api_key_secret: str | None = None,
        telnyx_api_key: str | None = None,
        telnyx_signing_seed: bytes | None = None,
        webhook_timeout: float = 5.0,
        download_url_ttl: float = 600.0,
        rate_limit: RateLimit | None = None,
        public_origin: str | None = None,
    ) -> None:
        if media_size < 0:
            raise ValueError("media_size must be >= 0")
        if latency < 0 or media_latency < 0 or webhook_timeout <= 0:
            raise ValueError("latency and media_latency must be >= 0, webhook_timeout > 0")
        if not download_url_ttl > 0:
            raise ValueError("download_url_ttl must be > 0 seconds")
        if manual and (processing_delay is not None or completion_delay is not None):
            raise ValueError(
                "manual=True takes no processing_delay/completion_delay: a manual emulator "
                "moves compositions only on advance()/finish()"
            )
        for name, delay in (
            ("processing_delay", processing_delay),
            ("completion_delay", completion_delay),
        ):
            if delay is not None and not delay >= 0:  # also refuses NaN
                raise ValueError(f"{name} must be >= 0 seconds, got {delay!r}")
        self.host = host
        self._port = port
        self._manual = manual
        # Seconds each step waits in the automatic mode (read at every step); None when manual.
        self.processing_delay: float | None = None
        self.completion_delay: float | None = None
        if not manual:
            self.processing_delay = (
                DEFAULT_PROCESSING_DELAY if processing_delay is None else processing_delay
            )
            self.completion_delay = (
                DEFAULT_COMPLETION_DELAY if completion_delay is None else completion_delay
            )
        self.twilio_account_sid = account_sid or "AC" + secrets.token_hex(16)
        self.twilio_auth_token = auth_token or secrets.token_hex(16)
        self.twilio_api_key_sid = api_key_sid or "SK" + secrets.token_hex(16)
        self.twilio_api_key_secret = api_key_secret or secrets.token_urlsafe(24)
        self.telnyx_api_key = telnyx_api_key or (
            "KEY" + secrets.token_hex(16).upper() + "_" + secrets.token_urlsafe(16)
        )
        self._signing_seed = telnyx_signing_seed
        self._signer: Ed25519Signer | None = None
        rng = random.Random(seed)
        self.store = Store(
            rng=rng,
            account_sid=self.twilio_account_sid,
            user_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            media_size=media_size,
        )
        media = MediaSigner(secrets.token_bytes(32))
        self._twilio = TwilioAPI(
            self.store,
            credentials={
                self.twilio_account_sid: self.twilio_auth_token,
                self.twilio_api_key_sid: self.twilio_api_key_secret,
            },
            signer=media,
            on_created=self._created,
        )
        self._telnyx = TelnyxAPI(
            self.store,
            api_key=self.telnyx_api_key,
            signer=media,
            on_created=self._created,
            download_url_ttl=download_url_ttl,
        )
        if rate_limit is not None and not isinstance(rate_limit, RateLimit):
            raise TypeError("rate_limit must be an async_compositions.RateLimit or None")
        limit = (
            None
            if rate_limit is None
            else ServerLimit(rate_limit.reads, rate_limit.writes, rate_limit.burst)
        )
        self._gateway = Gateway(latency=latency, media_latency=media_latency, limit=limit)
        self.public_origin = public_origin
        self.faults = self._gateway.faults
        # The log of every request received, oldest first (cleared by clear_requests()).
        self.requests: list[RecordedRequest] = self._gateway.requests
        self._webhooks = WebhookDispatcher(timeout=webhook_timeout)
        self._timers: set[asyncio.Task[None]] = set()
        # Per composition on a timer: set by advance() to restart that timer's count.
        self._nudges: dict[str, asyncio.Event] = {}
        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        self._stopped = False

    # -- lifecycle of the server -----------------------------------------------------------

    async def start(self) -> Self:
        """Bind and serve; the port is chosen by the OS when ``port=0``."""
        if self._runner is not None or self._stopped:
            raise RuntimeError("an Emulator can be started once")
        app = web.Application()
        self._gateway.install(app)
        app.router.add_routes(self._twilio.routes())
        app.router.add_routes(self._telnyx.routes())
        runner = web.AppRunner(
            app, access_log=None, shutdown_timeout=1.0, handler_cancellation=True
        )
        await runner.setup()
        self._runner = runner
        try:
            site = web.TCPSite(runner, self.host, self._port)
            await site.start()
        except BaseException:
            await self.stop()
            raise
        host, port = runner.addresses[0][:2]
        self._port = port
        shown = f"[{host}]" if ":" in host else host
        self._url = f"http://{shown}:{port}"
        return self

    async def stop(self) -> None:
        """Stop serving, cancel timers and pending webhook deliveries; safe to call twice.

        Every hold is lifted first, so held requests are answered instead of cut off.
        """
        if self._stopped:
            return
        self._stopped = True
        self._gateway.lift_holds()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        timers = list(self._timers)
        for task in timers:
            task.cancel()
        if timers:
            await asyncio.gather(*timers, return_exceptions=True)
        await self._webhooks.aclose()

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def __repr__(self) -> str:
        state = "stopped" if self._stopped else ("running" if self._url else "not started")
        mode = "manual" if self._manual else "automatic"
        return f"<Emulator url={self._url!r} {state} {mode}>"

    @property
    def manual(self) -> bool:
        """True when only ``advance()``/``finish()`` move compositions (no timers)."""
        return self._manual

    # -- addresses and credentials ---------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        if self._url is None:
            raise RuntimeError("the emulator is not running; use 'async with Emulator()'")
        return self._url

    @property
    def port(self) -> int:
        """The TCP port served."""
        self.url  # noqa: B018 - raises when not started
        return self._port

    @property
    def twilio_base_url(self) -> str:
        """The Twilio API root, ``.../v1``."""
        return f"{self.url}/v1"

    @property
    def telnyx_base_url(self) -> str:
        """The Telnyx API root, ``.../v2``."""
        return f"{self.url}/v2"

    @property
    def telnyx_signer(self) -> Ed25519Signer:
        """The Ed25519 key that signs Telnyx webhooks (needs ``cryptography``)."""
        if self._signer is None:
            self._signer = Ed25519Signer(self._signing_seed)
        return self._signer

    @property
    def telnyx_public_key(self) -> str:
        """Base64 of the raw 32-byte Ed25519 public key that verifies Telnyx webhooks."""
        return self.telnyx_signer.public_key

    def twilio_client(self, **kwargs: Any) -> TwilioClient:
        """A ``TwilioClient`` with this emulator's credentials and base URL.

        It authenticates with the Auth Token unless ``api_key``/``api_secret`` are given.
        """
        from ..twilio import TwilioClient

        options: dict[str, Any] = {
            "account_sid": self.twilio_account_sid,
            "base_url": self.twilio_base_url,
        }
        if "api_key" not in kwargs and "api_secret" not in kwargs:
            options["auth_token"] = self.twilio_auth_token
        options.update(kwargs)
        return TwilioClient(**options)

    def telnyx_client(self, **kwargs: Any) -> TelnyxClient:
        """A ``TelnyxClient`` with this emulator's API key and base URL."""
        from ..telnyx import TelnyxClient

        options: dict[str, Any] = {
            "api_key": self.telnyx_api_key,
            "base_url": self.telnyx_base_url,
        }
        options.update(kwargs)
        return TelnyxClient(**options)

    # -- knobs -----------------------------------------------------------------------------

    @property
    def latency(self) -> float:
        """Seconds every API request waits before it is handled (settable at any time)."""
        return self._gateway.latency

    @latency.setter
    def latency(self, value: float) -> None:
        if value < 0:
            raise ValueError("latency must be >= 0")
        self._gateway.latency = value

    @property
    def rate_limited(self) -> int:
        """How many requests the emulator's ``rate_limit`` refused with a 429."""
        return self._gateway.limited

    @property
    def media_latency(self) -> float:
        """Seconds every media request waits before it is answered (settable at any time)."""
        return self._gateway.media_latency

    @media_latency.setter
    def media_latency(self, value: float) -> None:
        if value < 0:
            raise ValueError("media_latency must be >= 0")
        self._gateway.media_latency = value

    @property
    def public_origin(self) -> str | None:
        """The origin Twilio's API URLs in response bodies name; None: the emulator's own.

        Twilio answers with absolute URLs (a composition's ``url`` and ``links``, a
        listing's ``first_page_url``/``previous_page_url``/``url``/``next_page_url``);
        a server behind a proxy names its public host there, not the one the client
        connected to. Set ``"https://video.twilio.com"`` to see Twilio's own URLs, or
        another host to check that a client replays a ``next_page_url`` on its own base
        URL. Media URLs keep naming the emulator, so downloads still work; Telnyx bodies
        carry no API URL. Settable at any time; scheme, host and port only (userinfo
        allowed, as a misconfigured proxy may send it).
        """
        return self._twilio.public_origin

    @public_origin.setter
    def public_origin(self, value: str | None) -> None:
        self._twilio.public_origin = None if value is None else _check_origin(value)

    def inject(
        self,
        kind: FaultKind,
        *,
        times: int = 1,
        method: str | None = None,
        path: str | None = None,
        page: int | None = None,
        status: int | None = None,
        retry_after: float | str | None = None,
        delay: float = 0.0,
        processed: bool = False,
        body: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Fault:
        """Make the next ``times`` matching requests fail as ``kind`` (see ``FaultKind``).

        ``method``, ``path`` (a shell-style pattern) and ``page`` (a listing page, as the
        provider counts: Twilio ``Page`` from 0, Telnyx ``page[number]`` from 1) pick the
        requests. ``body``/``headers`` give ``status``, ``rate_limit`` and ``non_json``
        faults a canned answer, and ``raw`` faults the bytes to write (see ``Fault``).
        """
        after = None if retry_after is None else _header_number(retry_after)
        return self.faults.add(
            Fault(
                kind=kind,
                times=times,
                method=method,
                path=path,
                page=page,
                status=status,
                retry_after=after,
                delay=delay,
                processed=processed,
                body=body.encode() if isinstance(body, str) else body,
                headers=None if headers is None else dict(headers),
            )
        )

    def clear_faults(self) -> None:
        """Forget every pending fault."""
        self.faults.clear()

    def clear_requests(self) -> None:
        """Empty the request log; ``max_in_flight`` starts again from ``in_flight``."""
        self._gateway.clear_requests()

    # -- holds and what is in flight -------------------------------------------------------

    def hold(
        self,
        *,
        method: str | None = None,
        path: str | None = None,
        page: int | None = None,
        times: int | None = None,
    ) -> Hold:
        """Stop matching requests at the door until the test releases them; see ``Hold``.

        ``method``, ``path`` (a shell-style pattern) and ``page`` (a listing page, as in
        ``inject()``) pick the requests; ``times`` stops only the next so many (None:
        every one). A held request is logged and in flight but not yet handled, so a test
        can see what a client has sent ahead (a prefetched page) and decide when, and in
        which order, the answers go out::

            hold = emu.hold(method="GET", path="/v2/room_compositions")
            ...                                   # a stream starts
            (first,) = await hold.wait_held(1)    # page 1 has been asked for
            hold.release(page=1)                  # answer it; later pages stay held
            await hold.wait_held(1)               # the prefetch of page 2 arrived
            hold.lift()                           # let everything through

        Holds are checked in the order they were made; a request waits at the first
        active one that matches. Stopping the emulator lifts them all.
        """
        hold = Hold(method=method, path=path, page=page, times=times, monitor=self._gateway.monitor)
        return self._gateway.add_hold(hold)

    @property
    def holds(self) -> list[Hold]:
        """The holds still stopping requests or with requests waiting, oldest first."""
        return [h for h in self._gateway.holds if h.active or h.held]

    def lift_holds(self) -> None:
        """Lift every hold (see ``Hold.lift()``)."""
        self._gateway.lift_holds()

    @property
    def in_flight(self) -> int:
        """Requests received and not yet finished (held ones included)."""
        return self._gateway.in_flight

    @property
    def max_in_flight(self) -> int:
        """The most requests ever in flight at once (since the last ``clear_requests()``)."""
        return self._gateway.max_in_flight

    async def wait_until(
        self, predicate: Callable[[], bool], *, timeout: float | None = DEFAULT_WAIT
    ) -> None:
        """Return once ``predicate()`` is true, checked again whenever a request arrives,
        finishes, or starts or stops waiting at a hold.

        Raises TimeoutError after ``timeout`` seconds (None waits for ever): a guard for
        a request that never comes, not a measure.
        """
        await self._gateway.monitor.wait_for(predicate, timeout)

    async def wait_for_requests(
        self, count: int, *, timeout: float | None = DEFAULT_WAIT
    ) -> list[RecordedRequest]:
        """Wait until the log holds ``count`` requests; return the log (a copy).

        Counts ``requests``, so ``clear_requests()`` starts the count again.
        """
        await self.wait_until(lambda: len(self.requests) >= count, timeout=timeout)
        return list(self.requests)

    async def wait_for_responses(
        self, count: int, *, timeout: float | None = DEFAULT_WAIT
    ) -> list[RecordedRequest]:
        """Wait until ``count`` logged requests are finished; return the log (a copy).

        A request is finished once its response was handed to the connection (or a
        fault closed it): the client has it, or will in a moment.
        """
        await self.wait_until(
            lambda: sum(r.finished for r in self.requests) >= count, timeout=timeout
        )
        return list(self.requests)

    def mark_failing(self, *ids: str) -> None:
        """Compositions of these rooms/sessions (or with these ids) end ``failed``."""
        for id in ids:
            self.store.failing.update({id, id.lower()})

    @property
    def webhook_deliveries(self) -> list[WebhookDelivery]:
        """Every webhook delivery attempt so far, in order."""
        return self._webhooks.log

    async def wait_webhooks(self, timeout: float = 10.0) -> bool:
        """Wait until no webhook delivery is pending; False if ``timeout`` passed first."""
        return await self._webhooks.wait_idle(timeout)

    # -- compositions ----------------------------------------------------------------------

    async def advance(self, id: str | None = None, *, steps: int = 1, wait: bool = True) -> int:
        """Move compositions (all, or one) ``steps`` steps on; return how many moves were made.

        enqueued -> processing -> completed, or failed for marked rooms and sessions.
        With ``wait`` the webhooks these moves trigger have been delivered on return.
        In the automatic mode a composition moved here waits the full delay of its next
        step from now; one moved to its end is left alone by its timer.
        """
        if id is not None and self.store.find(id) is None:
            raise KeyError(f"no composition with id {id!r}")
        moves = 0
        deliveries: list[asyncio.Task[None]] = []
        for _ in range(steps):
            records = self.store.active(None if id is None else [id])
            if not records:
                break
            for record in records:
                transition = self.store.step(record)
                if transition is not None:
                    moves += 1
                    deliveries += self._notify(transition)
                    nudge = self._nudges.get(record.id)
                    if nudge is not None:
                        nudge.set()
        if wait and deliveries:
            await asyncio.wait(deliveries)
        return moves

    async def finish(self, id: str | None = None, *, wait: bool = True) -> int:
        """Advance compositions (all, or one) until completed or failed."""
        return await self.advance(id, steps=2, wait=wait)

    def composition(self, id: str) -> dict[str, Any]:
        """The JSON the API would return for composition ``id`` (either provider)."""
        record = self.store.find(id)
        if isinstance(record, TwilioComposition):
            return twilio_json(record, self.public_origin or self.url)
        if isinstance(record, TelnyxComposition):
            return telnyx_json(record, self._telnyx.download_url(record, self.url))
        raise KeyError(f"no composition with id {id!r}")

    def media_bytes(self, id: str) -> bytes:
        """The full media content composition ``id`` serves once completed."""
        record = self.store.find(id)
        if record is None:
            raise KeyError(f"no composition with id {id!r}")
        return media_bytes(record.media_key, record.media_size)

    def seed_twilio(
        self,
        n: int,
        *,
        status: str = COMPLETED,
        room_sid: str | None = None,
        start: datetime | None = None,
        interval: timedelta = timedelta(minutes=1),
        format: str = "mp4",
        resolution: str = "640x480",
        media_size: int | None = None,
        status_callback: str | None = None,
    ) -> list[str]:
        """Add ``n`` Twilio compositions created ``interval`` apart; return their SIDs."""
        if status not in (ENQUEUED, PROCESSING, COMPLETED, FAILED, DELETED):
            raise ValueError(f"unknown status {status!r}")
        store = self.store
        first = start or store.clock() - n * interval
        room = room_sid or store.new_sid("RM")
        sids = []
        for i in range(n):
            created = first + i * interval
            record = TwilioComposition(
                sid=store.new_sid("CJ"),
                account_sid=store.account_sid,
                room_sid=room,
                date_created=created,
                audio_sources=["*"],
                audio_sources_excluded=[],
                video_layout={"grid": _twilio_region()},
                resolution=resolution,
                format=format,
                trim=True,
                status_callback=status_callback,
                status_callback_method="POST",
                media_size=store.media_size if media_size is None else media_size,
                media_duration=store.new_duration(),
            )
            store.settle(record, status, created + timedelta(seconds=30))
            store.twilio[record.sid] = record
            sids.append(record.sid)
            self._created(record)
        return sids

    def seed_telnyx(
        self,
        n: int,
        *,
        status: str = COMPLETED,
        session_id: str | None = None,
        start: datetime | None = None,
        interval: timedelta = timedelta(minutes=1),
        resolution: str = "1280x720",
        media_size: int | None = None,
        webhook_event_url: str | None = None,
    ) -> list[str]:
        """Add ``n`` Telnyx compositions created ``interval`` apart; return their ids."""
        if status not in (ENQUEUED, PROCESSING, COMPLETED, FAILED):
            raise ValueError(f"unknown status {status!r}")
        store = self.store
        first = start or store.clock() - n * interval
        session = (session_id or store.new_uuid()).lower()
        ids = []
        for i in range(n):
            created = first + i * interval
            record = TelnyxComposition(
                id=store.new_uuid(),
                room_id=store.room_for_session(session),
                session_id=session,
                user_id=store.user_id,
                format="mp4",
                resolution=resolution,
                video_layout={
                    "first": {"x_pos": 0, "y_pos": 0, "z_pos": 0, "video_sources": ["*"]}
                },
                webhook_event_url=webhook_event_url,
                webhook_event_failover_url="",
                webhook_timeout_secs=None,
                created_at=created,
                media_size=store.media_size if media_size is None else media_size,
                media_duration=store.new_duration(),
            )
            store.settle(record, status, created + timedelta(seconds=30))
            store.telnyx[record.id] = record
            ids.append(record.id)
            self._created(record)
        return ids

    # -- internals -------------------------------------------------------------------------

    def _created(self, record: TwilioComposition | TelnyxComposition) -> None:
        if self._manual or self._stopped or record.status not in (ENQUEUED, PROCESSING):
            return
        nudge = asyncio.Event()
        self._nudges[record.id] = nudge
        task = asyncio.ensure_future(self._run_timer(record, nudge))
        self._timers.add(task)
        task.add_done_callback(self._timers.discard)

    async def _run_timer(
        self, record: TwilioComposition | TelnyxComposition, nudge: asyncio.Event
    ) -> None:
        """Step ``record`` on after each delay until it ends, is deleted or the emulator stops.

        The delay is chosen from the status the record has now, so a step taken by hand
        (``advance()`` sets ``nudge``) restarts the count instead of being taken twice.
        """
        try:
            while self.store.find(record.id) is record and record.status in (
                ENQUEUED,
                PROCESSING,
            ):
                status = record.status
                delay = self.processing_delay if status == ENQUEUED else self.completion_delay
                if delay is None:
                    return
                nudge.clear()
                try:
                    async with asyncio.timeout(delay):
                        await nudge.wait()
                except TimeoutError:
                    pass
                else:
                    continue  # moved by hand meanwhile: time the next step from now
                if self.store.find(record.id) is not record or record.status != status:
                    continue  # deleted (Telnyx deletes outright) or moved: look again
                transition = self.store.step(record)
                if transition is not None:
                    self._notify(transition)
        finally:
            if self._nudges.get(record.id) is nudge:
                del self._nudges[record.id]

    def _notify(self, transition: Transition) -> list[asyncio.Task[None]]:
        """Queue the webhooks a lifecycle step triggers."""
        if self._stopped:
            return []
        record = transition.record
        if isinstance(record, TwilioComposition):
            return self._notify_twilio(record, transition.new)
        return self._notify_telnyx(record, transition.new)

    def _notify_twilio(self, record: TwilioComposition, status: str) -> list[asyncio.Task[None]]:
        if not record.status_callback:
            return []
        tasks = []
        for event, params in twilio_callbacks(record, status):
            request = self._webhooks.twilio_request(
                record.status_callback,
                record.status_callback_method,
                params,
                self.twilio_auth_token,
            )
            tasks.append(self._webhooks.submit_twilio(record.sid, event, request))
        return tasks

    def _notify_telnyx(self, record: TelnyxComposition, status: str) -> list[asyncio.Task[None]]:
        # video.room.composition.completed is the only composition event Telnyx documents.
        if status != COMPLETED or not record.webhook_event_url:
            return []
        try:
            signer = self.telnyx_signer
        except RuntimeError as exc:  # cryptography is not installed
            logger.error("Telnyx webhook for %s not sent: %s", record.id, exc)
            return []
        download_url = self._telnyx.download_url(record, self.url)
        event = telnyx_completed_event(record, self.store.new_uuid(), download_url)
        urls = [record.webhook_event_url]
        if record.webhook_event_failover_url:
            urls.append(record.webhook_event_failover_url)
        task = self._webhooks.submit_telnyx(
            record.id,
            event["event_type"],
            self._webhooks.telnyx_body(event),
            signer,
            urls,
            record.webhook_timeout_secs or None,
        )
        return [task]


def _check_origin(value: str) -> str:
    """``value`` as an origin: http(s), a host, maybe a port; no path, query or fragment."""
    try:
        url = URL(value)
    except (TypeError, ValueError):
        url = None
    if (
        url is None
        or url.scheme not in ("http", "https")
        or not url.host
        or url.path not in ("", "/")
        or url.query_string
        or url.fragment
    ):
        raise ValueError(f"public_origin must be like 'https://host[:port]', got {value!r}")
    return value.rstrip("/")


def _header_number(value: float | str) -> str:
    """A Retry-After value as sent: whole seconds without a trailing ``.0``."""
    if isinstance(value, str):
        return value
    return str(int(value)) if float(value).is_integer() else str(value)


def _twilio_region() -> dict[str, Any]:
    return {
        "video_sources": ["*"],
        "video_sources_excluded": [],
        "reuse": "show_oldest",
        "x_pos": 0,
        "y_pos": 0,
        "z_pos": 0,
        "width": 0,
        "height": 0,
        "max_columns": 0,
        "max_rows": 0,
        "cells_excluded": [],
    }
