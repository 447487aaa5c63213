"""Fault injection and the request log."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, get_args

from multidict import CIMultiDict, CIMultiDictProxy

__all__ = ["Fault", "FaultKind", "Faults", "RecordedRequest"]

FaultKind = Literal[
    "status",  # answer `status` with the provider's error body
    "rate_limit",  # 429 with Retry-After
    "disconnect",  # close the connection without answering
    "truncate",  # real headers and Content-Length, half the body, then close
    "partial_json",  # a complete response whose JSON body is cut short
    "non_json",  # a 200 (or `status`) HTML page instead of JSON
    "delay",  # answer normally after `delay` seconds
]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)
# Kinds that need the real response, so the request is always processed first.
_AFTER_HANDLER = frozenset({"truncate", "partial_json"})


@dataclass(slots=True)
class Fault:
    """The next ``times`` requests matching ``method``/``path`` fail this way.

    ``path`` is a shell-style pattern (``/v1/Compositions*``). With ``processed=True`` the
    request takes effect first (a create really creates) and only the response is lost,
    late or replaced: what a client sees when a proxy fails after the server acted.
    ``delay`` seconds pass before the answer (after the request took effect, if processed).

    aiohttp clients silently resend an idempotent request (GET, DELETE) once when the
    server closes the connection; give ``disconnect`` faults ``times=2`` to get past that.
    """

    kind: FaultKind
    times: int = 1
    method: str | None = None
    path: str | None = None
    status: int | None = None
    retry_after: str | None = None
    delay: float = 0.0
    processed: bool = False
    hits: int = 0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {FAULT_KINDS}")
        if self.times < 1:
            raise ValueError("times must be >= 1")
        if self.delay < 0:
            raise ValueError("delay must be >= 0")
        if self.kind == "status" and self.status is None:
            self.status = 500
        if self.status is not None and not 100 <= self.status <= 599:
            raise ValueError(f"status must be an HTTP status, got {self.status}")
        if self.kind == "rate_limit" and self.retry_after is None:
            self.retry_after = "1"
        if self.kind in _AFTER_HANDLER:
            self.processed = True
        if self.method is not None:
            self.method = self.method.upper()

    @property
    def remaining(self) -> int:
        """How many more matching requests this fault will hit."""
        return max(self.times - self.hits, 0)

    def matches(self, method: str, path: str) -> bool:
        """True when this fault applies to a request with this method and path."""
        if self.remaining == 0:
            return False
        if self.method is not None and self.method != method.upper():
            return False
        return self.path is None or fnmatch.fnmatchcase(path, self.path)


@dataclass(slots=True)
class Faults:
    """The pending faults, consumed in the order they were added."""

    items: list[Fault] = field(default_factory=list)

    def add(self, fault: Fault) -> Fault:
        """Queue ``fault``."""
        self.items.append(fault)
        return fault

    def take(self, method: str, path: str) -> Fault | None:
        """The first fault matching this request, counted as hit."""
        for fault in self.items:
            if fault.matches(method, path):
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
    """A request as the emulator received it, for asserting what a client put on the wire."""

    method: str
    path: str
    query_string: str
    headers: CIMultiDictProxy[str]
    body: bytes
    request_id: str | None = None
    status: int | None = None
    fault: str | None = None

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

    @staticmethod
    def headers_of(raw: Mapping[str, str] | CIMultiDictProxy[str]) -> CIMultiDictProxy[str]:
        """A frozen, case-insensitive copy of request headers."""
        return CIMultiDictProxy(CIMultiDict(raw))
