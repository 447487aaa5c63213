"""Telnyx ``/v2/room_compositions`` handlers (aiohttp.web), written from the wire spec."""

from __future__ import annotations

import hmac
import json
import math
import re
from collections.abc import Callable
from datetime import date
from typing import Any

from aiohttp import hdrs, web

from ._errors import Problem, json_response
from ._media import MediaSigner, serve_media
from ._params import TooManyDigits, decimal_integer, listing_query
from ._store import COMPLETED, Store, TelnyxComposition, telnyx_time

__all__ = ["TelnyxAPI", "json_pointer", "telnyx_json"]

_LIST_STATUSES = ("completed", "processing", "enqueued")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_MAX_REGIONS = 2


def is_uuid(value: object) -> bool:
    """True for a hyphenated UUID string."""
    return isinstance(value, str) and _UUID.fullmatch(value) is not None


def telnyx_json(record: TelnyxComposition, download_url: str | None) -> dict[str, Any]:
    """The ``RoomComposition`` JSON of ``record``."""
    return {
        "id": record.id,
        "room_id": record.room_id,
        "session_id": record.session_id,
        "user_id": record.user_id,
        "status": record.status,
        "format": record.format,
        "resolution": record.resolution,
        "size_mb": record.size_mb,
        "duration_secs": record.duration_secs,
        "download_url": download_url,
        "created_at": telnyx_time(record.created_at),
        "updated_at": telnyx_time(record.updated_at or record.created_at),
        "started_at": telnyx_time(record.started_at),
        "ended_at": telnyx_time(record.ended_at),
        "completed_at": telnyx_time(record.completed_at),
        "video_layout": json.loads(json.dumps(record.video_layout)),
        "webhook_event_url": record.webhook_event_url,
        "webhook_event_failover_url": record.webhook_event_failover_url,
        "webhook_timeout_secs": record.webhook_timeout_secs,
        "record_type": "composition",
    }


def json_pointer(*tokens: str) -> str:
    """An RFC 6901 JSON Pointer to ``tokens``: ``~`` becomes ``~0``, then ``/`` ``~1``."""
    return "".join("/" + token.replace("~", "~0").replace("/", "~1") for token in tokens)


def _invalid(pointer: str, detail: str, code: str = "10015") -> Problem:
    return Problem(422, detail, code=code, title="Invalid parameter", pointer=pointer)


def _query_error(parameter: str, detail: str) -> Problem:
    return Problem(400, detail, code="10015", parameter=parameter)


def _is_url(value: object) -> bool:
    if not isinstance(value, str):
        return False
    return re.fullmatch(r"https?://[^\s/?#]+[^\s]*", value) is not None


def _check_resolution(value: object, errors: list[Problem]) -> str:
    match = re.fullmatch(r"(\d{1,5})x(\d{1,5})", value) if isinstance(value, str) else None
    if match is not None:
        width, height = int(match[1]), int(match[2])
        if 16 <= width <= 1280 and 16 <= height <= 1280 and width * height <= 1280 * 720:
            return f"{width}x{height}"
    errors.append(
        _invalid(
            "/resolution",
            "resolution must be '<width>x<height>' with both between 16 and 1280 and "
            "width * height not exceeding 1280 * 720",
        )
    )
    return "1280x720"


def _check_region(name: str, raw: object, errors: list[Problem]) -> dict[str, Any]:
    # The region's name is one pointer token, escaped: "a/b~c" is /video_layout/a~1b~0c.
    pointer = json_pointer("video_layout", name)
    if not isinstance(raw, dict):
        errors.append(_invalid(pointer, "a video region must be an object"))
        return {}
    region: dict[str, Any] = {"x_pos": 0, "y_pos": 0, "z_pos": 0}
    limits: dict[str, tuple[int | None, int | None]] = {
        "x_pos": (0, None),
        "y_pos": (0, None),
        "z_pos": (-99, 99),
        "width": (16, None),
        "height": (16, None),
        "max_columns": (1, 1000),
        "max_rows": (1, 1000),
    }
    for key, (low, high) in limits.items():
        value = raw.get(key)
        if value is None:
            continue
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or (low is not None and value < low)
            or (high is not None and value > high)
        ):
            bounds = f" between {low} and {high}" if high is not None else f" >= {low}"
            errors.append(
                _invalid(pointer + json_pointer(key), f"{key} must be an integer{bounds}")
            )
            continue
        region[key] = value
    sources = raw.get("video_sources")
    if sources is not None:
        if not isinstance(sources, list) or not all(isinstance(s, str) and s for s in sources):
            errors.append(
                _invalid(
                    pointer + json_pointer("video_sources"),
                    "video_sources must be a list of ids or '*'",
                )
            )
        else:
            region["video_sources"] = list(sources)
    return region


