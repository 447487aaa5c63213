"""Every Telnyx example payload (OpenAPI spec, docs, examples.json) decodes as documented."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from multidict import CIMultiDict
from yarl import URL

from async_compositions import CompositionStatus
from async_compositions._http import HttpResponse
from async_compositions.errors import error_class_for_status
from async_compositions.telnyx import RoomComposition, VideoRegion
from async_compositions.telnyx._dialect import TelnyxDialect

FIXTURES = Path(__file__).parent / "fixtures"
DIALECT = TelnyxDialect(URL("https://api.telnyx.com/v2"))


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def parse_page(response: HttpResponse, number: int) -> Any:
    """A list response as page() reads it: the batch, and its records decoded."""
    batch = DIALECT.listing({}, None).parse(response, number)
    return batch, DIALECT.decode_batch(batch)


def as_response(payload: Any, status: int = 200) -> HttpResponse:
    return HttpResponse(
        status=status,
        headers=CIMultiDict({"x-request-id": "rid-1"}),
        body=json.dumps(payload).encode(),
        url=URL("https://api.telnyx.com/v2/room_compositions"),
        request_id="rid-1",
    )


def test_spec_room_composition_example() -> None:
    comp = DIALECT.parse_item(as_response(load("telnyx_room_composition.json")))
    assert comp == RoomComposition(
        id="7103dc53-ee59-4b54-a58b-c77d99ceb037",
        status=CompositionStatus.ENQUEUED,
        room_id="f981dbb3-228a-44e9-ac54-e87f0e2658b0",
        session_id="8f728d7b-00e2-4c59-8c27-f564b828df87",
        user_id="12a04ec9-0f91-4a91-9f3a-a19d9931182e",
        format="mp4",
        resolution="1280x720",
        size_mb=6.0,
        duration_secs=84,
        download_url=URL("https://example.com"),
        started_at=datetime(2022, 2, 24, 23, 21, 0, 77209, tzinfo=UTC),
        ended_at=datetime(2022, 2, 24, 23, 22, 24, 577677, tzinfo=UTC),
        completed_at=datetime(2022, 2, 25, 5, 39, 56, 377426, tzinfo=UTC),
        video_layout={
            "first": VideoRegion(
                height=720,
                width=1280,
                x_pos=0,
                y_pos=0,
                z_pos=0,
                video_sources=["7b61621f-62e0-4aad-ab11-9fd19e272e73"],
            )
        },
        webhook_event_url="https://webhook.site/544663ce-b692-4f9c-80ed-e5ad97cd5c02",
        record_type="composition",
    )
    assert type(comp.size_mb) is float
    assert comp.completed_at is not None and comp.completed_at.tzinfo is UTC


def test_dec_2025_example_with_null_download_url() -> None:
    comp = DIALECT.parse_item(as_response(load("telnyx_room_composition_dec2025.json")))
    assert comp.download_url is None
    assert comp.video_layout == {
        "first": VideoRegion(height=720, width=1280, x_pos=0, y_pos=0, z_pos=0, video_sources=["*"])
    }


def test_property_examples_cover_every_field() -> None:
    comp = DIALECT.parse_item(as_response(load("telnyx_room_composition_properties.json")))
    stamp = datetime(2021, 3, 26, 17, 51, 59, 588408, tzinfo=UTC)
    assert comp.record_type == "room_composition"
    assert comp.status is CompositionStatus.COMPLETED
    assert comp.size_mb == 10.5
    assert comp.duration_secs == 67
    assert comp.download_url == URL("https://www.example.com")
    assert (comp.created_at, comp.updated_at, comp.started_at) == (stamp, stamp, stamp)
    assert (comp.ended_at, comp.completed_at) == (stamp, stamp)
    assert comp.webhook_event_failover_url == "https://failover.example.com"
    assert comp.webhook_timeout_secs == 25
    assert comp.video_layout == {
        "first": VideoRegion(
            x_pos=100,
            y_pos=100,
            z_pos=1,
            height=360,
            width=480,
            max_columns=3,
            max_rows=3,
            video_sources=["7b61621f-62e0-4aad-ab11-9fd19e272e73"],
        )
    }


def test_every_model_field_appears_in_the_property_examples() -> None:
    record = load("telnyx_room_composition_properties.json")["data"]
    fields = {a.name for a in RoomComposition.__attrs_attrs__}
    assert fields == set(record)


@pytest.mark.parametrize("name", ["telnyx_list_docs_example.json", "telnyx_list_meta_example.json"])
def test_list_examples(name: str) -> None:
    batch, items = parse_page(as_response(load(name)), 2)
    assert (batch.page_number, batch.page_size, batch.total_pages, batch.total_results) == (
        2,
        25,
        3,
        55,
    )
    assert batch.next_page_number == 3
    assert batch.following == (3,)
    assert [c.id for c in items] == ["7103dc53-ee59-4b54-a58b-c77d99ceb037"]


def test_examples_json_telnyx_part() -> None:
    examples = load("telnyx_examples.json")
    comp = DIALECT.parse_item(as_response({"data": examples["room_composition"]}))
    assert comp.id == "7103dc53-ee59-4b54-a58b-c77d99ceb037"
    assert comp.duration_secs == 84
    _, items = parse_page(as_response(examples["list_docs_example"]), 2)
    assert items[0].video_layout is not None
    assert items[0].video_layout["first"].video_sources == ["*"]
    # The webhook's payload names the composition "composition_id"; its fields share the
    # model's types, so it decodes into a RoomComposition under that id.
    payload = dict(examples["webhook_composition_completed"]["data"]["payload"])
    payload["id"] = payload.pop("composition_id")
    event_comp = DIALECT.parse_item(as_response({"data": payload}))
    assert event_comp.id == "5970ce77-4aeb-4e18-ac8c-3effca0c145a"
    assert event_comp.size_mb == 2.6
    assert event_comp.download_url == URL("https://www.example.com")


@pytest.mark.parametrize("name", ["rate_limit", "generic", "not_found", "unprocessable"])
def test_error_examples(name: str) -> None:
    example = load("telnyx_errors.json")[name]
    error = DIALECT.parse_error(as_response(example["body"], example["status"]))
    assert type(error) is error_class_for_status(example["status"])
    assert error.request_id == "rid-1"
    body = example["body"]
    if "errors" in body:
        assert error.errors == body["errors"]
        assert error.code == body["errors"][0]["code"]
        assert body["errors"][0]["detail"] in error.message
    elif "code" in body:
        assert error.errors == [body]
        assert error.code == body["code"]
        assert error.message == body["detail"]
        assert error.more_info == body["meta"]["url"]
    else:
        assert error.message == body["message"]


def test_unprocessable_example_message_names_detail_and_pointer() -> None:
    example = load("telnyx_errors.json")["unprocessable"]
    error = DIALECT.parse_error(as_response(example["body"], 422))
    assert (
        error.message == "The resolution is out of range. (pointer /resolution) (and 1 more error)"
    )
    assert len(error.errors) == 2
