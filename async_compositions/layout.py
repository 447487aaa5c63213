"""VideoLayout: a composition's layout, its regions decoded only when read."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar

from ._http import Origin

__all__ = ["VideoLayout"]

R = TypeVar("R")


class VideoLayout(Mapping[str, R], Generic[R]):
    """Region name -> typed region, read-only.

    A listing of thousands of compositions rarely looks at their layouts, so each region
    is decoded the first time it is read (then kept): the regions are a large share of the
    cost of decoding a Twilio composition. It compares equal to a plain dict of the same
    regions.
    """

    __slots__ = ("_decode", "_raw", "_regions", "origin")

    def __init__(self, raw: Mapping[str, Any], decode: Callable[[Any], R]) -> None:
        self._raw = raw
        self._decode = decode
        # Allocated on first read: most layouts are never read.
        self._regions: dict[str, R] | None = None
        #: The response the layout came in (status and request id), for decode errors.
        self.origin: Origin | None = None

    def __getitem__(self, name: str) -> R:
        regions = self._regions
        if regions is None:
            regions = self._regions = {}
        elif name in regions:
            return regions[name]
        raw = self._raw[name]
        try:
            region = self._decode(raw)
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            message = f"video_layout region {name!r} did not decode ({type(exc).__name__}: {exc})"
        else:
            regions[name] = region
            return region
        origin = self.origin or Origin(None, None)
        raise origin.decode_error(message, json.dumps(raw, default=str))

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    def __contains__(self, name: object) -> bool:
        return name in self._raw

    def __repr__(self) -> str:
        return repr(dict(self.items()))

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickles as the plain dict of regions it stands for.
        return (dict, (dict(self.items()),))

    def materialize(self) -> VideoLayout[R]:
        """Decode every region now (raising ResponseDecodeError on the first bad one)."""
        for name in self._raw:
            self[name]
        return self
