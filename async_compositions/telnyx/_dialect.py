"""Telnyx Room Compositions (API v2) dialect: builds requests and parses responses, no I/O."""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Callable, Hashable, Mapping
from datetime import date
from typing import Any, ClassVar, TypedDict

import attrs
from yarl import URL

from .._archive import CompositionFacts
from .._decode import ModelHooks, load_json
from .._dialect import Dialect
from .._http import HttpRequest, HttpResponse
from .._listing import Batch, Listing, filter_params
from .._validate import (
    check_choice,
    check_day,
    check_int_range,
    check_known,
    check_layout,
    check_str_list,
    check_url,
)
from .._validate import check_resolution as _check_resolution
from ..errors import APIError, NotFoundError, error_class_for_status
from ..status import CompositionStatus
from .models import RoomComposition, VideoRegion

__all__ = [
    "FILTERS",
    "TelnyxCreateParams",
    "TelnyxDialect",
    "TelnyxFilters",
    "TelnyxListing",
    "check_resolution",
    "check_uuid",
    "encode_video_layout",
]

JSON = "application/json"
FORMATS = ("mp4",)
# The filter[status] values the API documents; "failed"/"deleted" are not accepted there.
STATUS_FILTERS = ("completed", "processing", "enqueued")

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

_hooks = ModelHooks(RoomComposition, VideoRegion)
_INT32 = 2**31 - 1


class TelnyxFilters(TypedDict, total=False):
    """The filters of a Telnyx listing; each is optional. Days are dates or ``YYYY-MM-DD``."""

    status: str | CompositionStatus | None
    session_id: str | None
    date_created_on: date | str | None
    date_created_after: date | str | None
    date_created_before: date | str | None


class TelnyxCreateParams(TypedDict, total=False):
    """What ``create()`` takes: Telnyx's own parameters."""

    session_id: str | None
    video_layout: Mapping[str, VideoRegion | Mapping[str, Any]] | None
    resolution: str | None
    format: str | None
    webhook_event_url: str | None
    webhook_event_failover_url: str | None
    webhook_timeout_secs: int | None


def check_uuid(value: object, what: str) -> str:
    """A canonical hyphenated UUID string; anything else (``/``, ``..``, spaces) raises."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    if not _UUID.fullmatch(value):
        raise ValueError(
            f"{what} must be a UUID like 7103dc53-ee59-4b54-a58b-c77d99ceb037, got {value[:80]!r}"
        )
    return value


def check_resolution(value: object) -> str:
    """``WxH`` within Telnyx's documented limits: each side 16..1280, W*H <= 1280*720."""
    return _check_resolution(value, max_pixels=1280 * 720, provider="Telnyx")


def _check_date(value: object, what: str) -> str:
    """A ``datetime.date`` (or ``YYYY-MM-DD`` text) as ``YYYY-MM-DD``."""
    return check_day(value, what).isoformat()


def _check_status_filter(value: object) -> str:
    if isinstance(value, CompositionStatus):
        value = value.value
    if not isinstance(value, str):
        raise TypeError(f"status must be a str or CompositionStatus, not {type(value).__name__}")
    return check_choice(value, STATUS_FILTERS, "status")


def _int_rule(low: int, high: int) -> Callable[[object, str], int]:
    return lambda value, what: check_int_range(value, low, high, what)


# Every region property, with the type and range the API documents.
_REGION_RULES: dict[str, Callable[[object, str], object]] = {
    "x_pos": _int_rule(-_INT32, _INT32),
    "y_pos": _int_rule(-_INT32, _INT32),
    "z_pos": _int_rule(-99, 99),
    "width": _int_rule(16, _INT32),
    "height": _int_rule(16, _INT32),
    "max_columns": _int_rule(1, 1000),
    "max_rows": _int_rule(1, 1000),
    "video_sources": check_str_list,
}


def _sorted_region(region: Any) -> dict[str, Any]:
    # Alphabetical, the order of the SDK's VideoRegionParam (a dict keeps its own order).
    unstructured = _hooks.unstructure_region(region)
    return {k: unstructured[k] for k in sorted(unstructured)}


