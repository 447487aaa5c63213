"""Decoding Twilio responses: every official example, datetimes, regions, unknown data."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
import cattrs
import pytest
from aioresponses import aioresponses
from yarl import URL

from async_compositions import CompositionStatus, ResponseDecodeError, TwilioClient
from async_compositions._decode import make_converter
from async_compositions._http import HttpResponse
from async_compositions.twilio import Composition, VideoRegion
from async_compositions.twilio._dialect import FORMATS, TwilioDialect

FIXTURE = Path(__file__).parent / "fixtures" / "twilio_examples.json"
EXAMPLES: dict[str, Any] = json.loads(FIXTURE.read_text())
BASE = "https://video.twilio.com/v1/Compositions"
SID = "CJaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
FETCH = EXAMPLES["openapi"]["GET /v1/Compositions/{Sid} 200"]["fetch"]
CREATE = EXAMPLES["openapi"]["POST /v1/Compositions 201"]["create"]


def walk(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every JSON object in the fixture with its path."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from walk(value, f"{path}/{i}")


def is_request(path: str) -> bool:
    return path.startswith("/schema") or " request" in path or "create_request" in path


LIST_PAGES = [
    pytest.param(node, id=path)
    for path, node in walk(EXAMPLES)
    if not is_request(path) and "meta" in node
]
# Compositions outside list pages: the fetch and create responses.
SINGLE = [
    pytest.param(node, id=path)
    for path, node in walk(EXAMPLES)
    if not is_request(path)
    and isinstance(node.get("sid"), str)
    and node["sid"].startswith("CJ")
    and "/compositions/" not in path
]
ALL_COMPOSITIONS = [
    pytest.param(node, id=path)
    for path, node in walk(EXAMPLES)
    if not is_request(path) and isinstance(node.get("sid"), str) and node["sid"].startswith("CJ")
]


def test_the_fixture_walk_finds_every_example() -> None:
    # openapi and examples each hold three list pages, one create and one fetch response.
    assert len(LIST_PAGES) == 6
    assert len(SINGLE) == 4
    assert len(ALL_COMPOSITIONS) == 6


@pytest.fixture
async def mocked() -> AsyncIterator[tuple[aioresponses, TwilioClient]]:
    with aioresponses() as m:
        async with TwilioClient("AC" + "a" * 32, "token", retry=None) as c:
            yield m, c


def assert_matches_raw(comp: Composition, raw: dict[str, Any]) -> None:
    """Every documented field of ``raw`` came through with the same meaning."""
    assert comp.sid == raw["sid"]
    assert comp.id == comp.sid
    assert comp.status == raw["status"]
    assert comp.status.is_known
    for name in ("account_sid", "room_sid", "resolution", "format", "trim", "url", "links"):
        assert getattr(comp, name) == raw.get(name)
    for name in ("bitrate", "size", "duration"):
        assert getattr(comp, name) == raw[name]
    for name in ("audio_sources", "audio_sources_excluded", "status_callback"):
        assert getattr(comp, name) == raw.get(name)
    for name in ("date_created", "date_completed", "date_deleted"):
        value = getattr(comp, name)
        if raw.get(name) is None:
            assert value is None
        else:
            assert value.tzinfo is UTC
            assert value.strftime("%Y-%m-%dT%H:%M:%SZ") == raw[name]
    layout = raw.get("video_layout") or {}
    assert set(comp.video_layout or {}) == set(layout)
    for name, region in (comp.video_layout or {}).items():
        assert isinstance(region, VideoRegion)
        assert attrs.asdict(region) == layout[name]


@pytest.mark.parametrize("raw", SINGLE)
async def test_every_single_example_decodes_through_fetch(
    mocked: tuple[aioresponses, TwilioClient], raw: dict[str, Any]
) -> None:
    m, client = mocked
    m.get(f"{BASE}/{raw['sid']}", payload=raw)
    assert_matches_raw(await client.compositions.fetch(raw["sid"]), raw)


@pytest.mark.parametrize("raw", SINGLE)
async def test_every_single_example_decodes_through_create(
    mocked: tuple[aioresponses, TwilioClient], raw: dict[str, Any]
) -> None:
    m, client = mocked
    m.post(BASE, status=201, payload=raw)
    comp = await client.compositions.create(raw["room_sid"], audio_sources=["*"])
    assert_matches_raw(comp, raw)


@pytest.mark.parametrize("raw", LIST_PAGES)
async def test_every_list_example_decodes(
    mocked: tuple[aioresponses, TwilioClient], raw: dict[str, Any]
) -> None:
    m, client = mocked
    m.get(BASE, payload=raw)
    page = await client.compositions.page()
    assert len(page.items) == len(raw["compositions"])
    for comp, item in zip(page.items, raw["compositions"], strict=True):
        assert_matches_raw(comp, item)
    assert page.has_next is False
    assert page.next_page_url is None
    assert page.page_size == raw["meta"]["page_size"]
    # Twilio counts pages from 0; Page.page_number counts from 1 on both providers.
    assert raw["meta"]["page"] == 0 and page.page_number == 1
    assert page.next_page_number is None


def test_fetch_example_field_by_field() -> None:
    comp = _decode(FETCH)
    assert comp.status is CompositionStatus.COMPLETED
    assert comp.date_created == datetime(2015, 7, 30, 20, 0, 0, tzinfo=UTC)
    assert comp.date_completed == datetime(2015, 7, 30, 20, 1, 33, tzinfo=UTC)
    assert comp.date_deleted is None
    assert comp.audio_sources == ["PAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "user*"]
    assert comp.video_layout is not None
    grid = comp.video_layout["grid"]
    assert grid == VideoRegion(
        video_sources=["*"],
        video_sources_excluded=["MTaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"],
        reuse="show_oldest",
        x_pos=100,
        y_pos=600,
        z_pos=10,
        width=0,
        height=0,
        max_columns=0,
        max_rows=0,
        cells_excluded=[],
    )
    assert comp.video_layout["pip"].reuse == "none"
    assert (comp.bitrate, comp.size, comp.duration, comp.trim) == (64, 4, 6, True)
    assert comp.format == "webm"
    assert comp.media_link == f"{BASE}/{SID}/Media"


def test_create_example_field_by_field() -> None:
    comp = _decode(CREATE)
    assert comp.status is CompositionStatus.PROCESSING
    assert comp.date_completed is None
    assert comp.video_layout is not None
    custom = comp.video_layout["custom"]
    assert custom.cells_excluded == [2, 3]
    assert custom.width == 800
    # Twilio's own example breaks its documented limits; decoding must not judge it.
    assert comp.resolution == "1920x1080"


# -- the model against the official schema -----------------------------------------------------


def strict_converter() -> cattrs.Converter:
    """The library's hooks, but any key the models lack is an error."""
    return make_converter(forbid_extra_keys=True)


