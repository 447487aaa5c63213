"""A loopback aiohttp.web server serving Twilio- and Telnyx-shaped listings, in its own process.

URL layout (latency and listing size travel in the path, so one server serves every case):

    /twilio/{latency_ms}/{total}/v1/Compositions?PageSize=&Page=&PageToken=
    /twilio/{latency_ms}/{total}/v1/Compositions/{sid}
    /telnyx/{latency_ms}/{total}/v2/room_compositions?page[size]=&page[number]=
    /telnyx/{latency_ms}/{total}/v2/room_compositions/{id}

A single record exists when its index (``_payloads.twilio_sid``/``telnyx_id``) is below
``total``; any other id gets the provider's 404. The same single-record URLs with zero
latency are also answered on a second port by ``_fastserver``, a minimal responder that
costs far less CPU per request than aiohttp.web (for the concurrent-fetch benchmark).

Each request waits ``latency_ms`` before answering. Page bodies are built once and cached,
so the server spends almost no CPU per request. Run as ``python -m benchmarks._server``; it
prints ``PORT <n> FAST <m>`` and stops when its stdin closes or after ``--ttl`` seconds,
whichever comes first. ``ServerProcess`` starts and stops it from a benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import select
import subprocess
import sys
import threading
from pathlib import Path
from types import TracebackType
from typing import Self

from aiohttp import web

from ._fastserver import ItemProtocol
from ._payloads import (
    telnyx_index,
    telnyx_page,
    telnyx_record,
    twilio_index,
    twilio_page,
    twilio_record,
)

__all__ = ["ServerProcess", "make_app"]

HOST = "127.0.0.1"
JSON = "application/json"
_ROOT = Path(__file__).resolve().parent.parent


@functools.lru_cache(maxsize=4096)
def _twilio_body(origin: str, path: str, page: int, size: int, total: int) -> bytes:
    return twilio_page(origin=origin, collection_path=path, page=page, page_size=size, total=total)


@functools.lru_cache(maxsize=4096)
def _telnyx_body(number: int, size: int, total: int) -> bytes:
    return telnyx_page(page_number=number, page_size=size, total=total)


@functools.lru_cache(maxsize=8192)
def _twilio_item_body(index: int) -> bytes:
    return json.dumps(twilio_record(index)).encode()


@functools.lru_cache(maxsize=8192)
def _telnyx_item_body(index: int) -> bytes:
    return json.dumps({"data": telnyx_record(index)}).encode()


def _listing(request: web.Request) -> tuple[float, int]:
    try:
        latency_ms = float(request.match_info["latency"])
        total = int(request.match_info["total"])
    except ValueError:
        raise web.HTTPNotFound() from None
    if not (0 <= latency_ms <= 10_000 and 0 <= total <= 1_000_000):
        raise web.HTTPNotFound()
    return latency_ms / 1000, total


def _int_param(request: web.Request, name: str, default: int) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        return None


def _error(status: int, body: object) -> web.Response:
    return web.Response(status=status, body=json.dumps(body).encode(), content_type=JSON)


async def twilio_list(request: web.Request) -> web.Response:
    """GET /v1/Compositions with Twilio's paging (follow ``next_page_url``)."""
    latency, total = _listing(request)
    if not request.headers.get("Authorization", "").startswith("Basic "):
        return _error(401, {"code": 20003, "message": "Authenticate", "status": 401})
    size = _int_param(request, "PageSize", 50)
    page = _int_param(request, "Page", 0)
    if size is None or page is None or not 1 <= size <= 100 or page < 0:
        return _error(400, {"code": 20001, "message": "Invalid paging", "status": 400})
    if page > 0 and "PageToken" not in request.query:
        # As Twilio does: a client must follow next_page_url, not count pages itself.
        return _error(
            400,
            {"code": 70002, "message": "Paged requests must include a PageToken", "status": 400},
        )
    await asyncio.sleep(latency)
    origin = f"{request.scheme}://{request.host}"
    body = _twilio_body(origin, request.path, page, size, total)
    return web.Response(body=body, content_type=JSON, headers={"Twilio-Request-Id": "RQ0"})


async def telnyx_list(request: web.Request) -> web.Response:
    """GET /v2/room_compositions with Telnyx's numbered pages."""
    latency, total = _listing(request)
    if not request.headers.get("Authorization", "").startswith("Bearer "):
        return _error(401, {"errors": [{"code": "10009", "title": "Authentication failed"}]})
    size = _int_param(request, "page[size]", 20)
    number = _int_param(request, "page[number]", 1)
    if size is None or number is None or not 1 <= size <= 250 or number < 1:
        return _error(400, {"errors": [{"code": "10015", "title": "Bad Request"}]})
    await asyncio.sleep(latency)
    return web.Response(body=_telnyx_body(number, size, total), content_type=JSON)


async def twilio_fetch(request: web.Request) -> web.Response:
    """GET /v1/Compositions/{sid}: one composition object."""
    latency, total = _listing(request)
    if not request.headers.get("Authorization", "").startswith("Basic "):
        return _error(401, {"code": 20003, "message": "Authenticate", "status": 401})
    index = twilio_index(request.match_info["sid"])
    if index is None or index >= total:
        return _error(404, {"code": 20404, "message": "Not found", "status": 404})
    if latency:
        await asyncio.sleep(latency)
    return web.Response(
        body=_twilio_item_body(index), content_type=JSON, headers={"Twilio-Request-Id": "RQ0"}
    )


