"""Realistic list pages for both providers, built from the providers' published examples."""

from __future__ import annotations

import copy
import json
from typing import Any

__all__ = [
    "TELNYX_RECORD",
    "TWILIO_RECORD",
    "telnyx_id",
    "telnyx_index",
    "telnyx_page",
    "telnyx_record",
    "twilio_index",
    "twilio_page",
    "twilio_record",
    "twilio_sid",
]

# Twilio's OpenAPI example of a fetched composition (twilio-oai, twilio_video_v1.json,
# GET /v1/Compositions/{Sid} "fetch" example), with every field it documents.
TWILIO_RECORD: dict[str, Any] = {
    "account_sid": "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "status": "completed",
    "date_created": "2015-07-30T20:00:00Z",
    "date_completed": "2015-07-30T20:01:33Z",
    "date_deleted": None,
    "sid": "CJaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "room_sid": "RMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "audio_sources": ["PAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "user*"],
    "audio_sources_excluded": ["RTaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"],
    "video_layout": {
        "grid": {
            "video_sources": ["*"],
            "video_sources_excluded": ["MTaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"],
            "reuse": "show_oldest",
            "x_pos": 100,
            "y_pos": 600,
            "z_pos": 10,
            "width": 0,
            "height": 0,
            "max_columns": 0,
            "max_rows": 0,
            "cells_excluded": [],
        },
        "pip": {
            "video_sources": ["RTaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab"],
            "video_sources_excluded": [],
            "reuse": "none",
            "x_pos": 100,
            "y_pos": 600,
            "z_pos": 10,
            "width": 0,
            "height": 0,
            "max_columns": 0,
            "max_rows": 0,
            "cells_excluded": [],
        },
    },
    "resolution": "1280x720",
    "format": "webm",
    "bitrate": 64,
    "size": 4,
    "duration": 6,
    "trim": True,
    "media_external_location": None,
    "url": "https://video.twilio.com/v1/Compositions/CJaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "status_callback": "https://mycallbackurl.com",
    "status_callback_method": "POST",
    "links": {
        "media": "https://video.twilio.com/v1/Compositions/CJaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Media"
    },
}

# Telnyx's OpenAPI example of a RoomComposition (team-telnyx/openapi spec3.json,
# components.schemas.RoomComposition.example).
TELNYX_RECORD: dict[str, Any] = {
    "completed_at": "2022-02-25T05:39:56.377426Z",
    "download_url": "https://example.com",
    "duration_secs": 84,
    "ended_at": "2022-02-24T23:22:24.577677Z",
    "format": "mp4",
    "id": "7103dc53-ee59-4b54-a58b-c77d99ceb037",
    "record_type": "composition",
    "resolution": "1280x720",
    "room_id": "f981dbb3-228a-44e9-ac54-e87f0e2658b0",
    "session_id": "8f728d7b-00e2-4c59-8c27-f564b828df87",
    "size_mb": 6,
    "started_at": "2022-02-24T23:21:00.077209Z",
    "status": "enqueued",
    "user_id": "12a04ec9-0f91-4a91-9f3a-a19d9931182e",
    "video_layout": {
        "first": {
            "height": 720,
            "video_sources": ["7b61621f-62e0-4aad-ab11-9fd19e272e73"],
            "width": 1280,
            "x_pos": 0,
            "y_pos": 0,
            "z_pos": 0,
        }
    },
    "webhook_event_url": "https://webhook.site/544663ce-b692-4f9c-80ed-e5ad97cd5c02",
}

_STATUSES = ("completed", "processing", "enqueued")


def twilio_sid(index: int) -> str:
    """The SID of the ``index``-th composition of a listing (unique, valid ``CJ`` + 32 hex)."""
    return f"CJ{index:032x}"


def telnyx_id(index: int) -> str:
    """The UUID of the ``index``-th room composition of a listing."""
    h = f"{index:032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def twilio_index(sid: str) -> int | None:
    """The listing index a SID encodes, if ``twilio_sid`` makes exactly that SID."""
    try:
        index = int(sid[2:], 16)
    except ValueError:
        return None
    return index if twilio_sid(index) == sid else None


def telnyx_index(id_: str) -> int | None:
    """The listing index an id encodes (its last 12 hex digits), if ``telnyx_id`` makes it."""
    try:
        index = int(id_[-12:], 16)
    except ValueError:
        return None
    return index if telnyx_id(index) == id_ else None


def twilio_record(index: int) -> dict[str, Any]:
    """One Twilio composition, distinct per index (dedupe-by-SID must keep every one)."""
    rec = copy.deepcopy(TWILIO_RECORD)
    sid = twilio_sid(index)
    rec["sid"] = sid
    rec["url"] = f"https://video.twilio.com/v1/Compositions/{sid}"
    rec["links"] = {"media": f"https://video.twilio.com/v1/Compositions/{sid}/Media"}
    rec["duration"] = 6 + index % 3600
    rec["size"] = 4 + index * 1024
    return rec


def telnyx_record(index: int) -> dict[str, Any]:
    """One Telnyx room composition, distinct per index."""
    rec = copy.deepcopy(TELNYX_RECORD)
    rec["id"] = telnyx_id(index)
    rec["status"] = _STATUSES[index % len(_STATUSES)]
    rec["duration_secs"] = 84 + index % 3600
    rec["size_mb"] = round(6 + index * 0.25, 2)
    return rec


def twilio_page(
    *, origin: str, collection_path: str, page: int, page_size: int, total: int
) -> bytes:
    """Page ``page`` (0-based) of a ``total``-record Twilio listing, as the API sends it."""
    start = page * page_size
    records = [twilio_record(i) for i in range(start, min(start + page_size, total))]
    base = f"{origin}{collection_path}"

    def url(n: int) -> str:
        # Later pages carry a PageToken, as Twilio's do; the server ignores it.
        token = f"&PageToken=PA{twilio_sid(n * page_size - 1)}" if n > 0 else ""
        return f"{base}?PageSize={page_size}&Page={n}{token}"

    has_next = start + page_size < total
    meta = {
        "page": page,
        "page_size": page_size,
        "first_page_url": url(0),
        "previous_page_url": url(page - 1) if page > 0 else None,
        "url": url(page),
        "next_page_url": url(page + 1) if has_next else None,
        "key": "compositions",
    }
    return json.dumps({"compositions": records, "meta": meta}).encode()


def telnyx_page(*, page_number: int, page_size: int, total: int) -> bytes:
    """Page ``page_number`` (1-based) of a ``total``-record Telnyx listing."""
    start = (page_number - 1) * page_size
    records = [telnyx_record(i) for i in range(start, min(start + page_size, total))]
    meta = {
        "page_number": page_number,
        "page_size": page_size,
        "total_pages": max(1, -(-total // page_size)),
        "total_results": total,
    }
    return json.dumps({"data": records, "meta": meta}).encode()
