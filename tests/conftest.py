"""Shared test fixtures."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import aiohttp
import aioresponses.core
import pytest


class _SentStreamWriter:
    """Stands in for the request writer of a response whose request was 'already sent'."""

    output_size = 0


class _CompatClientResponse(aiohttp.ClientResponse):
    """ClientResponse accepting the constructor aioresponses 0.7.9 calls.

    aiohttp 3.14 added a required ``stream_writer`` argument that aioresponses does not
    pass (pnuckowski/aioresponses#289). Remove this shim once a fixed aioresponses ships.
    """

    def __init__(self, method: str, url: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", _SentStreamWriter())
        super().__init__(method, url, **kwargs)


def _aioresponses_needs_shim() -> bool:
    params = inspect.signature(aiohttp.ClientResponse.__init__).parameters
    source = inspect.getsource(aioresponses.core.RequestMatch._build_response)
    return "stream_writer" in params and "stream_writer" not in source


@pytest.fixture(autouse=True, scope="session")
def _aioresponses_aiohttp314_compat() -> Iterator[None]:
    """Let aioresponses build responses on aiohttp >= 3.14 (see _CompatClientResponse)."""
    if not _aioresponses_needs_shim():
        yield
        return
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(aioresponses.core, "ClientResponse", _CompatClientResponse)
        yield
