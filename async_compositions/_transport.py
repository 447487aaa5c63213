"""Transport: sends a built HttpRequest with timeouts and the retry policy, maps failures."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

import aiohttp
from multidict import CIMultiDict

from ._http import HttpRequest, HttpResponse
from ._log import logger, redact_url
from ._session import SessionManager
from .errors import APIConnectionError, APIError, APITimeoutError
from .retry import RetryPolicy, parse_retry_after

__all__ = ["Transport"]

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
        while True:
            try:
                response = await self._send_once(request, timeout or self.timeout)
            except APIConnectionError as exc:
                if attempt >= policy.max_attempts or not (request.idempotent or exc.before_send):
                    raise
                delay = policy.backoff(attempt)
                self._log_retry(request, attempt, delay, type(exc).__name__)
            else:
                if response.status in request.expected:
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
            raise _wrap(APITimeoutError, request, exc, "connect timed out", True) from exc
        except TimeoutError as exc:
            raise _wrap(APITimeoutError, request, exc, "request timed out", False) from exc
        except aiohttp.ClientConnectorError as exc:
            # The TCP/TLS connection never opened, so the server cannot have seen the request.
            raise _wrap(APIConnectionError, request, exc, "connection failed", True) from exc
        except aiohttp.ClientError as exc:
            raise _wrap(APIConnectionError, request, exc, "connection error", False) from exc


def _wrap(
    cls: type[APIConnectionError],
    request: HttpRequest,
    exc: BaseException,
    what: str,
    before_send: bool,
) -> APIConnectionError:
    """Build the library's transport error for an aiohttp or timeout exception."""
    url = redact_url(str(request.url))
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return cls(
        f"{what}: {request.method} {url} ({detail})",
        method=request.method,
        url=url,
        before_send=before_send,
    )
