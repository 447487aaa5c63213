"""CompositionStatus: the processing state both providers report."""

from __future__ import annotations

import enum

__all__ = ["CompositionStatus"]


class CompositionStatus(enum.StrEnum):
    """Processing state of a composition.

    A value the provider adds later decodes to a pseudo-member that keeps its text
    (``status.value == "archived"``, ``status.is_known is False``) instead of raising.
    """

    ENQUEUED = "enqueued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    DELETED = "deleted"

    @classmethod
    def _missing_(cls, value: object) -> CompositionStatus | None:
        if not isinstance(value, str):
            return None
        member = str.__new__(cls, value)
        member._name_ = "UNKNOWN"
        member._value_ = value
        return member

    @property
    def is_known(self) -> bool:
        """False for a status string this version of the library does not know."""
        return self._name_ != "UNKNOWN"

    @property
    def is_terminal(self) -> bool:
        """True once the composition will not change state by itself."""
        return self in _TERMINAL

    @classmethod
    def parse_filter(cls, value: str | CompositionStatus) -> CompositionStatus:
        """Validate a caller's status filter: unknown strings raise ValueError."""
        if isinstance(value, CompositionStatus) and value.is_known:
            return value
        if isinstance(value, str):
            member = cls._value2member_map_.get(value)
            if member is not None:
                return member  # type: ignore[return-value]
            known = ", ".join(m.value for m in cls)
            raise ValueError(f"unknown status {value!r}; expected one of: {known}")
        raise TypeError(f"status must be a str or CompositionStatus, not {type(value).__name__}")


_TERMINAL = frozenset(
    {CompositionStatus.COMPLETED, CompositionStatus.FAILED, CompositionStatus.DELETED}
)
