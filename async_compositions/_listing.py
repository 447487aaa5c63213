"""A listing: the sans-I/O object that requests and reads the pages of one filtered list."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import Any, Generic, TypeVar

import attrs

from ._http import HttpRequest, HttpResponse, Origin

__all__ = ["Batch", "FilterTable", "Listing", "filter_params"]

C = TypeVar("C", bound=Hashable)

#: A provider's filters: keyword -> (query parameter, check turning the value into text),
#: in the order the parameters are sent.
FilterTable = Mapping[str, tuple[str, Callable[[object, str], str]]]


def filter_params(filters: Mapping[str, object], table: FilterTable) -> list[tuple[str, str]]:
    """The query parameters of a listing's filters; None means "no filter"."""
    unknown = set(filters) - set(table)
    if unknown:
        known = ", ".join(table)
        raise TypeError(f"unknown filters: {', '.join(sorted(unknown))} (filters: {known})")
    params = []
    for name, (param, check) in table.items():
        value = filters.get(name)
        if value is not None:
            params.append((param, check(value, name)))
    return params


@attrs.frozen(slots=True)
class Batch(Generic[C]):
    """One list response, parsed but not decoded: its records and the cursors that follow.

    ``following`` holds the cursors of later pages, nearest first, as many as may be
    fetched ahead; it is empty on the last page.
    """

    records: list[Any]
    following: tuple[C, ...]
    origin: Origin
    page_number: int | None = None
    page_size: int | None = None
    total_pages: int | None = None
    total_results: int | None = None
    #: The cursor to resume from later, in the form the caller hands back to ``page()``.
    next_page_url: str | None = None
    next_page_number: int | None = None


class Listing(Generic[C]):
    """A list with its filters fixed: where it starts, and how to request and read a page.

    It does no I/O: the transport sends what ``request`` builds, and ``parse`` reads what
    came back (in h11's manner, or gidgethub's ``decipher_response``).
    """

    __slots__ = ("first",)

    def __init__(self, first: C) -> None:
        self.first = first

    def request(self, cursor: C) -> HttpRequest:
        """The request for the page at ``cursor``."""
        raise NotImplementedError

    def parse(self, response: HttpResponse, cursor: C) -> Batch[C]:
        """Read a list response; a body of the wrong shape is a ResponseDecodeError."""
        raise NotImplementedError
