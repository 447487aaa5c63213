"""A Telnyx-shaped room compositions API on 127.0.0.1, instrumented for tests.

It serves ``/v2/room_compositions`` (list, create, fetch, delete) over real HTTP and
records what it sees: every request (with its raw request target), how many requests
are in flight and the most there ever were at once. Tests can add latency, hold list
requests until they release them, inject failures, drop ``meta``, and change the
collection between requests.
"""

from __future__ import annotations

import asyncio
import collections
import json
import math
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
from aiohttp import web
from multidict import CIMultiDict, MultiDict

API_KEY = "KEYtest0123456789_secret"
PREFIX = "/v2/room_compositions"


def record_id(n: int) -> str:
    """A stable UUID for the n-th test record."""
    return f"00000000-0000-4000-8000-{n:012d}"


def make_record(
    n: int, *, status: str = "completed", session_id: str | None = None
) -> dict[str, Any]:
    """A room composition record shaped like the API's."""
    return {
        "id": record_id(n),
        "room_id": "f981dbb3-228a-44e9-ac54-e87f0e2658b0",
        "session_id": session_id or "8f728d7b-00e2-4c59-8c27-f564b828df87",
        "user_id": "12a04ec9-0f91-4a91-9f3a-a19d9931182e",
        "status": status,
        "format": "mp4",
        "resolution": "1280x720",
        "size_mb": 1.5,
        "duration_secs": n,
        "download_url": None,
        "created_at": "2024-01-02T03:04:05.123456Z",
        "record_type": "composition",
    }


@attrs.frozen
class LoggedRequest:
    """One request as the server received it."""

    method: str
    raw_target: str  # the request target exactly as sent: path and still-encoded query
    query: MultiDict[str]
    headers: CIMultiDict[str]
    body: bytes

    @property
    def path(self) -> str:
        """The path part of the request target."""
        return self.raw_target.partition("?")[0]

    @property
    def page_number(self) -> int:
        """The page asked for (1 when ``page[number]`` is absent)."""
        return int(self.query.get("page[number]", "1"))


LOGGED: web.RequestKey[LoggedRequest] = web.RequestKey("logged", LoggedRequest)


@attrs.define
class Fault:
    """A canned response for the next matching request."""

    status: int
    body: bytes
    headers: dict[str, str]
    method: str | None
    page: int | None


