"""The request pipeline in front of both APIs: request log, latency, faults, request ids."""

from __future__ import annotations

import asyncio
import logging
import secrets
import uuid
from collections.abc import Awaitable, Callable, Iterable

from aiohttp import hdrs, web

from ._errors import Problem, Provider, provider_for_path, render_problem
from ._faults import Fault, Faults, RecordedRequest
from ._media import TRUNCATE_KEY

__all__ = ["Gateway"]

logger = logging.getLogger("async_compositions.emulator")

_REQUEST_ID = web.RequestKey("request_id", str)
_PROVIDER = web.RequestKey("provider", str)
_ALLOW = web.RequestKey("allow", str)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_NON_JSON = b"<html><head><title>502 Bad Gateway</title></head><body>Bad Gateway</body></html>"


class Gateway:
    """Records each request, applies latency and faults, and renders errors per provider."""

    def __init__(self, *, latency: float = 0.0) -> None:
        self.latency = latency
        self.faults = Faults()
        self.requests: list[RecordedRequest] = []

    def install(self, app: web.Application) -> None:
        """Put the pipeline in front of ``app``'s handlers."""
        app.middlewares.append(self._middleware)
        app.on_response_prepare.append(self._stamp)

    async def _stamp(self, request: web.Request, response: web.StreamResponse) -> None:
        """Every response carries the provider's request-id header."""
        request_id = request.get(_REQUEST_ID)
        if request_id is None:
            return
        if request.get(_PROVIDER) == "twilio":
            response.headers["Twilio-Request-Id"] = request_id
        else:
            response.headers["x-request-id"] = request_id

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
        self.requests.append(entry)
        if self.latency:
            await asyncio.sleep(self.latency)
        fault = self.faults.take(request.method, request.path)
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
            response = await self._handle(request, handler, provider)
            # A processed request's delay comes after it took effect: the answer is late.
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.kind != "delay":
                response = await self._fault_after(fault, provider, request, response)
        lost = fault.kind in ("disconnect", "truncate")
        entry.status = None if lost else response.status
        return response

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
        if fault.kind == "non_json":
            return web.Response(
                body=_NON_JSON, status=fault.status or 200, content_type="text/html"
            )
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
        return render_problem(provider, Problem(status, headers=headers))

    async def _fault_after(
        self,
        fault: Fault,
        provider: Provider | None,
        request: web.Request,
        response: web.StreamResponse,
    ) -> web.StreamResponse:
        """Faults that strike after the request took effect."""
        if fault.kind not in ("truncate", "partial_json"):
            return self._fault_response(fault, provider, request)
        if response.prepared or not isinstance(response, web.Response):
            return response  # streamed media cuts itself short (see serve_media)
        raw = response.body
        body = bytes(raw) if isinstance(raw, bytes | bytearray) else b""
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
