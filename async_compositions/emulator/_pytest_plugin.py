"""pytest plugin: an ``emulator`` fixture (a running ``Emulator``); nothing else on import.

Registered under the ``pytest11`` entry point ``async_compositions_emulator``. The fixture
is a default ``Emulator()``: compositions complete by themselves about 0.75 s after they
are created. Pass options by overriding the ``emulator_options`` fixture, e.g. to drive
time by hand (``await emulator.advance()``) or to change the schedule::

    @pytest.fixture
    def emulator_options():
        return {"manual": True}  # or {"processing_delay": 0.01, "completion_delay": 0.01}
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from ._emulator import Emulator

__all__ = ["emulator", "emulator_options"]

try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - depends on the environment
    pytest_asyncio = None  # type: ignore[assignment]


@pytest.fixture
def emulator_options() -> dict[str, Any]:
    """Keyword arguments for the ``emulator`` fixture's ``Emulator``; override to change."""
    return {}


if pytest_asyncio is not None:

    @pytest_asyncio.fixture
    async def emulator(emulator_options: dict[str, Any]) -> AsyncIterator[Emulator]:
        """A running ``Emulator(**emulator_options)`` on 127.0.0.1, stopped after the test.

        With the default (empty) options its compositions move on by themselves.
        """
        # Imported here so that merely having the plugin installed costs pytest nothing.
        from ._emulator import Emulator

        async with Emulator(**emulator_options) as emu:
            yield emu

else:  # pragma: no cover - depends on the environment

    @pytest.fixture
    def emulator(emulator_options: dict[str, Any]) -> Emulator:
        """Needs pytest-asyncio (or another asyncio plugin) to run."""
        pytest.fail("the 'emulator' fixture needs pytest-asyncio: pip install pytest-asyncio")
