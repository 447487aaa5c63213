"""Twilio Video v1 Compositions dialect: builds requests and parses responses, no I/O."""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Hashable, Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs
from yarl import URL

from .._decode import ModelHooks, load_json
from .._dialect import DialectBase
from .._http import HttpRequest, HttpResponse
from .._paging import Page
from .._validate import (
    check_bool,
    check_choice,
    check_int_range,
    check_sid,
    check_str_list,
    check_url,
    utc_z,
)
from ..errors import APIError, error_class_for_status
from ..status import CompositionStatus
from .models import Composition, VideoRegion

__all__ = ["TwilioDialect", "check_resolution", "encode_video_layout"]

FORM = "application/x-www-form-urlencoded"
FORMATS = ("mp4", "webm")
CALLBACK_METHODS = ("GET", "POST")

_hooks = ModelHooks(Composition, VideoRegion)
_REGION_FIELDS = frozenset(a.name for a in attrs.fields(VideoRegion))


def check_resolution(value: object) -> str:
    """``WxH`` within Twilio's documented limits: each side 16..1280, at most 921,600 px."""
    if not isinstance(value, str):
        raise TypeError(f"resolution must be a str like '1280x720', not {type(value).__name__}")
    match = re.fullmatch(r"([1-9][0-9]{0,4})x([1-9][0-9]{0,4})", value)
    if match is None:
        raise ValueError(f"resolution must look like '1280x720', got {value!r}")
    width, height = int(match[1]), int(match[2])
    if not (16 <= width <= 1280 and 16 <= height <= 1280) or width * height > 921_600:
        raise ValueError(
            f"resolution {value!r} is outside Twilio's limits "
            "(each side 16..1280, width*height <= 921600)"
        )
    return value


def encode_video_layout(layout: object) -> str:
    """Serialise a VideoLayout (regions as VideoRegion or dicts) to the JSON string Twilio wants."""
    if not isinstance(layout, Mapping):
        raise TypeError(
            f"video_layout must be a mapping of region names, not {type(layout).__name__}"
        )
    if not layout:
        raise ValueError("video_layout must contain at least one region")
    regions: dict[str, Any] = {}
    for name, region in layout.items():
        if not isinstance(name, str) or not name:
            raise TypeError("video_layout region names must be non-empty str")
        if isinstance(region, VideoRegion):
            raw = {k: v for k, v in _hooks.unstructure_region(region).items() if v is not None}
        elif isinstance(region, Mapping):
            unknown = set(region) - _REGION_FIELDS
            if unknown:
                raise ValueError(
                    f"video_layout[{name!r}] has unknown properties: {', '.join(sorted(unknown))}"
                )
            raw = dict(region)
        else:
            raise TypeError(
                f"video_layout[{name!r}] must be a VideoRegion or a dict, "
                f"not {type(region).__name__}"
            )
        if not raw.get("video_sources"):
            raise ValueError(f"video_layout[{name!r}] needs a non-empty video_sources list")
        check_str_list(raw["video_sources"], f"video_layout[{name!r}].video_sources")
        regions[name] = raw
    # json.dumps' default separators: the same bytes twilio-python sends.
    return json.dumps(regions)


