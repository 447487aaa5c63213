"""Twilio Video v1 Compositions dialect: builds requests and parses responses, no I/O."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Hashable, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar, TypedDict, TypeGuard

import attrs
from yarl import URL

from .._archive import CompositionFacts
from .._decode import ModelHooks, load_json
from .._dialect import Dialect
from .._http import HttpRequest, HttpResponse
from .._listing import Batch, Listing, filter_params
from .._log import redact_url
from .._validate import (
    check_bool,
    check_choice,
    check_int_list,
    check_int_range,
    check_known,
    check_layout,
    check_sid,
    check_str_list,
    check_url,
    is_url_text,
    utc_z,
)
from .._validate import check_resolution as _check_resolution
from ..errors import APIError, error_class_for_status
from ..status import CompositionStatus
from .models import Composition, VideoRegion

__all__ = [
    "TwilioCreateParams",
    "TwilioDialect",
    "TwilioFilters",
    "TwilioListing",
    "check_resolution",
    "encode_video_layout",
]

FORM = "application/x-www-form-urlencoded"
FORMATS = ("mp4", "webm")
CALLBACK_METHODS = ("GET", "POST")

_hooks = ModelHooks(Composition, VideoRegion)


class TwilioFilters(TypedDict, total=False):
    """The filters of a Twilio listing; each is optional."""

    status: str | CompositionStatus | None
    room_sid: str | None
    #: Aware datetimes, sent in UTC.
    date_created_after: datetime | None
    date_created_before: datetime | None


# Each filter's query parameter and check, in the order twilio-python sends them.
FILTERS: dict[str, tuple[str, Callable[[object, str], str]]] = {
    "status": ("Status", lambda value, _: CompositionStatus.parse_filter(value).value),  # type: ignore[arg-type]
    "date_created_after": ("DateCreatedAfter", utc_z),
    "date_created_before": ("DateCreatedBefore", utc_z),
    "room_sid": ("RoomSid", lambda value, what: check_sid(value, "RM", what)),
}


class TwilioCreateParams(TypedDict, total=False):
    """What ``create()`` takes besides the room: Twilio's own parameters, in snake_case."""

    video_layout: Mapping[str, VideoRegion | Mapping[str, Any]] | None
    audio_sources: Sequence[str] | None
    audio_sources_excluded: Sequence[str] | None
    resolution: str | None
    format: str | None
    status_callback: str | None
    status_callback_method: str | None
    trim: bool | None


def check_resolution(value: object) -> str:
    """``WxH`` within Twilio's documented limits: each side 16..1280, at most 921,600 px."""
    return _check_resolution(value, max_pixels=921_600, provider="Twilio")


_REUSE = ("none", "show_oldest", "show_newest")


def _int_rule(low: int, high: int) -> Callable[[object, str], int]:
    return lambda value, what: check_int_range(value, low, high, what)


# Every region property, with the type and range Twilio documents (x/y at most
# 1280 - 16: the region must fit a composition of at most 1280 px per side).
_REGION_RULES: dict[str, Callable[[object, str], object]] = {
    "video_sources": check_str_list,
    "video_sources_excluded": check_str_list,
    "reuse": lambda value, what: check_choice(value, _REUSE, what),
    "x_pos": _int_rule(0, 1264),
    "y_pos": _int_rule(0, 1264),
    "z_pos": _int_rule(-99, 99),
    "width": _int_rule(16, 1280),
    "height": _int_rule(16, 1280),
    "max_columns": _int_rule(1, 1000),
    "max_rows": _int_rule(1, 1000),
    "cells_excluded": lambda value, what: check_int_list(value, 0, 999_999, what),
}


def encode_video_layout(layout: object) -> str:
    """Serialise a VideoLayout (regions as VideoRegion or dicts) to the JSON string Twilio wants."""
    regions = check_layout(
        layout,
        _REGION_RULES,
        region_type=VideoRegion,
        unstructure=_hooks.unstructure_region,
        required=("video_sources",),
    )
    # json.dumps' default separators: the same bytes twilio-python sends.
    return json.dumps(regions, allow_nan=False)


