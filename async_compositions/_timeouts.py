"""Timeout arguments: finite by default, ``None`` only when the caller asks for no limit."""

from __future__ import annotations

import enum
from typing import Final, TypeAlias

import aiohttp

from ._validate import check_seconds

__all__ = ["DEFAULT_TIMEOUT", "NOT_GIVEN", "NotGiven", "TimeoutArg", "to_client_timeout"]


class NotGiven(enum.Enum):
    """Sentinel type: distinguishes 'argument omitted' from an explicit ``None``."""

    NOT_GIVEN = enum.auto()

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN: Final = NotGiven.NOT_GIVEN

DEFAULT_TIMEOUT: Final = aiohttp.ClientTimeout(total=30.0, connect=10.0)

TimeoutArg: TypeAlias = float | aiohttp.ClientTimeout | NotGiven | None


def to_client_timeout(
    value: TimeoutArg,
    default: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
) -> aiohttp.ClientTimeout:
    """Normalise a timeout argument into an explicit ``aiohttp.ClientTimeout``."""
    if value is NOT_GIVEN:
        return default
    if value is None:
        # An explicit request for no limit: every field None (aiohttp's own default is 300 s).
        return aiohttp.ClientTimeout(total=None, connect=None, sock_connect=None, sock_read=None)
    if isinstance(value, aiohttp.ClientTimeout):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(
            f"timeout must be seconds, an aiohttp.ClientTimeout or None, not {type(value).__name__}"
        )
    total = check_seconds(value, "timeout")
    connect = default.connect if default.connect is not None else total
    return aiohttp.ClientTimeout(total=total, connect=min(total, connect))
