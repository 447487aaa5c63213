"""Receiving composition webhooks in an ``aiohttp.web`` application.

    app.router.add_post("/hooks/twilio", webhook_handler(client, secret=auth_token))

The handler verifies the request (403 when the signature is wrong, 400 when a correctly
signed body is malformed), wakes pending ``client.compositions.wait()`` calls through
``notify()``, calls ``on_event`` if given, and answers 200. This module imports
``aiohttp.web``; ``import async_compositions`` does not import it.
"""

from __future__ import annotations

import inspect
import json
import os
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal

from aiohttp import web
from multidict import MultiDict

from ._log import logger
from .errors import WebhookPayloadError, WebhookVerificationError
from .telnyx import webhooks as telnyx_webhooks
from .telnyx.client import TelnyxClient
from .telnyx.webhooks import CompositionEvent as TelnyxCompositionEvent
from .twilio import webhooks as twilio_webhooks
from .twilio.client import TwilioClient
from .twilio.webhooks import CompositionEvent as TwilioCompositionEvent

__all__ = ["signed_url", "telnyx_event", "twilio_event", "webhook_handler"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Provider = Literal["twilio", "telnyx"]
_SECRET_ENV: dict[Provider, str] = {"twilio": "TWILIO_AUTH_TOKEN", "telnyx": "TELNYX_PUBLIC_KEY"}


def _forbidden(provider: str, exc: WebhookVerificationError) -> web.HTTPForbidden:
    # The reason goes to the log only: a forger learns nothing from the response.
    logger.warning("rejected a %s webhook: %s", provider, exc)
    return web.HTTPForbidden(text="webhook signature verification failed")


def _bad_request(provider: str, exc: WebhookPayloadError) -> web.HTTPBadRequest:
    logger.warning("malformed %s webhook: %s", provider, exc)
    return web.HTTPBadRequest(text=f"malformed webhook: {exc}")


def signed_url(request: web.Request, public_url: str | None = None) -> str:
    """The URL Twilio signed: the request's own, or ``public_url`` plus the request's query.

    The path and query are taken verbatim from the request line (``request.raw_path``):
    ``str(request.url)`` is rebuilt by yarl, which may normalise percent-escapes, and a
    single changed byte breaks the signature.
    """
    query = request.raw_path.partition("?")[2]
    if public_url is None:
        return f"{request.scheme}://{request.host}{request.raw_path}"
    if "?" in public_url:
        raise ValueError(
            "public_url is scheme, host and path only; the query comes from the request"
        )
    return f"{public_url}?{query}" if query else public_url


async def twilio_event(
    request: web.Request, auth_token: str, *, public_url: str | None = None
) -> TwilioCompositionEvent:
    """Verify a Twilio status callback and parse it; HTTPForbidden / HTTPBadRequest otherwise.

    ``public_url`` is the callback URL as configured at Twilio (scheme, host, path), for
    applications behind a proxy or tunnel where the request's own URL differs.
    """
    body = await request.read()
    url = signed_url(request, public_url)
    signed: Mapping[str, Any] | bytes | None
    fields: Mapping[str, Any] | bytes
    if request.method == "GET":
        # GET callbacks carry their fields in the query, which is part of the signed URL.
        signed, fields = None, request.query
    elif request.content_type == "application/json":
        signed, fields = body, body  # the bodySHA256 variant
    else:
        form = urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        signed = fields = MultiDict(form)
    signature = request.headers.get("X-Twilio-Signature")
    try:
        twilio_webhooks.require_valid_signature(url, signed, signature, auth_token)
    except WebhookVerificationError as exc:
        raise _forbidden("Twilio", exc) from None
    try:
        return twilio_webhooks.parse_status_callback(_json_fields(fields))
    except WebhookPayloadError as exc:
        raise _bad_request("Twilio", exc) from None


def _json_fields(fields: Mapping[str, Any] | bytes) -> Mapping[str, Any]:
    if not isinstance(fields, bytes):
        return fields
    try:
        document = json.loads(fields)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookPayloadError(f"body is not JSON ({exc})") from None
    if not isinstance(document, dict):
        raise WebhookPayloadError("JSON body is not an object")
    return {str(k): "" if v is None else str(v) for k, v in document.items()}


async def telnyx_event(
    request: web.Request,
    public_key: str | bytes,
    *,
    tolerance: int = telnyx_webhooks.DEFAULT_TOLERANCE,
) -> TelnyxCompositionEvent:
    """Verify a Telnyx webhook (Ed25519) and parse it; HTTPForbidden / HTTPBadRequest otherwise."""
    body = await request.read()
    try:
        telnyx_webhooks.verify_signature(body, request.headers, public_key, tolerance=tolerance)
    except WebhookVerificationError as exc:
        raise _forbidden("Telnyx", exc) from None
    try:
        return telnyx_webhooks.parse_event(body)
    except WebhookPayloadError as exc:
        raise _bad_request("Telnyx", exc) from None


def _provider_of(client: object, provider: Provider | None) -> Provider:
    if provider is not None:
        if provider not in _SECRET_ENV:
            raise ValueError(f"provider must be 'twilio' or 'telnyx', not {provider!r}")
        return provider
    if isinstance(client, TwilioClient):
        return "twilio"
    if isinstance(client, TelnyxClient):
        return "telnyx"
    raise TypeError(f"pass provider='twilio' or 'telnyx' for a {type(client).__name__}")


def webhook_handler(
    client: TwilioClient | TelnyxClient | Any,
    *,
    secret: str | bytes | None = None,
    provider: Provider | None = None,
    on_event: Callable[[Any], object] | None = None,
    public_url: str | None = None,
    tolerance: int = telnyx_webhooks.DEFAULT_TOLERANCE,
) -> Handler:
    """An aiohttp handler that verifies webhooks and wakes ``client.compositions.wait()``.

    ``secret`` is the Twilio Auth Token or the Telnyx public key (default: the
    ``TWILIO_AUTH_TOKEN`` / ``TELNYX_PUBLIC_KEY`` environment variable). ``on_event``
    (sync or async) gets each verified event; if it raises, the answer is a 500 and the
    provider delivers the event again.
    """
    kind = _provider_of(client, provider)
    if secret is None:
        secret = os.environ.get(_SECRET_ENV[kind])
        if not secret:
            raise ValueError(f"pass secret= or set {_SECRET_ENV[kind]}")
    compositions = client.compositions

    async def finish(event: TwilioCompositionEvent | TelnyxCompositionEvent) -> web.Response:
        if event.id is not None:  # composition-hook-failed names no composition
            compositions.notify(event)
        if on_event is not None:
            result = on_event(event)
            if inspect.isawaitable(result):
                await result
        return web.Response(status=200)

    if kind == "twilio":
        if not isinstance(secret, str):
            raise TypeError("a Twilio Auth Token is a str")
        if public_url is not None and "?" in public_url:
            raise ValueError("public_url is scheme, host and path only")
        token = secret

        async def twilio_handler(request: web.Request) -> web.StreamResponse:
            return await finish(await twilio_event(request, token, public_url=public_url))

        return twilio_handler

    if public_url is not None:
        raise TypeError("public_url applies to Twilio only (Telnyx does not sign the URL)")
    key = secret
    # Fail now on a malformed key or tolerance, not on the first delivery.
    telnyx_webhooks.load_public_key(key)
    telnyx_webhooks.check_tolerance(tolerance)

    async def telnyx_handler(request: web.Request) -> web.StreamResponse:
        return await finish(await telnyx_event(request, key, tolerance=tolerance))

    return telnyx_handler
