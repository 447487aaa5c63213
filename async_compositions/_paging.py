"""Page: one page of a listing, as a plain public value."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Generic, TypeVar

import attrs

__all__ = ["Page"]

T = TypeVar("T")


@attrs.frozen(slots=True)
class Page(Generic[T]):
    """One page of results, whether more follow, and the cursor to resume from.

    ``page_number`` is the 1-based position of the page in its listing on both providers.
    Resume a listing later with ``next_page_url`` (Twilio: ``page(page_url=...)``) or
    ``next_page_number`` (Telnyx: ``page(page_number=...)``, with the same filters); the
    other one is None.
    """

    items: list[T]
    has_next: bool
    next_page_url: str | None = None
    next_page_number: int | None = None
    page_number: int | None = None
    page_size: int | None = None
    total_pages: int | None = None
    total_results: int | None = None
    _next: Callable[[], Awaitable[Page[T]]] | None = attrs.field(
        default=None, repr=False, eq=False, alias="next"
    )

    async def next_page(self) -> Page[T] | None:
        """Fetch the page after this one, or return None on the last page."""
        if not self.has_next:
            return None
        if self._next is None:
            raise RuntimeError("this page was not produced by a client and cannot fetch more")
        return await self._next()

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)
