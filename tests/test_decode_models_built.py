"""The generated structuring code builds models as their own __init__ would."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from async_compositions._decode import make_converter

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


@pytest.mark.parametrize("cls", [NoSlots])
def test_a_class_without_slots_decodes_too(cls: type) -> None:
    assert make_converter().structure({"name": "n"}, cls) == cls(name="n")


def test_init_still_runs_where_it_does_more() -> None:
    conv = make_converter()
    with pytest.raises(ValueError):
        conv.structure({"count": -1}, Validated)
    assert conv.structure({"name": "abc"}, Converted).name == "ABC"
    assert conv.structure({"name": "p"}, PostInit).calls == ["p"]
    cached = conv.structure({"name": "h"}, CachedHash)  # its hash slot is set by __init__
    assert hash(cached) == hash(CachedHash(name="h"))
