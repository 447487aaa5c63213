"""Compose every Twilio Group Room when it ends, and serve each composition's status.

An ``aiohttp.web`` application with three routes:

``POST /hooks/twilio/room``
    The room's status callback (set ``StatusCallback`` on the room to this URL). On
    ``StatusCallbackEvent=room-ended`` it composes the room's recordings (a grid of every
    video track, every audio track, mp4) with ``compositions.ensure()``, so a callback
    delivered twice still creates one composition. Other room events are acknowledged and
    ignored.
``POST /hooks/twilio/compositions``
    The compositions' status callback (the app passes this URL when it composes). Each
    ``composition-*`` event updates an in-memory store, and wakes any pending
    ``compositions.wait()`` of the app's client.
``GET /compositions/{sid}``
    What the callbacks said about a composition, as JSON (404 if none arrived).

Both hooks check ``X-Twilio-Signature`` against the Auth Token and answer 403 when it does
not match, before anything else happens.

Configuration (environment variables):

``TWILIO_ACCOUNT_SID``, ``TWILIO_AUTH_TOKEN``
    The account; the Auth Token also verifies the callbacks' signatures.
``TWILIO_VIDEO_BASE_URL``
    The API root (default ``https://video.twilio.com/v1``); point it at the emulator.
``WEBHOOK_PUBLIC_URL``
    The URL Twilio reaches this app at (for example your tunnel's ``https://...``); the
    callback URLs are built from it, and Twilio signs them as configured. Default:
    ``http://{WEBHOOK_HOST}:{WEBHOOK_PORT}``.
``WEBHOOK_HOST``, ``WEBHOOK_PORT``
    Where to listen (default ``127.0.0.1`` and ``8000``).

Run it::

    python examples/webhook_app.py

Against the built-in emulator, start it in another terminal and export the lines it
prints (``TWILIO_VIDEO_BASE_URL``, ``TWILIO_ACCOUNT_SID``, ``TWILIO_AUTH_TOKEN``)::

    python -m async_compositions.emulator --port 8080

The emulator sends signed composition callbacks to the app; a room-ended callback (which
the emulator does not send, having no rooms) can be signed with
``async_compositions.emulator.twilio_signature(url, form, auth_token)`` and posted by hand.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from async_compositions import CompositionsError, TwilioClient
from async_compositions.aiohttp_webhooks import twilio_event, webhook_handler
from async_compositions.twilio import Composition
from async_compositions.twilio.webhooks import CompositionEvent

__all__ = [
    "COMPOSITION_HOOK_PATH",
    "ROOM_HOOK_PATH",
    "CompositionState",
    "CompositionStore",
    "Settings",
    "app_factory",
    "main",
    "make_app",
]

logger = logging.getLogger("webhook_app")

DESCRIPTION = "Compose every Twilio Group Room when it ends; serve the compositions' status."
ROOM_HOOK_PATH = "/hooks/twilio/room"
COMPOSITION_HOOK_PATH = "/hooks/twilio/compositions"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_EVENT_STATUS = {
    "composition-enqueued": "enqueued",
    "composition-started": "processing",
    "composition-progress": "processing",
    "composition-available": "completed",
    "composition-failed": "failed",
}
# Callbacks can arrive out of order (retries, parallel deliveries), so a status only moves on.
_RANK = {"enqueued": 0, "processing": 1, "completed": 2, "failed": 2, "deleted": 3}


@dataclass(frozen=True, kw_only=True)
class Settings:
    """What the app needs; the Auth Token stays out of the repr."""

    account_sid: str
    auth_token: str = field(repr=False)
    public_url: str
    base_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the settings from ``environ`` (default: the process environment)."""
        env = os.environ if environ is None else environ
        missing = [n for n in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN") if not env.get(n)]
        if missing:
            raise ValueError(f"set {' and '.join(missing)}")
        host = env.get("WEBHOOK_HOST") or "127.0.0.1"
        raw_port = env.get("WEBHOOK_PORT") or "8000"
        try:
            port = int(raw_port)
        except ValueError:
            raise ValueError(f"WEBHOOK_PORT must be a number, not {raw_port!r}") from None
        public = env.get("WEBHOOK_PUBLIC_URL") or f"http://{host}:{port}"
        return cls(
            account_sid=env["TWILIO_ACCOUNT_SID"],
            auth_token=env["TWILIO_AUTH_TOKEN"],
            public_url=public.rstrip("/"),
            base_url=env.get("TWILIO_VIDEO_BASE_URL") or None,
            host=host,
            port=port,
        )

    def callback_url(self, path: str) -> str:
        """The public URL of one of the app's hooks, exactly as Twilio will sign it."""
        return self.public_url.rstrip("/") + path


@dataclass(kw_only=True)
class CompositionState:
    """What is known of one composition."""

    sid: str
    room_sid: str | None = None
    status: str = "enqueued"
    percentage_done: int | None = None
    duration: int | None = None
    size: int | None = None
    media_uri: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    last_event: str | None = None
    updated_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def as_json(self) -> dict[str, Any]:
        return {
            "sid": self.sid,
            "room_sid": self.room_sid,
            "status": self.status,
            "percentage_done": self.percentage_done,
            "duration": self.duration,
            "size": self.size,
            "media_uri": self.media_uri,
            "error_code": self.error_code,
            "error_message": self.error_message,
            "last_event": self.last_event,
            "updated_at": self.updated_at.isoformat(),
        }


class CompositionStore:
    """Composition states by SID, in memory (a restart forgets them)."""

    def __init__(self) -> None:
        self._states: dict[str, CompositionState] = {}

    def get(self, sid: str) -> CompositionState | None:
        return self._states.get(sid)

    def __len__(self) -> int:
        return len(self._states)

    def _state(self, sid: str) -> CompositionState:
        state = self._states.get(sid)
        if state is None:
            state = self._states[sid] = CompositionState(sid=sid)
        return state

    @staticmethod
    def _move(state: CompositionState, status: str) -> bool:
        """Take ``status`` if it is a step on (or the same one); False for a late event."""
        new, current = _RANK.get(status, 0), _RANK.get(state.status, 0)
        if new < current or (new == current and status != state.status):
            return False  # also keeps "completed" from turning into "failed", or back
        state.status = status
        state.updated_at = datetime.now(UTC)
        return True

    def created(self, composition: Composition) -> None:
        """Record a composition the app has just composed (or found already composed)."""
        # A callback can overtake the create's answer; merging keeps what it said.
        state = self._state(composition.sid)
        state.room_sid = composition.room_sid
        self._move(state, composition.status.value)

    def apply(self, event: CompositionEvent) -> None:
        """Record a verified composition status callback."""
        sid = event.composition_sid
        status = _EVENT_STATUS.get(event.event)
        if sid is None or status is None:
            # composition-hook-failed (no composition) or an event this app does not know.
            logger.info("ignored Twilio event %s", event.event)
            return
        state = self._state(sid)
        state.room_sid = event.room_sid or state.room_sid
        if not self._move(state, status):
            logger.info("ignored a late %s for %s", event.event, sid)
            return
        state.last_event = event.event
        if event.percentage_done is not None:
            state.percentage_done = max(state.percentage_done or 0, event.percentage_done)
        if status == "completed":
            state.percentage_done = 100
            state.duration = event.duration
            state.size = event.size
            state.media_uri = event.media_uri
        elif status == "failed":
            state.error_code = event.error_code
            state.error_message = event.error_message


SETTINGS = web.AppKey("settings", Settings)
STORE = web.AppKey("store", CompositionStore)
CLIENT = web.AppKey("client", TwilioClient)
COMPOSITION_HOOK: web.AppKey[Handler] = web.AppKey("composition_hook")


async def room_hook(request: web.Request) -> web.StreamResponse:
    """``room-ended``: compose the room once; other room events are acknowledged."""
    settings = request.app[SETTINGS]
    event = await twilio_event(
        request, settings.auth_token, public_url=settings.callback_url(ROOM_HOOK_PATH)
    )
    if event.event != "room-ended":
        return web.Response(status=204)
    room_sid = event.room_sid
    if not room_sid:
        raise web.HTTPBadRequest(text="room-ended callback without RoomSid")
    client = request.app[CLIENT]
    try:
        # Every participant's video in a grid, every audio track.
        composition = await client.compositions.ensure(
            room_sid,
            audio_sources=["*"],
            video_layout={"grid": {"video_sources": ["*"]}},
            format="mp4",
            resolution="1280x720",
            status_callback=settings.callback_url(COMPOSITION_HOOK_PATH),
            status_callback_method="POST",
        )
    except ValueError as exc:  # refused before sending: not a room SID
        raise web.HTTPBadRequest(text=f"cannot compose this room: {exc}") from None
    except CompositionsError as exc:
        # Library errors never carry credentials, so the reason can be logged.
        logger.warning("could not compose room %s: %s", room_sid, exc)
        raise web.HTTPBadGateway(text="the composition could not be created") from None
    request.app[STORE].created(composition)
    logger.info("room %s ended: composition %s", room_sid, composition.sid)
    return web.json_response({"composition_sid": composition.sid}, status=201)


async def composition_hook(request: web.Request) -> web.StreamResponse:
    """Composition status callbacks, through the library's verifying handler."""
    return await request.app[COMPOSITION_HOOK](request)


async def composition_status(request: web.Request) -> web.StreamResponse:
    """``GET /compositions/{sid}``: the composition's state as the callbacks left it."""
    state = request.app[STORE].get(request.match_info["sid"])
    if state is None:
        return web.json_response({"error": "unknown composition"}, status=404)
    return web.json_response(state.as_json())


def make_app(settings: Settings, *, store: CompositionStore | None = None) -> web.Application:
    """The application; its Twilio client lives from startup to cleanup."""
    app = web.Application()
    app[SETTINGS] = settings
    app[STORE] = store if store is not None else CompositionStore()

    async def client_context(app: web.Application) -> AsyncIterator[None]:
        # Made here, inside the server's event loop, which the client's session binds to.
        async with TwilioClient(
            settings.account_sid, settings.auth_token, base_url=settings.base_url
        ) as client:
            app[CLIENT] = client
            app[COMPOSITION_HOOK] = webhook_handler(
                client,
                secret=settings.auth_token,
                public_url=settings.callback_url(COMPOSITION_HOOK_PATH),
                on_event=app[STORE].apply,
            )
            yield

    app.cleanup_ctx.append(client_context)
    app.router.add_post(ROOM_HOOK_PATH, room_hook)
    app.router.add_post(COMPOSITION_HOOK_PATH, composition_hook)
    app.router.add_get("/compositions/{sid}", composition_status)
    return app


def app_factory(argv: Sequence[str] | None = None) -> web.Application:
    """The application configured from the environment.

    Also a factory for ``python -m aiohttp.web -H 127.0.0.1 -P 8000 webhook_app:app_factory``
    (run from ``examples/``), which passes its leftover arguments as ``argv``; none are used.
    """
    return make_app(Settings.from_env())


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until Ctrl-C; 2 on a configuration error."""
    parser = argparse.ArgumentParser(description=DESCRIPTION)
    parser.add_argument("--host", help="address to listen on (WEBHOOK_HOST, 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (WEBHOOK_PORT, 8000)")
    args = parser.parse_args(argv)
    env = dict(os.environ)
    if args.host:
        env["WEBHOOK_HOST"] = args.host
    if args.port is not None:
        env["WEBHOOK_PORT"] = str(args.port)
    try:
        settings = Settings.from_env(env)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logger.info("callbacks: %s", settings.callback_url(ROOM_HOOK_PATH))
    web.run_app(make_app(settings), host=settings.host, port=settings.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