def encode_video_layout(layout: object) -> dict[str, dict[str, Any]]:
    """A video layout (regions as VideoRegion or dicts) as the JSON object Telnyx takes."""
    return check_layout(layout, _REGION_RULES, region_type=VideoRegion, unstructure=_sorted_region)


# Each filter's query parameter and check, in the order the API documents them.
FILTERS: dict[str, tuple[str, Callable[[object, str], str]]] = {
    "date_created_on": ("filter[date_created_at][eq]", _check_date),
    "date_created_after": ("filter[date_created_at][gte]", _check_date),
    "date_created_before": ("filter[date_created_at][lte]", _check_date),
    "session_id": ("filter[session_id]", lambda value, what: check_uuid(value, what)),
    "status": ("filter[status]", lambda value, _: _check_status_filter(value)),
}


@attrs.frozen(slots=True)
class TelnyxDialect(Dialect[RoomComposition]):
    """Requests and responses of ``https://api.telnyx.com/v2/room_compositions``."""

    provider = "telnyx"
    collection = "room_compositions"
    hooks = _hooks
    model = RoomComposition
    what = "room composition"
    request_id_header = "x-request-id"
    max_page_size: ClassVar[int] = 250
    default_page_size: ClassVar[int] = 20
    # Pages are numbered and meta.total_pages is known, so later pages can be fetched ahead.
    max_prefetch: ClassVar[int] = 8
    # 204 is documented; 200 is a success too.
    deleted: ClassVar[frozenset[int]] = frozenset({200, 204})

    def check_id(self, id: object) -> str:
        """A room composition id: a UUID."""
        return check_uuid(id, "room composition id")

    # -- requests -----------------------------------------------------------------------

    def create_request(self, params: Mapping[str, Any]) -> HttpRequest:
        """POST a JSON object; unset fields are left out."""
        check_known(params, TelnyxCreateParams.__annotations__, "create")
        body: dict[str, Any] = {}
        if (session_id := params.get("session_id")) is not None:
            body["session_id"] = check_uuid(session_id, "session_id")
        if (layout := params.get("video_layout")) is not None:
            body["video_layout"] = encode_video_layout(layout)
        if (resolution := params.get("resolution")) is not None:
            body["resolution"] = check_resolution(resolution)
        if (format := params.get("format")) is not None:
            body["format"] = check_choice(format, FORMATS, "format")
        for key in ("webhook_event_url", "webhook_event_failover_url"):
            if (url := params.get(key)) is not None:
                body[key] = check_url(url, key)
        if (seconds := params.get("webhook_timeout_secs")) is not None:
            body["webhook_timeout_secs"] = check_int_range(seconds, 0, 30, "webhook_timeout_secs")
        # Compact UTF-8, fields in alphabetical order and region dicts in the caller's order:
        # byte for byte what telnyx-python sends for the same arguments.
        ordered = {k: body[k] for k in sorted(body)}
        data = json.dumps(ordered, separators=(",", ":"), ensure_ascii=False)
        return HttpRequest(
            "POST",
            self.collection_url,
            body=data.encode("utf-8"),
            content_type=JSON,
            idempotent=False,
            # 202 is documented; any other success must not look like a failure worth
            # repeating, since repeating a create makes a second composition.
            expected=frozenset({200, 201, 202}),
        )

    def listing(
        self, filters: Mapping[str, Any], page_size: int | None, page_number: object = None
    ) -> TelnyxListing:
        """A listing of the room compositions matching ``filters`` (TelnyxFilters)."""
        params = filter_params(filters, FILTERS)
        if page_size is not None:
            size = check_int_range(page_size, 1, self.max_page_size, "page_size")
            params.append(("page[size]", str(size)))
        first = (
            1 if page_number is None else check_int_range(page_number, 1, 2**63 - 1, "page_number")
        )
        return TelnyxListing(self, first, tuple(params))

    # -- responses ----------------------------------------------------------------------

    def canonical(self, params: Mapping[str, Any]) -> Hashable:
        """What ``ensure()`` compares, from create parameters (checked as create checks them)."""
        session = params.get("session_id")
        if session is None:
            raise ValueError("ensure() needs session_id: it composes one room session once")
        layout = params.get("video_layout")
        regions = {} if layout is None else encode_video_layout(layout)
        return _telnyx_canonical(
            check_uuid(session, "session_id"),
            regions,
            params.get("resolution"),
            params.get("format"),
            params.get("webhook_event_url"),
            params.get("webhook_event_failover_url"),
            params.get("webhook_timeout_secs"),
        )

    def canonical_of(self, item: RoomComposition) -> Hashable:
        """What ``ensure()`` compares, from a room composition as Telnyx stores it."""
        layout: Mapping[str, Any] = item.video_layout or {}
        regions = {name: _hooks.unstructure_region(region) for name, region in layout.items()}
        return _telnyx_canonical(
            item.session_id or "",
            regions,
            item.resolution,
            item.format,
            item.webhook_event_url,
            item.webhook_event_failover_url,
            item.webhook_timeout_secs,
        )

    def facts(self, item: RoomComposition) -> CompositionFacts:
        """Telnyx states ``size_mb``: bytes known only as far as its decimals go."""
        return CompositionFacts(
            id=item.id,
            status=item.status,
            provider=self.provider,
            format=item.format,
            date_created=item.created_at,
            room=item.room_id,
            session=item.session_id,
            sizes=megabytes(item.size_mb),
            size=None if item.size_mb is None else round(item.size_mb * 1_000_000),
        )

    def unwrap_item(self, data: Any, response: HttpResponse) -> Any:
        """``{"data": {...}}``."""
        record = data.get("data") if isinstance(data, dict) else None
        if not isinstance(record, dict):
            raise response.decode_error('expected {"data": {...}}')
        return record

    def parse_media_url(self, response: HttpResponse, id: str) -> URL:
        """A composition's ``download_url``; NotFoundError while it has none."""
        composition = self.parse_item(response)
        if composition.download_url is None:
            status = composition.status.value if composition.status else "unknown"
            raise NotFoundError(
                f"composition {id} has no download_url yet (status {status})",
                status=404,
                request_id=response.request_id,
            )
        return self.media_target(composition.download_url, response)

    def parse_error(self, response: HttpResponse) -> APIError:
        """Any documented error shape: ``{"errors": [...]}``, an error, ``{success, message}``."""
        text = response.text
        try:
            data = json.loads(response.body) if response.body else None
        except (ValueError, UnicodeDecodeError):
            data = None
        errors: list[dict[str, Any]] = []
        message = ""
        if isinstance(data, dict):
            if isinstance(data.get("errors"), list):
                errors = [e for e in data["errors"] if isinstance(e, dict)]
            elif "code" in data or "title" in data or "detail" in data:
                errors = [data]
            elif isinstance(data.get("message"), str):
                message = data["message"]
        code: int | str | None = None
        more_info: str | None = None
        if errors:
            first = errors[0]
            raw_code = first.get("code")
            code = raw_code if isinstance(raw_code, int | str) else None
            message = _describe(first, len(errors))
            meta = first.get("meta")
            if isinstance(meta, dict) and isinstance(meta.get("url"), str):
                more_info = meta["url"]
        if not message:
            message = text.strip()[:200] or f"HTTP {response.status}"
        cls = error_class_for_status(response.status)
        return cls(
            message,
            status=response.status,
            code=code,
            request_id=response.request_id,
            more_info=more_info,
            body=text,
            provider=self.provider,
            errors=errors,
        )


