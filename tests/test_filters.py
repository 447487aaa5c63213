"""Each provider's filters are declared once: the typed keywords and the wire table agree."""

from __future__ import annotations

from typing import Any

import pytest
from aioresponses import aioresponses

from async_compositions import TelnyxClient, TwilioClient
from async_compositions.telnyx import _dialect as telnyx_dialect
from async_compositions.twilio import _dialect as twilio_dialect


@pytest.mark.parametrize(
    ("typed", "table"),
    [
        (twilio_dialect.TwilioFilters, twilio_dialect.FILTERS),
        (telnyx_dialect.TelnyxFilters, telnyx_dialect.FILTERS),
    ],
)
def test_the_typed_filters_are_the_wire_filters(typed: Any, table: Any) -> None:
    assert set(typed.__annotations__) == set(table)


@pytest.mark.parametrize("verb", ["page", "stream", "list"])
async def test_an_unknown_filter_is_a_type_error_before_sending(verb: str) -> None:
    with aioresponses() as mocked:
        async with (
            TwilioClient("AC" + "a" * 32, "token") as twilio,
            TelnyxClient("KEY1") as telnyx,
        ):
            for client, typo in ((twilio, "room_id"), (telnyx, "room_sid")):
                with pytest.raises(TypeError, match=f"unknown filters: {typo}"):
                    result = getattr(client.compositions, verb)(**{typo: "x"})
                    if verb == "page" or verb == "list":
                        await result
        assert mocked.requests == {}


async def test_an_unknown_create_parameter_is_a_type_error_before_sending() -> None:
    with aioresponses() as mocked:
        async with (
            TwilioClient("AC" + "a" * 32, "token") as twilio,
            TelnyxClient("KEY1") as telnyx,
        ):
            with pytest.raises(TypeError, match="unexpected parameters: audio_source"):
                await twilio.compositions.create("RM" + "b" * 32, audio_source=["*"])  # type: ignore[call-arg]
            with pytest.raises(TypeError, match="unexpected parameters: room_sid"):
                await telnyx.compositions.create(room_sid="RM" + "b" * 32)  # type: ignore[call-arg]
        assert mocked.requests == {}
