"""A local emulator of the Twilio Video v1 Compositions and Telnyx Room Compositions APIs.

    async with Emulator() as emu:
        async with emu.twilio_client() as client:
            c = await client.compositions.create(room_sid="RM" + "0" * 32, audio_sources=["*"])
        await emu.advance(steps=2)            # enqueued -> processing -> completed

Run it as a process with ``python -m async_compositions.emulator --port 8080``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._emulator import Emulator
    from ._faults import Fault, FaultKind, RecordedRequest
    from ._webhooks import WebhookDelivery, twilio_signature

__all__ = [
    "Emulator",
    "Fault",
    "FaultKind",
    "RecordedRequest",
    "WebhookDelivery",
    "twilio_signature",
]

# Loaded on first use, so that the pytest plugin (a sibling module) imports nothing heavy.
_HOMES = {
    "Emulator": "._emulator",
    "Fault": "._faults",
    "FaultKind": "._faults",
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