class TelnyxServer:
    """``async with TelnyxServer(records) as server:`` then point a client at ``base_url``."""

    def __init__(
        self,
        records: list[dict[str, Any]] | None = None,
        *,
        api_key: str = API_KEY,
        latency: float = 0.0,
    ) -> None:
        self.records: list[dict[str, Any]] = list(records or [])
        self.api_key = api_key
        self.latency = latency
        self.requests: list[LoggedRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.omit_meta = False
        # When set, every list request is answered with this page, whatever it asked for.
        self.pin_page: int | None = None
        # When True, list requests wait until release() lets them answer.
        self.hold_lists = False
        # Called with each list request once its answer is built (e.g. to change the
        # records between that page and the next requests).
        self.after_list: Callable[[LoggedRequest], None] | None = None
        self.crashes: list[Exception] = []
        self._held: list[tuple[int, asyncio.Event]] = []
        self._faults: collections.deque[Fault] = collections.deque()
        self._changed: asyncio.Condition | None = None
        self._runner: web.AppRunner | None = None
        self._created = 0
        self.port = 0

    # -- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> TelnyxServer:
        self._changed = asyncio.Condition()
        app = web.Application(middlewares=[self._instrument])
        app.router.add_get(PREFIX, self._list)
        app.router.add_post(PREFIX, self._create)
        app.router.add_get(PREFIX + "/{id}", self._fetch)
        app.router.add_delete(PREFIX + "/{id}", self._delete)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.release()
        assert self._runner is not None
        await self._runner.cleanup()
        assert not self.crashes, f"the test server crashed: {self.crashes!r}"

    @property
    def base_url(self) -> str:
        """The API root to give a client (``.../v2``)."""
        return f"http://127.0.0.1:{self.port}/v2"

    # -- test controls --------------------------------------------------------------------

    def inject(
        self,
        status: int,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        method: str | None = None,
        page: int | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` requests with this response.

        ``method`` limits it to one HTTP method, ``page`` to list requests for that page.
        """
        if isinstance(body, bytes):
            raw = body
        elif isinstance(body, str):
            raw = body.encode()
        elif body is None:
            raw = b""
        else:
            raw = json.dumps(body).encode()
        hdrs = dict(headers or {})
        if not isinstance(body, bytes | str | None):
            hdrs.setdefault("Content-Type", "application/json")
        for _ in range(times):
            self._faults.append(Fault(status, raw, hdrs, method, page))

    def release(self, page: int | None = None) -> None:
        """Let held list requests answer: the one for ``page``, or all of them."""
        keep: list[tuple[int, asyncio.Event]] = []
        for number, event in self._held:
            if page is None or number == page:
                event.set()
            else:
                keep.append((number, event))
        self._held = keep

    @property
    def held_pages(self) -> list[int]:
        """Page numbers of the list requests being held, in arrival order."""
        return [number for number, _ in self._held]

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        """Wait until ``predicate()`` is true; re-checked whenever a request starts or ends."""
        assert self._changed is not None
        async with self._changed:
            await self._changed.wait_for(predicate)

    def list_requests(self) -> list[LoggedRequest]:
        """The GET requests of the collection, in arrival order."""
        return [r for r in self.requests if r.method == "GET" and r.path == PREFIX]

    # -- plumbing -------------------------------------------------------------------------

    async def _notify(self) -> None:
        assert self._changed is not None
        async with self._changed:
            self._changed.notify_all()

    @web.middleware
    async def _instrument(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        body = await request.read()
        logged = LoggedRequest(
            method=request.method,
            raw_target=request.raw_path,
            query=MultiDict(request.query),
            headers=CIMultiDict(request.headers),
            body=body,
        )
        request[LOGGED] = logged
        self.requests.append(logged)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        await self._notify()
        try:
            if self.latency:
                await asyncio.sleep(self.latency)
            if self.hold_lists and request.method == "GET" and request.path == PREFIX:
                event = asyncio.Event()
                self._held.append((logged.page_number, event))
                await self._notify()
                await event.wait()
            response: web.StreamResponse | None = self._fault_for(logged) or self._check_auth(
                request
            )
            if response is None:
                try:
                    response = await handler(request)
                except Exception as exc:
                    # A bug in this server must fail the test, not pass as a retried 500.
                    self.crashes.append(exc)
                    raise
            response.headers["x-request-id"] = f"req-{len(self.requests)}"
            return response
        finally:
            self.in_flight -= 1
            await self._notify()

    def _fault_for(self, logged: LoggedRequest) -> web.Response | None:
        for fault in self._faults:
            if fault.method is not None and fault.method != logged.method:
                continue
            if fault.page is not None and (
                logged.path != PREFIX or logged.method != "GET" or logged.page_number != fault.page
            ):
                continue
            self._faults.remove(fault)
            return web.Response(status=fault.status, body=fault.body, headers=fault.headers)
        return None

    def _check_auth(self, request: web.Request) -> web.Response | None:
        if request.headers.get("Authorization") == f"Bearer {self.api_key}":
            return None
        return _json(
            401,
            {
                "errors": [
                    {
                        "code": "10009",
                        "title": "Authentication failed",
                        "detail": "The API key is missing or invalid.",
                    }
                ]
            },
        )

    # -- routes ---------------------------------------------------------------------------

    async def _list(self, request: web.Request) -> web.Response:
        logged = request[LOGGED]
        q = request.query
        rows = self.records
        if "filter[status]" in q:
            rows = [r for r in rows if r.get("status") == q["filter[status]"]]
        if "filter[session_id]" in q:
            rows = [r for r in rows if r.get("session_id") == q["filter[session_id]"]]
        size = int(q.get("page[size]", "20"))
        number = logged.page_number if self.pin_page is None else self.pin_page
        start = (number - 1) * size
        payload: dict[str, Any] = {"data": rows[start : start + size]}
        if not self.omit_meta:
            payload["meta"] = {
                "page_number": number,
                "page_size": size,
                "total_pages": math.ceil(len(rows) / size),
                "total_results": len(rows),
            }
        response = _json(200, payload)
        if self.after_list is not None:
            self.after_list(logged)
        return response

    async def _create(self, request: web.Request) -> web.Response:
        params = json.loads(request[LOGGED].body or b"{}")
        self._created += 1
        record = make_record(10_000 + self._created, status="enqueued")
        record["id"] = str(uuid.uuid4())
        record.update({k: v for k, v in params.items() if k != "id"})
        self.records.append(record)
        return _json(202, {"data": record})

    def _find(self, id: str) -> dict[str, Any] | None:
        return next((r for r in self.records if r["id"] == id), None)

    async def _fetch(self, request: web.Request) -> web.Response:
        record = self._find(request.match_info["id"])
        if record is None:
            return _not_found()
        return _json(200, {"data": record})

    async def _delete(self, request: web.Request) -> web.Response:
        record = self._find(request.match_info["id"])
        if record is None:
            return _not_found()
        self.records.remove(record)
        return web.Response(status=204)


def _json(status: int, payload: Any) -> web.Response:
    return web.Response(
        status=status, body=json.dumps(payload).encode(), content_type="application/json"
    )


def _not_found() -> web.Response:
    # The spec documents a bare error object (no "errors" wrapper) for 404.
    return _json(404, {"code": "10005", "title": "Resource not found", "detail": "Not found."})
