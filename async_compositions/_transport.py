"""Transport: sends built HttpRequests through the retry engine and maps every failure."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager

import aiohttp
from multidict import CIMultiDict

from ._attempts import Attempts
from ._http import HttpRequest, HttpResponse
from ._log import redact_text, redact_url
from ._session import SessionManager
from .errors import APIConnectionError, APIError, APITimeoutError
from .ratelimit import READ, WRITE, Counters, RateLimit
from .retry import RetryPolicy

__all__ = ["Transport", "wrap_transport_error"]

ErrorParser = Callable[[HttpResponse], APIError]


class Transport:
    """Sends requests for one client: fixed headers, one retry policy, one error parser."""

    __slots__ = (
        "_anonymous",
        "_headers",
        "_parse_error",
        "_request_id_header",
        "counters",
        "rate_limit",
        "retry",
        "sessions",
        "timeout",
    )

    def __init__(
        self,
        *,
        sessions: SessionManager,
        headers: Mapping[str, str],
        anonymous_headers: Mapping[str, str],
        timeout: aiohttp.ClientTimeout,
        retry: RetryPolicy,
        parse_error: ErrorParser,
        request_id_header: str,
        rate_limit: RateLimit | None = None,
    ) -> None:
        self.sessions = sessions
        self._headers = CIMultiDict(headers)
        # For pre-signed media URLs: never the provider's credentials.
        self._anonymous = CIMultiDict(anonymous_headers)
        self.timeout = timeout
        self.retry = retry
        self._parse_error = parse_error
        self._request_id_header = request_id_header
        self.rate_limit = rate_limit
        self.counters = Counters()

    def with_retry(self, retry: RetryPolicy) -> Transport:
        """The same transport (session, headers, error parser) under another retry policy."""
        twin = Transport.__new__(Transport)
        for name in Transport.__slots__:
            setattr(twin, name, getattr(self, name))  # counters included: one client's stats
        twin.retry = retry
        return twin

    def attempts(self, request: HttpRequest) -> Attempts:
        """The retry engine for one request, counting into this client's stats."""
        return Attempts(self.retry, request, counters=self.counters, governor=self.rate_limit)

    async def _admit(self, request: HttpRequest) -> None:
        """Wait for the account's budget (API requests only: media URLs are not the API's)."""
        governor = self.rate_limit
        if governor is not None and request.authenticated:
            kind = READ if request.method in ("GET", "HEAD") else WRITE
            what = f"{request.method} {redact_url(str(request.url))}"
            self.counters.waited += await governor.acquire(kind, what)
        self.counters.requests += 1

    async def send(self, request: HttpRequest, timeout: aiohttp.ClientTimeout) -> HttpResponse:
        """Send ``request``, retrying as the policy allows; return a read, released response.

        The attempt is written out here rather than in a helper coroutine: every await a
        request makes passes through each coroutine frame above it.
        """
        attempts: Attempts | None = None
        while True:
            error: APIConnectionError | None = None
            if self.rate_limit is None:
                self.counters.requests += 1  # no coroutine to await without a budget
            else:
                await self._admit(request)
            try:
                resp = await self.sessions.get().request(
                    request.method,
                    request.url,
                    data=request.body,
                    headers=self._headers_for(request),
                    timeout=timeout,
                    allow_redirects=False,
                    raise_for_status=False,
                )
                try:
                    body = await resp.read()
                finally:
                    resp.release()
            except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
                # ValueError: aiohttp refusing a URL or header it cannot send.
                error = wrap_transport_error(exc, request.method, request.url)
            if error is not None:
                # Handled outside the except clause, so that neither __cause__ nor
                # __context__ leads to the aiohttp exception, whose request_info holds the
                # Authorization header.
                attempts = attempts or self.attempts(request)
                await attempts.retry_after_failure(error)
                continue
            headers = resp.headers
            status = resp.status
            response = HttpResponse(
                status, headers, body, resp.url, headers.get(self._request_id_header)
            )
            if status in request.expected:
                return response
            if attempts is not None and attempts.maybe_processed and status in request.resent_ok:
                return response
            attempts = attempts or self.attempts(request)
            await attempts.retry_after_status(self._parse_error(response), headers)

    def _headers_for(self, request: HttpRequest) -> CIMultiDict[str]:
        headers = self._headers if request.authenticated else self._anonymous
        if request.content_type is not None or request.headers:
            headers = CIMultiDict(headers)
            if request.content_type is not None:
                headers["Content-Type"] = request.content_type
            headers.update(request.headers)
        return headers

    @asynccontextmanager
    async def open(
        self, request: HttpRequest, timeout: aiohttp.ClientTimeout
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """One attempt whose body the caller streams; every failure is the library's own.

        Retrying is the caller's (a resumed download changes its request between attempts),
        with the same Attempts engine as ``send``.
        """
        error: APIConnectionError | None = None
        await self._admit(request)
        try:
            resp = await self.sessions.get().request(
                request.method,
                request.url,
                data=request.body,
                headers=self._headers_for(request),
                timeout=timeout,
                allow_redirects=False,
                raise_for_status=False,
            )
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            # ValueError: aiohttp refusing a URL it cannot fetch.
            error = wrap_transport_error(exc, request.method, request.url)
        if error is not None:
            raise error
        try:
            yield resp
        except (TimeoutError, aiohttp.ClientError) as exc:
            # A body cut short, or a read timing out, while the caller streamed it.
            error = wrap_transport_error(exc, request.method, request.url)
        finally:
            resp.release()
        if error is not None:
            raise error


def wrap_transport_error(exc: BaseException, method: str, url: object) -> APIConnectionError:
    """The library's error for an aiohttp or timeout exception, keeping no reference to it.

    Only a redacted description of the cause survives (``.cause``): the aiohttp exception
    carries the request's headers, credentials included.
    """
    shown = redact_url(str(url))
    timed_out = isinstance(exc, TimeoutError)
    # Timed out opening the connection (or waiting for a pool slot), or the TCP/TLS
    # connection never opened: the server cannot have seen the request.
    before_send = isinstance(exc, aiohttp.ConnectionTimeoutError | aiohttp.ClientConnectorError)
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        what = "connect timed out"
    elif timed_out:
        what = "request timed out"
    elif isinstance(exc, aiohttp.ClientConnectorError):
        what = "connection failed"
    else:
        what = "connection error"
    text = str(exc)
    cause = redact_text(redact_url(f"{type(exc).__name__}: {text}" if text else type(exc).__name__))
    cls = APITimeoutError if timed_out else APIConnectionError
    # A create that was sent: the caller must know the composition may exist now.
    maybe = "; the request was sent and may have been processed" if method == "POST" else ""
    if before_send:
        maybe = "; the request was not sent" if method == "POST" else ""
    error = cls(
        f"{what}: {method} {shown} ({cause}){maybe}",
        method=method,
        url=shown,
        before_send=before_send,
        cause=cause,
    )
    # The server closed the connection (possibly an idle pooled one) without answering.
    error.stale_connection = isinstance(
        exc, aiohttp.ServerDisconnectedError | aiohttp.ClientOSError
    ) and not isinstance(exc, aiohttp.ClientConnectorError)
    return error
