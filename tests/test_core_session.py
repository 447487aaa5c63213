"""SessionManager and Transport: the session, its loop, retries, failures and logging."""

from __future__ import annotations

import asyncio
import logging
import types
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from helpers import basic_auth, unused_port
from yarl import URL

from async_compositions import _attempts
from async_compositions._http import HttpRequest, HttpResponse
from async_compositions._log import redact_url
from async_compositions._session import SessionManager
from async_compositions._transport import Transport
from async_compositions.emulator import Emulator
from async_compositions.errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    NotFoundError,
    RateLimitError,
    ServerError,
    error_class_for_status,
)
from async_compositions.retry import RetryPolicy


def test_constructing_outside_a_loop_creates_nothing() -> None:
    manager = SessionManager()
    assert not manager.closed
    with pytest.raises(RuntimeError, match="inside a running event loop"):
        manager.get()


async def test_session_is_created_lazily_and_reused() -> None:
    manager = SessionManager()
    session = manager.get()
    try:
        assert isinstance(session, aiohttp.ClientSession)
        assert not session.closed
        assert manager.get() is session
    finally:
        await manager.aclose()
    assert session.closed
    assert manager.closed


@pytest.mark.parametrize("pool_size", [0, 1, 7, 100])
async def test_pool_size_reaches_the_connector(pool_size: int) -> None:
    manager = SessionManager(pool_size=pool_size)
    try:
        connector = manager.get().connector
        assert isinstance(connector, aiohttp.TCPConnector)
        assert connector.limit == pool_size
    finally:
        await manager.aclose()


def test_default_pool_size() -> None:
    async def run() -> int:
        manager = SessionManager()
        try:
            connector = manager.get().connector
            assert connector is not None
            return connector.limit
        finally:
            await manager.aclose()

    assert asyncio.run(run()) == 100


@pytest.mark.parametrize("bad", [True, 1.5, "10", None])
def test_pool_size_of_the_wrong_type_is_a_type_error(bad: object) -> None:
    with pytest.raises(TypeError, match="pool_size"):
        SessionManager(pool_size=bad)  # type: ignore[arg-type]


def test_negative_pool_size_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="pool_size"):
        SessionManager(pool_size=-1)


def test_session_must_be_an_aiohttp_session() -> None:
    with pytest.raises(TypeError, match=r"aiohttp\.ClientSession"):
        SessionManager(session=object())  # type: ignore[arg-type]


async def test_borrowed_session_is_used_and_never_closed() -> None:
    async with aiohttp.ClientSession() as borrowed:
        manager = SessionManager(session=borrowed)
        assert manager.get() is borrowed
        await manager.aclose()
        assert manager.closed
        assert not borrowed.closed


async def test_closed_borrowed_session_is_a_clear_error() -> None:
    borrowed = aiohttp.ClientSession()
    await borrowed.close()
    manager = SessionManager(session=borrowed)
    with pytest.raises(RuntimeError, match="passed as session= has been closed"):
        manager.get()
    await manager.aclose()


async def test_aclose_is_idempotent() -> None:
    manager = SessionManager()
    session = manager.get()
    await manager.aclose()
    await manager.aclose()
    assert session.closed
    assert manager.closed


async def test_aclose_without_use_is_fine() -> None:
    manager = SessionManager()
    await manager.aclose()
    assert manager.closed


async def test_get_after_aclose_is_a_clear_error() -> None:
    manager = SessionManager()
    manager.get()
    await manager.aclose()
    with pytest.raises(RuntimeError, match="client is closed; create a new client"):
        manager.get()


def test_use_from_a_second_event_loop_is_refused() -> None:
    manager = SessionManager()
    first = asyncio.new_event_loop()
    second = asyncio.new_event_loop()

    async def use() -> aiohttp.ClientSession:
        return manager.get()

    try:
        session = first.run_until_complete(use())
        with pytest.raises(RuntimeError, match="bound to the event loop it was first used in"):
            second.run_until_complete(use())
        # The first loop still works and the session was not replaced.
        assert first.run_until_complete(use()) is session
        first.run_until_complete(manager.aclose())
        assert session.closed
    finally:
        first.close()
        second.close()