@pytest.mark.parametrize("raw", ALL_COMPOSITIONS)
def test_official_examples_have_no_field_the_model_lacks(raw: dict[str, Any]) -> None:
    comp = strict_converter().structure(raw, Composition)
    assert comp.sid == raw["sid"]


def test_strict_check_catches_drift() -> None:
    """The strict check above is not vacuous: a field the model lacks makes it fail."""
    conv = strict_converter()
    with pytest.raises(cattrs.ForbiddenExtraKeysError):
        conv.structure({**FETCH, "encryption_key": None}, Composition)
    drifted = copy.deepcopy(FETCH)
    drifted["video_layout"]["grid"]["border_px"] = 2
    with pytest.raises(cattrs.ForbiddenExtraKeysError):
        conv.structure(drifted, Composition)


def test_model_covers_every_schema_property_and_enum() -> None:
    schema = EXAMPLES["schema"]
    fields = {a.name for a in attrs.fields(Composition)}
    assert fields == set(schema["composition_properties"])
    assert {s.value for s in CompositionStatus} == set(schema["status_enum"])
    assert set(FORMATS) == set(schema["format_enum"])


# -- forward compatibility and leniency -----------------------------------------------------------


def _decode(raw: Any) -> Composition:

    body = json.dumps(raw).encode()
    response = HttpResponse(status=200, headers={}, body=body, url=URL(BASE))
    return TwilioDialect(URL("https://video.twilio.com/v1")).parse_item(response)


def test_unknown_fields_are_ignored() -> None:
    raw = copy.deepcopy(FETCH)
    raw["encryption_key"] = None
    raw["new_feature"] = {"nested": [1, 2, 3]}
    raw["video_layout"]["grid"]["border_px"] = 4
    comp = _decode(raw)
    assert comp == _decode(FETCH)


def test_unknown_status_decodes_and_keeps_its_text() -> None:
    comp = _decode({**FETCH, "status": "archived"})
    assert comp.status == "archived"
    assert comp.status.value == "archived"
    assert str(comp.status) == "archived"
    assert comp.status.is_known is False
    assert comp.status.is_terminal is False
    assert comp.status != CompositionStatus.COMPLETED


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2015-07-30T20:00:00Z", datetime(2015, 7, 30, 20, 0, tzinfo=UTC)),
        ("2015-07-30T20:00:00+00:00", datetime(2015, 7, 30, 20, 0, tzinfo=UTC)),
        ("2015-07-30T22:00:00+02:00", datetime(2015, 7, 30, 20, 0, tzinfo=UTC)),
        ("2015-07-30T20:00:00.250Z", datetime(2015, 7, 30, 20, 0, 0, 250000, tzinfo=UTC)),
    ],
)
def test_datetimes_are_aware_utc(text: str, expected: datetime) -> None:
    comp = _decode({**FETCH, "date_created": text})
    assert comp.date_created == expected
    assert comp.date_created is not None
    assert comp.date_created.utcoffset() is not None
    assert comp.date_created.tzinfo is UTC


def test_minimal_composition_uses_defaults() -> None:
    comp = _decode({"sid": SID, "status": "enqueued"})
    assert comp.status is CompositionStatus.ENQUEUED
    assert (comp.bitrate, comp.duration, comp.size) == (0, 0, None)
    assert comp.video_layout is None
    assert comp.media_link is None


def test_nulls_everywhere_nullable() -> None:
    nullable = {k: None for k in FETCH if k not in ("sid", "status", "bitrate", "duration")}
    comp = _decode({**FETCH, **nullable})
    assert comp.video_layout is None
    assert comp.trim is None


def test_integer_fields_sent_as_strings() -> None:
    comp = _decode({**FETCH, "bitrate": "64", "size": "4096", "duration": 6.0})
    assert (comp.bitrate, comp.size, comp.duration) == (64, 4096, 6)


@pytest.mark.parametrize(
    "raw",
    [
        {"status": "completed"},
        {"sid": SID},
        {"sid": SID, "status": None},
        {"sid": SID, "status": "completed", "date_created": "yesterday"},
        {"sid": SID, "status": "completed", "trim": "yes"},
        {"sid": SID, "status": "completed", "bitrate": 1.5},
        {"sid": SID, "status": "completed", "video_layout": ["grid"]},
        [FETCH],
        "CJ",
    ],
)
def test_undecodable_bodies_raise_response_decode_error(raw: Any) -> None:
    with pytest.raises(ResponseDecodeError) as info:
        _decode(raw)
    assert info.value.body == json.dumps(raw)
    assert info.value.status == 200
