"""Twilio Video v1 Compositions dialect: builds requests and parses responses, no I/O."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Hashable, Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs
from yarl import URL

from .._decode import ModelHooks, load_json
from .._dialect import DialectBase
from .._http import HttpRequest, HttpResponse
from .._log import redact_url
from .._paging import Page
from .._validate import (
    check_bool,
    check_choice,
    check_int_list,
    check_int_range,
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

__all__ = ["TwilioDialect", "check_resolution", "encode_video_layout"]

FORM = "application/x-www-form-urlencoded"
FORMATS = ("mp4", "webm")
CALLBACK_METHODS = ("GET", "POST")

_hooks = ModelHooks(Composition, VideoRegion)


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
        return HttpRequest(
            "DELETE",
            self.item_url(id),
            expected=frozenset({204}),
            # Gone on a resend: the attempt whose answer was lost deleted it.
            resent_ok=frozenset({404}),
        )

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
        return self._media_target(target, response)

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

    def resume_url(self, page_url: str | URL) -> URL:
        """A caller's ``page_url`` (an earlier page's ``next_page_url``) as the URL to fetch."""
        if not isinstance(page_url, str | URL):
            raise TypeError(f"page_url must be a str or yarl.URL, not {type(page_url).__name__}")
        url = self.listing_url(page_url)
        if url is None:
            raise ValueError(
                f"page_url must be a {self.collection} listing URL from an earlier page "
                f"(no spaces), got {redact_url(str(page_url))[:200]!r}"
            )
        return url

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
        if not isinstance(key, str):
            raise self._decode_error("meta.key is not a string", response)
        records = data.get(key)
        if not isinstance(records, list):
            raise self._decode_error(f"list response has no {key!r} array", response)
        next_url = meta.get("next_page_url")
        if next_url is not None and not isinstance(next_url, str):
            raise self._decode_error("meta.next_page_url is not a string", response)
        following: tuple[URL, ...] = ()
        if next_url:
            follow = self.listing_url(next_url)
            if follow is None:
                raise self._decode_error(
                    "meta.next_page_url is not a Compositions listing URL", response
                )
            following = (follow,)
        items, decoder = self._page_items(records, response, decode)
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
