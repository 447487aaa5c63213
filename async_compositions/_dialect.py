"""Dialect: what a provider is on the wire, with no I/O (requests built, responses read)."""

from __future__ import annotations

import json
from collections.abc import Hashable, Mapping
from typing import Any, ClassVar, Generic, TypeVar

import attrs
import cattrs
from yarl import URL

from ._archive import CompositionFacts
from ._decode import ModelHooks, load_json
from ._http import HttpRequest, HttpResponse, Origin
from ._listing import Batch, Listing
from ._validate import is_url_text
from .errors import APIError

__all__ = ["Dialect"]

M = TypeVar("M")

# What a structuring hook raises on a record of the wrong shape.
_DECODE_FAILURES = (cattrs.BaseValidationError, AttributeError, KeyError, TypeError, ValueError)


@attrs.frozen(slots=True)
class Dialect(Generic[M]):
    """One provider's resource: its URLs, requests, decoding and error shape.

    Subclasses declare the class attributes and the provider-specific requests (create,
    a listing of the provider's filters, the media URL) and readers (item envelope, error
    body); the transport, paging and retries are written once, elsewhere.
    """

    #: The provider's name: "twilio" or "telnyx".
    provider: ClassVar[str]
    #: The collection's path segment under the API root.
    collection: ClassVar[str]
    #: The provider's converter hooks, generated when the first client is built.
    hooks: ClassVar[ModelHooks]
    #: The model one item decodes to, and its name in error messages.
    model: ClassVar[type]
    what: ClassVar[str]
    #: Response header carrying the provider's request id.
    request_id_header: ClassVar[str]
    #: Page sizes the provider accepts and uses by default.
    max_page_size: ClassVar[int]
    default_page_size: ClassVar[int]
    #: How many pages may be fetched ahead (1 where only a next-page link exists).
    max_prefetch: ClassVar[int]
    #: Statuses a DELETE succeeds with.
    deleted: ClassVar[frozenset[int]]

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

    # -- requests -------------------------------------------------------------------------

    def check_id(self, id: object) -> str:
        """A composition id safe to put in a path; anything else raises before sending."""
        raise NotImplementedError

    def item_url(self, id: object) -> URL:
        """``{base}/{collection}/{id}`` after checking the id."""
        # Built by concatenation: the id holds only safe characters once checked.
        return URL(self._item_prefix + self.check_id(id), encoded=True)

    def fetch_request(self, id: object) -> HttpRequest:
        """GET one composition."""
        return HttpRequest("GET", self.item_url(id))

    def delete_request(self, id: object) -> HttpRequest:
        """DELETE one composition."""
        return HttpRequest(
            "DELETE",
            self.item_url(id),
            expected=self.deleted,
            # Gone on a resend: the attempt whose answer was lost deleted it.
            resent_ok=frozenset({404}),
        )

    def listing(self, filters: Mapping[str, Any], page_size: int | None) -> Listing[Any]:
        """A listing of the compositions matching the provider's ``filters``."""
        raise NotImplementedError

    # -- responses ------------------------------------------------------------------------

    def decode(self, record: Any, origin: Origin) -> M:
        """Decode one record into the model; any failure is a ResponseDecodeError quoting it."""
        if record.__class__ is not dict:
            message = f"expected a {self.what} object"
        else:
            try:
                model = self.hooks.structure(record, self.model)
            except _DECODE_FAILURES as exc:
                message = f"{self.what} did not decode ({type(exc).__name__}: {exc})"
            else:
                layout = model.video_layout
                if layout is not None:
                    # Its regions decode when first read: an error then names this response.
                    layout.origin = origin
                return model  # type: ignore[no-any-return]
        raise origin.decode_error(message, json.dumps(record, default=str))

    def decode_batch(self, batch: Batch[Any]) -> list[M]:
        """Every record of a page, decoded (``page()``; a stream decodes one by one)."""
        origin = batch.origin
        return [self.decode(record, origin) for record in batch.records]

    def unwrap_item(self, data: Any, response: HttpResponse) -> Any:
        """The record inside a single-composition response body."""
        return data

    def parse_item(self, response: HttpResponse) -> M:
        """Decode a single-composition response."""
        record = self.unwrap_item(load_json(response), response)
        return self.decode(record, response.origin)

    def media_target(self, target: object, response: HttpResponse) -> URL:
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
            raise response.decode_error("the media URL is not an absolute http(s) URL")
        return url

    def parse_error(self, response: HttpResponse) -> APIError:
        """Turn an error response into the matching APIError subclass."""
        raise NotImplementedError

    def canonical_of(self, item: M) -> Hashable:
        """What ``ensure()`` compares: the composition's room and parameters, defaults
        filled in as the provider stores them."""
        raise NotImplementedError

    def facts(self, item: M) -> CompositionFacts:
        """What an archive needs of a composition (id, status, size, names)."""
        raise NotImplementedError

    def item_key(self, item: M) -> Hashable:
        """The identity of an item, used to drop a record repeated across a page boundary."""
        return item.id  # type: ignore[attr-defined,no-any-return]
