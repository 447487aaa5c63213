"""JSON parsing and the cattrs hooks both dialects' converters share."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import cattrs
from yarl import URL

from ._http import HttpResponse
from .errors import ResponseDecodeError
from .status import CompositionStatus

__all__ = ["load_json", "make_converter", "parse_datetime"]


def load_json(response: HttpResponse) -> Any:
    """Parse a response body as JSON, or raise ResponseDecodeError quoting its start."""
    try:
        return json.loads(response.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ResponseDecodeError(
            f"HTTP {response.status} body is not valid JSON ({exc})",
            status=response.status,
            body=response.text,
        ) from None


def parse_datetime(value: Any, _: object = None) -> datetime:
    """An ISO-8601 timestamp as an aware UTC datetime (a naive one is taken as UTC)."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        parsed = datetime.fromisoformat(value)
    else:
        raise TypeError(f"expected an ISO-8601 string, got {type(value).__name__}")
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    if parsed.utcoffset():
        return parsed.astimezone(UTC)
    return parsed if parsed.tzinfo is UTC else parsed.replace(tzinfo=UTC)


def _parse_date(value: Any, _: object = None) -> date:
    if isinstance(value, str):
        return date.fromisoformat(value[:10])
    raise TypeError(f"expected an ISO-8601 date string, got {type(value).__name__}")


def _parse_url(value: Any, _: object = None) -> URL:
    if isinstance(value, str):
        return URL(value, encoded=True)
    raise TypeError(f"expected a URL string, got {type(value).__name__}")


def _parse_status(value: Any, _: object = None) -> CompositionStatus:
    return CompositionStatus(value)


def _parse_float(value: Any, _: object = None) -> float:
    if isinstance(value, bool):
        raise TypeError("expected a number, got a bool")
    return float(value)


def _parse_int(value: Any, _: object = None) -> int:
    # Providers have sent integer fields as strings ("64") or floats (64.0).
    if isinstance(value, bool):
        raise TypeError("expected an integer, got a bool")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not value.is_integer():
            # int() would silently drop the fraction: a wrong value is worse than an error.
            raise ValueError(f"expected an integer, got {value!r}")
        return int(value)
    return int(value)


def _parse_bool(value: Any, _: object = None) -> bool:
    # Registered explicitly: bool subclasses int, so the int hook would otherwise claim it.
    if isinstance(value, bool):
        return value
    raise TypeError(f"expected a boolean, got {type(value).__name__}")


def make_converter() -> cattrs.Converter:
    """A converter with the hooks every dialect needs; unknown keys are ignored."""
    conv = cattrs.Converter(forbid_extra_keys=False, detailed_validation=False)
    conv.register_structure_hook(datetime, parse_datetime)
    conv.register_structure_hook(date, _parse_date)
    conv.register_structure_hook(URL, _parse_url)
    conv.register_structure_hook(CompositionStatus, _parse_status)
    conv.register_structure_hook(float, _parse_float)
    conv.register_structure_hook(int, _parse_int)
    conv.register_structure_hook(bool, _parse_bool)
    conv.register_unstructure_hook(URL, str)
    conv.register_unstructure_hook(datetime, lambda d: d.isoformat())
    return conv
