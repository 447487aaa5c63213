"""The Telnyx dialect without I/O: request bytes, input checks, page and error parsing."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest
from multidict import CIMultiDict
from yarl import URL

from async_compositions import (
    APIError,
    AuthenticationError,
    BadRequestError,
    CompositionStatus,
    NotFoundError,
    RateLimitError,
    ResponseDecodeError,
    ServerError,
    UnprocessableEntityError,
)
from async_compositions._http import HttpResponse
from async_compositions.telnyx import VideoRegion
from async_compositions.telnyx._dialect import TelnyxDialect

BASE = URL("https://api.telnyx.com/v2")
ID = "7103dc53-ee59-4b54-a58b-c77d99ceb037"
SESSION = "0ccc7b54-4df3-4bca-a65a-3da1ecc777b0"
SOURCE = "7b61621f-62e0-4aad-ab11-9fd19e272e73"


@pytest.fixture
def dialect() -> TelnyxDialect:
    return TelnyxDialect(BASE)


def response(status: int, body: Any, headers: dict[str, str] | None = None) -> HttpResponse:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return HttpResponse(
        status=status,
        headers=CIMultiDict(headers or {}),
        body=raw,
        url=BASE / "room_compositions",
        # The transport reads the request id from the dialect's header.
        request_id=CIMultiDict(headers or {}).get("x-request-id"),
    )


def create(dialect: TelnyxDialect, **params: Any) -> Any:
    return dialect.create_request(params)


def parse_page(dialect: TelnyxDialect, resp: HttpResponse, number: int) -> Any:
    """A page as page() reads it: the batch, and its records decoded."""
    batch = dialect.listing({}, None).parse(resp, number)
    return batch, dialect.decode_batch(batch)


def page_body(n: int, total: int, ids: list[str] | None = None) -> dict[str, Any]:
    data = [{"id": i} for i in (ids or [])]
    meta = {"page_number": n, "page_size": 2, "total_pages": total, "total_results": 2 * total}
    return {"data": data, "meta": meta}


# -- create ---------------------------------------------------------------------------------


def test_create_body_matches_the_official_sdk_bytes(dialect: TelnyxDialect) -> None:
    # The body telnyx-python 4.189.0 sends for the same arguments (its own API test's values).
    request = create(
        dialect,
        session_id=SESSION,
        video_layout={
            "foo": {
                "height": 360,
                "max_columns": 3,
                "max_rows": 3,
                "video_sources": [SOURCE],
                "width": 480,
                "x_pos": 100,
                "y_pos": 100,
                "z_pos": 1,
            }
        },
        resolution="800x600",
        format="mp4",
        webhook_event_url="https://example.com",
        webhook_event_failover_url="https://failover.example.com",
        webhook_timeout_secs=25,
    )
    assert request.method == "POST"
    assert str(request.url) == "https://api.telnyx.com/v2/room_compositions"
    assert request.content_type == "application/json"
    assert request.idempotent is False
    assert 202 in request.expected
    assert request.body == (
        b'{"format":"mp4","resolution":"800x600",'
        b'"session_id":"0ccc7b54-4df3-4bca-a65a-3da1ecc777b0",'
        b'"video_layout":{"foo":{"height":360,"max_columns":3,"max_rows":3,'
        b'"video_sources":["7b61621f-62e0-4aad-ab11-9fd19e272e73"],'
        b'"width":480,"x_pos":100,"y_pos":100,"z_pos":1}},'
        b'"webhook_event_failover_url":"https://failover.example.com",'
        b'"webhook_event_url":"https://example.com","webhook_timeout_secs":25}'
    )


def test_create_omits_unset_fields(dialect: TelnyxDialect) -> None:
    assert dialect.create_request({}).body == b"{}"
    assert dialect.create_request({"session_id": SESSION}).body == (
        b'{"session_id":"0ccc7b54-4df3-4bca-a65a-3da1ecc777b0"}'
    )


def test_create_accepts_typed_regions_and_drops_their_unset_fields(
    dialect: TelnyxDialect,
) -> None:
    typed = create(
        dialect,
        video_layout={"main": VideoRegion(width=640, height=360, z_pos=-2, video_sources=["*"])},
    )
    assert typed.body == (
        b'{"video_layout":{"main":{"height":360,"video_sources":["*"],"width":640,"z_pos":-2}}}'
    )
    as_dict = create(
        dialect,
        video_layout={"main": {"height": 360, "video_sources": ["*"], "width": 640, "z_pos": -2}},
    )
    assert as_dict.body == typed.body


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"session_id": "not-a-uuid"}, ValueError),
        ({"session_id": f"{SESSION}/../x"}, ValueError),
        ({"session_id": 123}, TypeError),
        ({"resolution": "1280x721"}, ValueError),  # area above 1280*720
        ({"resolution": "1281x16"}, ValueError),
        ({"resolution": "15x100"}, ValueError),
        ({"resolution": "800 x 600"}, ValueError),
        ({"resolution": 800}, TypeError),
        ({"format": "webm"}, ValueError),
        ({"webhook_timeout_secs": 31}, ValueError),
        ({"webhook_timeout_secs": -1}, ValueError),
        ({"webhook_timeout_secs": True}, TypeError),
        ({"webhook_timeout_secs": "5"}, TypeError),
        ({"webhook_event_url": "example.com/hook"}, ValueError),
        ({"webhook_event_failover_url": "/relative"}, ValueError),
        ({"video_layout": [1, 2]}, TypeError),
        ({"video_layout": {"a": {"width": 15}}}, ValueError),
        ({"video_layout": {"a": {"height": 8}}}, ValueError),
        ({"video_layout": {"a": {"z_pos": 100}}}, ValueError),
        ({"video_layout": {"a": {"max_rows": 0}}}, ValueError),
        ({"video_layout": {"a": {"max_columns": 1001}}}, ValueError),
        ({"video_layout": {"a": {"x_pos": "0"}}}, TypeError),
        ({"video_layout": {"a": {"video_sources": "*"}}}, TypeError),
        ({"video_layout": {"a": {"reuse": "none"}}}, ValueError),  # a Twilio-only property
        ({"video_layout": {"a": VideoRegion(width=8)}}, ValueError),
        ({"video_layout": {"a": 5}}, TypeError),
    ],
)
def test_create_rejects_bad_input(
    dialect: TelnyxDialect, kwargs: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        dialect.create_request(kwargs)


@pytest.mark.parametrize("resolution", ["16x16", "1280x720", "720x1280", "960x960", "800x600"])
def test_resolutions_inside_the_limits_are_sent(dialect: TelnyxDialect, resolution: str) -> None:
    body = json.loads(dialect.create_request({"resolution": resolution}).body or b"")
    assert body == {"resolution": resolution}


# -- ids ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad", ["", "..", f"{ID}/x", f"../{ID}", f" {ID}", f"{ID} ", "a b", ID[:-1], ID + "0"]
)
def test_ids_must_be_uuids(dialect: TelnyxDialect, bad: str) -> None:
    with pytest.raises(ValueError):
        dialect.fetch_request(bad)
    with pytest.raises(ValueError):
        dialect.delete_request(bad)


def test_fetch_and_delete_urls(dialect: TelnyxDialect) -> None:
    fetch = dialect.fetch_request(ID)
    assert (fetch.method, str(fetch.url)) == ("GET", f"{BASE}/room_compositions/{ID}")
    delete = dialect.delete_request(ID)
    assert (delete.method, str(delete.url)) == ("DELETE", f"{BASE}/room_compositions/{ID}")
    assert 204 in delete.expected
    assert delete.idempotent is True


# -- list queries ---------------------------------------------------------------------------


def test_query_keys_are_percent_encoded_like_the_official_sdk(dialect: TelnyxDialect) -> None:
    # Request targets telnyx-python 4.189.0 sends for
    # list(filter={"date_created_at": {"eq":..., "gte":..., "lte":...}, "session_id":...,
    # "status": "completed"}, page_size=2): page 1 without page[number], page 2 with it.
    query = dialect.listing(
        {
            "status": "completed",
            "session_id": "92e7d459-bcc5-4386-9f5f-6dd14a82588d",
            "date_created_on": date(2024, 1, 2),
            "date_created_after": date(2024, 1, 2),
            "date_created_before": "2024-02-01",
        },
        2,
    )
    filters = (
        "filter%5Bdate_created_at%5D%5Beq%5D=2024-01-02"
        "&filter%5Bdate_created_at%5D%5Bgte%5D=2024-01-02"
        "&filter%5Bdate_created_at%5D%5Blte%5D=2024-02-01"
        "&filter%5Bsession_id%5D=92e7d459-bcc5-4386-9f5f-6dd14a82588d"
        "&filter%5Bstatus%5D=completed&page%5Bsize%5D=2"
    )
    assert query.request(1).url.raw_path_qs == f"/v2/room_compositions?{filters}"
    assert query.request(2).url.raw_path_qs == (
        f"/v2/room_compositions?{filters}&page%5Bnumber%5D=2"
    )


def test_query_without_filters(dialect: TelnyxDialect) -> None:
    query = dialect.listing({}, None)
    assert query.request(1).url.raw_path_qs == "/v2/room_compositions"
    assert query.request(7).url.raw_path_qs == ("/v2/room_compositions?page%5Bnumber%5D=7")


def test_status_filter_takes_the_enum(dialect: TelnyxDialect) -> None:
    query = dialect.listing({"status": CompositionStatus.PROCESSING}, None)
    assert query.request(1).url.raw_query_string == "filter%5Bstatus%5D=processing"


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"status": "done"}, ValueError),
        ({"status": "failed"}, ValueError),  # not a value the list filter accepts
        ({"status": 3}, TypeError),
        ({"session_id": "abc"}, ValueError),
        ({"date_created_on": "2024-1-2"}, ValueError),
        ({"date_created_on": "2024-02-30"}, ValueError),
        ({"date_created_after": datetime(2024, 1, 2, tzinfo=UTC)}, TypeError),
        ({"date_created_before": 20240102}, TypeError),
        ({"page_size": 0}, ValueError),
        ({"page_size": 251}, ValueError),
        ({"page_size": "20"}, TypeError),
    ],
)
def test_list_query_rejects_bad_input(
    dialect: TelnyxDialect, kwargs: dict[str, Any], error: type[Exception]
) -> None:
    page_size = kwargs.pop("page_size", None)
    with pytest.raises(error):
        dialect.listing(kwargs, page_size)


# -- pages ----------------------------------------------------------------------------------


def test_page_announces_the_later_page_numbers(dialect: TelnyxDialect) -> None:
    page, items = parse_page(dialect, response(200, page_body(2, 5, [ID])), 2)
    assert page.page_number == 2
    assert page.page_size == 2
    assert page.total_pages == 5
    assert page.total_results == 10
    assert page.next_page_number == 3
    assert page.following == (3, 4, 5)
    assert [c.id for c in items] == [ID]


def test_following_is_bounded_by_the_prefetch_depth(dialect: TelnyxDialect) -> None:
    page, _ = parse_page(dialect, response(200, page_body(1, 4000)), 1)
    assert page.following == tuple(range(2, 2 + dialect.max_prefetch))


@pytest.mark.parametrize(("number", "total"), [(3, 3), (4, 3), (1, 0), (1, 1)])
def test_last_page_has_no_next(dialect: TelnyxDialect, number: int, total: int) -> None:
    page, _ = parse_page(dialect, response(200, page_body(number, total)), number)
    assert page.following == ()
    assert page.next_page_number is None


def test_page_number_missing_from_meta_falls_back_to_the_request(dialect: TelnyxDialect) -> None:
    body = {"data": [], "meta": {"total_pages": 3}}
    page, _ = parse_page(dialect, response(200, body), 2)
    assert (page.page_number, page.following) == (2, (3,))


@pytest.mark.parametrize(
    "body",
    [
        {"data": [{"id": ID}]},  # no meta: would otherwise page forever
        {"data": [], "meta": None},
        {"data": [], "meta": {"page_number": 1}},  # no total_pages
        {"data": [], "meta": {"page_number": 1, "total_pages": "3"}},
        {"data": [], "meta": {"page_number": 1, "total_pages": True}},
        {"meta": {"page_number": 1, "total_pages": 1}},  # no data
        {"data": {"id": ID}, "meta": {"page_number": 1, "total_pages": 1}},
        [{"id": ID}],
    ],
)
def test_malformed_list_responses_raise(dialect: TelnyxDialect, body: Any) -> None:
    with pytest.raises(ResponseDecodeError) as info:
        parse_page(dialect, response(200, body, {"x-request-id": "r1"}), 1)
    assert (info.value.status, info.value.request_id) == (200, "r1")
    assert info.value.body == json.dumps(body)


@pytest.mark.parametrize(
    "record",
    [{"id": ID, "created_at": "yesterday"}, {"status": "completed"}, "x"],  # bad date, no id
)
def test_a_record_that_does_not_decode_is_quoted(dialect: TelnyxDialect, record: Any) -> None:
    body = {"data": [record], "meta": {"total_pages": 1}}
    with pytest.raises(ResponseDecodeError) as info:
        parse_page(dialect, response(200, body, {"x-request-id": "r1"}), 1)
    assert (info.value.status, info.value.request_id) == (200, "r1")
    assert info.value.body == json.dumps(record)


def test_non_json_list_response_raises(dialect: TelnyxDialect) -> None:
    with pytest.raises(ResponseDecodeError):
        parse_page(dialect, response(200, b"<html>gateway</html>"), 1)


@pytest.mark.parametrize("body", [{"id": ID}, {"data": None}, {"data": [{"id": ID}]}, [1]])
def test_item_responses_need_a_data_object(dialect: TelnyxDialect, body: Any) -> None:
    with pytest.raises(ResponseDecodeError):
        dialect.parse_item(response(200, body))


def test_unknown_fields_and_status_are_tolerated(dialect: TelnyxDialect) -> None:
    item = dialect.parse_item(
        response(200, {"data": {"id": ID, "status": "archived", "new_field": {"x": 1}}})
    )
    assert item.status == "archived"
    assert item.status is not None and not item.status.is_known
    assert item.id == ID


def test_item_key_is_the_id(dialect: TelnyxDialect) -> None:
    item = dialect.parse_item(response(200, {"data": {"id": ID}}))
    assert dialect.item_key(item) == ID


# -- errors ---------------------------------------------------------------------------------


def test_errors_envelope_keeps_every_error(dialect: TelnyxDialect) -> None:
    body = {
        "errors": [
            {
                "code": "10015",
                "title": "Bad Request",
                "detail": "The resolution is out of range.",
                "source": {"pointer": "/resolution"},
            },
            {"code": "10004", "title": "Missing required parameter", "detail": "session_id"},
        ]
    }
    error = dialect.parse_error(response(422, body, {"X-Request-Id": "abc-123"}))
    assert type(error) is UnprocessableEntityError
    assert error.status == 422
    assert error.code == "10015"
    assert error.errors == body["errors"]
    assert error.request_id == "abc-123"
    assert error.body == json.dumps(body)
    assert "The resolution is out of range." in error.message
    assert "/resolution" in error.message
    assert "The resolution is out of range. (pointer /resolution)" in str(error)


def test_source_parameter_is_named_when_there_is_no_pointer(dialect: TelnyxDialect) -> None:
    body = {"errors": [{"code": "10015", "title": "Bad", "source": {"parameter": "page[size]"}}]}
    error = dialect.parse_error(response(400, body))
    assert type(error) is BadRequestError
    assert error.message == "Bad (parameter page[size])"


def test_bare_error_object(dialect: TelnyxDialect) -> None:
    body = {"code": "10005", "title": "Resource not found", "detail": "Not here."}
    error = dialect.parse_error(response(404, body))
    assert type(error) is NotFoundError
    assert error.code == "10005"
    assert error.errors == [body]
    assert error.message == "Not here."


def test_success_message_shape(dialect: TelnyxDialect) -> None:
    error = dialect.parse_error(response(401, {"success": False, "message": "Unauthorized"}))
    assert type(error) is AuthenticationError
    assert error.message == "Unauthorized"
    assert error.code is None
    assert error.errors == []


@pytest.mark.parametrize(
    ("status", "cls"),
    [(429, RateLimitError), (502, ServerError), (418, APIError), (404, NotFoundError)],
)
def test_non_json_errors_map_by_status(
    dialect: TelnyxDialect, status: int, cls: type[APIError]
) -> None:
    error = dialect.parse_error(response(status, b"<html>Bad Gateway</html>"))
    assert type(error) is cls
    assert error.status == status
    assert error.message == "<html>Bad Gateway</html>"
    assert error.errors == []


def test_empty_error_body(dialect: TelnyxDialect) -> None:
    error = dialect.parse_error(response(503, b""))
    assert type(error) is ServerError
    assert error.message == "HTTP 503"
