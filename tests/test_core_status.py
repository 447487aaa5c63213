"""CompositionStatus: known members, forward-compatible unknown values, filters."""

from __future__ import annotations

import pytest

from async_compositions import CompositionStatus


def test_known_members_and_their_wire_values() -> None:
    assert [(m.name, m.value) for m in CompositionStatus] == [
        ("ENQUEUED", "enqueued"),
        ("PROCESSING", "processing"),
        ("COMPLETED", "completed"),
        ("FAILED", "failed"),
        ("DELETED", "deleted"),
    ]
    for member in CompositionStatus:
        assert member.is_known
        assert CompositionStatus(member.value) is member


def test_members_equal_plain_strings() -> None:
    assert CompositionStatus.COMPLETED == "completed"
    assert str(CompositionStatus.COMPLETED) == "completed"
    assert f"{CompositionStatus.FAILED}" == "failed"
    assert "processing" in {CompositionStatus.PROCESSING}


def test_unknown_value_decodes_to_a_pseudo_member_keeping_its_text() -> None:
    status = CompositionStatus("archived")
    assert isinstance(status, CompositionStatus)
    assert status.value == "archived"
    assert str(status) == "archived"
    assert status == "archived"
    assert not status.is_known
    assert not status.is_terminal
    assert status != CompositionStatus.COMPLETED


def test_unknown_values_do_not_become_members() -> None:
    CompositionStatus("paused")
    assert len(list(CompositionStatus)) == 5
    assert "paused" not in [m.value for m in CompositionStatus]


def test_non_string_values_are_still_rejected() -> None:
    with pytest.raises(ValueError):
        CompositionStatus(3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "terminal"),
    [
        (CompositionStatus.ENQUEUED, False),
        (CompositionStatus.PROCESSING, False),
        (CompositionStatus.COMPLETED, True),
        (CompositionStatus.FAILED, True),
        (CompositionStatus.DELETED, True),
    ],
)
def test_is_terminal(status: CompositionStatus, terminal: bool) -> None:
    assert status.is_terminal is terminal


@pytest.mark.parametrize("value", ["completed", CompositionStatus.COMPLETED])
def test_parse_filter_accepts_members_and_their_strings(value: str) -> None:
    assert CompositionStatus.parse_filter(value) is CompositionStatus.COMPLETED


@pytest.mark.parametrize("value", ["archived", "Completed", "", " completed"])
def test_parse_filter_rejects_unknown_strings(value: str) -> None:
    with pytest.raises(ValueError, match="enqueued, processing, completed, failed, deleted"):
        CompositionStatus.parse_filter(value)


def test_parse_filter_rejects_an_unknown_pseudo_member() -> None:
    with pytest.raises(ValueError, match="archived"):
        CompositionStatus.parse_filter(CompositionStatus("archived"))


@pytest.mark.parametrize("value", [None, 1, b"completed", ["completed"]])
def test_parse_filter_rejects_non_strings(value: object) -> None:
    with pytest.raises(TypeError, match="status must be"):
        CompositionStatus.parse_filter(value)  # type: ignore[arg-type]
