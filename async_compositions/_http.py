"""Sans-I/O request and response values exchanged between dialects and the transport.

They are NamedTuples rather than frozen attrs classes: every request builds one of each,
and a frozen attrs ``__init__`` sets each field through ``object.__setattr__``, which
costs several times as much. They are just as immutable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from yarl import URL

from .errors import ResponseDecodeError

__all__ = ["HttpRequest", "HttpResponse", "Origin"]


class HttpRequest(NamedTuple):
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
    # Headers of this request only (Range on a resumed download).
    headers: tuple[tuple[str, str], ...] = ()
    # False for a pre-signed media URL: it is fetched without the provider's credentials.
    authenticated: bool = True


class Origin(NamedTuple):
    """Where a record came from: what a decode error reports once the body is gone."""

    status: int | None
    request_id: str | None

    def decode_error(self, message: str, quote: str = "") -> ResponseDecodeError:
        """The one way the library describes a response it cannot decode."""
        return ResponseDecodeError(
            message, status=self.status, body=quote, request_id=self.request_id
        )


class HttpResponse(NamedTuple):
    """A response whose body has been read in full and released."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    url: URL
    request_id: str | None = None

    @property
    def text(self) -> str:
        """The body decoded as UTF-8, invalid bytes replaced."""
        return self.body.decode("utf-8", "replace")

    @property
    def origin(self) -> Origin:
        """The status and request id, without the body."""
        return Origin(self.status, self.request_id)

    def decode_error(self, message: str) -> ResponseDecodeError:
        """A ResponseDecodeError quoting this response's body."""
        return self.origin.decode_error(message, self.text)
