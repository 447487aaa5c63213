"""Query parameters both APIs read: whole numbers of any size, without unbounded work."""

from __future__ import annotations

import sys

from aiohttp import web
from multidict import MultiDict, MultiDictProxy, MultiMapping

__all__ = ["IGNORE_PAGE_KEY", "TooManyDigits", "decimal_integer", "listing_query"]


class TooManyDigits(ValueError):
    """All digits, but more of them than the interpreter converts to an int."""


def decimal_integer(raw: str) -> int | None:
    """``raw`` as a non-negative int when it is ASCII digits only, else None.

    Neither provider documents a maximum, so any size is read (leading zeros ignored),
    up to the interpreter's own bound on converting long digit strings
    (``sys.get_int_max_str_digits()``, 4300 by default), which keeps the work small;
    past that bound it raises ``TooManyDigits``.
    """
    if not raw or not raw.isascii() or not raw.isdigit():
        return None
    digits = raw.lstrip("0") or "0"
    try:
        return int(digits)
    except ValueError:
        limit = sys.get_int_max_str_digits()
        raise TooManyDigits(f"more than {limit} digits") from None


# Set on a request by an "ignore_page" fault: the listing is answered as if no page was
# asked for, as a proxy that drops the paging parameters would.
IGNORE_PAGE_KEY = web.RequestKey("ignore_page", bool)


def listing_query(request: web.Request, *paging: str) -> MultiMapping[str]:
    """The request's query, without the ``paging`` parameters under an "ignore_page" fault."""
    if not request.get(IGNORE_PAGE_KEY):
        return request.query
    return MultiDictProxy(MultiDict((k, v) for k, v in request.query.items() if k not in paging))