def parse_create(body: object, errors: list[Problem]) -> dict[str, Any]:
    """Check a CreateRoomCompositionRequest; problems are appended to ``errors``."""
    if not isinstance(body, dict):
        raise Problem(400, "The request body must be a JSON object", code="10015")
    out: dict[str, Any] = {}
    session_id = body.get("session_id")
    if session_id is None:
        errors.append(_invalid("/session_id", "session_id is required", code="10004"))
    elif not is_uuid(session_id):
        errors.append(_invalid("/session_id", "session_id must be a UUID"))
    out["session_id"] = session_id
    fmt = body.get("format")
    if fmt is not None and fmt != "mp4":
        errors.append(_invalid("/format", "format must be 'mp4'"))
    out["format"] = "mp4"
    resolution = body.get("resolution")
    out["resolution"] = "1280x720" if resolution is None else _check_resolution(resolution, errors)
    layout = body.get("video_layout")
    regions: dict[str, Any] = {}
    if layout is not None:
        if not isinstance(layout, dict):
            errors.append(_invalid("/video_layout", "video_layout must be an object"))
        elif len(layout) > _MAX_REGIONS:
            errors.append(
                _invalid("/video_layout", f"video_layout is limited to {_MAX_REGIONS} regions")
            )
        else:
            regions = {str(k): _check_region(str(k), v, errors) for k, v in layout.items()}
    out["video_layout"] = regions
    url = body.get("webhook_event_url")
    if url is not None and not _is_url(url):
        errors.append(
            _invalid("/webhook_event_url", "webhook_event_url must be a URL with a scheme", "10003")
        )
    out["webhook_event_url"] = url
    failover = body.get("webhook_event_failover_url", "")
    if failover not in (None, "") and not _is_url(failover):
        errors.append(
            _invalid(
                "/webhook_event_failover_url",
                "webhook_event_failover_url must be a URL with a scheme",
                "10003",
            )
        )
    out["webhook_event_failover_url"] = failover
    timeout = body.get("webhook_timeout_secs")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, int) or not 0 <= timeout <= 30
    ):
        errors.append(
            _invalid("/webhook_timeout_secs", "webhook_timeout_secs must be between 0 and 30")
        )
    out["webhook_timeout_secs"] = timeout
    return out


