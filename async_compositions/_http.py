"""Sans-I/O request and response values exchanged between dialects and the transport."""

from __future__ import annotations

from collections.abc import Mapping

import attrs
from yarl import URL

__all__ = ["HttpRequest", "HttpResponse"]


@attrs.frozen(slots=True)
class HttpRequest:
    """One HTTP request, fully built: the transport sends it as is."""

    method: str
    url: URL
    body: bytes | None = None
    content_type: str | None = None
    # A request the server may safely see twice (GET, DELETE); a create is not.
    idempotent: bool = True
    expected: frozenset[int] = frozenset({200})
    # Statuses that mean success on a resend after an attempt that may have been processed:
    # a 404 to a resent DELETE means the first attempt deleted it.
    resent_ok: frozenset[int] = frozenset()


@attrs.frozen(slots=True)
class HttpResponse:
    """A response whose body has been read in full and released."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    url: URL

    @property
    def text(self) -> str:
        """The body decoded as UTF-8, invalid bytes replaced."""
        return self.body.decode("utf-8", "replace")
