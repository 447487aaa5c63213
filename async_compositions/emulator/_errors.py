"""Errors in each provider's own JSON shape, and the exception handlers raise to produce them."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from aiohttp import web

__all__ = [
    "Problem",
    "Provider",
    "json_response",
    "provider_for_path",
    "render_problem",
    "telnyx_error_body",
    "twilio_error_body",
]

Provider = Literal["twilio", "telnyx", "media"]

# Twilio's generic REST error codes (twilio.com/docs/api/errors).
_TWILIO_CODES = {
    400: 20001,
    401: 20003,
    403: 20403,
    404: 20404,
    405: 20004,
    429: 20429,
    500: 20500,
    503: 20503,
}
_TWILIO_MESSAGES = {
    400: "Bad Request",
    401: "Authenticate",
    403: "Forbidden",
    404: "The requested resource was not found",
    405: "Method not allowed",
    409: "Conflict",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
# Telnyx's API error codes (developers.telnyx.com, "API error codes").
_TELNYX_CODES = {
    400: "10015",
    401: "10009",
    403: "10010",
    404: "10005",
    405: "10015",
    408: "10008",
    422: "10015",
    429: "10011",
}
_TELNYX_TITLES = {
    "10003": "Invalid URL",
    "10004": "Missing required parameter",
    "10005": "Resource not found",
    "10006": "Invalid ID",
    "10007": "Unexpected error",
    "10008": "Request timeout",
    "10009": "Authentication failed",
    "10010": "Authorization failed",
    "10011": "Too many requests",
    "10015": "Bad Request",
}
_TELNYX_DETAILS = {
    "10005": "The requested resource or URL could not be found.",
    "10007": "An unexpected error occured.",
    "10009": "The required authentication headers were either invalid or not included "
    "in the request.",
    "10011": "You have exceeded the maximum number of allowed requests.",
}


class Problem(Exception):
    """Raised by a handler; rendered in the shape of the provider whose path was requested."""

    def __init__(
        self,
        status: int,
        detail: str = "",
        *,
        code: int | str | None = None,
        title: str | None = None,
        pointer: str | None = None,
        parameter: str | None = None,
        headers: Mapping[str, str] | None = None,
        also: Sequence[Problem] = (),
    ) -> None:
        super().__init__(detail or str(status))
        self.status = status
        self.detail = detail
        self.code = code
        self.title = title
        self.pointer = pointer
        self.parameter = parameter
        self.headers = dict(headers or {})
        # Further errors of the same request (Telnyx reports every invalid field at once).
        self.also = list(also)


def provider_for_path(path: str) -> Provider | None:
    """Which provider's conventions a request path follows."""
    if path == "/v1" or path.startswith("/v1/"):
        return "twilio"
    if path == "/v2" or path.startswith("/v2/"):
        return "telnyx"
    if path.startswith("/_media/"):
        return "media"
    return None


def twilio_error_body(status: int, code: int | str | None, message: str) -> dict[str, Any]:
    """``{code, message, more_info, status}`` as Twilio's REST APIs send it."""
    if code is None:
        code = _TWILIO_CODES.get(status, 20500 if status >= 500 else 20001)
    return {
        "code": code,
        "message": message or _TWILIO_MESSAGES.get(status, "Error"),
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def telnyx_error_body(
    status: int,
    code: str | int | None,
    title: str | None,
    detail: str,
    *,
    pointer: str | None = None,
    parameter: str | None = None,
) -> dict[str, Any]:
    """``{"errors": [{code, title, detail, source}]}`` as Telnyx's v2 APIs send it."""
    if code is None:
        code = _TELNYX_CODES.get(status, "10007" if status >= 500 else "10015")
    code = str(code)
    error: dict[str, Any] = {
        "code": code,
        "title": title or _TELNYX_TITLES.get(code, "Error"),
        "detail": detail or _TELNYX_DETAILS.get(code, _TWILIO_MESSAGES.get(status, "Error")),
    }
    source: dict[str, str] = {}
    if pointer is not None:
        source["pointer"] = pointer
    if parameter is not None:
        source["parameter"] = parameter
    if source:
        error["source"] = source
    error["meta"] = {"url": f"https://developers.telnyx.com/docs/overview/errors/{code}"}
    return {"errors": [error]}


def json_response(
    data: object, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """A compact JSON response."""
    body = json.dumps(data, separators=(",", ":")).encode()
    return web.Response(body=body, status=status, content_type="application/json", headers=headers)


def _s3_error(status: int, code: str, message: str) -> web.Response:
    text = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    )
    return web.Response(text=text, status=status, content_type="application/xml")


_S3_CODES = {400: "InvalidArgument", 403: "AccessDenied", 404: "NoSuchKey", 416: "InvalidRange"}


def render_problem(provider: Provider | None, problem: Problem) -> web.Response:
    """The error response a provider would send for ``problem``."""
    status = problem.status
    if provider == "twilio":
        body = twilio_error_body(status, problem.code, problem.detail)
        response = json_response(body, status)
    elif provider == "telnyx":
        errors = [
            telnyx_error_body(
                status, p.code, p.title, p.detail, pointer=p.pointer, parameter=p.parameter
            )["errors"][0]
            for p in (problem, *problem.also)
        ]
        response = json_response({"errors": errors}, status)
    elif provider == "media":
        code = str(problem.code or _S3_CODES.get(status, "InternalError"))
        response = _s3_error(status, code, problem.detail or code)
    else:
        response = web.Response(text=problem.detail or "Not Found", status=status)
    response.headers.update(problem.headers)
    return response