@attrs.frozen(slots=True)
class TwilioDialect(DialectBase[Composition]):
    """Requests and responses of ``https://video.twilio.com/v1/Compositions``."""

    collection = "Compositions"
    hooks = _hooks
    model = Composition
    what = "composition"
    request_id_header = "Twilio-Request-Id"

    max_page_size: int = 100
    default_page_size: int = 50
    max_prefetch: int = 1

    def item_url(self, sid: str) -> URL:
        """``{base}/Compositions/{sid}`` after checking the SID."""
        return self._item_url(check_sid(sid, "CJ", "composition sid"))

    # -- requests -----------------------------------------------------------------------

    def create_request(
        self,
        room_sid: str,
        *,
        video_layout: Mapping[str, VideoRegion | Mapping[str, Any]] | None = None,
        audio_sources: Sequence[str] | None = None,
        audio_sources_excluded: Sequence[str] | None = None,
        resolution: str | None = None,
        format: str | None = None,
        status_callback: str | None = None,
        status_callback_method: str | None = None,
        trim: bool | None = None,
    ) -> HttpRequest:
        """POST a form with PascalCase fields; unset ones are left out."""
        fields: list[tuple[str, str]] = [("RoomSid", check_sid(room_sid, "RM", "room_sid"))]
        if video_layout is None and audio_sources is None:
            raise ValueError("create needs video_layout and/or audio_sources")
        if video_layout is not None:
            fields.append(("VideoLayout", encode_video_layout(video_layout)))
        if audio_sources is not None:
            fields += [("AudioSources", s) for s in check_str_list(audio_sources, "audio_sources")]
        if audio_sources_excluded is not None:
            excluded = check_str_list(audio_sources_excluded, "audio_sources_excluded")
            fields += [("AudioSourcesExcluded", s) for s in excluded]
        if resolution is not None:
            fields.append(("Resolution", check_resolution(resolution)))
        if format is not None:
            fields.append(("Format", check_choice(format, FORMATS, "format")))
        if status_callback is not None:
            fields.append(("StatusCallback", check_url(status_callback, "status_callback")))
        if status_callback_method is not None:
            method = check_choice(
                status_callback_method, CALLBACK_METHODS, "status_callback_method"
            )
            fields.append(("StatusCallbackMethod", method))
        if trim is not None:
            fields.append(("Trim", "true" if check_bool(trim, "trim") else "false"))
        return HttpRequest(
            "POST",
            self.collection_url,
            body=urllib.parse.urlencode(fields).encode(),
            content_type=FORM,
            idempotent=False,
            expected=frozenset({201}),
        )

    def fetch_request(self, id: str) -> HttpRequest:
        """GET ``/Compositions/{sid}``."""
        return HttpRequest("GET", self.item_url(id))

    def delete_request(self, id: str) -> HttpRequest:
        """DELETE ``/Compositions/{sid}``; 204 on success."""
        return HttpRequest("DELETE", self.item_url(id), expected=frozenset({204}))

    def media_request(self, sid: str, *, ttl: int | None = None) -> HttpRequest:
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
            raise self._decode_error(
                "media response has neither redirect_to nor Location", response
            )
        url = URL(target, encoded=True)
        return url if url.is_absolute() else self.base_url.origin().join(url)

    def first_page_url(
        self,
        *,
        status: str | CompositionStatus | None = None,
        room_sid: str | None = None,
        date_created_after: datetime | None = None,
        date_created_before: datetime | None = None,
        page_size: int | None = None,
    ) -> URL:
        """The URL of a listing's first page, filters in the order the official SDK sends."""
        query: list[tuple[str, str]] = []
        if status is not None:
            query.append(("Status", CompositionStatus.parse_filter(status).value))
        if date_created_after is not None:
            query.append(("DateCreatedAfter", utc_z(date_created_after, "date_created_after")))
        if date_created_before is not None:
            query.append(("DateCreatedBefore", utc_z(date_created_before, "date_created_before")))
        if room_sid is not None:
            query.append(("RoomSid", check_sid(room_sid, "RM", "room_sid")))
        if page_size is not None:
            size = check_int_range(page_size, 1, self.max_page_size, "page_size")
            query.append(("PageSize", str(size)))
        url = self.collection_url
        if not query:
            return url
        return URL(f"{url}?{urllib.parse.urlencode(query)}", encoded=True)

    def resume_url(self, page_url: str | URL) -> URL:
        """A next-page URL from an earlier page, checked to point at this API's listing."""
        if not isinstance(page_url, str | URL):
            raise TypeError(f"page_url must be a str or yarl.URL, not {type(page_url).__name__}")
        url = page_url if isinstance(page_url, URL) else URL(page_url, encoded=True)
        if not url.is_absolute():
            url = self.base_url.origin().join(url)
        own = self.collection_url
        if url.origin() != own.origin() or url.path.rstrip("/") != own.path:
            raise ValueError(
                f"page_url must be a {own} listing URL from an earlier page, got {str(url)!r}"
            )
        return url

    def _follow(self, next_url: str) -> URL:
        """The server's next_page_url, verbatim when it points at our base URL.

        Behind a proxy or an emulator the server may name its own public host; its
        query (filters and PageToken) is then replayed on our collection URL.
        """
        url = URL(next_url, encoded=True)
        own = self.collection_url
        if url.is_absolute() and url.origin() == own.origin() and url.path == own.path:
            return url
        return URL(f"{own}?{url.raw_query_string}", encoded=True)

    def page_request(self, query: object, cursor: URL) -> HttpRequest:
        """GET a page URL verbatim: Twilio's next_page_url carries every filter and token."""
        return HttpRequest("GET", cursor)

    # -- responses ----------------------------------------------------------------------

    def parse_item(self, response: HttpResponse) -> Composition:
        """Decode a composition object."""
        return self._structure(load_json(response), response)

    def parse_page(
        self, response: HttpResponse, cursor: URL, *, decode: bool = True
    ) -> Page[Composition]:
        """Decode ``{"compositions": [...], "meta": {...}}``.

        With ``decode=False`` the items stay JSON objects and ``Page.decoder`` turns each
        into a model: a stream decodes an item when its consumer reaches it, so decoding
        is not on the path of the request that prefetches the next page.
        """
        data = load_json(response)
        meta = data.get("meta") if isinstance(data, dict) else None
        if not isinstance(meta, dict):
            raise self._decode_error("list response has no meta object", response)
        key = meta.get("key") or "compositions"
        records = data.get(key)
        if not isinstance(records, list):
            raise self._decode_error(f"list response has no {key!r} array", response)
        items, decoder = self._page_items(records, response, decode)
        next_url = meta.get("next_page_url")
        if next_url is not None and not isinstance(next_url, str):
            raise self._decode_error("meta.next_page_url is not a string", response)
        following: tuple[URL, ...] = ()
        if next_url:
            following = (self._follow(next_url),)
        page_size = meta.get("page_size")
        page_no = meta.get("page")
        return Page(
            items=items,
            has_next=bool(next_url),
            next_page_url=next_url or None,
            page_number=page_no if isinstance(page_no, int) else None,
            page_size=page_size if isinstance(page_size, int) else None,
            following=following,
            decoder=None if decode else decoder,
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
            request_id=response.headers.get(self.request_id_header),
            more_info=more_info,
            body=text,
        )

    def item_key(self, item: Composition) -> Hashable:
        """Compositions are identified by SID."""
        return item.sid