async def telnyx_fetch(request: web.Request) -> web.Response:
    """GET /v2/room_compositions/{id}: ``{"data": {...}}``."""
    latency, total = _listing(request)
    if not request.headers.get("Authorization", "").startswith("Bearer "):
        return _error(401, {"errors": [{"code": "10009", "title": "Authentication failed"}]})
    index = telnyx_index(request.match_info["id"])
    if index is None or index >= total:
        return _error(404, {"errors": [{"code": "10005", "title": "Resource not found"}]})
    if latency:
        await asyncio.sleep(latency)
    return web.Response(body=_telnyx_item_body(index), content_type=JSON)


def make_app() -> web.Application:
    """The application: a listing and a single-record route per provider shape."""
    app = web.Application()
    app.router.add_get("/twilio/{latency}/{total}/v1/Compositions", twilio_list)
    app.router.add_get("/twilio/{latency}/{total}/v1/Compositions/{sid}", twilio_fetch)
    app.router.add_get("/telnyx/{latency}/{total}/v2/room_compositions", telnyx_list)
    app.router.add_get("/telnyx/{latency}/{total}/v2/room_compositions/{id}", telnyx_fetch)
    return app


def _stop_on_eof(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    # The parent holds our stdin; EOF means it closed it or died.
    try:
        sys.stdin.buffer.read()
    finally:
        loop.call_soon_threadsafe(stop.set)


async def serve(port: int, ttl: float, watch_stdin: bool, fast_port: int = 0) -> None:
    """Serve on 127.0.0.1 until stdin closes or ``ttl`` seconds pass.

    ``port`` gets the aiohttp.web application; ``fast_port`` the minimal single-record
    responder of ``_fastserver`` (zero latency only).
    """
    runner = web.AppRunner(make_app(), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, HOST, port)
        await site.start()
        loop = asyncio.get_running_loop()
        fast = await loop.create_server(ItemProtocol, HOST, fast_port)
        fast_bound = fast.sockets[0].getsockname()[1]
        print(f"PORT {runner.addresses[0][1]} FAST {fast_bound}", flush=True)
        stop = asyncio.Event()
        if watch_stdin:
            threading.Thread(target=_stop_on_eof, args=(loop, stop), daemon=True).start()
        try:
            await asyncio.wait_for(stop.wait(), ttl)
        except TimeoutError:
            print("server: ttl reached, stopping", file=sys.stderr, flush=True)
        fast.close()
        await fast.wait_closed()
    finally:
        await runner.cleanup()


class ServerProcess:
    """Runs the server in a child process for the duration of a ``with`` block."""

    def __init__(self, *, ttl: float = 600.0, start_timeout: float = 30.0) -> None:
        self._ttl = ttl
        self._start_timeout = start_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.fast_port = 0

    def __enter__(self) -> Self:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_ROOT), env.get("PYTHONPATH")]))
        proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks._server", "--ttl", str(self._ttl)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=_ROOT,
            env=env,
        )
        self._proc = proc
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], self._start_timeout)
        line = proc.stdout.readline().decode() if ready else ""
        if not line.startswith("PORT "):
            self._stop()
            raise RuntimeError(f"benchmark server did not start (got {line!r})")
        words = line.split()
        self.port = int(words[1])
        self.fast_port = int(words[3])
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop()

    def _stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.terminate()
            proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()

    def cpu_seconds(self) -> float | None:
        """CPU time (user + system) the server process has used so far; None off Linux."""
        if self._proc is None:
            return None
        try:
            with open(f"/proc/{self._proc.pid}/stat", encoding="ascii") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        # Fields 14 and 15 of proc(5) (utime, stime), counted from after the command name.
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def twilio_base_url(self, latency: float, total: int, *, fast: bool = False) -> str:
        """Base URL (``.../v1``) of a Twilio listing of ``total`` records."""
        return f"{self.twilio_root(latency, total, fast=fast)}/v1"

    def twilio_root(self, latency: float, total: int, *, fast: bool = False) -> str:
        """The Video domain root (what twilio-python calls the domain's ``base_url``).

        ``fast=True`` points at the minimal responder: single records, zero latency only.
        """
        return f"http://{HOST}:{self._port(latency, fast)}/twilio/{latency * 1000:g}/{total}"

    def telnyx_base_url(self, latency: float, total: int, *, fast: bool = False) -> str:
        """Base URL (``.../v2``) of a Telnyx listing of ``total`` records."""
        port = self._port(latency, fast)
        return f"http://{HOST}:{port}/telnyx/{latency * 1000:g}/{total}/v2"

    def _port(self, latency: float, fast: bool) -> int:
        if fast and latency:
            raise ValueError("the fast responder serves zero latency only")
        return self.fast_port if fast else self.port


def main(argv: list[str] | None = None) -> None:
    """Command line: ``python -m benchmarks._server [--port N] [--ttl S] [--no-stdin]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--fast-port", type=int, default=0, help="port of the minimal responder")
    parser.add_argument("--ttl", type=float, default=600.0, help="stop after this many seconds")
    parser.add_argument("--no-stdin", action="store_true", help="do not stop on stdin EOF")
    args = parser.parse_args(argv)
    asyncio.run(serve(args.port, args.ttl, not args.no_stdin, args.fast_port))


if __name__ == "__main__":
    main()
