"""Transport: sends a built HttpRequest with timeouts and the retry policy, maps failures."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

import aiohttp
from multidict import CIMultiDict

from ._http import HttpRequest, HttpResponse
from ._log import logger, redact_text, redact_url
from ._session import SessionManager
from .errors import APIConnectionError, APIError, APITimeoutError
from .retry import RetryPolicy, parse_retry_after

__all__ = ["Transport", "wrap_transport_error"]

ErrorParser = Callable[[HttpResponse], APIError]


class Transport:
    """Sends requests for one client: fixed headers, one retry policy, one error parser."""

    __slots__ = ("_headers", "_parse_error", "retry", "sessions", "timeout")

    def __init__(
        self,
        *,
        sessions: SessionManager,
        headers: Mapping[str, str],
        timeout: aiohttp.ClientTimeout,
        retry: RetryPolicy,
        parse_error: ErrorParser,
    ) -> None:
        self.sessions = sessions
        self._headers = CIMultiDict(headers)
        self.timeout = timeout
        self.retry = retry
        self._parse_error = parse_error

    async def send(
        self, request: HttpRequest, *, timeout: aiohttp.ClientTimeout | None = None
    ) -> HttpResponse:
        """Send ``request``, retrying as the policy allows; return a read, released response."""
        policy = self.retry
        attempt = 1
        # Whether an earlier attempt may have taken effect although its answer was lost.
        maybe_processed = False
        while True:
            try:
                response = await self._send_once(request, timeout or self.timeout)
            except APIConnectionError as exc:
                if attempt >= policy.max_attempts or not (request.idempotent or exc.before_send):
                    raise
                maybe_processed = maybe_processed or not exc.before_send
                # A pooled connection the server had closed fails at once: resend at once
                # (what aiohttp does by itself on sessions this client does not own).
                delay = 0.0 if exc.stale_connection and attempt == 1 else policy.backoff(attempt)
                self._log_retry(request, attempt, delay, type(exc).__name__)
            else:
                if response.status in request.expected:
                    return response
                if maybe_processed and response.status in request.resent_ok:
                    return response
                error = self._parse_error(response)
                if not policy.status_is_retryable(response.status, idempotent=request.idempotent):
                    raise error
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                error.retry_after = retry_after
                if retry_after is not None and retry_after > policy.max_retry_after:
                    raise error
                if attempt >= policy.max_attempts:
                    raise error
                delay = retry_after if retry_after is not None else policy.backoff(attempt)
                # A 429 was refused unprocessed; a 5xx may come after the work was done.
                maybe_processed = maybe_processed or response.status != 429
                self._log_retry(request, attempt, delay, f"HTTP {response.status}")
            await asyncio.sleep(delay)
            attempt += 1

    def _log_retry(self, request: HttpRequest, attempt: int, delay: float, reason: str) -> None:
        logger.debug(
            "retrying %s %s after %s (attempt %d of %d) in %.3fs",
            request.method,
            redact_url(str(request.url)),
            reason,
            attempt + 1,
            self.retry.max_attempts,
            delay,
        )

    async def _send_once(
        self, request: HttpRequest, timeout: aiohttp.ClientTimeout
    ) -> HttpResponse:
        session = self.sessions.get()
        headers = self._headers
        if request.content_type is not None:
            headers = CIMultiDict(headers)
            headers["Content-Type"] = request.content_type
        try:
            async with session.request(
                request.method,
                request.url,
                data=request.body,
                headers=headers,
                timeout=timeout,
                allow_redirects=False,
                raise_for_status=False,
            ) as resp:
                body = await resp.read()
                return HttpResponse(
                    status=resp.status, headers=resp.headers, body=body, url=resp.url
                )
        except aiohttp.ConnectionTimeoutError as exc:
            # Timed out opening the connection (or waiting for a pool slot): nothing was sent.
            error = wrap_transport_error(exc, request.method, request.url, before_send=True)
        except aiohttp.ClientConnectorError as exc:
            # The TCP/TLS connection never opened, so the server cannot have seen the request.
            error = wrap_transport_error(exc, request.method, request.url, before_send=True)
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
            error = wrap_transport_error(exc, request.method, request.url, before_send=False)
            error.stale_connection = True
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            # ValueError: aiohttp refusing a URL or header it cannot send.
            error = wrap_transport_error(exc, request.method, request.url, before_send=False)
        # Raised outside the except clause, so that neither __cause__ nor __context__ leads
        # to the aiohttp exception, whose request_info holds the Authorization header.
        raise error


def wrap_transport_error(
    exc: BaseException, method: str, url: object, *, before_send: bool
) -> APIConnectionError:
    """The library's error for an aiohttp or timeout exception, keeping no reference to it.

    Only a redacted description of the cause survives (``.cause``): the aiohttp exception
    carries the request's headers, credentials included.
    """
    shown = redact_url(str(url))
    timed_out = isinstance(exc, TimeoutError)
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
    return cls(
        f"{what}: {method} {shown} ({cause})",
        method=method,
        url=shown,
        before_send=before_send,
        cause=cause,
    )
