"""Fault injection and the request log."""

from __future__ import annotations

import fnmatch
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, get_args

from multidict import CIMultiDict, CIMultiDictProxy, MultiDict, MultiDictProxy

from ._params import TooManyDigits, decimal_integer

__all__ = ["Fault", "FaultKind", "Faults", "RecordedRequest", "listing_page"]

FaultKind = Literal[
    "status",  # answer `status` with the provider's error body (or `body`)
    "rate_limit",  # 429 with Retry-After
    "disconnect",  # close the connection without answering
    "truncate",  # real headers and Content-Length, half the body, then close
    "partial_json",  # a complete response whose JSON body is cut short
    "non_json",  # a 200 (or `status`) HTML page instead of JSON
    "delay",  # answer normally after `delay` seconds
    "no_meta",  # a listing answered without its "meta" object
    "ignore_page",  # a listing answered as if no page was asked for: the first page again
    "malformed_status",  # "HTTP/1.1 2OO OK": a status line that is not HTTP, then close
    "raw",  # `body` written to the connection as it is (status line and all), then close
    "compress",  # the answer gzip/deflate-encoded whenever the request's Accept-Encoding allows
]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)
# Kinds that need the real response (or change how it is made): always processed.
_AFTER_HANDLER = frozenset({"truncate", "partial_json", "no_meta", "ignore_page", "compress"})
# Kinds whose answer can be given as `body` and `headers`.
_CANNED = frozenset({"status", "rate_limit", "non_json"})
# Kinds that never give an HTTP answer the log could record a status for.
LOST = frozenset({"disconnect", "truncate", "malformed_status", "raw"})

# The collection each provider lists, and the query parameter that numbers its pages.
_LISTINGS = {"/v1/Compositions": ("Page", 0), "/v2/room_compositions": ("page[number]", 1)}
MALFORMED_STATUS_RESPONSE = (
    b"HTTP/1.1 2OO OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
    b"Connection: close\r\n\r\n{}"
)


def listing_page(method: str, path: str, query: Mapping[str, str]) -> int | None:
    """The page a listing request asks for, as its provider counts; None for other requests.

    Twilio's ``GET /v1/Compositions`` counts ``Page`` from 0, Telnyx's
    ``GET /v2/room_compositions`` counts ``page[number]`` from 1; a request without the
    parameter asks for the first page. A value that is not a whole number gives None.
    """
    listing = _LISTINGS.get(path) if method.upper() == "GET" else None
    if listing is None:
        return None
    name, first = listing
    raw = query.get(name)
    if raw is None:
        return first
    try:
        return decimal_integer(raw)
    except TooManyDigits:
        return None


def _matches(
    want_method: str | None,
    want_path: str | None,
    want_page: int | None,
    method: str,
    path: str,
    page: int | None,
) -> bool:
    """Whether a request fits a fault's or hold's method, path pattern and listing page."""
    if want_method is not None and want_method != method.upper():
        return False
    if want_path is not None and not fnmatch.fnmatchcase(path, want_path):
        return False
    return want_page is None or want_page == page


