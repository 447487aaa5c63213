"""Twilio Video v1 ``/Compositions`` handlers (aiohttp.web), written from the wire spec."""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
import urllib.parse
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import hdrs, web

from ._errors import Problem, json_response
from ._media import MediaSigner, serve_media
from ._params import TooManyDigits, decimal_integer, listing_query
from ._store import (
    COMPLETED,
    DELETED,
    FAILED,
    Store,
    TwilioComposition,
    twilio_time,
)

__all__ = ["TwilioAPI", "twilio_json"]

_SID = {p: re.compile(rf"{p}[0-9a-fA-F]{{32}}") for p in ("CJ", "RM")}
_STATUSES = ("enqueued", "processing", "completed", "deleted", "failed")
_FORMATS = ("mp4", "webm")
_REUSE = ("none", "show_oldest", "show_newest")
_REGION_INTS = ("x_pos", "y_pos", "z_pos", "width", "height", "max_columns", "max_rows")
_REGION_KEYS = frozenset(
    {*_REGION_INTS, "video_sources", "video_sources_excluded", "reuse", "cells_excluded"}
)
_FORM = "application/x-www-form-urlencoded"
_AMZ_DATE = "%Y%m%dT%H%M%SZ"


def twilio_json(record: TwilioComposition, origin: str) -> dict[str, Any]:
    """The ``video.v1.composition`` JSON of ``record``, its URLs under ``origin``."""
    url = f"{origin}/v1/Compositions/{record.sid}"
    return {
        "account_sid": record.account_sid,
        "status": record.status,
        "date_created": twilio_time(record.date_created),
        "date_completed": twilio_time(record.date_completed),
        "date_deleted": twilio_time(record.date_deleted),
        "sid": record.sid,
        "room_sid": record.room_sid,
        "audio_sources": list(record.audio_sources),
        "audio_sources_excluded": list(record.audio_sources_excluded),
        "video_layout": json.loads(json.dumps(record.video_layout)),
        "resolution": record.resolution,
        "trim": record.trim,
        "format": record.format,
        "bitrate": record.bitrate,
        "size": record.size,
        "duration": record.duration,
        "media_external_location": None,
        "status_callback": record.status_callback,
        "status_callback_method": record.status_callback_method,
        "url": url,
        "links": {"media": f"{url}/Media"},
    }


def _bad(message: str) -> Problem:
    return Problem(400, message, code=20001)


def parse_resolution(value: str) -> tuple[int, int]:
    """``WxH`` within Twilio's limits: 16..1280 per side, at most 921,600 pixels."""
    match = re.fullmatch(r"(\d{1,5})x(\d{1,5})", value)
    if match is None:
        raise _bad(f"Invalid Resolution '{value}': expected '{{width}}x{{height}}'")
    width, height = int(match[1]), int(match[2])
    if not (16 <= width <= 1280 and 16 <= height <= 1280) or width * height > 921_600:
        raise _bad(
            f"Invalid Resolution '{value}': width and height must be between 16 and 1280 "
            "and width*height must not exceed 921600"
        )
    return width, height