@attrs.frozen(slots=True)
class TwilioDialect(Dialect[Composition]):
    """Requests and responses of ``https://video.twilio.com/v1/Compositions``."""

    provider = "twilio"
    collection = "Compositions"
    hooks = _hooks
    model = Composition
    what = "composition"
    request_id_header = "Twilio-Request-Id"
    max_page_size: ClassVar[int] = 100
    default_page_size: ClassVar[int] = 50
    max_prefetch: ClassVar[int] = 1
    deleted: ClassVar[frozenset[int]] = frozenset({204})

    def check_id(self, id: object) -> str:
        """A composition SID: ``CJ`` and 32 hex digits."""
        return check_sid(id, "CJ", "composition sid")

    # -- requests -----------------------------------------------------------------------

    def create_request(self, room_sid: object, params: Mapping[str, Any]) -> HttpRequest:
        """POST a form with PascalCase fields; unset ones are left out."""
        check_known(params, TwilioCreateParams.__annotations__, "create")
        p = params
        fields: list[tuple[str, str]] = [("RoomSid", check_sid(room_sid, "RM", "room_sid"))]
        if p.get("video_layout") is None and p.get("audio_sources") is None:
            raise ValueError("create needs video_layout and/or audio_sources")
        if (layout := p.get("video_layout")) is not None:
            fields.append(("VideoLayout", encode_video_layout(layout)))
        for key, name in (
            ("audio_sources", "AudioSources"),
            ("audio_sources_excluded", "AudioSourcesExcluded"),
        ):
            if (sources := p.get(key)) is not None:
                fields += [(name, s) for s in check_str_list(sources, key)]
        if (resolution := p.get("resolution")) is not None:
            fields.append(("Resolution", check_resolution(resolution)))
        if (format := p.get("format")) is not None:
            fields.append(("Format", check_choice(format, FORMATS, "format")))
        if (callback := p.get("status_callback")) is not None:
            fields.append(("StatusCallback", check_url(callback, "status_callback")))
        if (method := p.get("status_callback_method")) is not None:
            method = check_choice(method, CALLBACK_METHODS, "status_callback_method")
            fields.append(("StatusCallbackMethod", method))
        if (trim := p.get("trim")) is not None:
            fields.append(("Trim", "true" if check_bool(trim, "trim") else "false"))
        return HttpRequest(
            "POST",
            self.collection_url,
            body=urllib.parse.urlencode(fields).encode(),
            content_type=FORM,
            idempotent=False,
            expected=frozenset({201}),
        )

    def media_request(self, sid: object, *, ttl: object = None) -> HttpRequest:
        """GET ``/Compositions/{sid}/Media`` without following its redirect."""
        url = self.item_url(sid) / "Media"
        if ttl is not None:
            url = url.with_query(Ttl=str(check_int_range(ttl, 1, 3600, "ttl")))
        return HttpRequest("GET", url, expected=frozenset({200, 301, 302, 303, 307}))

    def parse_media_url(self, response: HttpResponse) -> URL:
        """The pre-signed media URL: ``redirect_to`` in the body, else the Location header."""
        target: object = None
        try:
            data = json.loads(response.body) if response.body else None
        except ValueError:
            data = None
        if isinstance(data, dict):
            target = data.get("redirect_to")
        if not isinstance(target, str) or not target:
            target = response.headers.get("Location")
        if not isinstance(target, str) or not target:
            raise response.decode_error("media response has neither redirect_to nor Location")
        return self.media_target(target, response)

    def listing(self, filters: Mapping[str, Any], page_size: int | None) -> TwilioListing:
        """A listing of the compositions matching ``filters`` (TwilioFilters)."""
        query = filter_params(filters, FILTERS)
        if page_size is not None:
            size = check_int_range(page_size, 1, self.max_page_size, "page_size")
            query.append(("PageSize", str(size)))
        url = self.collection_url
        if query:
            url = URL(f"{url}?{urllib.parse.urlencode(query)}", encoded=True)
        return TwilioListing(self, url)

    def resume(self, page_url: object) -> TwilioListing:
        """The listing an earlier page's ``next_page_url`` continues."""
        if not isinstance(page_url, str | URL):
            raise TypeError(f"page_url must be a str or yarl.URL, not {type(page_url).__name__}")
        url = self.listing_url(page_url)
        if url is None:
            raise ValueError(
                f"page_url must be a {self.collection} listing URL from an earlier page "
                f"(no spaces), got {redact_url(str(page_url))[:200]!r}"
            )
        return TwilioListing(self, url)

    def listing_url(self, page_url: object) -> URL | None:
        """The URL to fetch for a listing URL, or None when it is not one.

        One rule for the server's ``next_page_url`` and a caller's ``page_url``: its query
        (filters and PageToken, kept byte for byte) is sent to this client's own
        collection URL. Behind a proxy or an emulator the server may name another host,
        and credentials must never follow a URL to a host the caller did not configure.
        """
        if isinstance(page_url, URL):
            page_url = str(page_url)
        if not isinstance(page_url, str) or not is_url_text(page_url):
            return None
        try:
            url = URL(page_url, encoded=True)
        except ValueError:
            return None
        if not url.path.rstrip("/").endswith(f"/{self.collection}"):
            return None
        query = url.raw_query_string
        own = self.collection_url
        return URL(f"{own}?{query}", encoded=True) if query else own

    # -- responses ----------------------------------------------------------------------

    def canonical(self, room_sid: object, params: Mapping[str, Any]) -> Hashable:
        """What ``ensure()`` compares, from create parameters (checked as create checks them)."""
        layout = params.get("video_layout")
        regions = (
            {}
            if layout is None
            else check_layout(
                layout,
                _REGION_RULES,
                region_type=VideoRegion,
                unstructure=_hooks.unstructure_region,
            )
        )
        callback = params.get("status_callback")
        return _twilio_canonical(
            check_sid(room_sid, "RM", "room_sid"),
            regions,
            params.get("audio_sources"),
            params.get("audio_sources_excluded"),
            params.get("resolution"),
            params.get("format"),
            callback,
            params.get("status_callback_method"),
            params.get("trim"),
        )

    def canonical_of(self, item: Composition) -> Hashable:
        """What ``ensure()`` compares, from a composition as Twilio stores it."""
        layout: Mapping[str, Any] = item.video_layout or {}
        regions = {name: _hooks.unstructure_region(region) for name, region in layout.items()}
        return _twilio_canonical(
            item.room_sid,
            regions,
            item.audio_sources,
            item.audio_sources_excluded,
            item.resolution,
            item.format,
            item.status_callback,
            item.status_callback_method,
            item.trim,
        )

    def facts(self, item: Composition) -> CompositionFacts:
        """Twilio states ``size`` in bytes (0 while processing)."""
        return CompositionFacts(
            id=item.sid,
            status=item.status,
            provider=self.provider,
            format=item.format,
            date_created=item.date_created,
            room=item.room_sid,
            session=None,
            sizes=((item.size, 0),) if item.size else (),
            size=item.size or None,
        )

    def parse_error(self, response: HttpResponse) -> APIError:
        """Twilio's error JSON ``{code, message, more_info, status}``, or the raw text."""
        text = response.text
        code: int | str | None = None
        more_info: str | None = None
        message = ""
        try:
            data = json.loads(response.body) if response.body else None
        except ValueError:
            data = None
        if isinstance(data, dict):
            raw_code = data.get("code")
            code = raw_code if isinstance(raw_code, int | str) else None
            message = str(data.get("message") or data.get("detail") or "")
            info = data.get("more_info")
            more_info = info if isinstance(info, str) else None
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
        )