class TelnyxAPI:
    """The Telnyx Room Compositions endpoints, backed by a ``Store``."""

    def __init__(
        self,
        store: Store,
        *,
        api_key: str,
        signer: MediaSigner,
        on_created: Callable[[TelnyxComposition], None],
        download_url_ttl: float = 600.0,
    ) -> None:
        self.store = store
        self._api_key = api_key
        self._signer = signer
        self._on_created = on_created
        # How long a download_url works, like the pre-signed S3 URLs Telnyx hands out.
        self.download_url_ttl = download_url_ttl

    def routes(self) -> list[web.RouteDef]:
        """The aiohttp routes this API answers."""
        return [
            web.get("/v2/room_compositions", self.list_compositions, allow_head=False),
            web.post("/v2/room_compositions", self.create),
            web.get("/v2/room_compositions/{id}", self.fetch, allow_head=False),
            web.delete("/v2/room_compositions/{id}", self.delete),
            web.get("/_media/telnyx/{name}", self.download),
        ]

    # -- helpers ---------------------------------------------------------------------------

    def _authenticate(self, request: web.Request) -> None:
        scheme, _, token = request.headers.get(hdrs.AUTHORIZATION, "").partition(" ")
        ok = scheme.lower() == "bearer" and hmac.compare_digest(
            token.strip().encode(), self._api_key.encode()
        )
        if not ok:
            raise Problem(401, code="10009")

    def _record(self, request: web.Request) -> TelnyxComposition:
        id = request.match_info["id"]
        if not is_uuid(id):
            raise Problem(400, "The resource ID provided was invalid.", code="10006")
        record = self.store.telnyx.get(id.lower())
        if record is None:
            raise Problem(404, code="10005")
        return record

    def download_url(self, record: TelnyxComposition, origin: str) -> str | None:
        """Where the media can be fetched without credentials, once completed."""
        if record.status != COMPLETED:
            return None
        # The same URL until half its lifetime has passed, as a provider caching pre-signed
        # URLs would: two reads of a record agree, and a URL handed out stays valid a while.
        now = self.store.clock().timestamp()
        if record.url_expires - now < self.download_url_ttl / 2:
            record.url_expires = int(now + self.download_url_ttl)
        expires = str(record.url_expires)
        token = self._signer.sign("telnyx", record.id, expires)
        name = f"{record.id}.{record.format}"
        return f"{origin}/_media/telnyx/{name}?expires={expires}&token={token}"

    def _json(self, record: TelnyxComposition, request: web.Request) -> dict[str, Any]:
        origin = f"{request.scheme}://{request.host}"
        return telnyx_json(record, self.download_url(record, origin))

    # -- handlers --------------------------------------------------------------------------

    async def create(self, request: web.Request) -> web.StreamResponse:
        """POST /v2/room_compositions (JSON): 202 with ``{"data": ...}``."""
        self._authenticate(request)
        raw = await request.read()
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError:
            raise Problem(400, "The request body is not valid JSON", code="10015") from None
        errors: list[Problem] = []
        fields = parse_create(body, errors)
        if errors:
            first, *rest = errors
            first.also = rest
            raise first
        store = self.store
        session_id = str(fields["session_id"]).lower()
        record = TelnyxComposition(
            id=store.new_uuid(),
            room_id=store.room_for_session(session_id),
            session_id=session_id,
            user_id=store.user_id,
            format=fields["format"],
            resolution=fields["resolution"],
            video_layout=fields["video_layout"],
            webhook_event_url=fields["webhook_event_url"],
            webhook_event_failover_url=fields["webhook_event_failover_url"],
            webhook_timeout_secs=fields["webhook_timeout_secs"],
            created_at=store.clock(),
            media_size=store.media_size,
            media_duration=store.new_duration(),
        )
        store.telnyx[record.id] = record
        self._on_created(record)
        return json_response({"data": self._json(record, request)}, 202)

    async def fetch(self, request: web.Request) -> web.StreamResponse:
        """GET /v2/room_compositions/{id}."""
        self._authenticate(request)
        return json_response({"data": self._json(self._record(request), request)})

    async def delete(self, request: web.Request) -> web.StreamResponse:
        """DELETE /v2/room_compositions/{id}: 204, and the composition is gone."""
        self._authenticate(request)
        record = self._record(request)
        del self.store.telnyx[record.id]
        return web.Response(status=204)

    async def list_compositions(self, request: web.Request) -> web.StreamResponse:
        """GET /v2/room_compositions with ``filter[...]`` and ``page[...]``."""
        self._authenticate(request)
        query = listing_query(request, "page[number]")
        size = self._page_param(query.get("page[size]"), "page[size]", 250, 20)
        number = self._page_param(query.get("page[number]"), "page[number]", None, 1)
        status = query.get("filter[status]")
        if status is not None and status not in _LIST_STATUSES:
            raise _query_error(
                "filter[status]", f"filter[status] must be one of {', '.join(_LIST_STATUSES)}"
            )
        session_id = query.get("filter[session_id]")
        if session_id is not None and not is_uuid(session_id):
            raise _query_error("filter[session_id]", "filter[session_id] must be a UUID")
        bounds: dict[str, date] = {}
        for op in ("eq", "gte", "lte"):
            name = f"filter[date_created_at][{op}]"
            raw = query.get(name)
            if raw is None:
                continue
            try:
                if not _DATE.fullmatch(raw):
                    raise ValueError(raw)
                bounds[op] = date.fromisoformat(raw)
            except ValueError:
                raise _query_error(name, f"{name} must be a date (YYYY-MM-DD)") from None

        def wanted(r: TelnyxComposition) -> bool:
            day = r.created_at.date()
            return (
                (status is None or r.status == status)
                and (session_id is None or r.session_id == session_id.lower())
                and ("eq" not in bounds or day == bounds["eq"])
                and ("gte" not in bounds or day >= bounds["gte"])
                and ("lte" not in bounds or day <= bounds["lte"])
            )

        matching = [r for r in self.store.telnyx_listing() if wanted(r)]
        items = matching[(number - 1) * size : number * size]
        body = {
            "data": [self._json(r, request) for r in items],
            "meta": {
                "page_number": number,
                "page_size": size,
                "total_pages": math.ceil(len(matching) / size),
                "total_results": len(matching),
            },
        }
        return json_response(body)

    @staticmethod
    def _page_param(raw: str | None, name: str, high: int | None, default: int) -> int:
        """A positive decimal integer; Telnyx documents no maximum for ``page[number]``."""
        if raw is None:
            return default
        limit = f"between 1 and {high}" if high is not None else "at least 1"
        try:
            number = decimal_integer(raw)
        except TooManyDigits as exc:
            raise _query_error(name, f"{name} must be an integer {limit} ({exc})") from None
        if number is None or number < 1 or (high is not None and number > high):
            raise _query_error(name, f"{name} must be an integer {limit}")
        return number

    async def download(self, request: web.Request) -> web.StreamResponse:
        """The ``download_url``: no credentials needed, Range-capable."""
        name = request.match_info["name"]
        id, _, _ = name.partition(".")
        record = self.store.telnyx.get(id)
        token = request.query.get("token", "")
        expires = request.query.get("expires", "")
        if not self._signer.check(token, "telnyx", id, expires):
            raise Problem(403, "Access denied", code="AccessDenied")
        if not expires.isdigit() or self.store.clock().timestamp() > int(expires):
            raise Problem(403, "Request has expired", code="AccessDenied")
        if record is None or record.status != COMPLETED:
            raise Problem(404, "The specified key does not exist.", code="NoSuchKey")
        return await serve_media(
            request,
            record.media_key,
            record.media_size,
            content_type="video/mp4",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
