"""Closing a client under a running stream ends the stream with a clear error."""

from __future__ import annotations

import asyncio

import pytest

from async_compositions._paging import Page, stream_items
from async_compositions._session import SessionManager


async def test_consumer_gets_runtime_error_when_client_closes_mid_stream() -> None:
    sessions = SessionManager()
    started = asyncio.Event()
    never = asyncio.Event()

    async def fetch(cursor: int) -> Page[int]:
        if cursor == 1:
            return Page(items=[1, 2], has_next=True, following=(2,))
        started.set()
        await never.wait()
        raise AssertionError("unreachable")

    stream = stream_items(
        fetch, 1, limit=None, page_size=2, prefetch=1, key=lambda x: x, spawn=sessions.spawn
    )
    seen = [await anext(stream), await anext(stream)]
    await started.wait()
    await sessions.aclose()
    with pytest.raises(RuntimeError, match="client was closed"):
        await anext(stream)
    await stream.aclose()
    assert seen == [1, 2]
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_cancelling_the_consumer_still_raises_cancelled_error() -> None:
    sessions = SessionManager()
    started = asyncio.Event()

    async def fetch(cursor: int) -> Page[int]:
        started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def consume() -> None:
        async for _ in stream_items(
            fetch, 1, limit=None, page_size=2, prefetch=1, key=lambda x: x, spawn=sessions.spawn
        ):
            pass

    task = asyncio.ensure_future(consume())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await sessions.aclose()