def test_spawn_from_a_second_event_loop_is_refused_without_warnings() -> None:
    manager = SessionManager()
    first = asyncio.new_event_loop()
    second = asyncio.new_event_loop()
    ran: list[str] = []

    async def job() -> None:
        ran.append("job")

    async def spawn_one() -> None:
        await manager.spawn(job())

    try:
        first.run_until_complete(spawn_one())
        with pytest.raises(RuntimeError, match="bound to the event loop"):
            second.run_until_complete(spawn_one())
        first.run_until_complete(manager.aclose())
    finally:
        first.close()
        second.close()
    # The refused coroutine never ran (and, under -W error, was closed without a warning).
    assert ran == ["job"]


async def test_spawn_after_aclose_is_refused_without_warnings() -> None:
    manager = SessionManager()
    await manager.aclose()
    ran: list[str] = []

    async def job() -> None:
        ran.append("job")

    with pytest.raises(RuntimeError, match="client is closed"):
        manager.spawn(job())
    assert ran == []


async def test_spawned_task_runs_and_returns() -> None:
    manager = SessionManager()

    async def job() -> int:
        return 42

    try:
        assert await manager.spawn(job()) == 42
    finally:
        await manager.aclose()


async def test_aclose_cancels_and_awaits_spawned_tasks() -> None:
    manager = SessionManager()
    started = asyncio.Event()
    never = asyncio.Event()
    cleaned_up: list[int] = []

    async def job(n: int) -> None:
        try:
            started.set()
            await never.wait()
        finally:
            # Runs only if aclose() awaited the cancelled task.
            cleaned_up.append(n)

    tasks = [manager.spawn(job(n)) for n in range(3)]
    await started.wait()
    finished = manager.spawn(asyncio.sleep(0))
    await finished
    await manager.aclose()
    assert sorted(cleaned_up) == [0, 1, 2]
    assert all(task.cancelled() for task in tasks)
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_aclose_swallows_errors_of_spawned_tasks() -> None:
    manager = SessionManager()
    gate = asyncio.Event()

    async def failing() -> None:
        try:
            await gate.wait()
        finally:
            raise ValueError("cleanup failed")

    task = manager.spawn(failing())
    await asyncio.sleep(0)
    await manager.aclose()
    assert task.done()
    # The error was gathered, so asyncio never reports it as "never retrieved".
    assert isinstance(task.exception(), ValueError)


# =================================================================================
# Transport: over real sockets, against the emulator on 127.0.0.1
# =================================================================================
# The emulator answers each request with the next canned response a test queued
# (inject("status", body=..., headers=...)), whatever its path; hold() keeps a request
# waiting for an answer that does not come, and "disconnect" hangs up without one.


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(manual=True, seed=19) as emulator:
        yield emulator


def respond(
    emu: Emulator,
    status: int = 200,
    body: str = '{"ok": true}',
    headers: dict[str, str] | None = None,
    *,
    times: int = 1,
) -> None:
    """Queue a canned answer for the next ``times`` requests."""
    emu.inject("status", status=status, body=body, headers=headers, times=times)


def url(emu: Emulator, path: str = "/x") -> URL:
    return URL(emu.url + path, encoded=True)


def seen(emu: Emulator) -> list[tuple[str, str]]:
    return [(r.method, r.url_path_qs) for r in emu.requests]


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the transport's back-off delays instead of waiting them out."""
    recorded: list[float] = []
    real_sleep = asyncio.sleep

    async def fake_sleep(delay: float) -> None:
        recorded.append(delay)
        await real_sleep(0)

    fake_asyncio = types.SimpleNamespace(**{**vars(asyncio), "sleep": fake_sleep})
    monkeypatch.setattr(_attempts, "asyncio", fake_asyncio)
    return recorded


class ErrorHook:
    """The dialect's error parser: records each response it is given."""

    def __init__(self) -> None:
        self.responses: list[HttpResponse] = []

    def __call__(self, response: HttpResponse) -> APIError:
        self.responses.append(response)
        cls = error_class_for_status(response.status)
        return cls(
            f"failed with {response.status}",
            status=response.status,
            request_id=response.headers.get("X-Request-Id"),
            body=response.text,
        )


def _no_jitter(ceiling: float) -> float:
    return ceiling


