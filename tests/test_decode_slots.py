"""The generated hooks fill a plain model's slots directly and call __init__ otherwise."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import pytest

from async_compositions._decode import _plain_slots, make_converter
from async_compositions.telnyx.models import RoomComposition, VideoRegion
from async_compositions.twilio.models import Composition

FIXTURES = Path(__file__).parent / "fixtures"


@attrs.frozen(slots=True, kw_only=True)
class Plain:
    name: str
    count: int = 0
    tags: list[str] = attrs.field(factory=list)


@attrs.frozen(slots=True, kw_only=True)
class Validated:
    count: int = attrs.field(validator=attrs.validators.ge(0))


@attrs.frozen(slots=True, kw_only=True)
class Converted:
    name: str = attrs.field(converter=str.upper)


@attrs.frozen(slots=True, kw_only=True)
class PostInit:
    name: str
    calls: list[str] = attrs.field(factory=list)

    def __attrs_post_init__(self) -> None:
        self.calls.append(self.name)


@attrs.frozen(slots=True, kw_only=True, cache_hash=True)
class CachedHash:
    name: str


@attrs.frozen(slots=False, kw_only=True)
class NoSlots:
    name: str


@pytest.mark.parametrize("cls", [Composition, RoomComposition, VideoRegion, Plain])
def test_the_models_qualify_for_direct_slots(cls: type) -> None:
    assert _plain_slots(cls)


@pytest.mark.parametrize("cls", [Validated, Converted, PostInit, CachedHash, NoSlots, dict])
def test_classes_whose_init_does_more_do_not(cls: type) -> None:
    assert not _plain_slots(cls)


def test_a_directly_built_model_equals_one_built_by_init() -> None:
    conv = make_converter()
    got = conv.structure({"name": "a", "count": 2, "tags": ["x"]}, Plain)
    assert got == Plain(name="a", count=2, tags=["x"])
    # Defaults are filled, factories give each instance its own list.
    one, two = conv.structure({"name": "b"}, Plain), conv.structure({"name": "c"}, Plain)
    assert one == Plain(name="b") and one.tags is not two.tags
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        one.name = "z"  # type: ignore[misc]
    with pytest.raises(KeyError, match="name"):
        conv.structure({"count": 1}, Plain)


def test_init_still_runs_where_it_does_more() -> None:
    conv = make_converter()
    with pytest.raises(ValueError):
        conv.structure({"count": -1}, Validated)
    assert conv.structure({"name": "abc"}, Converted).name == "ABC"
    assert conv.structure({"name": "p"}, PostInit).calls == ["p"]
    cached = conv.structure({"name": "h"}, CachedHash)  # its hash slot is set by __init__
    assert hash(cached) == hash(CachedHash(name="h"))


def _records() -> list[tuple[type, dict[str, Any]]]:
    twilio = json.loads((FIXTURES / "twilio_examples.json").read_text())["examples"]
    out: list[tuple[type, dict[str, Any]]] = [
        (Composition, record)
        for examples in (twilio["list"], twilio["fetch"], twilio["create"])
        for example in examples.values()
        for record in example.get("compositions", [example])
    ]
    telnyx = json.loads((FIXTURES / "telnyx_list_docs_example.json").read_text())
    out += [(RoomComposition, record) for record in telnyx["data"]]
    return out


RECORDS = _records()


def test_the_fixtures_hold_records_of_both_providers() -> None:
    kinds = {cls for cls, _ in RECORDS}
    assert kinds == {Composition, RoomComposition}


@pytest.mark.parametrize(("cls", "record"), RECORDS)
def test_direct_and_init_decoding_agree_on_provider_examples(cls: type, record: Any) -> None:
    fast = make_converter()
    strict = make_converter(forbid_extra_keys=True)  # cattrs' own code, through __init__
    assert fast.structure(record, cls) == strict.structure(record, cls)