class TelnyxListing(Listing[int]):
    """Telnyx pages are numbered and meta.total_pages is known, so later pages can be
    requested ahead of time."""

    __slots__ = ("_dialect", "_params")

    def __init__(self, dialect: TelnyxDialect, first: int, params: tuple[tuple[str, str], ...]):
        super().__init__(first)
        self._dialect = dialect
        self._params = params

    def request(self, cursor: int) -> HttpRequest:
        """GET page ``cursor``.

        Page 1 goes without ``page[number]`` and later pages append it, as telnyx-python
        does; brackets are percent-encoded (``filter%5Bstatus%5D=...``).
        """
        params = list(self._params)
        if cursor != 1:
            params.append(("page[number]", str(cursor)))
        url = self._dialect.collection_url
        if not params:
            return HttpRequest("GET", url)
        return HttpRequest("GET", URL(f"{url}?{urllib.parse.urlencode(params)}", encoded=True))

    def parse(self, response: HttpResponse, cursor: int) -> Batch[int]:
        """Read ``{"data": [...], "meta": {page_number, page_size, total_pages, ...}}``."""
        data = load_json(response)
        if not isinstance(data, dict):
            raise response.decode_error("list response is not a JSON object")
        meta = data.get("meta")
        # Without meta there is no way to know where the listing ends: stop, never loop.
        if not isinstance(meta, dict):
            raise response.decode_error("list response has no meta object")
        records = data.get("data")
        if not isinstance(records, list):
            raise response.decode_error("list response has no data array")
        total_pages = _meta_int(meta, "total_pages")
        if total_pages is None:
            raise response.decode_error("meta.total_pages is missing or not an integer")
        page_number = _meta_int(meta, "page_number")
        if page_number is None:
            page_number = cursor
        following: tuple[int, ...] = ()
        if page_number < total_pages:
            # Only as many as may be fetched ahead; listings can run to thousands of pages.
            last = min(total_pages, page_number + self._dialect.max_prefetch)
            following = tuple(range(page_number + 1, last + 1))
        return Batch(
            records,
            following,
            response.origin,
            page_number=page_number,
            page_size=_meta_int(meta, "page_size"),
            total_pages=total_pages,
            total_results=_meta_int(meta, "total_results"),
            next_page_number=page_number + 1 if following else None,
        )