class _Transport(Transport):
    """The client's transport; a test that names no timeout gets the client's default."""

    __slots__ = ()

    async def send(  # type: ignore[override]
        self, request: HttpRequest, timeout: aiohttp.ClientTimeout | None = None
    ) -> HttpResponse:
        return await super().send(request, timeout or self.timeout)


@pytest.fixture
async def make_transport() -> AsyncIterator[Callable[..., Transport]]:
    managers: list[SessionManager] = []

    def make(
        *,
        retry: RetryPolicy | None = None,
        timeout: aiohttp.ClientTimeout | None = None,
        parse_error: ErrorHook | None = None,
        pool_size: int = 100,
        headers: dict[str, str] | None = None,
    ) -> Transport:
        manager = SessionManager(pool_size=pool_size)
        managers.append(manager)
        return _Transport(
            sessions=manager,
            headers=headers or {"User-Agent": "tests/1", "Authorization": "Bearer k"},
            anonymous_headers={"User-Agent": "tests/1"},
            timeout=timeout or aiohttp.ClientTimeout(total=10),
            retry=retry or RetryPolicy(jitter=_no_jitter),
            parse_error=parse_error or ErrorHook(),
            request_id_header="x-request-id",
        )

    yield make
    for manager in managers:
        await manager.aclose()


def _get(url: URL, **kwargs: Any) -> HttpRequest:
    return HttpRequest("GET", url, **kwargs)


def _create(url: URL) -> HttpRequest:
    return HttpRequest(
        "POST",
        url,
        body=b"RoomSid=RM1&Format=mp4",
        content_type="application/x-www-form-urlencoded",
        idempotent=False,
        expected=frozenset({201}),
    )


# --- success and the wire ---------------------------------------------------------


async def test_send_returns_the_read_response(
    emu: Emulator, make_transport: Callable[..., Transport]
) -> None:
    respond(emu, 200, '{"sid": "CJ1"}', {"X-Request-Id": "rq-1"})
    response = await make_transport().send(_get(url(emu, "/v1/Compositions?PageSize=5")))
    assert response.status == 200
    assert response.body == b'{"sid": "CJ1"}'
    assert response.headers["X-Request-Id"] == "rq-1"
    assert response.url == url(emu, "/v1/Compositions?PageSize=5")
    assert seen(emu) == [("GET", "/v1/Compositions?PageSize=5")]


async def test_send_puts_body_and_headers_on_the_wire(
    emu: Emulator, make_transport: Callable[..., Transport]
) -> None:
    respond(emu, 201)
    response = await make_transport().send(_create(url(emu, "/v1/Compositions")))
    assert response.status == 201
    (request,) = emu.requests
    assert (request.method, request.url_path_qs, request.body) == (
        "POST",
        "/v1/Compositions",
        b"RoomSid=RM1&Format=mp4",
    )
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.headers["User-Agent"] == "tests/1"
    assert request.headers["Authorization"] == "Bearer k"


async def test_expected_statuses_are_per_request(
    emu: Emulator, make_transport: Callable[..., Transport]
) -> None:
    respond(emu, 204, "", times=2)
    request = HttpRequest("DELETE", url(emu), expected=frozenset({204}))
    assert (await make_transport().send(request)).status == 204
    # The same status is an error where the request expects another one.
    hook = ErrorHook()
    with pytest.raises(APIError) as info:
        await make_transport(parse_error=hook).send(_get(url(emu)))
    assert info.value.status == 204
    assert [r.status for r in hook.responses] == [204]


async def test_error_status_goes_through_the_error_hook(
    emu: Emulator, make_transport: Callable[..., Transport], sleeps: list[float]
) -> None:
    body = '{"code": 20404, "message": "not found"}'
    respond(emu, 404, body, {"X-Request-Id": "rq-404"})
    hook = ErrorHook()
    with pytest.raises(NotFoundError) as info:
        await make_transport(parse_error=hook).send(_get(url(emu)))
    [response] = hook.responses
    assert (response.status, response.body) == (404, body.encode())
    assert info.value.request_id == "rq-404"
    assert info.value.body == body
    assert len(emu.requests) == 1
    assert sleeps == []


