"""A small Twilio-shaped aiohttp.web server on 127.0.0.1 for tests.

It serves ``/v1/Compositions`` the way Twilio does (Basic auth, PascalCase form bodies,
``next_page_url`` paging with a ``PageToken``, legacy error JSON) and records every
request exactly as it arrived. Tests can hold requests behind events, add latency,
inject faults and watch how many requests are in flight.
"""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from aiohttp import web
from multidict import CIMultiDict, MultiDictProxy

__all__ = [
    "ACCOUNT_SID",
    "API_KEY",
    "API_SECRET",
    "AUTH_TOKEN",
    "ROOM_SID",
    "Fault",
    "RecordedRequest",
    "TwilioServer",
    "basic_auth",
    "composition_sid",
    "stray_tasks",
    "unused_port",
]

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "s3cr3t-auth-token-0f9e8d7c6b5a"
API_KEY = "SK" + "fedcba9876543210" * 2
API_SECRET = "s3cr3t-api-secret-1a2b3c4d5e6f"
ROOM_SID = "RM" + "1" * 32

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def basic_auth(user: str, password: str) -> str:
    """The Authorization header value for HTTP Basic credentials."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def composition_sid(index: int) -> str:
    """A valid, deterministic composition SID for record ``index``."""
    return f"CJ{index:032x}"


def unused_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (connections to it are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def stray_tasks() -> set[asyncio.Task[Any]]:
    """Tasks still pending besides the caller's own and the test server's handlers."""
    current = asyncio.current_task()
    stray = set()
    for task in asyncio.all_tasks():
        if task is current or task.done():
            continue
        code = getattr(task.get_coro(), "cr_code", None)
        filename = code.co_filename if code is not None else ""
        # aiohttp.web keeps one task per connection and one per request it is serving.
        if filename.endswith(("aiohttp/web_protocol.py", "aiohttp\\web_protocol.py")):
            continue
        stray.add(task)
    return stray


@dataclass
class RecordedRequest:
    """One request as the server received it."""

    index: int
    method: str
    path: str
    query_string: str  # raw, percent-encoded, exactly as sent
    headers: CIMultiDict[str]
    body: bytes
    page: int | None  # the listing page number (0-based) for list requests, else None
    started: float  # time.monotonic() on arrival
    finished: float | None = None
    status: int | None = None

    @property
    def path_qs(self) -> str:
        """Path plus ``?query`` as sent."""
        return f"{self.path}?{self.query_string}" if self.query_string else self.path

    @property
    def query(self) -> dict[str, str]:
        """The query string parsed into a dict (last value wins)."""
        return dict(urllib.parse.parse_qsl(self.query_string, keep_blank_values=True))


@dataclass
class Fault:
    """A canned response given instead of the normal one to matching requests."""

    status: int
    body: str | bytes = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    method: str | None = None
    page: int | None = None
    path: str | None = None
    times: int | None = 1  # None: every matching request
    delay: float = 0.0  # seconds to wait before answering
    disconnect: bool = False  # drop the connection instead of answering

    def matches(self, method: str, path: str, page: int | None) -> bool:
        """Whether this fault applies to a request."""
        if self.times is not None and self.times <= 0:
            return False
        if self.method is not None and self.method != method:
            return False
        if self.page is not None and self.page != page:
            return False
        return self.path is None or self.path == path


@dataclass
class _Hold:
    event: asyncio.Event
    method: str | None
    page: int | None


def twilio_error(status: int, code: int, message: str) -> dict[str, Any]:
    """Twilio's legacy error body."""
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