def _telnyx_canonical(
    session: str,
    regions: Mapping[str, Mapping[str, Any]],
    resolution: str | None,
    format: str | None,
    webhook: str | None,
    failover: str | None,
    webhook_timeout: int | None,
) -> tuple[Any, ...]:
    def region(raw: Mapping[str, Any]) -> tuple[Any, ...]:
        # Telnyx stores unset positions as 0 and leaves sizes and grids unset.
        positions = (raw.get(k) or 0 for k in ("x_pos", "y_pos", "z_pos"))
        others = (raw.get(k) for k in ("width", "height", "max_columns", "max_rows"))
        return (*positions, *others, tuple(raw.get("video_sources") or ()))

    return (
        "telnyx",
        session.lower(),
        tuple(sorted((name, region(r)) for name, r in regions.items())),
        resolution or "1280x720",
        format or "mp4",
        webhook or None,
        failover or None,
        webhook_timeout or None,
    )


def megabytes(size_mb: float | None) -> tuple[tuple[int, int], ...]:
    """The byte counts ``size_mb`` may stand for, each with the slack of its decimals.

    Telnyx does not say whether its megabyte is 10**6 or 2**20 bytes, so both count; a
    value like ``6`` (no decimals) leaves half a megabyte either way.
    """
    if size_mb is None or size_mb <= 0 or size_mb != size_mb:
        return ()
    text = repr(float(size_mb))
    decimals = len(text.split(".")[1]) if "." in text and "e" not in text else 0
    if text.endswith(".0"):
        decimals = 0
    half = 0.5 * 10**-decimals
    return tuple((round(size_mb * unit), int(half * unit) + 1) for unit in (1_000_000, 1_048_576))


def _meta_int(meta: Mapping[str, Any], key: str) -> int | None:
    value = meta.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def _describe(error: Mapping[str, Any], count: int) -> str:
    """``detail`` (else ``title``) of an error object, with where it points."""
    detail = error.get("detail") or error.get("title") or ""
    text = str(detail)
    source = error.get("source")
    if isinstance(source, dict):
        if source.get("pointer"):
            text += f" (pointer {source['pointer']})"
        elif source.get("parameter"):
            text += f" (parameter {source['parameter']})"
    if count > 1:
        text += f" (and {count - 1} more error{'s' if count > 2 else ''})"
    return text
