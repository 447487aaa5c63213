"""A local emulator of the Twilio Video v1 Compositions and Telnyx Room Compositions APIs.

Compositions move on by themselves, as on the real services (enqueued -> processing ->
completed in about 0.75 s)::

    async with Emulator() as emu:
        async with emu.twilio_client() as client:
            c = await client.compositions.create(room_sid="RM" + "0" * 32, audio_sources=["*"])
            await client.compositions.wait(c.sid)            # completed

Or only when a test says so::

    async with Emulator(manual=True) as emu:
        ...                                                  # created: stays enqueued
        await emu.advance(steps=2)                           # enqueued -> processing -> completed

Tests can hold requests at the door and release them one by one, wait for what a
client has sent, and count what is in flight::

    hold = emu.hold(method="GET", path="/v1/Compositions", page=1)
    ...                                                  # a stream prefetches page 1
    await hold.wait_arrived()                            # it has been asked for
    assert emu.in_flight == 1
    hold.lift()                                          # answer it, hold no more

Run it as a process with ``python -m async_compositions.emulator --port 8080`` (same
schedule; ``--manual`` for hand-driven time).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._emulator import DEFAULT_COMPLETION_DELAY, DEFAULT_PROCESSING_DELAY, Emulator
    from ._faults import Fault, FaultKind, RecordedRequest
    from ._holds import Hold
    from ._webhooks import WebhookDelivery, twilio_signature

__all__ = [
    "DEFAULT_COMPLETION_DELAY",
    "DEFAULT_PROCESSING_DELAY",
    "Emulator",
    "Fault",
    "FaultKind",
    "Hold",
    "RecordedRequest",
    "WebhookDelivery",
    "twilio_signature",
]

# Loaded on first use, so that the pytest plugin (a sibling module) imports nothing heavy.
_HOMES = {
    "DEFAULT_COMPLETION_DELAY": "._emulator",
    "DEFAULT_PROCESSING_DELAY": "._emulator",
    "Emulator": "._emulator",
    "Fault": "._faults",
    "FaultKind": "._faults",
    "Hold": "._holds",
    "RecordedRequest": "._faults",
    "WebhookDelivery": "._webhooks",
    "twilio_signature": "._webhooks",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home, __name__), name)
    globals()[name] = value
    return value
