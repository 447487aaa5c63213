"""The exception hierarchy, status mapping, messages and pickling."""

from __future__ import annotations

import pickle

import pytest

import async_compositions
from async_compositions import errors
from async_compositions.errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    CompositionsError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResponseDecodeError,
    ServerError,
    UnprocessableEntityError,
    error_class_for_status,
)


def _exported_error_classes() -> list[type[BaseException]]:
    found = [getattr(errors, name) for name in errors.__all__]
    return [obj for obj in found if isinstance(obj, type) and issubclass(obj, BaseException)]


def test_every_error_class_is_a_compositions_error() -> None:
    classes = _exported_error_classes()
    assert len(classes) >= 13
    for cls in classes:
        assert issubclass(cls, CompositionsError), cls


def test_timeouts_are_connection_errors() -> None:
    assert issubclass(APITimeoutError, APIConnectionError)
    assert not issubclass(APIConnectionError, APIError)


@pytest.mark.parametrize(
    "cls",
    [
        BadRequestError,
        AuthenticationError,
        PermissionDeniedError,
        NotFoundError,
        ConflictError,
        UnprocessableEntityError,
        RateLimitError,
        ServerError,
    ],
)
def test_status_errors_are_api_errors(cls: type[APIError]) -> None:
    assert issubclass(cls, APIError)


def test_public_names_are_the_same_objects() -> None:
    for name in ("APIError", "RateLimitError", "ResponseDecodeError", "APITimeoutError"):
        assert getattr(async_compositions, name) is getattr(errors, name)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (422, UnprocessableEntityError),
        (429, RateLimitError),
        (500, ServerError),
        (502, ServerError),
        (503, ServerError),
        (504, ServerError),
        (599, ServerError),
        (402, APIError),
        (405, APIError),
        (410, APIError),
        (418, APIError),
    ],
)
def test_error_class_for_status(status: int, cls: type[APIError]) -> None:
    assert error_class_for_status(status) is cls


def _full_error() -> NotFoundError:
    return NotFoundError(
        "The requested resource was not found",
        status=404,
        code=20404,
        request_id="RQ123",
        more_info="https://www.twilio.com/docs/errors/20404",
        body='{"code": 20404}',
        errors=[{"code": "10005", "title": "Resource not found"}],
        retry_after=None,
    )


def test_api_error_attributes() -> None:
    err = _full_error()
    assert err.status == 404
    assert err.code == 20404
    assert err.message == "The requested resource was not found"
    assert err.request_id == "RQ123"
    assert err.more_info == "https://www.twilio.com/docs/errors/20404"
    assert err.body == '{"code": 20404}'
    assert err.errors == [{"code": "10005", "title": "Resource not found"}]
    assert err.retry_after is None


def test_api_error_str_names_status_code_message_and_request_id() -> None:
    assert str(_full_error()) == (
        "HTTP 404 code 20404: The requested resource was not found (request id RQ123)"
    )


def test_api_error_str_without_code_or_request_id() -> None:
    err = ServerError("upstream failed", status=503)
    assert str(err) == "HTTP 503: upstream failed"
    assert err.code is None
    assert err.request_id is None
    assert err.body == ""
    assert err.errors == []


def test_errors_lists_are_not_shared_between_instances() -> None:
    first = APIError("a", status=400)
    first.errors.append({"x": 1})
    assert APIError("b", status=400).errors == []


def test_rate_limit_error_carries_retry_after() -> None:
    err = RateLimitError("slow down", status=429, retry_after=12.5)
    assert err.retry_after == 12.5


@pytest.mark.parametrize("cls", [APIError, NotFoundError, RateLimitError, ServerError])
def test_api_error_pickles_with_every_attribute(cls: type[APIError]) -> None:
    err = cls(
        "boom",
        status=429,
        code="rate_limited",
        request_id="req-1",
        more_info="https://example.com/e",
        body="{}",
        errors=[{"code": "1"}],
        retry_after=3.0,
    )
    copy = pickle.loads(pickle.dumps(err))
    assert type(copy) is cls
    assert str(copy) == str(err)
    assert copy.args == err.args
    for attr in (
        "message",
        "status",
        "code",
        "request_id",
        "more_info",
        "body",
        "errors",
        "retry_after",
    ):
        assert getattr(copy, attr) == getattr(err, attr), attr


def test_connection_errors_pickle_with_their_attributes() -> None:
    for cls in (APIConnectionError, APITimeoutError):
        err = cls("request timed out", method="GET", url="https://h/x", before_send=True)
        copy = pickle.loads(pickle.dumps(err))
        assert type(copy) is cls
        assert str(copy) == "request timed out"
        assert (copy.method, copy.url, copy.before_send) == ("GET", "https://h/x", True)


def test_connection_error_defaults_to_possibly_sent() -> None:
    assert APIConnectionError("x").before_send is False


def test_response_decode_error_quotes_the_start_of_the_body() -> None:
    body = "<html>" + "x" * 500
    err = ResponseDecodeError("HTTP 200 body is not valid JSON", status=200, body=body)
    text = str(err)
    assert text.startswith("HTTP 200 body is not valid JSON: '<html>xxx")
    # An excerpt, not the whole body; the whole body stays on the attribute.
    assert len(text) < 300
    assert err.body == body
    assert err.status == 200
    assert err.message == "HTTP 200 body is not valid JSON"


def test_response_decode_error_masks_presigned_url_credentials_in_its_excerpt() -> None:
    url = "https://media.example.com/c.mp4?X-Amz-Credential=AKIAEXAMPLE&X-Amz-Signature=0ddba11"
    body = '{"download_url": "' + url + '", "size_mb": "six"}'
    err = ResponseDecodeError("room composition did not decode", status=200, body=body)
    for text in (str(err), repr(err)):
        assert "AKIAEXAMPLE" not in text and "0ddba11" not in text
        assert "X-Amz-Credential=***&X-Amz-Signature=***" in text
        assert '"size_mb": "six"' in text  # the rest of the excerpt is intact
    assert err.body == body  # the attribute keeps what the server sent


def test_response_decode_error_without_body_is_just_the_message() -> None:
    assert str(ResponseDecodeError("no next page")) == "no next page"


def test_response_decode_error_pickles() -> None:
    err = ResponseDecodeError("bad", status=502, body="oops", request_id="r1")
    copy = pickle.loads(pickle.dumps(err))
    assert str(copy) == str(err)
    assert (copy.message, copy.status, copy.body, copy.request_id) == ("bad", 502, "oops", "r1")
