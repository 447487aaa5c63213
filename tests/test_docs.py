"""Every ```python block of README.md and docs/**/*.md runs here, against the emulator.

Each block is one test, named after its file and the line of its opening fence
(``README.md:37``, ``docs/guide/archive.md:12``). What a block may rely on is said by an
HTML comment on the last non-blank line before its fence (invisible on the rendered page):

no marker
    A standalone script, as a user would paste it: it runs in a fresh namespace
    (``__name__ == "__main__"``), in a fresh temporary working directory, with top-level
    ``await`` allowed (as in ``python -m asyncio``). Its environment holds what
    ``python -m async_compositions.emulator`` prints, for an emulator started for this
    block only: ``TWILIO_ACCOUNT_SID``, ``TWILIO_AUTH_TOKEN``, ``TWILIO_API_KEY``,
    ``TWILIO_API_SECRET``, ``TWILIO_VIDEO_BASE_URL``, ``TELNYX_API_KEY``,
    ``TELNYX_BASE_URL`` and ``TELNYX_PUBLIC_KEY``, so ``TwilioClient()`` and
    ``TelnyxClient()`` reach it and nothing else. The emulator holds three completed
    compositions per provider (``SEEDED``).

``<!-- run-with: twilio -->``, ``<!-- run-with: telnyx -->``
    A fragment, run as if it followed this setup (see ``_fragment_names``)::

        from async_compositions import *            # every public name
        async with TwilioClient() as client:        # or TelnyxClient()
            comp = await client.compositions.create(...)   # a new composition
            async def process(composition): ...     # does nothing

``<!-- run-with: webhooks -->``
    A fragment about webhooks: ``twilio`` and ``telnyx`` (open clients), ``auth_token``
    (``$TWILIO_AUTH_TOKEN``) and ``telnyx_public_key`` (``$TELNYX_PUBLIC_KEY``), besides
    every public name.

``<!-- run-as: pytest -->``
    A test module: written to a file and run by pytest (in this process, through
    ``pytester``), with the installed plugin's ``emulator`` fixture; it must pass, with at
    least one test and none failed, skipped or erroring.

``<!-- not-run: REASON -->``
    Not executed; the reason is required and shown as the skip reason.

A block that raises fails its test. No block can reach the internet: every block runs
with a guard on the ``socket`` module that refuses (and records) any connection or name
lookup that is not loopback, and fails the test if anything tried, even when the block
caught the error. (The guard sees what goes through Python's sockets: the standard event
loop, and aiohttp's default threaded resolver, which ``test_the_guard_refuses_the_internet``
checks is the one in use.)
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import inspect
import ipaddress
import os
import re
import socket
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from types import CodeType
from typing import Any, NamedTuple, TypeVar

import aiohttp.resolver
import pytest

import async_compositions
from async_compositions.emulator import Emulator

pytest_plugins = ("pytester",)

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SEEDED = 3
BLOCK_TIMEOUT = 45.0  # seconds; a guard against a hung block, never a measure

T = TypeVar("T")

# -- finding the blocks -------------------------------------------------------------------

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\n]*)$")
_MARKER = re.compile(r"^\s*<!--\s*(?P<kind>not-run|run-with|run-as)\b(?P<rest>.*?)-->\s*$")
_MARKER_LIKE = re.compile(r"^\s*<!--\s*(not[- ]?run|run[- ]?with|run[- ]?as|no[- ]?run)\b", re.I)
_PYTHON = frozenset({"python", "py", "python3"})
CONTEXTS = ("twilio", "telnyx", "webhooks")


class Block(NamedTuple):
    """One ```python block: where it is, its code, and the marker that says how to run it."""

    path: str  # relative to the repository root, with / separators
    line: int  # 1-based line of the opening fence
    source: str  # dedented code
    marker: str | None  # the marker comment, or None

    @property
    def id(self) -> str:
        return f"{self.path}:{self.line}"

    @property
    def first_line(self) -> str:
        return next((ln.strip() for ln in self.source.splitlines() if ln.strip()), "")


def _dedent(lines: list[str], indent: str) -> str:
    out = []
    for text in lines:
        out.append(text[len(indent) :] if text.startswith(indent) else text.lstrip())
    return "\n".join(out) + "\n"


def blocks_of(path: Path, root: Path = ROOT) -> list[Block]:
    """The Python blocks of one Markdown file, with the marker before each."""
    name = path.relative_to(root).as_posix()
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        indent, fence = opening["indent"], opening["fence"]
        words = opening["info"].strip().split()
        language = words[0].lstrip(".{").rstrip("}").lower() if words else ""
        end = i + 1
        while end < len(lines):
            closing = lines[end].strip()
            if closing.startswith(fence[0] * len(fence)) and not closing.strip(fence[0]):
                break
            end += 1
        if language in _PYTHON:
            before = next((ln for ln in reversed(lines[:i]) if ln.strip()), "")
            marker = before.strip() if before.strip().startswith("<!--") else None
            found.append(Block(name, i + 1, _dedent(lines[i + 1 : end], indent), marker))
        i = end + 1
    return found


def markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]


def all_blocks() -> list[Block]:
    return [block for path in markdown_files() if path.is_file() for block in blocks_of(path)]


def marker_of(block: Block) -> str | None:
    """The block's own marker (the comment on the line before its fence), if any."""
    if block.marker is not None and _MARKER_LIKE.match(block.marker):
        return block.marker
    return None


class Plan(NamedTuple):
    kind: str  # "script", "fragment", "pytest" or "skip"
    detail: str  # the context of a fragment, the reason of a skip


def plan_of(block: Block) -> Plan:
    """How to run a block; ValueError for a marker this harness does not understand."""
    marker = marker_of(block)
    if marker is None:
        return Plan("script", "")
    match = _MARKER.match(marker)
    if match is None:
        raise ValueError(f"unreadable marker {marker!r}; see tests/test_docs.py")
    kind, rest = match["kind"], match["rest"].strip()
    if not rest.startswith(":") or not rest[1:].strip():
        raise ValueError(f"marker {marker!r} needs ': <value>' (a reason, a context)")
    value = rest[1:].strip()
    if kind == "not-run":
        return Plan("skip", value)
    if kind == "run-as":
        if value != "pytest":
            raise ValueError(f"run-as takes 'pytest', not {value!r}")
        return Plan("pytest", "")
    if value not in CONTEXTS:
        raise ValueError(f"run-with takes one of {', '.join(CONTEXTS)}, not {value!r}")
    return Plan("fragment", value)


BLOCKS = all_blocks()

# -- no traffic beyond loopback -----------------------------------------------------------


def _is_loopback(host: object) -> bool:
    if not isinstance(host, str | bytes):
        return False
    text = host.decode() if isinstance(host, bytes) else host
    if text.lower() in ("localhost", "localhost.", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(text.split("%")[0]).is_loopback
    except ValueError:
        return False


class NetworkGuard:
    """Refuses every non-loopback connect and name lookup made through ``socket``."""

    def __init__(self) -> None:
        self.refused: list[str] = []
        self._lock = threading.Lock()

    def refuse(self, what: str) -> OSError:
        with self._lock:
            self.refused.append(what)
        return ConnectionRefusedError(f"test_docs: {what} refused (only loopback is allowed)")

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        real_connect = socket.socket.connect
        real_connect_ex = socket.socket.connect_ex
        real_getaddrinfo = socket.getaddrinfo
        guard = self

        def allowed(sock: socket.socket, address: Any) -> bool:
            if sock.family == getattr(socket, "AF_UNIX", None):
                return True
            return isinstance(address, tuple) and _is_loopback(address[0])

        def connect(sock: socket.socket, address: Any) -> None:
            if not allowed(sock, address):
                raise guard.refuse(f"connect to {address!r}")
            real_connect(sock, address)

        def connect_ex(sock: socket.socket, address: Any) -> int:
            if not allowed(sock, address):
                raise guard.refuse(f"connect to {address!r}")
            return real_connect_ex(sock, address)

        def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
            if host is not None and not _is_loopback(host):
                raise socket.gaierror(
                    socket.EAI_NONAME, str(guard.refuse(f"name lookup of {host!r}"))
                )
            return real_getaddrinfo(host, *args, **kwargs)

        monkeypatch.setattr(socket.socket, "connect", connect)
        monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture
def network_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[NetworkGuard]:
    guard = NetworkGuard()
    guard.install(monkeypatch)
    yield guard
    assert guard.refused == [], f"a block tried to leave 127.0.0.1: {guard.refused}"


# -- the emulator, on a loop of its own ---------------------------------------------------


class EmulatorThread:
    """A running Emulator served from its own thread and event loop.

    Blocks run ``asyncio.run()`` themselves, so the emulator cannot share their loop.
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="docs-emulator")
        self.emulator: Emulator | None = None

    def call(self, make: Callable[[], Awaitable[T]]) -> T:
        async def run() -> T:
            return await make()

        future: Future[T] = asyncio.run_coroutine_threadsafe(run(), self.loop)
        return future.result(timeout=30)

    def __enter__(self) -> Emulator:
        self._thread.start()

        async def start() -> Emulator:
            # Built on its own loop: whatever asyncio objects it makes belong there.
            emu = self.emulator = await Emulator().start()
            emu.seed_twilio(SEEDED)
            emu.seed_telnyx(SEEDED)
            return emu

        return self.call(start)

    def __exit__(self, *exc: object) -> None:
        try:
            if self.emulator is not None:
                self.call(self.emulator.stop)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=30)
            self.loop.close()


def emulator_environment(emu: Emulator) -> dict[str, str]:
    """The lines ``python -m async_compositions.emulator`` prints, as a mapping."""
    return {
        "TWILIO_VIDEO_BASE_URL": emu.twilio_base_url,
        "TWILIO_ACCOUNT_SID": emu.twilio_account_sid,
        "TWILIO_AUTH_TOKEN": emu.twilio_auth_token,
        "TWILIO_API_KEY": emu.twilio_api_key_sid,
        "TWILIO_API_SECRET": emu.twilio_api_key_secret,
        "TELNYX_BASE_URL": emu.telnyx_base_url,
        "TELNYX_API_KEY": emu.telnyx_api_key,
        "TELNYX_PUBLIC_KEY": emu.telnyx_public_key,
    }


@pytest.fixture
def docs_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, network_guard: NetworkGuard
) -> Iterator[Emulator]:
    """A fresh emulator, its environment variables, and a fresh working directory."""
    for name in list(os.environ):
        if name.startswith(("TWILIO_", "TELNYX_", "ASYNC_COMPOSITIONS_")):
            monkeypatch.delenv(name)
    # Loopback only: a proxy setting must not capture the emulator's traffic.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    with EmulatorThread() as emu:
        for name, value in emulator_environment(emu).items():
            monkeypatch.setenv(name, value)
        monkeypatch.chdir(tmp_path)
        yield emu


# -- running a block ----------------------------------------------------------------------


def compile_block(block: Block) -> CodeType:
    """The block compiled so that tracebacks name the Markdown file and its line."""
    padded = "\n" * block.line + block.source
    code: CodeType = compile(padded, block.path, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    return code


async def _run_code(code: CodeType, namespace: dict[str, Any]) -> None:
    if code.co_flags & inspect.CO_COROUTINE:
        await eval(code, namespace)
    else:
        exec(code, namespace)


def _public_names() -> dict[str, Any]:
    return {name: getattr(async_compositions, name) for name in async_compositions.__all__}


async def _process(composition: object) -> None:
    """The ``process()`` fragments call: does nothing."""


@contextlib.asynccontextmanager
async def _fragment_names(context: str) -> AsyncIterator[dict[str, Any]]:
    """What a ``run-with`` fragment finds defined (see the module docstring)."""
    from async_compositions import TelnyxClient, TwilioClient

    names = {"__name__": "__main__", **_public_names(), "process": _process}
    if context == "twilio":
        async with TwilioClient() as twilio:
            comp = await twilio.compositions.create("RM" + "a" * 32, audio_sources=["*"])
            yield {**names, "client": twilio, "comp": comp}
    elif context == "telnyx":
        async with TelnyxClient() as telnyx:
            room_comp = await telnyx.compositions.create(
                session_id="7c4da191-5a0f-4b8f-9f57-0c4b2f4ba5d3", format="mp4"
            )
            yield {**names, "client": telnyx, "comp": room_comp}
    else:
        async with TwilioClient() as twilio, TelnyxClient() as telnyx:
            yield {
                **names,
                "twilio": twilio,
                "telnyx": telnyx,
                "auth_token": os.environ["TWILIO_AUTH_TOKEN"],
                "telnyx_public_key": os.environ["TELNYX_PUBLIC_KEY"],
            }


def run_script(block: Block) -> None:
    code = compile_block(block)
    namespace: dict[str, Any] = {"__name__": "__main__", "__file__": block.path}
    if code.co_flags & inspect.CO_COROUTINE:
        asyncio.run(asyncio.wait_for(_run_code(code, namespace), BLOCK_TIMEOUT))
    else:
        # A script that calls asyncio.run() itself; its own loop, in this thread.
        exec(code, namespace)


def run_fragment(block: Block, context: str) -> None:
    code = compile_block(block)

    async def main() -> None:
        async with _fragment_names(context) as names:
            await _run_code(code, dict(names))

    asyncio.run(asyncio.wait_for(main(), BLOCK_TIMEOUT))


def run_pytest_module(block: Block, pytester: pytest.Pytester) -> None:
    pytester.makeini(
        "[pytest]\n"
        "asyncio_default_fixture_loop_scope = function\n"
        "filterwarnings = error\n"
        "timeout = 60\n"
    )
    pytester.makepyfile(**{"test_from_docs": block.source})
    result = pytester.runpytest_inprocess("-q", "-p", "no:cacheprovider")
    outcomes = result.parseoutcomes()
    report = "\n".join(result.outlines)
    assert result.ret == 0, report
    assert outcomes.get("passed", 0) >= 1, report
    assert set(outcomes) <= {"passed", "warnings"}, report


# -- the tests ----------------------------------------------------------------------------


@pytest.mark.parametrize("block", [pytest.param(b, id=b.id) for b in BLOCKS])
def test_block(block: Block, request: pytest.FixtureRequest) -> None:
    plan = plan_of(block)
    if plan.kind == "skip":
        pytest.skip(f"not run: {plan.detail}")
    request.getfixturevalue("docs_environment")
    if plan.kind == "script":
        run_script(block)
    elif plan.kind == "fragment":
        run_fragment(block, plan.detail)
    else:
        run_pytest_module(block, request.getfixturevalue("pytester"))


def test_blocks_are_found() -> None:
    files = {block.path for block in BLOCKS}
    assert "README.md" in files
    assert any(path.startswith("docs/") for path in files)


def test_every_marker_is_understood() -> None:
    problems = []
    for block in BLOCKS:
        if block.marker is not None and _MARKER_LIKE.match(block.marker):
            try:
                plan_of(block)
            except ValueError as exc:
                problems.append(f"{block.id}: {exc}")
    assert problems == []


def test_markers_refuse_what_they_cannot_mean() -> None:
    def plan(marker: str) -> Plan:
        return plan_of(Block("docs/x.md", 1, "pass\n", marker))

    assert plan("<!-- not-run: needs real credentials -->") == Plan(
        "skip", "needs real credentials"
    )
    assert plan("<!-- run-with: telnyx -->") == Plan("fragment", "telnyx")
    assert plan("<!-- run-as: pytest -->") == Plan("pytest", "")
    for bad in ("<!-- not-run -->", "<!-- not-run: -->", "<!-- run-with: s3 -->"):
        with pytest.raises(ValueError):
            plan(bad)
    # Any other comment before a fence is prose, not a marker: the block runs.
    assert plan("<!-- a comment -->") == Plan("script", "")


def test_fences_are_read_like_markdown(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "Text\n\n<!-- not-run: why -->\n```python\nx = 1\n```\n\n"
        "```sh\necho no\n```\n\n"
        '!!! note\n    ```python title="t.py"\n    y = 2\n    ```\n\n'
        "````py\n```python\nnested = 3\n```\n````\n",
        encoding="utf-8",
    )
    found = blocks_of(page, tmp_path)
    assert [(b.line, b.source, b.marker) for b in found] == [
        (4, "x = 1\n", "<!-- not-run: why -->"),
        (13, "y = 2\n", None),
        (17, "```python\nnested = 3\n```\n", None),
    ]


def test_the_guard_refuses_the_internet(network_guard: NetworkGuard) -> None:
    with pytest.raises(ConnectionRefusedError), socket.socket() as sock:
        sock.connect(("192.0.2.1", 443))  # TEST-NET-1: refused before any packet
    with pytest.raises(socket.gaierror):
        socket.getaddrinfo("video.twilio.com", 443)
    assert len(network_guard.refused) == 2
    network_guard.refused.clear()
    # aiohttp resolves through socket.getaddrinfo (the guard sees it); aiodns would not.
    assert aiohttp.resolver.DefaultResolver is aiohttp.resolver.ThreadedResolver


def test_the_guard_stops_a_client_that_would_reach_the_real_api(
    network_guard: NetworkGuard, monkeypatch: pytest.MonkeyPatch
) -> None:
    from async_compositions import APIConnectionError, TwilioClient

    monkeypatch.delenv("TWILIO_VIDEO_BASE_URL", raising=False)

    async def main() -> None:
        client = TwilioClient("AC" + "0" * 32, "token", retry=None)
        async with client:
            await client.compositions.fetch("CJ" + "0" * 32)

    with pytest.raises(APIConnectionError):
        asyncio.run(main())
    assert network_guard.refused == ["name lookup of 'video.twilio.com'"]
    network_guard.refused.clear()