async def test_redirects_are_not_followed(
    emu: Emulator, make_transport: Callable[..., Transport]
) -> None:
    respond(emu, 302, "", {"Location": "/elsewhere"})
    with pytest.raises(APIError) as info:
        await make_transport().send(_get(url(emu)))
    assert info.value.status == 302
    assert seen(emu) == [("GET", "/x")]


# --- retries on status ----------------------------------------------------------
# What a non-idempotent request (a create) may resend is tested through both clients in
# test_retry_safety.py.


async def test_idempotent_request_retries_5xx_with_backoff(
    emu: Emulator, make_transport: Callable[..., Transport], sleeps: list[float]
) -> None:
    for status in (503, 502, 500, 200):
        respond(emu, status)
    response = await make_transport().send(_get(url(emu)))
    assert response.status == 200
    assert [r.status for r in emu.requests] == [503, 502, 500, 200]
    # Ceilings base*2**(n-1) with base 0.5 (the injected jitter returns the ceiling).
    assert sleeps == [0.5, 1.0, 2.0]


async def test_retries_stop_after_max_attempts(
    emu: Emulator, make_transport: Callable[..., Transport], sleeps: list[float]
) -> None:
    respond(emu, 500, "boom", times=10)
    transport = make_transport(retry=RetryPolicy(max_attempts=3, jitter=_no_jitter))
    with pytest.raises(ServerError) as info:
        await transport.send(_get(url(emu)))
    assert info.value.body == "boom"
    assert len(emu.requests) == 3
    assert len(sleeps) == 2


async def test_disabled_policy_sends_once(
    emu: Emulator, make_transport: Callable[..., Transport], sleeps: list[float]
) -> None:
    respond(emu, 503, times=10)
    with pytest.raises(ServerError):
        await make_transport(retry=RetryPolicy.disabled()).send(_get(url(emu)))
    assert len(emu.requests) == 1
    assert sleeps == []


@pytest.mark.parametrize(("header", "delay"), [("7", 7.0), ("1.5", 1.5), ("0", 0.0)])
async def test_retry_after_is_honoured(
    emu: Emulator,
    make_transport: Callable[..., Transport],
    sleeps: list[float],
    header: str,
    delay: float,
) -> None:
    respond(emu, 429, headers={"Retry-After": header})
    respond(emu, 200)
    response = await make_transport().send(_get(url(emu)))
    assert response.status == 200
    assert sleeps == [delay]


async def test_retry_after_on_503_is_honoured_too(
    emu: Emulator, make_transport: Callable[..., Transport], sleeps: list[float]
) -> None:
    respond(emu, 503, headers={"Retry-After": "3"})
    respond(emu, 200)
    assert (await make_transport().send(_get(url(emu)))).status == 200
    assert sleeps == [3.0]


async def test_retry_after_over_the_cap_raises_at_once(
    emu: Emulator, make_transport: Callable[..., Transport], sleeps: list[float]
) -> None:
    respond(emu, 429, headers={"Retry-After": "120"})
    policy = RetryPolicy(max_retry_after=60.0, jitter=_no_jitter)
    with pytest.raises(RateLimitError) as info:
        await make_transport(retry=policy).send(_get(url(emu)))
    assert info.value.retry_after == 120.0
    assert len(emu.requests) == 1
    assert sleeps == []


async def test_last_rate_limit_error_carries_retry_after(
    emu: Emulator, make_transport: Callable[..., Transport], sleeps: list[float]
) -> None:
    respond(emu, 429, headers={"Retry-After": "4"}, times=10)
    policy = RetryPolicy(max_attempts=2, jitter=_no_jitter)
    with pytest.raises(RateLimitError) as info:
        await make_transport(retry=policy).send(_get(url(emu)))
    assert info.value.retry_after == 4.0
    assert len(emu.requests) == 2
    assert sleeps == [4.0]


async def test_every_response_is_released(
    emu: Emulator, make_transport: Callable[..., Transport], sleeps: list[float]
) -> None:
    # With a single pooled connection, an unreleased response would block the next request.
    respond(emu, 503, "x" * 70_000)
    respond(emu, 503, "y")
    respond(emu, 404)
    transport = make_transport(pool_size=1, timeout=aiohttp.ClientTimeout(total=10))
    with pytest.raises(NotFoundError):
        await transport.send(_get(url(emu)))
    respond(emu, 200)
    assert (await transport.send(_get(url(emu)))).status == 200
    assert [r.status for r in emu.requests] == [503, 503, 404, 200]


