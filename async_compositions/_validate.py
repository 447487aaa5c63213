"""Checks on caller input, run before any request is built."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from yarl import URL

__all__ = [
    "RegionRules",
    "check_bool",
    "check_choice",
    "check_day",
    "check_int_list",
    "check_int_range",
    "check_known",
    "check_layout",
    "check_limit",
    "check_prefetch",
    "check_resolution",
    "check_seconds",
    "check_sid",
    "check_str_list",
    "check_url",
    "utc_z",
]

#: One check per region property: (value, "video_layout['name'].prop") -> value to send.
RegionRules = Mapping[str, Callable[[object, str], object]]


_SIDS: dict[str, re.Pattern[str]] = {}


def check_sid(value: object, prefix: str, what: str) -> str:
    """A Twilio-style SID: two-letter prefix and 32 hex digits; anything else raises."""
    pattern = _SIDS.get(prefix)
    if pattern is None:
        pattern = _SIDS[prefix] = re.compile(re.escape(prefix) + "[0-9a-fA-F]{32}")
    if value.__class__ is not str or pattern.fullmatch(value) is None:
        if not isinstance(value, str):
            raise TypeError(f"{what} must be a str, not {type(value).__name__}")
        if pattern.fullmatch(value) is None:
            raise ValueError(
                f"{what} must be {prefix!r} followed by 32 hex digits, got {value[:80]!r}"
            )
    return value


def check_int_range(value: object, low: int, high: int, what: str) -> int:
    """An int in [low, high] (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    if not low <= value <= high:
        raise ValueError(f"{what} must be between {low} and {high}, got {value}")
    return value


def check_known(params: Mapping[str, Any], allowed: Iterable[str], verb: str) -> None:
    """Refuse a parameter the provider does not have (a typo would otherwise be dropped)."""
    unknown = set(params) - set(allowed)
    if unknown:
        raise TypeError(f"{verb}() got unexpected parameters: {', '.join(sorted(unknown))}")


def check_limit(value: object) -> int | None:
    """``limit``: None for everything, else an int >= 0."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"limit must be an int or None, not {type(value).__name__}")
    if value < 0:
        raise ValueError(f"limit must be >= 0, got {value}")
    return value


def check_prefetch(value: object, high: int) -> int:
    """``prefetch``: how many page requests may be in flight ahead of the consumer."""
    if high == 1 and value != 1 and isinstance(value, int) and not isinstance(value, bool):
        raise ValueError(
            f"prefetch must be 1 here, got {value}: each page names the next one, so only "
            "one page can be fetched ahead"
        )
    return check_int_range(value, 1, high, "prefetch")


def check_bool(value: object, what: str) -> bool:
    """A real bool; 'false' as a string is a mistake worth catching."""
    if not isinstance(value, bool):
        raise TypeError(f"{what} must be a bool, not {type(value).__name__}")
    return value


def check_choice(value: object, choices: Iterable[str], what: str) -> str:
    """One of a fixed set of strings."""
    options = tuple(choices)
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    if value not in options:
        raise ValueError(f"{what} must be one of {', '.join(options)}; got {value!r}")
    return value


def check_str_list(value: object, what: str) -> list[str]:
    """A list (or tuple) of non-empty strings; a bare string is refused."""
    if isinstance(value, str | bytes) or not isinstance(value, list | tuple):
        raise TypeError(f"{what} must be a list of str, not {type(value).__name__}")
    for item in value:
        if not isinstance(item, str):
            raise TypeError(f"{what} items must be str, got {type(item).__name__}")
        if not item:
            raise ValueError(f"{what} items must not be empty")
    return list(value)


# Characters a URL may carry as typed (RFC 3986, with '%' escapes): no spaces or controls.
_URL_TEXT = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")


def check_url(value: object, what: str) -> str:
    """An absolute http(s) URL with nothing that would need escaping (spaces, controls)."""
    if not isinstance(value, str | URL):
        raise TypeError(f"{what} must be a str or yarl.URL, not {type(value).__name__}")
    text = str(value)
    problem = f"{what} must be an absolute http(s) URL without spaces, got {text[:200]!r}"
    if not _URL_TEXT.fullmatch(text):
        raise ValueError(problem)
    try:
        url = URL(text, encoded=True)
    except ValueError:
        raise ValueError(problem) from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(problem)
    return text


def is_url_text(text: str) -> bool:
    """Whether ``text`` holds only characters a URL may carry unescaped."""
    return _URL_TEXT.fullmatch(text) is not None


def utc_z(value: object, what: str) -> str:
    """An aware datetime converted to UTC, as ``YYYY-MM-DDTHH:MM:SSZ``."""
    if not isinstance(value, datetime):
        raise TypeError(f"{what} must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware (a naive datetime is ambiguous)")
    try:
        in_utc = value.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{what} is outside the datetime range once converted to UTC") from None
    return in_utc.strftime("%Y-%m-%dT%H:%M:%SZ")


_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def check_day(value: object, what: str) -> date:
    """A calendar day: a ``datetime.date`` or ``YYYY-MM-DD`` text (a datetime is refused)."""
    if isinstance(value, datetime):
        # The filter is by calendar day; silently dropping the time and zone would mislead.
        raise TypeError(f"{what} must be a datetime.date, not a datetime (use .date())")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            if _DAY.fullmatch(value):
                return date.fromisoformat(value)
        except ValueError:
            pass
        raise ValueError(f"{what} must be a date like 2024-01-31, got {value[:40]!r}")
    raise TypeError(f"{what} must be a datetime.date, not {type(value).__name__}")


def check_seconds(value: object, what: str) -> float:
    """A finite, positive number of seconds."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{what} must be a number of seconds, not {type(value).__name__}")
    try:
        seconds = float(value)
    except OverflowError:
        # An int too large for a float (10**400) is as unusable as infinity.
        raise ValueError(f"{what} must be a finite number of seconds, got a huge int") from None
    if not 0 < seconds < math.inf:
        raise ValueError(f"{what} must be > 0 and finite, got {value!r}")
    return seconds


