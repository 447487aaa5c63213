"""The request pipeline in front of both APIs: request log, holds, latency, faults, request ids."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import uuid
from collections.abc import Awaitable, Callable, Iterable

from aiohttp import hdrs, web

from ._errors import Problem, Provider, provider_for_path, render_problem
from ._faults import LOST, MALFORMED_STATUS_RESPONSE, Fault, Faults, RecordedRequest, listing_page
from ._holds import Hold, Monitor
from ._limits import ServerLimit
from ._media import COMPRESS_KEY, TRUNCATE_KEY
from ._params import IGNORE_PAGE_KEY

__all__ = ["Gateway"]

logger = logging.getLogger("async_compositions.emulator")

_REQUEST_ID = web.RequestKey("request_id", str)
_PROVIDER = web.RequestKey("provider", str)
_ALLOW = web.RequestKey("allow", str)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_NON_JSON = b"<html><head><title>502 Bad Gateway</title></head><body>Bad Gateway</body></html>"


class Gateway:
    """Records each request, applies holds, latency and faults, and renders errors per provider.

    It also keeps the counts tests wait on: requests in flight (received, not yet finished)
    and the most there ever were at once; ``monitor`` wakes waiters whenever they change.
    """

    def __init__(
        self,
        *,
        latency: float = 0.0,
        media_latency: float = 0.0,
        limit: ServerLimit | None = None,
    ) -> None:
        # API requests wait ``latency``; media (a CDN's job, elsewhere) ``media_latency``.
        self.latency = latency
        self.media_latency = media_latency
        # The account's rate limit, enforced the way the providers do (429, Retry-After).
        self.limit = limit
        self.limited = 0
        self.faults = Faults()
        self.requests: list[RecordedRequest] = []
        self.holds: list[Hold] = []
        self.monitor = Monitor()
        self.in_flight = 0
        self.max_in_flight = 0

    def install(self, app: web.Application) -> None:
        """Put the pipeline in front of ``app``'s handlers."""
        app.middlewares.append(self._middleware)
        app.on_response_prepare.append(self._stamp)

    def add_hold(self, hold: Hold) -> Hold:
        """Stop the requests ``hold`` matches from now on."""
        self.holds = [h for h in self.holds if h.active or h.held]
        self.holds.append(hold)
        return hold

    def _hold_for(self, method: str, path: str, page: int | None) -> Hold | None:
        """The first active hold that stops this request, if any."""
        return next((h for h in self.holds if h.matches(method, path, page)), None)

    def lift_holds(self) -> None:
        """Lift every hold: waiting requests go on, later ones are not stopped."""
        for hold in self.holds:
            hold.lift()
        self.holds.clear()

    def clear_requests(self) -> None:
        """Empty the log; the in-flight maximum starts again from those in flight now."""
        self.requests.clear()
        self.max_in_flight = self.in_flight
        self.monitor.changed()

    async def _stamp(self, request: web.Request, response: web.StreamResponse) -> None:
        """Every response carries the provider's request-id header (unless a fault set one)."""
        request_id = request.get(_REQUEST_ID)
        if request_id is None:
            return
        name = "Twilio-Request-Id" if request.get(_PROVIDER) == "twilio" else "x-request-id"
        response.headers.setdefault(name, request_id)

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        provider = provider_for_path(request.path)
        body = await request.read()
        request_id = "RQ" + secrets.token_hex(16) if provider == "twilio" else str(uuid.uuid4())
        request[_REQUEST_ID] = request_id
        request[_PROVIDER] = provider or ""
        entry = RecordedRequest(
            method=request.method,
            path=request.rel_url.raw_path,
            query_string=request.rel_url.raw_query_string,
            headers=RecordedRequest.headers_of(request.headers),
            body=body,
            request_id=request_id,
        )
        page = listing_page(request.method, request.path, request.query)
        self.requests.append(entry)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        self.monitor.changed()
        try:
            hold = self._hold_for(request.method, request.path, page)
            if hold is not None:
                await hold.wait(entry)
            response = await self._process(request, handler, provider, entry, page)
            await self._send(request, response)
            return response
        finally:
            entry.finished = True
            self.in_flight -= 1
            self.monitor.changed()

    async def _process(
        self,
        request: web.Request,
        handler: Handler,
        provider: Provider | None,
        entry: RecordedRequest,
        page: int | None,
    ) -> web.StreamResponse:
        wait = self.media_latency if provider == "media" else self.latency
        if wait:
            await asyncio.sleep(wait)
        if self.limit is not None and provider in ("twilio", "telnyx"):
            retry_after = self.limit.check(provider, request.method)
            if retry_after is not None:
                self.limited += 1
                entry.status = 429
                entry.fault = "rate_limited"
                return self._fault_response(
                    Fault(kind="rate_limit", retry_after=str(retry_after)), provider, request
                )
        fault = self.faults.take(request.method, request.path, page)
        if fault is not None and fault.status == 405:
            request[_ALLOW] = _allow_value(await _routed_methods(request))
        if fault is None:
            response = await self._handle(request, handler, provider)
            entry.status = response.status
            return response
        entry.fault = fault.kind
        if fault.delay and not fault.processed:
            await asyncio.sleep(fault.delay)
        if fault.kind != "delay" and not fault.processed:
            response = self._fault_response(fault, provider, request)
        else:
            if fault.kind == "truncate":
                request[TRUNCATE_KEY] = True
            if fault.kind == "ignore_page":
                request[IGNORE_PAGE_KEY] = True
            if fault.kind == "compress":
                request[COMPRESS_KEY] = True
            response = await self._handle(request, handler, provider)
            # A processed request's delay comes after it took effect: the answer is late.
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.kind == "compress" and not response.prepared:
                response.enable_compression()  # only if Accept-Encoding allows it
            if fault.kind not in ("delay", "ignore_page", "compress"):
                response = await self._fault_after(fault, provider, request, response)
        entry.status = None if fault.kind in LOST else response.status
        return response

    @staticmethod
    async def _send(request: web.Request, response: web.StreamResponse) -> None:
        """Hand the response to the connection now, so that "finished" means sent.

        A streamed response (media) has sent itself; a fault may have closed the
        connection. aiohttp skips a response that was already sent.
        """
        transport = request.transport
        if response.prepared or transport is None or transport.is_closing():
            return
        try:
            await response.prepare(request)
            await response.write_eof()
        except ConnectionError:
            pass  # the client went away meanwhile

    async def _handle(
        self, request: web.Request, handler: Handler, provider: Provider | None
    ) -> web.StreamResponse:
        try:
            return await handler(request)
        except Problem as problem:
            return render_problem(provider, problem)
        except web.HTTPException as exc:
            if isinstance(exc, web.HTTPMethodNotAllowed):
                # RFC 9110 15.5.6: a 405 lists the methods the resource does allow.
                mapped = Problem(
                    405,
                    f"Method {request.method} not allowed",
                    headers={hdrs.ALLOW: _allow_value(exc.allowed_methods)},
                )
            elif exc.status == 404:
                mapped = Problem(404, f"The requested resource {request.path} was not found")
            else:
                raise
            return render_problem(provider, mapped)
        except Exception:
            logger.exception("emulator handler failed for %s %s", request.method, request.path)
            return render_problem(provider, Problem(500, "Internal Server Error"))

    def _fault_response(
        self, fault: Fault, provider: Provider | None, request: web.Request
    ) -> web.StreamResponse:
        if fault.kind == "disconnect":
            transport = request.transport
            if transport is not None:
                transport.abort()
            return web.Response(status=500)
        if fault.kind in ("malformed_status", "raw"):
            data = fault.body if fault.kind == "raw" else MALFORMED_STATUS_RESPONSE
            transport = request.transport
            if transport is not None and data:
                transport.write(data)
                transport.close()  # after the buffered bytes are sent
            return web.Response(status=500)
        if fault.kind == "non_json":
            response = web.Response(
                body=_NON_JSON if fault.body is None else fault.body,
                status=fault.status or 200,
                content_type="text/html",
            )
            response.headers.update(fault.headers or {})
            return response
        status = 429 if fault.kind == "rate_limit" else fault.status or 500
        headers: dict[str, str] = {}
        if fault.retry_after is not None:
            headers["Retry-After"] = fault.retry_after
            if provider == "telnyx":
                headers["x-ratelimit-reset"] = fault.retry_after
        if status == 429 and provider == "telnyx":
            headers.update({"x-ratelimit-limit": "100", "x-ratelimit-remaining": "0"})
        if status == 405:
            headers[hdrs.ALLOW] = request.get(_ALLOW, "")
        if fault.body is not None:
            response = web.Response(body=fault.body, status=status, headers=headers)
            response.headers.setdefault(hdrs.CONTENT_TYPE, "application/json")
        else:
            response = render_problem(provider, Problem(status, headers=headers))
        response.headers.update(fault.headers or {})
        return response

    async def _fault_after(
        self,
        fault: Fault,
        provider: Provider | None,
        request: web.Request,
        response: web.StreamResponse,
    ) -> web.StreamResponse:
        """Faults that strike after the request took effect."""
        if fault.kind not in ("truncate", "partial_json", "no_meta"):
            return self._fault_response(fault, provider, request)
        if response.prepared or not isinstance(response, web.Response):
            return response  # streamed media cuts itself short (see serve_media)
        raw = response.body
        body = bytes(raw) if isinstance(raw, bytes | bytearray) else b""
        if fault.kind == "no_meta":
            return _without_meta(response, body)
        cut = body[: len(body) // 2]
        if fault.kind == "partial_json":
            partial = web.Response(body=cut, status=response.status)
            partial.headers.update(_copy_headers(response))
            return partial
        stream = web.StreamResponse(status=response.status)
        stream.headers.update(_copy_headers(response))
        stream.content_length = len(body)
        await stream.prepare(request)
        await stream.write(cut)
        transport = request.transport
        if transport is not None:
            transport.close()
        return stream


def _without_meta(response: web.Response, body: bytes) -> web.Response:
    """A listing's JSON answer with its ``meta`` object left out (others unchanged)."""
    try:
        data = json.loads(body)
    except ValueError:
        return response
    if not isinstance(data, dict) or "meta" not in data:
        return response
    del data["meta"]
    changed = web.Response(
        body=json.dumps(data, separators=(",", ":")).encode(), status=response.status
    )
    changed.headers.update(_copy_headers(response))
    return changed


def _allow_value(methods: Iterable[str]) -> str:
    """An ``Allow`` header value: the methods, sorted, comma-separated."""
    return ", ".join(sorted(set(methods)))


async def _routed_methods(request: web.Request) -> set[str]:
    """Every method the application routes for this request's path."""
    methods: set[str] = set()
    for resource in request.app.router.resources():
        _, allowed = await resource.resolve(request)
        methods |= allowed
    return methods


def _copy_headers(response: web.StreamResponse) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
