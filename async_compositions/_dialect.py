"""The sans-I/O contract every provider dialect fulfils."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Hashable
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import attrs
import cattrs
from yarl import URL

from ._decode import ModelHooks
from ._http import HttpRequest, HttpResponse
from ._paging import Page
from ._validate import is_url_text
from .errors import APIError, ResponseDecodeError

__all__ = ["Dialect", "DialectBase"]

M = TypeVar("M")
C = TypeVar("C", bound=Hashable, contravariant=True)


class Dialect(Protocol[M, C]):
    """Builds requests and parses responses for one provider; never does I/O."""

    @property
    def request_id_header(self) -> str:
        """Response header carrying the provider's request id."""
        ...

    @property
    def max_page_size(self) -> int:
        """Largest page size the provider accepts."""
        ...

    @property
    def default_page_size(self) -> int:
        """The page size the provider uses when none is sent."""
        ...

    @property
    def max_prefetch(self) -> int:
        """How many pages may be fetched ahead (1 where only a next-page link exists)."""
        ...

    def fetch_request(self, id: str) -> HttpRequest:
        """GET one composition."""
        ...

    def delete_request(self, id: str) -> HttpRequest:
        """DELETE one composition."""
        ...

    def page_request(self, query: Any, cursor: C) -> HttpRequest:
        """GET the page at ``cursor`` of the listing described by ``query``."""
        ...

    def parse_item(self, response: HttpResponse) -> M:
        """Decode a single-composition response."""
        ...

    def parse_page(self, response: HttpResponse, cursor: C, *, decode: bool = True) -> Page[M]:
        """Decode a list response into a Page whose ``following`` holds later cursors.

        ``decode=False`` leaves the items as JSON objects with ``Page.decoder`` to convert
        each one later.
        """
        ...

    def parse_error(self, response: HttpResponse) -> APIError:
        """Turn an error response into the matching APIError subclass."""
        ...

    def item_key(self, item: M) -> Hashable:
        """The identity of an item, used to drop a record repeated across a page boundary."""
        ...


# What a structuring hook raises on a record of the wrong shape.
_DECODE_FAILURES = (cattrs.BaseValidationError, AttributeError, KeyError, TypeError, ValueError)


@attrs.frozen(slots=True)
class DialectBase(Generic[M]):
    """What every dialect shares: its URLs, built once per client, and its decoding hooks."""

    #: The collection's path segment under the API root.
    collection: ClassVar[str]
    #: The provider's converter hooks, generated when the first client is built.
    hooks: ClassVar[ModelHooks]
    #: The model one item decodes to, and its name in error messages.
    model: ClassVar[type]
    what: ClassVar[str]
    #: Response header carrying the provider's request id.
    request_id_header: ClassVar[str]

    base_url: URL
    collection_url: URL = attrs.field(init=False)
    _item_prefix: str = attrs.field(init=False, repr=False)

    @collection_url.default
    def _collection_url(self) -> URL:
        return self.base_url / self.collection

    @_item_prefix.default
    def _default_item_prefix(self) -> str:
        return f"{self.collection_url}/"

    def __attrs_post_init__(self) -> None:
        # Generate the decoding code when a client is built, not inside its first request.
        self.hooks.warm()

    def _item_url(self, checked_id: str) -> URL:
        # Built by concatenation: the caller has checked the id holds only safe characters.
        return URL(self._item_prefix + checked_id, encoded=True)

    def parse_error(self, response: HttpResponse) -> APIError:
        """Turn an error response into the matching APIError subclass."""
        raise NotImplementedError

    def _decode_error(
        self, message: str, response: HttpResponse, quote: str | None = None
    ) -> ResponseDecodeError:
        """The error for an undecodable response, quoting ``quote`` or else the body."""
        return ResponseDecodeError(
            message,
            status=response.status,
            body=response.text if quote is None else quote,
            request_id=response.headers.get(self.request_id_header),
        )

    def _media_target(self, target: object, response: HttpResponse) -> URL:
        """The media URL a response names, which must be absolute http(s) once resolved.

        A relative URL (a ``Location`` header may be one) is resolved against the API's
        origin; anything unusable is a ResponseDecodeError, never an aiohttp URL error.
        """
        url: URL | None = None
        if isinstance(target, URL):
            url = target
        elif isinstance(target, str) and is_url_text(target):
            try:
                url = URL(target, encoded=True)
                if not url.is_absolute():
                    url = self.base_url.origin().join(url)
            except ValueError:
                url = None
        if url is None or url.scheme not in ("http", "https") or not url.host:
            raise self._decode_error("the media URL is not an absolute http(s) URL", response)
        return url

    def _structure(self, record: Any, response: HttpResponse) -> M:
        """Decode one record; any failure becomes a ResponseDecodeError."""
        if record.__class__ is not dict:
            message = f"expected a {self.what} object"
        else:
            try:
                return self.hooks.structure(record, self.model)  # type: ignore[no-any-return]
            except _DECODE_FAILURES as exc:
                message = f"{self.what} did not decode ({type(exc).__name__}: {exc})"
        # A stream's page keeps no copy of its body: quote the record that failed instead.
        quote = None if response.body else json.dumps(record, default=str)
        raise self._decode_error(message, response, quote)

    def _page_items(
        self, records: list[Any], response: HttpResponse, decode: bool
    ) -> tuple[list[Any], Callable[[Any], M]]:
        """A page's items (models, or JSON objects when ``decode`` is False) and their decoder."""
        if not decode:
            # A stream decodes these later: keep the response's status and headers for
            # errors but not its body, which would double what the page holds. An error
            # then quotes the record that failed.
            response = attrs.evolve(response, body=b"")
        decoder = functools.partial(self._structure, response=response)
        if decode:
            # Replace each record in place, so its dict is freed as soon as its model
            # exists: a page never holds all of its dicts and all of its models at once.
            for index, record in enumerate(records):
                records[index] = decoder(record)
        return records, decoder
