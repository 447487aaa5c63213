"""What a stream holds: prefetched pages stay unparsed, consumed records and pages are freed.

The fetch functions are fakes returning parsers, as the resources' stream fetch does.
"""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Callable, Hashable
from typing import Any

import attrs
import pytest

from async_compositions._paging import Page, stream_items
from async_compositions.errors import ResponseDecodeError


@attrs.frozen
class Model:
    key: str


def _key(item: Model) -> Hashable:
    return item.key


class Records:
    """Pages p1..pN of JSON-like dicts whose bodies are parsed on demand."""

    def __init__(self, pages: int, per_page: int) -> None:
        self.pages = pages
        self.per_page = per_page
        self.events: list[tuple[str, int]] = []
        self.built: dict[int, Page[Any]] = {}
        self.gates: dict[int, asyncio.Event] = {}

    def decode(self, record: dict[str, str]) -> Model:
        return Model(record["key"])

    def parse(self, n: int) -> Page[Any]:
        self.events.append(("parse", n))
        page: Page[Any] = Page(
            items=[{"key": f"{n}-{i}"} for i in range(self.per_page)],
            has_next=n < self.pages,
            following=tuple(range(n + 1, self.pages + 1)),  # numbered pages
            decoder=self.decode,
        )
        self.built[n] = page
        return page

    async def fetch(self, n: int) -> Callable[[], Page[Any]]:
        self.events.append(("fetched", n))
        gate = self.gates.get(n)
        if gate is not None:
            await gate.wait()
        return lambda: self.parse(n)


async def test_a_prefetched_page_is_parsed_only_when_the_consumer_reaches_it() -> None:
    records = Records(pages=3, per_page=2)
    order: list[str] = []

    original = records.parse

    def parse(n: int) -> Page[Any]:
        order.append(f"parse {n}")
        return original(n)

    records.parse = parse  # type: ignore[method-assign]
    async for item in stream_items(records.fetch, 1, limit=None, page_size=2, prefetch=2, key=_key):
        for _ in range(5):
            await asyncio.sleep(0)
        order.append(item.key)
    assert order == ["parse 1", "1-0", "1-1", "parse 2", "2-0", "2-1", "parse 3", "3-0", "3-1"]
    # Pages 2 and 3 had both arrived while page 1 was being consumed.
    assert records.events.index(("fetched", 3)) < records.events.index(("parse", 2))


async def test_each_record_is_released_once_decoded() -> None:
    records = Records(pages=1, per_page=3)
    remaining: list[list[Any]] = []
    async for _ in stream_items(records.fetch, 1, limit=None, page_size=3, prefetch=1, key=_key):
        remaining.append([r for r in records.built[1].items if r is not None])
    assert [len(r) for r in remaining] == [2, 1, 0]


async def test_a_page_already_decoded_is_left_intact() -> None:
    page: Page[Model] = Page(items=[Model("a"), Model("b")], has_next=False)

    async def fetch(_: int) -> Page[Model]:
        return page

    got = [m async for m in stream_items(fetch, 1, limit=None, page_size=2, prefetch=1, key=_key)]
    assert got == [Model("a"), Model("b")]
    assert page.items == [Model("a"), Model("b")]


async def test_a_consumed_page_is_released_before_the_next_one_arrives() -> None:
    records = Records(pages=2, per_page=2)
    records.gates[2] = asyncio.Event()
    stream = stream_items(records.fetch, 1, limit=None, page_size=2, prefetch=1, key=_key)
    assert (await anext(stream)).key == "1-0"
    assert (await anext(stream)).key == "1-1"
    first = weakref.ref(records.built.pop(1))
    pending = asyncio.ensure_future(anext(stream))
    for _ in range(5):
        await asyncio.sleep(0)
    assert not pending.done()  # waiting for page 2
    gc.disable()  # freed by reference counting, not by a later collection
    try:
        assert first() is None
    finally:
        gc.enable()
    records.gates[2].set()
    assert (await pending).key == "2-0"
    await stream.aclose()


class Cursor:
    """A next-page link: hashable by value, weak-referenceable to see who keeps it."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __hash__(self) -> int:
        return hash(("cursor", self.n))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Cursor) and other.n == self.n


async def test_a_long_listing_does_not_keep_the_cursors_it_followed() -> None:
    followed: list[weakref.ref[Cursor]] = []

    async def fetch(cursor: Cursor) -> Page[Model]:
        followed.append(weakref.ref(cursor))
        more = cursor.n < 50
        return Page(
            items=[Model(f"{cursor.n}")],
            has_next=more,
            following=(Cursor(cursor.n + 1),) if more else (),
        )

    keys: list[str] = []
    async for m in stream_items(fetch, Cursor(1), limit=None, page_size=1, prefetch=1, key=_key):
        keys.append(m.key)
        if m.key == "50":  # still running: the cursors followed since the first are gone
            gc.collect()
            assert [ref() for ref in followed[1:49]] == [None] * 48
    assert keys == [str(n) for n in range(1, 51)]


async def test_a_repeated_cursor_is_still_caught_by_value() -> None:
    async def fetch(cursor: Cursor) -> Page[Model]:
        # Page 3 links back to page 2 with a new but equal cursor object.
        nxt = Cursor(2) if cursor.n == 3 else Cursor(cursor.n + 1)
        return Page(items=[Model(f"{cursor.n}")], has_next=True, following=(nxt,))

    seen: list[str] = []
    with pytest.raises(ResponseDecodeError, match="repeated"):
        async for m in stream_items(
            fetch, Cursor(1), limit=None, page_size=1, prefetch=1, key=_key
        ):
            seen.append(m.key)
    assert seen == ["1", "2"]