class TwilioListing(Listing[URL]):
    """Twilio pages are linked: each names the next by URL (filters and PageToken in it)."""

    __slots__ = ("_dialect",)

    def __init__(self, dialect: TwilioDialect, first: URL) -> None:
        super().__init__(first)
        self._dialect = dialect

    def request(self, cursor: URL) -> HttpRequest:
        """GET a page URL verbatim: it carries every filter and the page token."""
        return HttpRequest("GET", cursor)

    def parse(self, response: HttpResponse, cursor: URL) -> Batch[URL]:
        """Read ``{"compositions": [...], "meta": {...}}``."""
        data = load_json(response)
        meta = data.get("meta") if isinstance(data, dict) else None
        if not isinstance(meta, dict):
            raise response.decode_error("list response has no meta object")
        key = meta.get("key") or "compositions"
        if not isinstance(key, str):
            raise response.decode_error("meta.key is not a string")
        records = data.get(key)
        if not isinstance(records, list):
            raise response.decode_error(f"list response has no {key!r} array")
        next_url = meta.get("next_page_url")
        if next_url is not None and not isinstance(next_url, str):
            raise response.decode_error("meta.next_page_url is not a string")
        following: tuple[URL, ...] = ()
        if next_url:
            follow = self._dialect.listing_url(next_url)
            if follow is None:
                raise response.decode_error("meta.next_page_url is not a Compositions listing URL")
            following = (follow,)
        page = meta.get("page")
        size = meta.get("page_size")
        return Batch(
            records,
            following,
            response.origin,
            # Twilio counts pages from 0; Page.page_number counts from 1 on both providers.
            page_number=page + 1 if _is_int(page) else None,
            page_size=size if _is_int(size) else None,
            next_page_url=next_url or None,
        )


def _twilio_region(raw: Mapping[str, Any]) -> tuple[Any, ...]:
    """A region with Twilio's defaults filled in: unset numbers are 0, lists empty."""
    return (
        tuple(raw.get("video_sources") or ()),
        tuple(raw.get("video_sources_excluded") or ()),
        raw.get("reuse") or "show_oldest",
        *(raw.get(k) or 0 for k in ("x_pos", "y_pos", "z_pos", "width", "height")),
        *(raw.get(k) or 0 for k in ("max_columns", "max_rows")),
        tuple(sorted(raw.get("cells_excluded") or ())),
    )


def _twilio_canonical(
    room: object,
    regions: Mapping[str, Mapping[str, Any]],
    audio: Sequence[str] | None,
    excluded: Sequence[str] | None,
    resolution: str | None,
    format: str | None,
    callback: str | None,
    method: str | None,
    trim: bool | None,
) -> tuple[Any, ...]:
    return (
        "twilio",
        room,
        tuple(sorted((name, _twilio_region(r)) for name, r in regions.items())),
        tuple(sorted(audio or ())),
        tuple(sorted(excluded or ())),
        resolution or "640x480",
        format or "webm",
        callback or None,
        (method or "POST").upper() if callback else None,
        True if trim is None else trim,
    )


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)
