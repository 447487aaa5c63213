"""Signed webhook deliveries: Twilio status callbacks and Telnyx composition events."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import aiohttp
from yarl import URL

__all__ = [
    "Ed25519Signer",
    "WebhookDelivery",
    "WebhookDispatcher",
    "twilio_signature",
]

_TWILIO_UA = "TwilioProxy/1.1"
_TELNYX_UA = "telnyx-webhooks"


def twilio_signature(
    url: str, params: Mapping[str, str | Sequence[str]] | Sequence[tuple[str, str]], token: str
) -> str:
    """``X-Twilio-Signature``: base64 HMAC-SHA1 of the URL plus each sorted name and value."""
    grouped: dict[str, set[str]] = {}
    items = params.items() if isinstance(params, Mapping) else params
    for name, value in items:
        values = [value] if isinstance(value, str) else list(value)
        grouped.setdefault(name, set()).update(values)
    # Names in code-point order; each name's values sorted and de-duplicated, as Twilio does.
    message = url + "".join(
        name + value for name in sorted(grouped) for value in sorted(grouped[name])
    )
    digest = hmac.new(token.encode(), message.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


class _PrivateKey(Protocol):
    def sign(self, data: bytes) -> bytes: ...


class Ed25519Signer:
    """Signs Telnyx webhooks with an Ed25519 key; needs the ``cryptography`` package."""

    __slots__ = ("_key", "public_key")

    def __init__(self, seed: bytes | None = None) -> None:
        try:
            from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
            from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
        except ImportError:  # pragma: no cover - depends on the environment
            raise RuntimeError(
                "signing Telnyx webhooks needs the 'cryptography' package: "
                "pip install 'async-compositions[webhooks]'"
            ) from None
        if seed is None:
            key = Ed25519PrivateKey.generate()
        else:
            if len(seed) != 32:
                raise ValueError("an Ed25519 private key seed is exactly 32 bytes")
            key = Ed25519PrivateKey.from_private_bytes(seed)
        self._key: _PrivateKey = key
        raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        # What Telnyx's portal shows as the account's public key: base64 of the 32 raw bytes.
        self.public_key = base64.b64encode(raw).decode("ascii")

    def sign(self, timestamp: str, body: bytes) -> str:
        """Base64 Ed25519 signature of ``f"{timestamp}|{body}"``."""
        return base64.b64encode(self._key.sign(timestamp.encode() + b"|" + body)).decode("ascii")

    def __repr__(self) -> str:
        return f"<Ed25519Signer public_key={self.public_key!r}>"


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """One delivery attempt: what was sent where, and how the receiver answered."""

    provider: Literal["twilio", "telnyx"]
    event: str
    composition_id: str
    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes
    status: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        """True when the receiver answered 2xx."""
        return self.status is not None and 200 <= self.status < 300


@dataclass(frozen=True, slots=True)
class _Request:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes


class WebhookDispatcher:
    """Sends webhooks in the background: one attempt per URL, bounded by a timeout.

    Events of one composition go out in order; ``aclose()`` cancels what is still pending.
    """

    def __init__(self, *, timeout: float) -> None:
        self.timeout = timeout
        self.log: list[WebhookDelivery] = []
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._last: dict[str, asyncio.Task[None]] = {}
        self._closed = False

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=20, force_close=True)
            )
        return self._session

    # -- building --------------------------------------------------------------------------

    @staticmethod
    def twilio_request(
        url: str, method: str, params: Sequence[tuple[str, str]], token: str
    ) -> _Request:
        """A status callback as Twilio sends it (form POST, or GET with the query)."""
        headers = {"User-Agent": _TWILIO_UA, "Accept": "*/*"}
        if method == "GET":
            query = urllib.parse.urlencode(params)
            full = f"{url}{'&' if '?' in url else '?'}{query}" if query else url
            headers["X-Twilio-Signature"] = twilio_signature(full, (), token)
            return _Request("GET", full, headers, b"")
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        headers["X-Twilio-Signature"] = twilio_signature(url, params, token)
        return _Request("POST", url, headers, urllib.parse.urlencode(params).encode())

    @staticmethod
    def telnyx_body(event: Mapping[str, Any]) -> bytes:
        """The exact bytes a Telnyx event is sent (and signed) as."""
        return json.dumps({"data": event}, separators=(",", ":")).encode()

    # -- sending ---------------------------------------------------------------------------

    def submit_twilio(
        self, composition_id: str, event: str, request: _Request
    ) -> asyncio.Task[None]:
        """Queue a Twilio callback after earlier ones of the same composition."""
        return self._chain(composition_id, self._send_one("twilio", composition_id, event, request))

    def submit_telnyx(
        self,
        composition_id: str,
        event: str,
        body: bytes,
        signer: Ed25519Signer,
        urls: Sequence[str],
        timeout: float | None,
    ) -> asyncio.Task[None]:
        """Queue a Telnyx event: the first URL, then the failover if the first did not take it."""
        return self._chain(
            composition_id, self._send_telnyx(composition_id, event, body, signer, urls, timeout)
        )

    def _chain(self, key: str, coro: Any) -> asyncio.Task[None]:
        if self._closed:
            coro.close()
            raise RuntimeError("the emulator is stopped")
        previous = self._last.get(key)
        task = asyncio.ensure_future(self._after(previous, coro))
        self._last[key] = task
        self._tasks.add(task)
        task.add_done_callback(self._forget(key))
        return task

    def _forget(self, key: str) -> Any:
        def done(task: asyncio.Task[None]) -> None:
            self._tasks.discard(task)
            if self._last.get(key) is task:
                del self._last[key]

        return done

    @staticmethod
    async def _after(previous: asyncio.Task[None] | None, coro: Any) -> None:
        try:
            if previous is not None:
                await asyncio.wait([previous])
        except BaseException:
            coro.close()
            raise
        await coro

    async def _send_telnyx(
        self,
        composition_id: str,
        event: str,
        body: bytes,
        signer: Ed25519Signer,
        urls: Sequence[str],
        timeout: float | None,
    ) -> None:
        for url in urls:
            # Signed at send time, so that the timestamp is fresh for each attempt.
            timestamp = str(int(time.time()))
            headers = {
                "User-Agent": _TELNYX_UA,
                "Content-Type": "application/json",
                "telnyx-timestamp": timestamp,
                "telnyx-signature-ed25519": signer.sign(timestamp, body),
            }
            request = _Request("POST", url, headers, body)
            if await self._send_one("telnyx", composition_id, event, request, timeout):
                return

    async def _send_one(
        self,
        provider: Literal["twilio", "telnyx"],
        composition_id: str,
        event: str,
        request: _Request,
        timeout: float | None = None,
    ) -> bool:
        status: int | None = None
        error: str | None = None
        limit = aiohttp.ClientTimeout(total=timeout or self.timeout)
        try:
            async with self._get_session().request(
                request.method,
                # Verbatim: the signature covers the URL exactly as it is requested.
                URL(request.url, encoded=True),
                headers=request.headers,
                data=request.body or None,
                timeout=limit,
                allow_redirects=False,
            ) as response:
                await response.read()
                status = response.status
        except TimeoutError:
            error = "timeout"
        except aiohttp.ClientError as exc:
            error = f"{type(exc).__name__}: {exc}"
        record = WebhookDelivery(
            provider=provider,
            event=event,
            composition_id=composition_id,
            method=request.method,
            url=request.url,
            headers=dict(request.headers),
            body=request.body,
            status=status,
            error=error,
        )
        self.log.append(record)
        return record.ok

    async def wait_idle(self, timeout: float) -> bool:
        """Wait until no delivery is pending (True), or ``timeout`` seconds pass (False)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._tasks:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            await asyncio.wait(list(self._tasks), timeout=remaining)
        return True

    async def aclose(self) -> None:
        """Cancel pending deliveries, wait for them to end, close the HTTP session."""
        self._closed = True
        pending = list(self._tasks)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        session, self._session = self._session, None
        if session is not None:
            await session.close()