def _int(region: str, name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _bad(
            f"Invalid VideoLayout: region '{region}' {name} must be an integer "
            f"between {low} and {high}"
        )
    return value


def _strings(region: str, name: str, value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _bad(f"Invalid VideoLayout: region '{region}' {name} must be a list of strings")
    return list(value)


def _region(name: str, raw: object, comp_w: int, comp_h: int) -> dict[str, Any]:
    """One region checked against Twilio's documented rules, with its defaults filled in."""
    if not isinstance(raw, dict):
        raise _bad(f"Invalid VideoLayout: region '{name}' must be an object")
    unknown = set(raw) - _REGION_KEYS
    if unknown:
        raise _bad(f"Invalid VideoLayout: region '{name}' has unknown property {min(unknown)!r}")
    sources = _strings(name, "video_sources", raw.get("video_sources"))
    if not sources:
        raise _bad(f"Invalid VideoLayout: region '{name}' needs video_sources")
    excluded = _strings(name, "video_sources_excluded", raw.get("video_sources_excluded", []))
    reuse = raw.get("reuse", "show_oldest")
    if reuse not in _REUSE:
        raise _bad(f"Invalid VideoLayout: region '{name}' reuse must be one of {_REUSE}")
    x = _int(name, "x_pos", raw.get("x_pos", 0), 0, comp_w - 16)
    y = _int(name, "y_pos", raw.get("y_pos", 0), 0, comp_h - 16)
    width = raw.get("width")
    height = raw.get("height")
    if width is not None:
        _int(name, "width", width, 16, comp_w - x)
    if height is not None:
        _int(name, "height", height, 16, comp_h - y)
    z = _int(name, "z_pos", raw.get("z_pos", 0), -99, 99)
    cols = raw.get("max_columns")
    rows = raw.get("max_rows")
    if cols is not None:
        _int(name, "max_columns", cols, 1, 1000)
    if rows is not None:
        _int(name, "max_rows", rows, 1, 1000)
    cells = raw.get("cells_excluded", [])
    if not isinstance(cells, list):
        raise _bad(f"Invalid VideoLayout: region '{name}' cells_excluded must be a list")
    for cell in cells:
        _int(name, "cells_excluded[]", cell, 0, 999_999)
    # Echoed the way Twilio stores a layout: unspecified numbers come back as 0.
    return {
        "video_sources": sources,
        "video_sources_excluded": excluded,
        "reuse": reuse,
        "x_pos": x,
        "y_pos": y,
        "z_pos": z,
        "width": width or 0,
        "height": height or 0,
        "max_columns": cols or 0,
        "max_rows": rows or 0,
        "cells_excluded": list(cells),
    }


def parse_video_layout(text: str, comp_w: int, comp_h: int) -> dict[str, Any]:
    """A ``VideoLayout`` form value: a JSON object of named regions."""
    try:
        layout = json.loads(text)
    except ValueError:
        raise _bad("Invalid VideoLayout: not a JSON object") from None
    if not isinstance(layout, dict):
        raise _bad("Invalid VideoLayout: not a JSON object")
    return {name: _region(name, raw, comp_w, comp_h) for name, raw in layout.items()}


def _parse_when(name: str, value: str) -> datetime:
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise _bad(f"Invalid {name} '{value}': expected an ISO 8601 date-time") from None
    if when.tzinfo is None:
        raise _bad(f"Invalid {name} '{value}': the date-time needs a time zone")
    return when


def _basic_credentials(header: str) -> tuple[str, str] | None:
    """``(user, password)`` from a ``Basic`` Authorization header, or None."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, colon, password = decoded.partition(":")
    return (user, password) if colon else None


def _first(params: list[tuple[str, str]], name: str) -> str | None:
    return next((v for k, v in params if k == name), None)


class TwilioAPI:
    """The Twilio Video v1 Compositions endpoints, backed by a ``Store``."""

    def __init__(
        self,
        store: Store,
        *,
        credentials: Mapping[str, str],
        signer: MediaSigner,
        on_created: Callable[[TwilioComposition], None],
    ) -> None:
        self.store = store
        self._credentials = dict(credentials)
        self._signer = signer
        self._on_created = on_created
        # The origin API URLs in bodies name (``url``, ``links``, ``meta`` page URLs);
        # None: the one the request was sent to. Media URLs always name the emulator.
        self.public_origin: str | None = None

    def routes(self) -> list[web.RouteDef]:
        """The aiohttp routes this API answers."""
        return [
            web.get("/v1/Compositions", self.list_compositions, allow_head=False),
            web.post("/v1/Compositions", self.create),
            web.get("/v1/Compositions/{sid}", self.fetch, allow_head=False),
            web.delete("/v1/Compositions/{sid}", self.delete),
            web.get("/v1/Compositions/{sid}/Media", self.media, allow_head=False),
            web.get("/_media/twilio/{account}/{name}", self.download),
        ]

    # -- helpers ---------------------------------------------------------------------------

    def _authenticate(self, request: web.Request) -> None:
        pair = _basic_credentials(request.headers.get(hdrs.AUTHORIZATION, ""))
        ok = False
        if pair is not None:
            expected = self._credentials.get(pair[0])
            ok = expected is not None and hmac.compare_digest(expected.encode(), pair[1].encode())
        if not ok:
            raise Problem(
                401,
                "Authenticate",
                code=20003,
                headers={"WWW-Authenticate": 'Basic realm="Twilio API"'},
            )

    def _record(self, request: web.Request) -> TwilioComposition:
        sid = request.match_info["sid"]
        record = self.store.twilio.get(sid) if _SID["CJ"].fullmatch(sid) else None
        if record is None:
            raise Problem(
                404, f"The requested resource /Compositions/{sid} was not found", code=20404
            )
        return record

    def _origin(self, request: web.Request) -> str:
        """Where the API URLs in a response body point."""
        return self.public_origin or self._own_origin(request)

    @staticmethod
    def _own_origin(request: web.Request) -> str:
        """The origin the request was sent to: this emulator."""
        return f"{request.scheme}://{request.host}"

    # -- handlers --------------------------------------------------------------------------

    async def create(self, request: web.Request) -> web.StreamResponse:
        """POST /v1/Compositions (form body, PascalCase): 201 with the composition."""
        self._authenticate(request)
        body = await request.read()
        params: list[tuple[str, str]] = []
        if request.content_type == _FORM:
            try:
                params = urllib.parse.parse_qsl(
                    body.decode("utf-8"), keep_blank_values=True, strict_parsing=False
                )
            except UnicodeDecodeError:
                raise _bad("The request body is not valid UTF-8") from None
        record = self._build(params)
        self.store.twilio[record.sid] = record
        self._on_created(record)
        return json_response(twilio_json(record, self._origin(request)), 201)

    def _build(self, params: list[tuple[str, str]]) -> TwilioComposition:
        room_sid = _first(params, "RoomSid")
        if not room_sid:
            raise _bad("Missing required parameter RoomSid in the post body")
        if not _SID["RM"].fullmatch(room_sid):
            raise _bad(f"Invalid RoomSid '{room_sid}'")
        resolution = _first(params, "Resolution") or "640x480"
        comp_w, comp_h = parse_resolution(resolution)
        audio = [v for k, v in params if k == "AudioSources"]
        excluded = [v for k, v in params if k == "AudioSourcesExcluded"]
        layout_text = _first(params, "VideoLayout")
        layout = parse_video_layout(layout_text, comp_w, comp_h) if layout_text else {}
        if not layout and not [a for a in audio if a]:
            raise _bad("Either VideoLayout or AudioSources must be provided")
        fmt = _first(params, "Format") or "webm"
        if fmt not in _FORMATS:
            raise _bad(f"Invalid Format '{fmt}': must be mp4 or webm")
        callback = _first(params, "StatusCallback") or None
        if callback is not None:
            parsed = urllib.parse.urlsplit(callback)
            if parsed.scheme not in ("http", "https") or not parsed.netloc:
                raise _bad(f"Invalid StatusCallback '{callback}': not an absolute URL")
        method = (_first(params, "StatusCallbackMethod") or "POST").upper()
        if method not in ("GET", "POST"):
            raise _bad("Invalid StatusCallbackMethod: must be GET or POST")
        trim_text = (_first(params, "Trim") or "true").lower()
        if trim_text not in ("true", "false"):
            raise _bad(f"Invalid Trim '{trim_text}': must be true or false")
        store = self.store
        return TwilioComposition(
            sid=store.new_sid("CJ"),
            account_sid=store.account_sid,
            room_sid=room_sid,
            date_created=store.clock(),
            audio_sources=audio,
            audio_sources_excluded=excluded,
            video_layout=layout,
            resolution=resolution,
            format=fmt,
            trim=trim_text == "true",
            status_callback=callback,
            status_callback_method=method,
            media_size=store.media_size,
            media_duration=store.new_duration(),
        )

    async def fetch(self, request: web.Request) -> web.StreamResponse:
        """GET /v1/Compositions/{Sid}."""
        self._authenticate(request)
        return json_response(twilio_json(self._record(request), self._origin(request)))

    async def delete(self, request: web.Request) -> web.StreamResponse:
        """DELETE /v1/Compositions/{Sid}: 204; the record stays with status ``deleted``."""
        self._authenticate(request)
        record = self._record(request)
        if record.status == DELETED:
            raise Problem(
                404,
                f"The requested resource /Compositions/{record.sid} was not found",
                code=20404,
            )
        if record.status == FAILED:
            raise _bad("Failed compositions cannot be deleted")
        record.status = DELETED
        record.date_deleted = self.store.clock()
        return web.Response(status=204)

    async def list_compositions(self, request: web.Request) -> web.StreamResponse:
        """GET /v1/Compositions with Twilio's filters and PageToken paging."""
        self._authenticate(request)
        query = listing_query(request, "Page", "PageToken")
        filters: list[tuple[str, str]] = []
        status = query.get("Status")
        if status is not None:
            if status not in _STATUSES:
                raise _bad(f"Invalid Status '{status}'")
            filters.append(("Status", status))
        room_sid = query.get("RoomSid")
        if room_sid is not None:
            if not _SID["RM"].fullmatch(room_sid):
                raise _bad(f"Invalid RoomSid '{room_sid}'")
            filters.append(("RoomSid", room_sid))
        after = before = None
        if "DateCreatedAfter" in query:
            after = _parse_when("DateCreatedAfter", query["DateCreatedAfter"])
            filters.append(("DateCreatedAfter", query["DateCreatedAfter"]))
        if "DateCreatedBefore" in query:
            before = _parse_when("DateCreatedBefore", query["DateCreatedBefore"])
            filters.append(("DateCreatedBefore", query["DateCreatedBefore"]))
        page_size = self._int_param(query.get("PageSize"), "PageSize", 1, 100, 50)
        # The Page number only labels a page (PageToken says where it starts): no maximum.
        page = self._int_param(query.get("Page"), "Page", 0, None, 0)
        token = query.get("PageToken")
        if page > 0 and not token:
            raise Problem(400, "Paged requests must include a PageToken", code=70002)

        def wanted(r: TwilioComposition) -> bool:
            if status is not None and r.status != status:
                return False
            # Deleted compositions appear only when asked for by status.
            if status is None and r.status == DELETED:
                return False
            if room_sid is not None and r.room_sid.lower() != room_sid.lower():
                return False
            if after is not None and r.date_created.replace(microsecond=0) < after:
                return False
            return before is None or r.date_created.replace(microsecond=0) < before

        matching = [r for r in self.store.twilio_listing() if wanted(r)]
        items = self._slice(matching, token, page_size)
        origin = self._origin(request)

        def page_url(number: int, page_token: str | None) -> str:
            pairs = [*filters, ("PageSize", str(page_size)), ("Page", str(number))]
            if page_token:
                pairs.append(("PageToken", page_token))
            return f"{origin}/v1/Compositions?{urllib.parse.urlencode(pairs)}"

        next_url = prev_url = None
        if items and matching.index(items[-1]) < len(matching) - 1:
            next_url = page_url(page + 1, f"PA{items[-1].sid}")
        if items and page > 0 and matching.index(items[0]) > 0:
            prev_url = page_url(page - 1, f"PB{items[0].sid}")
        body = {
            "compositions": [twilio_json(r, origin) for r in items],
            "meta": {
                "page": page,
                "page_size": page_size,
                "first_page_url": page_url(0, None),
                "previous_page_url": prev_url,
                "url": page_url(page, token),
                "next_page_url": next_url,
                "key": "compositions",
            },
        }
        return json_response(body)

    @staticmethod
    def _int_param(raw: str | None, name: str, low: int, high: int | None, default: int) -> int:
        """A decimal integer ``>= low`` (and ``<= high``, when the API sets a maximum)."""
        if raw is None:
            return default
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        shown = raw if len(raw) <= 40 else raw[:40] + "..."
        try:
            number = decimal_integer(raw)
        except TooManyDigits as exc:
            raise _bad(f"Invalid {name} '{shown}': must be an integer {bounds} ({exc})") from None
        if number is None or number < low or (high is not None and number > high):
            raise _bad(f"Invalid {name} '{shown}': must be an integer {bounds}")
        return number

    def _slice(
        self, matching: list[TwilioComposition], token: str | None, page_size: int
    ) -> list[TwilioComposition]:
        """The page a PageToken points at: after ``PA<sid>`` or before ``PB<sid>``."""
        if not token:
            return matching[:page_size]
        direction, sid = token[:2], token[2:]
        anchor = self.store.twilio.get(sid)
        if direction not in ("PA", "PB") or anchor is None:
            raise _bad(f"Invalid PageToken '{token}'")
        key = (anchor.date_created, anchor.sid)
        if direction == "PA":
            return [r for r in matching if (r.date_created, r.sid) < key][:page_size]
        earlier = [r for r in matching if (r.date_created, r.sid) > key]
        return earlier[-page_size:]

    # -- media -----------------------------------------------------------------------------

    async def media(self, request: web.Request) -> web.StreamResponse:
        """GET /v1/Compositions/{Sid}/Media: 302 to a pre-signed URL, also as ``redirect_to``."""
        self._authenticate(request)
        record = self._record(request)
        ttl = self._int_param(request.query.get("Ttl"), "Ttl", 1, 3600, 600)
        disposition = request.query.get("ContentDisposition")
        if disposition is None:
            disposition = f'attachment; filename="{record.sid}.{record.format}"'
        elif disposition.split(";", 1)[0].strip().lower() not in ("attachment", "inline"):
            raise _bad("Invalid ContentDisposition: must be attachment or inline")
        if record.status != COMPLETED:
            raise Problem(
                404,
                f"The requested resource /Compositions/{record.sid}/Media was not found",
                code=20404,
            )
        url = self.media_url(record, self._own_origin(request), ttl, disposition)
        return json_response({"redirect_to": url}, 302, headers={"Location": url})

    def media_url(self, record: TwilioComposition, origin: str, ttl: int, disposition: str) -> str:
        """A pre-signed download URL valid for ``ttl`` seconds, in the style of S3."""
        path = f"/_media/twilio/{record.account_sid}/{record.sid}.{record.format}"
        stamp = self.store.clock().astimezone(UTC).strftime(_AMZ_DATE)
        signature = self._signer.sign(path, stamp, str(ttl), disposition)
        query = urllib.parse.urlencode(
            [
                ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
                ("X-Amz-Date", stamp),
                ("X-Amz-Expires", str(ttl)),
                ("X-Amz-SignedHeaders", "host"),
                ("response-content-disposition", disposition),
                ("X-Amz-Signature", signature),
            ]
        )
        return f"{origin}{path}?{query}"

    async def download(self, request: web.Request) -> web.StreamResponse:
        """The pre-signed media URL: no Twilio credentials, expiring, Range-capable."""
        if hdrs.AUTHORIZATION in request.headers:
            # S3 refuses a pre-signed URL that also carries an Authorization header.
            raise Problem(400, "Only one auth mechanism allowed", code="InvalidArgument")
        query = request.query
        stamp = query.get("X-Amz-Date", "")
        expires = query.get("X-Amz-Expires", "")
        disposition = query.get("response-content-disposition", "")
        signature = query.get("X-Amz-Signature", "")
        if not self._signer.check(signature, request.path, stamp, expires, disposition):
            raise Problem(403, "The request signature does not match", code="SignatureDoesNotMatch")
        try:
            signed_at = datetime.strptime(stamp, _AMZ_DATE).replace(tzinfo=UTC)
        except ValueError:
            raise Problem(403, "Invalid X-Amz-Date", code="AccessDenied") from None
        if self.store.clock() > signed_at + timedelta(seconds=int(expires)):
            raise Problem(403, "Request has expired", code="AccessDenied")
        name = request.match_info["name"]
        record = self.store.twilio.get(name.partition(".")[0])
        if record is None or record.status != COMPLETED:
            raise Problem(404, "The specified key does not exist.", code="NoSuchKey")
        return await serve_media(
            request,
            record.media_key,
            record.media_size,
            content_type=f"video/{record.format}",
            headers={"Content-Disposition": disposition},
        )
