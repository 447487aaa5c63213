"""Asyncio tests and fixtures run on the loop chosen with ``pytest --event-loop``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest


def loop_kind(loop: asyncio.AbstractEventLoop) -> str:
    module = type(loop).__module__
    return "uvloop" if module.split(".")[0] == "uvloop" else module


@pytest.fixture
async def fixture_loop() -> AsyncIterator[asyncio.AbstractEventLoop]:
    yield asyncio.get_running_loop()


async def test_tests_and_fixtures_share_the_selected_loop(
    pytestconfig: pytest.Config, fixture_loop: asyncio.AbstractEventLoop
) -> None:
    loop = asyncio.get_running_loop()
    assert fixture_loop is loop
    if pytestconfig.getoption("event_loop") == "uvloop":
        assert loop_kind(loop) == "uvloop"
    else:
        assert isinstance(loop, asyncio.BaseEventLoop)
        assert loop_kind(loop).startswith("asyncio.")