_RESOLUTION = re.compile(r"([1-9][0-9]{0,4})x([1-9][0-9]{0,4})")


def check_resolution(value: object, *, max_pixels: int, provider: str) -> str:
    """``WxH`` within a provider's documented limits: each side 16..1280, W*H <= max_pixels."""
    if not isinstance(value, str):
        raise TypeError(f"resolution must be a str like '1280x720', not {type(value).__name__}")
    match = _RESOLUTION.fullmatch(value)
    if match is None:
        raise ValueError(f"resolution must look like '1280x720', got {value[:40]!r}")
    width, height = int(match[1]), int(match[2])
    if not (16 <= width <= 1280 and 16 <= height <= 1280) or width * height > max_pixels:
        raise ValueError(
            f"resolution {value!r} is outside {provider}'s limits "
            f"(each side 16..1280, width*height <= {max_pixels})"
        )
    return value


def check_int_list(value: object, low: int, high: int, what: str) -> list[int]:
    """A list (or tuple) of ints, each in [low, high]."""
    if not isinstance(value, list | tuple):
        raise TypeError(f"{what} must be a list of int, not {type(value).__name__}")
    return [check_int_range(item, low, high, f"{what} items") for item in value]


def check_layout(
    layout: object,
    rules: RegionRules,
    *,
    region_type: type,
    unstructure: Callable[[Any], dict[str, Any]],
    required: Iterable[str] = (),
) -> dict[str, dict[str, Any]]:
    """A video layout (region name -> region object or dict), each property checked.

    Unset (None) properties are left out so the provider applies its defaults; a property
    without a rule is refused.
    """
    if not isinstance(layout, Mapping):
        raise TypeError(
            f"video_layout must be a mapping of region names, not {type(layout).__name__}"
        )
    if not layout:
        raise ValueError("video_layout must contain at least one region")
    regions: dict[str, dict[str, Any]] = {}
    for name, region in layout.items():
        if not isinstance(name, str) or not name:
            raise TypeError("video_layout region names must be non-empty str")
        if isinstance(region, region_type):
            raw = unstructure(region)
        elif isinstance(region, Mapping):
            raw = dict(region)
        else:
            raise TypeError(
                f"video_layout[{name!r}] must be a {region_type.__name__} or a dict, "
                f"not {type(region).__name__}"
            )
        unknown = {str(k) for k in raw} - set(rules)
        if unknown:
            raise ValueError(
                f"video_layout[{name!r}] has unknown properties: {', '.join(sorted(unknown))}"
            )
        checked: dict[str, Any] = {}
        for key, prop in raw.items():
            if prop is not None:
                checked[key] = rules[key](prop, f"video_layout[{name!r}].{key}")
        for key in required:
            if not checked.get(key):
                raise ValueError(f"video_layout[{name!r}] needs a non-empty {key} list")
        regions[name] = checked
    return regions