@dataclass(slots=True)
class Fault:
    """The next ``times`` requests matching ``method``/``path``/``page`` fail this way.

    ``path`` is a shell-style pattern (``/v1/Compositions*``). ``page`` limits the fault
    to listing requests for that page, as the provider counts them (Twilio ``Page`` from
    0, Telnyx ``page[number]`` from 1; see ``RecordedRequest.page``). With
    ``processed=True`` the request takes effect first (a create really creates) and only
    the response is lost, late or replaced: what a client sees when a proxy fails after
    the server acted. ``delay`` seconds pass before the answer (after the request took
    effect, if processed).

    ``body`` and ``headers`` make a canned answer: for ``status``, ``rate_limit`` and
    ``non_json`` faults ``body`` is sent instead of the provider's error JSON (or the HTML
    page) and ``headers`` are added to the response (a ``Content-Type`` given there
    replaces the default ``application/json``). A ``raw`` fault writes ``body`` to the
    connection byte for byte, so it must hold a whole response (or any bytes at all).

    aiohttp clients silently resend an idempotent request (GET, DELETE) once when the
    server closes a reused connection; the library's clients turn that off.
    """

    kind: FaultKind
    times: int = 1
    method: str | None = None
    path: str | None = None
    status: int | None = None
    retry_after: str | None = None
    delay: float = 0.0
    processed: bool = False
    page: int | None = None
    body: bytes | None = None
    headers: dict[str, str] | None = None
    hits: int = 0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {FAULT_KINDS}")
        if self.times < 1:
            raise ValueError("times must be >= 1")
        if self.delay < 0:
            raise ValueError("delay must be >= 0")
        if self.page is not None and (isinstance(self.page, bool) or self.page < 0):
            raise ValueError(f"page must be a page number >= 0, got {self.page!r}")
        if self.kind == "status" and self.status is None:
            self.status = 500
        if self.status is not None and not 100 <= self.status <= 599:
            raise ValueError(f"status must be an HTTP status, got {self.status}")
        if self.kind == "rate_limit" and self.retry_after is None:
            self.retry_after = "1"
        if self.kind == "raw" and not self.body:
            raise ValueError("a 'raw' fault needs body: the bytes to write to the connection")
        if self.body is not None and self.kind not in _CANNED | {"raw"}:
            raise ValueError("body= is for 'status', 'rate_limit', 'non_json' and 'raw' faults")
        if self.headers is not None and self.kind not in _CANNED:
            raise ValueError("headers= is for 'status', 'rate_limit' and 'non_json' faults")
        if self.headers is not None:
            self.headers = dict(self.headers)
        if self.kind in _AFTER_HANDLER:
            self.processed = True
        if self.method is not None:
            self.method = self.method.upper()

    @property
    def remaining(self) -> int:
        """How many more matching requests this fault will hit."""
        return max(self.times - self.hits, 0)

    def matches(self, method: str, path: str, page: int | None = None) -> bool:
        """True when this fault applies to a request with this method, path and page.

        ``page`` is the listing page the request asks for (``RecordedRequest.page``).
        """
        if self.remaining == 0:
            return False
        return _matches(self.method, self.path, self.page, method, path, page)


@dataclass(slots=True)
class Faults:
    """The pending faults, consumed in the order they were added."""

    items: list[Fault] = field(default_factory=list)

    def add(self, fault: Fault) -> Fault:
        """Queue ``fault``."""
        self.items.append(fault)
        return fault

    def take(self, method: str, path: str, page: int | None = None) -> Fault | None:
        """The first fault matching this request, counted as hit."""
        for fault in self.items:
            if fault.matches(method, path, page):
                fault.hits += 1
                if fault.remaining == 0:
                    self.items.remove(fault)
                return fault
        return None

    def clear(self) -> None:
        """Drop every pending fault."""
        self.items.clear()


@dataclass(slots=True, repr=False)
class RecordedRequest:
    """A request as the emulator received it, for asserting what a client put on the wire.

    ``status`` is the status answered (None while it is being handled, and when a fault
    lost the answer); ``finished`` turns True once the emulator is done with the request:
    its response has been handed to the connection, or a fault closed it.
    """

    method: str
    path: str
    query_string: str
    headers: CIMultiDictProxy[str]
    body: bytes
    request_id: str | None = None
    status: int | None = None
    fault: str | None = None
    finished: bool = False
    #: When it arrived (``time.monotonic()``): the log measures a client's request rate.
    arrived: float = field(default_factory=time.monotonic)

    def __repr__(self) -> str:
        # Headers stay out: they carry the client's credentials.
        return (
            f"<RecordedRequest {self.method} {self.url_path_qs} status={self.status} "
            f"fault={self.fault} body={len(self.body)} bytes>"
        )

    @property
    def url_path_qs(self) -> str:
        """``path?query`` exactly as sent (the query still percent-encoded)."""
        return f"{self.path}?{self.query_string}" if self.query_string else self.path

    @property
    def query(self) -> MultiDictProxy[str]:
        """The query string decoded into name/value pairs, in the order sent."""
        pairs = urllib.parse.parse_qsl(self.query_string, keep_blank_values=True)
        return MultiDictProxy(MultiDict(pairs))

    @property
    def page(self) -> int | None:
        """For a listing request, the page it asks for as its provider counts; else None.

        Twilio ``GET /v1/Compositions`` counts ``Page`` from 0, Telnyx
        ``GET /v2/room_compositions`` counts ``page[number]`` from 1, and a listing request
        without the parameter asks for the first page (0 or 1).
        """
        return listing_page(self.method, urllib.parse.unquote(self.path), self.query)

    @staticmethod
    def headers_of(raw: Mapping[str, str] | CIMultiDictProxy[str]) -> CIMultiDictProxy[str]:
        """A frozen, case-insensitive copy of request headers."""
        return CIMultiDictProxy(CIMultiDict(raw))