# --- transport failures -------------------------------------------------------------


async def test_connection_refused_is_a_connection_error_sent_before(
    make_transport: Callable[..., Transport], sleeps: list[float]
) -> None:
    url = URL(f"http://127.0.0.1:{unused_port()}/v1/Compositions")
    transport = make_transport(retry=RetryPolicy(max_attempts=3, jitter=_no_jitter))
    with pytest.raises(APIConnectionError) as info:
        await transport.send(_create(url))
    err = info.value
    assert type(err) is APIConnectionError
    assert err.before_send is True
    assert (err.method, err.url) == ("POST", str(url))
    # The aiohttp exception is described, not chained (it holds the request headers).
    assert err.__cause__ is None and err.__context__ is None
    assert err.cause.startswith("ClientConnectorError: ")
    assert not isinstance(err, aiohttp.ClientError)
    # A create that surely never reached the server is retried.
    assert len(sleeps) == 2


async def test_create_retried_after_connection_refused_is_sent_once(
    make_transport: Callable[..., Transport], sleeps: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    port = unused_port()
    emu = Emulator(manual=True, port=port)
    respond(emu, 201)
    fake_asyncio = _attempts.asyncio
    recording_sleep = fake_asyncio.sleep
    started: list[Emulator] = []

    async def start_server_then_sleep(delay: float) -> None:
        # The server comes up while the client backs off.
        if not started:
            started.append(await emu.start())
        await recording_sleep(delay)

    monkeypatch.setattr(fake_asyncio, "sleep", start_server_then_sleep)
    try:
        target = URL(f"http://127.0.0.1:{port}/v1/Compositions")
        response = await make_transport().send(_create(target))
    finally:
        await emu.stop()
    assert response.status == 201
    assert seen(emu) == [("POST", "/v1/Compositions")]
    assert len(sleeps) == 1


async def test_timeout_after_sending_a_create_is_not_retried(
    emu: Emulator, make_transport: Callable[..., Transport], sleeps: list[float]
) -> None:
    hold = emu.hold(times=1)  # the first request gets no answer
    respond(emu, 201)
    transport = make_transport(timeout=aiohttp.ClientTimeout(total=10, sock_read=0.2))
    with pytest.raises(APITimeoutError) as info:
        await transport.send(_create(url(emu, "/v1/Compositions")))
    assert info.value.before_send is False
    assert info.value.__cause__ is None and info.value.__context__ is None
    assert info.value.cause.startswith(("SocketTimeoutError", "ServerTimeoutError", "TimeoutError"))
    assert not isinstance(info.value, aiohttp.ClientError | TimeoutError)
    assert len(emu.requests) == len(hold.arrived) == 1
    assert sleeps == []


async def test_timeout_of_an_idempotent_request_is_retried(
    emu: Emulator, make_transport: Callable[..., Transport], sleeps: list[float]
) -> None:
    hold = emu.hold(times=1)
    respond(emu, 200)
    transport = make_transport(timeout=aiohttp.ClientTimeout(total=10, sock_read=0.2))
    response = await transport.send(_get(url(emu)))
    assert response.status == 200
    (gave_up,) = hold.arrived
    assert [r.status for r in emu.requests] == [None, 200] and gave_up is emu.requests[0]
    assert len(sleeps) == 1


async def test_per_call_timeout_is_used(
    emu: Emulator, make_transport: Callable[..., Transport], sleeps: list[float]
) -> None:
    emu.hold()
    transport = make_transport(
        retry=RetryPolicy.disabled(), timeout=aiohttp.ClientTimeout(total=None)
    )
    # The guard turns "per-call timeout ignored" into a failure instead of a hang.
    with pytest.raises(APITimeoutError):
        async with asyncio.timeout(10):
            await transport.send(
                _get(url(emu)), timeout=aiohttp.ClientTimeout(total=5, sock_read=0.1)
            )


@pytest.mark.parametrize(("idempotent", "attempts"), [(True, 3), (False, 1)])
async def test_server_disconnect_is_a_connection_error(
    emu: Emulator,
    make_transport: Callable[..., Transport],
    sleeps: list[float],
    idempotent: bool,
    attempts: int,
) -> None:
    emu.inject("disconnect", times=10)  # read each request, hang up without answering
    transport = make_transport(retry=RetryPolicy(max_attempts=3, jitter=_no_jitter))
    request = HttpRequest("POST", url(emu), body=b"{}", idempotent=idempotent)
    with pytest.raises(APIConnectionError) as info:
        await transport.send(request)
    err = info.value
    assert type(err) is APIConnectionError
    assert err.before_send is False
    assert err.__cause__ is None and err.__context__ is None
    assert err.cause.startswith("ServerDisconnectedError")
    assert [(r.fault, r.body) for r in emu.requests] == [("disconnect", b"{}")] * attempts
    assert len(sleeps) == attempts - 1


# --- logging and redaction --------------------------------------------------------


async def test_each_retry_logs_one_redacted_debug_line(
    emu: Emulator,
    make_transport: Callable[..., Transport],
    sleeps: list[float],
    caplog: pytest.LogCaptureFixture,
) -> None:
    for status in (503, 429, 200):
        respond(emu, status)
    target = url(emu, "/media").with_user("AC1").with_password("s3cret-pw")
    target = target.with_query({"token": "t0k3n-value", "page": "2"})
    caplog.set_level(logging.DEBUG, logger="async_compositions")
    # Credentials in the URL itself: no Authorization header may be added as well.
    await make_transport(headers={"User-Agent": "tests/1"}).send(_get(target))
    assert [r.headers["Authorization"] for r in emu.requests] == [
        basic_auth("AC1", "s3cret-pw")
    ] * 3
    records = [r for r in caplog.records if r.name == "async_compositions"]
    assert len(records) == 2
    assert all(r.levelno == logging.DEBUG for r in records)
    first, second = (r.getMessage() for r in records)
    assert "HTTP 503" in first and "attempt 2 of 4" in first
    assert "HTTP 429" in second and "attempt 3 of 4" in second
    for text in (first, second):
        assert "GET http://***@127.0.0.1:" in text
        assert "token=***&page=2" in text
        assert "s3cret-pw" not in text and "t0k3n-value" not in text and "AC1" not in text


async def test_connection_error_message_is_redacted(
    make_transport: Callable[..., Transport], sleeps: list[float]
) -> None:
    url = URL(f"http://user:pw-secret@127.0.0.1:{unused_port()}/m?X-Amz-Signature=abc123")
    with pytest.raises(APIConnectionError) as info:
        transport = make_transport(retry=RetryPolicy.disabled(), headers={"User-Agent": "t"})
        await transport.send(_get(url))
    text = str(info.value)
    assert "pw-secret" not in text and "abc123" not in text
    assert "X-Amz-Signature=***" in text
    assert "pw-secret" not in info.value.url


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        ("https://user:pass@host.example/a", "https://***@host.example/a"),
        ("https://token@host.example/a", "https://***@host.example/a"),
        (
            "https://s3.example/f.mp4?X-Amz-Date=20240101&X-Amz-Signature=deadbeef&x=1",
            "https://s3.example/f.mp4?X-Amz-Date=20240101&X-Amz-Signature=***&x=1",
        ),
        ("https://h.example/f?x-amz-signature=ab", "https://h.example/f?x-amz-signature=***"),
        (
            "https://h.example/f?X-Amz-Credential=AKIA/x&X-Amz-Security-Token=st",
            "https://h.example/f?X-Amz-Credential=***&X-Amz-Security-Token=***",
        ),
        (
            "https://cdn.example/f?Signature=abc&Expires=9",
            "https://cdn.example/f?Signature=***&Expires=9",
        ),
        ("https://h.example/f?token=abc#frag", "https://h.example/f?token=***#frag"),
        ("https://h.example/f?a=1&access_token=zz", "https://h.example/f?a=1&access_token=***"),
        (
            "https://h.example/v1/Compositions?PageSize=50",
            "https://h.example/v1/Compositions?PageSize=50",
        ),
        ("https://h.example/f?notatoken=1", "https://h.example/f?notatoken=1"),
    ],
)
def test_redact_url(url: str, redacted: str) -> None:
    assert redact_url(url) == redacted
