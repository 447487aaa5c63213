"""Checks on caller input, run before any request is built."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime

from yarl import URL

__all__ = [
    "check_bool",
    "check_choice",
    "check_int_range",
    "check_limit",
    "check_prefetch",
    "check_sid",
    "check_str_list",
    "check_url",
    "utc_z",
]


_HEX32 = re.compile(r"[0-9a-fA-F]{32}")


def check_sid(value: object, prefix: str, what: str) -> str:
    """A Twilio-style SID: two-letter prefix and 32 hex digits; anything else raises."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    if not (value.startswith(prefix) and _HEX32.fullmatch(value, len(prefix))):
        raise ValueError(f"{what} must be {prefix!r} followed by 32 hex digits, got {value!r}")
    return value


def check_int_range(value: object, low: int, high: int, what: str) -> int:
    """An int in [low, high] (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    if not low <= value <= high:
        raise ValueError(f"{what} must be between {low} and {high}, got {value}")
    return value


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


def check_url(value: object, what: str) -> str:
    """An absolute http(s) URL."""
    if not isinstance(value, str | URL):
        raise TypeError(f"{what} must be a str or yarl.URL, not {type(value).__name__}")
    text = str(value)
    url = URL(text)
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"{what} must be an absolute http(s) URL, got {text!r}")
    return text


def utc_z(value: object, what: str) -> str:
    """An aware datetime converted to UTC, as ``YYYY-MM-DDTHH:MM:SSZ``."""
    if not isinstance(value, datetime):
        raise TypeError(f"{what} must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware (a naive datetime is ambiguous)")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