class TwilioServer:
    """Twilio Video v1 Compositions on 127.0.0.1, with request recording and fault injection."""

    def __init__(
        self,
        *,
        records: int = 0,
        default_page_size: int = 50,
        latency: float = 0.0,
        username: str = ACCOUNT_SID,
        password: str = AUTH_TOKEN,
        status: str = "completed",
        port: int = 0,
    ) -> None:
        self.port = port
        self.default_page_size = default_page_size
        self.latency = latency
        self.expected_auth = basic_auth(username, password)
        self.compositions: list[dict[str, Any]] = []
        self.requests: list[RecordedRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.faults: list[Fault] = []
        self._holds: list[_Hold] = []
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._origin = ""
        # Set to name another host in next_page_url, as a server behind a proxy does.
        self.next_page_origin: str | None = None
        self.add_compositions(records, status=status)

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on 127.0.0.1 (on a free port unless one was given)."""
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/v1/Compositions", self._list)
        app.router.add_post("/v1/Compositions", self._create)
        app.router.add_get("/v1/Compositions/{sid}", self._fetch)
        app.router.add_delete("/v1/Compositions/{sid}", self._delete)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        port = self._runner.addresses[0][1]
        self._origin = f"http://127.0.0.1:{port}"

    async def close(self) -> None:
        """Release every held request and stop listening."""
        for hold in self._holds:
            hold.event.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return self._origin

    @property
    def base_url(self) -> str:
        """The API root to give a client as ``base_url=``."""
        return f"{self._origin}/v1"

    # -- test controls ------------------------------------------------------------------

    def add_composition(self, *, status: str = "completed") -> dict[str, Any]:
        """Add a stored composition and return its JSON."""
        index = len(self.compositions)
        record = self._composition_json(index, status=status)
        self.compositions.append(record)
        return record

    def add_compositions(self, count: int, *, status: str = "completed") -> None:
        """Add ``count`` stored compositions."""
        for _ in range(count):
            self.add_composition(status=status)

    def hold(self, *, page: int | None = None, method: str | None = None) -> asyncio.Event:
        """Make matching requests wait, before answering, until the returned event is set."""
        hold = _Hold(asyncio.Event(), method, page)
        self._holds.append(hold)
        return hold.event

    def inject(
        self,
        status: int,
        *,
        body: str | bytes | Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        method: str | None = None,
        page: int | None = None,
        path: str | None = None,
        times: int | None = 1,
        delay: float = 0.0,
        disconnect: bool = False,
    ) -> Fault:
        """Answer the next ``times`` matching requests with ``status`` (default: error JSON)."""
        if body is None:
            body = json.dumps(twilio_error(status, 20000 + status, f"injected {status}"))
        elif isinstance(body, Mapping):
            body = json.dumps(body)
        hdrs = dict(headers or {})
        if isinstance(body, str) and body.startswith("{"):
            hdrs.setdefault("Content-Type", "application/json")
        fault = Fault(status, body, hdrs, method, page, path, times, delay, disconnect)
        self.faults.append(fault)
        return fault

    async def wait_for_requests(self, count: int) -> None:
        """Return once at least ``count`` requests have arrived."""
        async with self._changed:
            await self._changed.wait_for(lambda: len(self.requests) >= count)

    async def wait_for_responses(self, count: int) -> None:
        """Return once at least ``count`` requests have been answered."""
        async with self._changed:
            await self._changed.wait_for(
                lambda: sum(r.finished is not None for r in self.requests) >= count
            )

    @property
    def list_requests(self) -> list[RecordedRequest]:
        """The listing requests, in arrival order."""
        return [r for r in self.requests if r.page is not None]

    # -- plumbing -----------------------------------------------------------------------

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        body = await request.read()
        page = None
        if request.method == "GET" and request.path == "/v1/Compositions":
            page = int(request.query.get("Page", "0"))
        record = RecordedRequest(
            index=len(self.requests),
            method=request.method,
            path=request.path,
            query_string=request.raw_path.partition("?")[2],
            headers=CIMultiDict(request.headers),
            body=body,
            page=page,
            started=time.monotonic(),
        )
        self.requests.append(record)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        await self._notify()
        try:
            response = await self._answer(request, handler, record)
            response.headers["Twilio-Request-Id"] = f"RQ{record.index:032x}"
            record.status = response.status
            return response
        finally:
            self.in_flight -= 1
            record.finished = time.monotonic()
            await self._notify()

    async def _answer(
        self, request: web.Request, handler: Handler, record: RecordedRequest
    ) -> web.StreamResponse:
        for hold in self._holds:
            if (hold.method is None or hold.method == record.method) and (
                hold.page is None or hold.page == record.page
            ):
                await hold.event.wait()
        if self.latency:
            await asyncio.sleep(self.latency)
        for fault in self.faults:
            if fault.matches(record.method, record.path, record.page):
                if fault.times is not None:
                    fault.times -= 1
                if fault.delay:
                    await asyncio.sleep(fault.delay)
                if fault.disconnect and request.transport is not None:
                    request.transport.close()
                return web.Response(status=fault.status, body=fault.body, headers=fault.headers)
        if request.headers.get("Authorization") != self.expected_auth:
            return _json(401, twilio_error(401, 20003, "Authenticate"))
        return await handler(request)

    def _composition_json(self, index: int, *, status: str) -> dict[str, Any]:
        sid = composition_sid(index)
        url = f"https://video.twilio.com/v1/Compositions/{sid}"
        return {
            "account_sid": ACCOUNT_SID,
            "status": status,
            "date_created": f"2024-01-01T00:{index // 60 % 60:02d}:{index % 60:02d}Z",
            "date_completed": None,
            "date_deleted": None,
            "sid": sid,
            "room_sid": ROOM_SID,
            "audio_sources": ["*"],
            "audio_sources_excluded": [],
            "video_layout": {},
            "resolution": "640x480",
            "format": "webm",
            "bitrate": 64,
            "size": 1024 + index,
            "duration": 6,
            "trim": True,
            "media_external_location": None,
            "status_callback": None,
            "status_callback_method": "POST",
            "url": url,
            "links": {"media": f"{url}/Media"},
        }

    # -- the API ------------------------------------------------------------------------

    async def _list(self, request: web.Request) -> web.Response:
        q = request.query
        page = int(q.get("Page", "0"))
        size = int(q.get("PageSize", str(self.default_page_size)))
        if not 1 <= size <= 100:
            return _json(400, twilio_error(400, 20001, "PageSize must be between 1 and 100"))
        if page > 0 and q.get("PageToken") != f"PT{page}":
            return _json(400, twilio_error(400, 70002, "Paged requests must include a PageToken"))
        rows = self.compositions
        if "Status" in q:
            rows = [r for r in rows if r["status"] == q["Status"]]
        else:
            # Twilio leaves deleted compositions out unless Status=deleted is asked for.
            rows = [r for r in rows if r["status"] != "deleted"]
        if "RoomSid" in q:
            rows = [r for r in rows if r["room_sid"] == q["RoomSid"]]
        filters = [(k, q[k]) for k in ("Status", "DateCreatedAfter", "DateCreatedBefore") if k in q]
        if "RoomSid" in q:
            filters.append(("RoomSid", q["RoomSid"]))

        def page_url(n: int) -> str:
            params = [*filters, ("PageSize", str(size)), ("Page", str(n))]
            if n > 0:
                params.append(("PageToken", f"PT{n}"))
            origin = self.next_page_origin or self._origin
            return f"{origin}/v1/Compositions?{urllib.parse.urlencode(params)}"

        start = page * size
        chunk = rows[start : start + size]
        more = start + size < len(rows)
        return _json(
            200,
            {
                "compositions": chunk,
                "meta": {
                    "page": page,
                    "page_size": size,
                    "first_page_url": page_url(0),
                    "previous_page_url": page_url(page - 1) if page > 0 else None,
                    "url": page_url(page),
                    "next_page_url": page_url(page + 1) if more else None,
                    "key": "compositions",
                },
            },
        )

    async def _create(self, request: web.Request) -> web.Response:
        form: MultiDictProxy[Any] = await request.post()
        if "RoomSid" not in form:
            return _json(400, twilio_error(400, 20001, "Missing required parameter RoomSid"))
        record = self.add_composition(status="enqueued")
        record["room_sid"] = form["RoomSid"]
        record["audio_sources"] = form.getall("AudioSources", [])
        record["audio_sources_excluded"] = form.getall("AudioSourcesExcluded", [])
        if "VideoLayout" in form:
            record["video_layout"] = json.loads(form["VideoLayout"])
        record["resolution"] = form.get("Resolution", "640x480")
        record["format"] = form.get("Format", "webm")
        record["trim"] = form.get("Trim", "true") == "true"
        record["status_callback"] = form.get("StatusCallback")
        return _json(201, record)

    def _find(self, sid: str) -> dict[str, Any] | None:
        return next((r for r in self.compositions if r["sid"] == sid), None)

    async def _fetch(self, request: web.Request) -> web.Response:
        record = self._find(request.match_info["sid"])
        if record is None:
            return _json(404, twilio_error(404, 20404, "The requested resource was not found"))
        return _json(200, record)

    async def _delete(self, request: web.Request) -> web.Response:
        record = self._find(request.match_info["sid"])
        if record is None:
            return _json(404, twilio_error(404, 20404, "The requested resource was not found"))
        record["status"] = "deleted"
        return web.Response(status=204)


def _json(status: int, data: Any) -> web.Response:
    return web.Response(status=status, text=json.dumps(data), content_type="application/json")
