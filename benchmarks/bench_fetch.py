"""Concurrent fetch benchmark: 2000 single-record GETs, 50 at a time, against a loopback server.

Run with ``python -m benchmarks.bench_fetch [--rounds N] [--quick] [--no-save]``. See README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import time
import warnings
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import aiohttp
import attrs

try:  # the parser the library uses: orjson when installed, else the standard library's
    from orjson import loads
except ImportError:  # pragma: no cover - the bench extra installs orjson
    from json import loads

from async_compositions import TwilioClient

from . import _stats
from ._common import ACCOUNT_SID, AUTH_TOKEN, TELNYX_AUTH, TELNYX_KEY, TWILIO_AUTH, BenchmarkError
from ._payloads import telnyx_id, twilio_sid
from ._sdks import (
    TELNYX_LIB_NOTE,
    TELNYX_SDK_NOTE,
    TWILIO_SDK_NOTE,
    AsyncTelnyx,
    AsyncTwilioHttpClient,
    TelnyxClient,
    TwilioSDK,
)
from ._server import ServerProcess

REQUESTS = 2000
QUICK_REQUESTS = 300
CONCURRENCY = 50

# One call: given the client a case made for this run and an id, the id the response decoded to.
FetchOne = Callable[[Any, str], Awaitable[str]]


@attrs.frozen(slots=True)
class Case:
    """One timed case: which shape it fetches, how it opens a client, how it fetches one id."""

    name: str
    shape: str  # "twilio" or "telnyx"
    open: Callable[[ServerProcess, int], Any]  # an async context manager giving the client
    fetch: FetchOne
    skip: str | None = None


def expected_ids(shape: str, n: int) -> list[str]:
    """The ids every run fetches, in order (each one a distinct record of the server)."""
    make = twilio_sid if shape == "twilio" else telnyx_id
    return [make(i) for i in range(n)]


async def fetch_all(client: Any, fetch: FetchOne, ids: list[str], concurrency: int) -> list[str]:
    """Fetch every id with ``concurrency`` worker tasks; the decoded ids, in input order."""
    got: list[str | None] = [None] * len(ids)
    todo: Iterator[int] = iter(range(len(ids)))

    async def worker() -> None:
        # The workers share one iterator: each takes the next index as soon as it is free.
        for i in todo:
            got[i] = await fetch(client, ids[i])

    async with asyncio.TaskGroup() as group:
        for _ in range(min(concurrency, len(ids))):
            group.create_task(worker())
    return [g if g is not None else "" for g in got]


def verify(name: str, ids: list[str], got: list[str]) -> None:
    """Fail loudly unless every response decoded to the id that was asked for."""
    wrong = [(want, have) for want, have in zip(ids, got, strict=True) if want != have]
    if wrong:
        want, have = wrong[0]
        raise BenchmarkError(
            f"{name}: {len(wrong)} of {len(ids)} responses had the wrong id "
            f"(first: asked {want!r}, got {have!r})"
        )


# -- this library -------------------------------------------------------------------------


def _ours_twilio_open(server: ServerProcess, n: int) -> Any:
    # No rate limit (the default keeps to Twilio's 80 reads a second): the raw loop has none.
    base = server.twilio_base_url(0, n, fast=True)
    return TwilioClient(ACCOUNT_SID, AUTH_TOKEN, base_url=base, rate_limit=None)


async def _ours_twilio_fetch(client: Any, sid: str) -> str:
    return str((await client.compositions.fetch(sid)).sid)


def _ours_telnyx_open(server: ServerProcess, n: int) -> Any:
    assert TelnyxClient is not None
    return TelnyxClient(TELNYX_KEY, base_url=server.telnyx_base_url(0, n, fast=True))


async def _ours_telnyx_fetch(client: Any, id_: str) -> str:
    return str((await client.compositions.fetch(id_)).id)


# -- the official SDKs --------------------------------------------------------------------


class _TwilioSDKClient:
    """twilio-python ``Client`` over ``AsyncTwilioHttpClient``, pointed at the server."""

    def __init__(self, server: ServerProcess, n: int) -> None:
        self._root = server.twilio_root(0, n, fast=True)
        self._http: Any = None

    async def __aenter__(self) -> Any:
        assert TwilioSDK is not None
        # The aiohttp session inside must be created in the running loop.
        self._http = AsyncTwilioHttpClient()
        client = TwilioSDK(ACCOUNT_SID, AUTH_TOKEN, http_client=self._http)
        client.video.base_url = self._root
        return client

    async def __aexit__(self, *exc: object) -> None:
        await self._http.close()


async def _sdk_twilio_fetch(client: Any, sid: str) -> str:
    return str((await client.video.v1.compositions(sid).fetch_async()).sid)


def _sdk_telnyx_open(server: ServerProcess, n: int) -> Any:
    assert AsyncTelnyx is not None
    return AsyncTelnyx(api_key=TELNYX_KEY, base_url=server.telnyx_base_url(0, n, fast=True))


async def _sdk_telnyx_fetch(client: Any, id_: str) -> str:
    response = await client.room_compositions.retrieve(id_)
    return str(response.data.id)


# -- raw aiohttp --------------------------------------------------------------------------


class _RawSession:
    """One ``aiohttp.ClientSession`` and the URL prefix and headers of a shape."""

    def __init__(self, prefix: str, headers: dict[str, str]) -> None:
        self.prefix = prefix
        self.headers = headers
        self.session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> _RawSession:
        self.session = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.session is not None
        await self.session.close()

    async def get_json(self, id_: str) -> Any:
        """GET ``prefix/id`` and parse the body with the library's JSON parser."""
        assert self.session is not None
        async with self.session.get(self.prefix + id_, headers=self.headers) as resp:
            body = await resp.read()
            if resp.status != 200:
                raise BenchmarkError(f"GET {resp.url} -> HTTP {resp.status}: {body[:200]!r}")
        return loads(body)


def _raw_twilio_open(server: ServerProcess, n: int) -> Any:
    prefix = f"{server.twilio_base_url(0, n, fast=True)}/Compositions/"
    return _RawSession(prefix, {"Authorization": TWILIO_AUTH, "Accept": "application/json"})


async def _raw_twilio_fetch(client: Any, sid: str) -> str:
    return str((await client.get_json(sid))["sid"])


def _raw_telnyx_open(server: ServerProcess, n: int) -> Any:
    prefix = f"{server.telnyx_base_url(0, n, fast=True)}/room_compositions/"
    return _RawSession(prefix, {"Authorization": TELNYX_AUTH, "Accept": "application/json"})


async def _raw_telnyx_fetch(client: Any, id_: str) -> str:
    return str((await client.get_json(id_))["data"]["id"])


CASES = [
    Case("twilio: this library", "twilio", _ours_twilio_open, _ours_twilio_fetch),
    Case(
        "twilio: twilio-python fetch_async",
        "twilio",
        _TwilioSDKClient,
        _sdk_twilio_fetch,
        skip=TWILIO_SDK_NOTE,
    ),
    Case("twilio: raw aiohttp", "twilio", _raw_twilio_open, _raw_twilio_fetch),
    Case(
        "telnyx: this library",
        "telnyx",
        _ours_telnyx_open,
        _ours_telnyx_fetch,
        skip=TELNYX_LIB_NOTE,
    ),
    Case(
        "telnyx: telnyx-python retrieve",
        "telnyx",
        _sdk_telnyx_open,
        _sdk_telnyx_fetch,
        skip=TELNYX_SDK_NOTE,
    ),
    Case("telnyx: raw aiohttp", "telnyx", _raw_telnyx_open, _raw_telnyx_fetch),
]

# (name, numerator case, denominator case, target); rates, so every target is ">=".
RATIOS: list[tuple[str, str, str, float]] = [
    ("twilio: ours / raw aiohttp", "twilio: this library", "twilio: raw aiohttp", 0.85),
    (
        "twilio: ours / twilio-python",
        "twilio: this library",
        "twilio: twilio-python fetch_async",
        1.5,
    ),
    ("telnyx: ours / raw aiohttp", "telnyx: this library", "telnyx: raw aiohttp", 0.85),
    (
        "telnyx: ours / telnyx-python",
        "telnyx: this library",
        "telnyx: telnyx-python retrieve",
        10.0,
    ),
]


def run_case(server: ServerProcess, case: Case, n: int) -> Callable[[], Awaitable[list[str]]]:
    """The case as one run: open a client, fetch ``n`` ids, close; the ids decoded, in order."""
    ids = expected_ids(case.shape, n)

    async def run() -> list[str]:
        async with case.open(server, n) as client:
            return await fetch_all(client, case.fetch, ids, CONCURRENCY)

    return run


async def _timed_rounds(
    server: ServerProcess, cases: list[Case], rounds: int, n: int
) -> dict[str, dict[str, list[float]]]:
    """Wall time, client CPU and server CPU of every run, rounds interleaved and rotated."""
    runs = {c.name: (c, run_case(server, c, n)) for c in cases}
    samples: dict[str, dict[str, list[float]]] = {
        name: {"wall": [], "cpu": [], "server_cpu": []} for name in runs
    }
    for r, order in enumerate(_stats.rotations(list(runs), rounds)):
        for name in order:
            case, run = runs[name]
            gc.collect()
            server_before = server.cpu_seconds()
            cpu = time.process_time()
            start = time.perf_counter()
            got = await run()
            wall = time.perf_counter() - start
            cpu = time.process_time() - cpu
            server_after = server.cpu_seconds()
            verify(name, expected_ids(case.shape, n), got)
            samples[name]["wall"].append(wall)
            samples[name]["cpu"].append(cpu)
            if server_before is not None and server_after is not None:
                samples[name]["server_cpu"].append(server_after - server_before)
        print(f"  round {r + 1}/{rounds} done", file=sys.stderr, flush=True)
    return samples


async def measure(server: ServerProcess, rounds: int, n: int) -> dict[str, Any]:
    """Check every case on a few ids, warm them up, then time them in interleaved rounds."""
    active = [c for c in CASES if c.skip is None]
    for case in active:
        # A short run first: wrong ids abort here, and lazy imports (telnyx-python's
        # resources) happen outside the timings.
        size = min(n, 2 * CONCURRENCY)
        verify(case.name, expected_ids(case.shape, size), await run_case(server, case, size)())
    for case in active:
        if case.name.endswith("raw aiohttp"):
            # The server builds each response once: have it build all of them now.
            verify(case.name, expected_ids(case.shape, n), await run_case(server, case, n)())
    samples = await _timed_rounds(server, active, rounds, n)
    rates: dict[str, _stats.Summary] = {}
    cases: dict[str, Any] = {}
    for case in CASES:
        if case.skip is not None:
            cases[case.name] = {"skipped": case.skip}
            continue
        got = samples[case.name]
        rates[case.name] = rate = _stats.summarize([n / t for t in got["wall"]])
        entry = rate.as_dict(1)
        entry["median_seconds"] = round(statistics.median(got["wall"]), 4)
        # CPU per request is steadier than the rate on a busy machine.
        entry["client_cpu_us_per_request"] = round(statistics.median(got["cpu"]) / n * 1e6, 1)
        if got["server_cpu"]:
            busy = [s / w for s, w in zip(got["server_cpu"], got["wall"], strict=True)]
            entry["server_cpu_us_per_request"] = round(
                statistics.median(got["server_cpu"]) / n * 1e6, 1
            )
            entry["server_busy"] = round(statistics.median(busy), 3)
        cases[case.name] = entry
    ratios: dict[str, Any] = {}
    for name, num, den, target in RATIOS:
        a, b = rates.get(num), rates.get(den)
        value = _stats.ratio(a.median if a else None, b.median if b else None)
        best = _stats.ratio(a.max if a else None, b.max if b else None)
        verdict = "skipped" if value is None else ("met" if value >= target else "MISSED")
        ratios[name] = {
            "value": None if value is None else round(value, 3),
            "best_vs_best": None if best is None else round(best, 3),
            "target": f">= {target}",
            "verdict": verdict,
        }
    return {"cases": cases, "ratios": ratios}


def report(result: dict[str, Any]) -> str:
    """The tables a person reads."""
    rows = []
    for name, c in result["cases"].items():
        if "skipped" in c:
            rows.append([name, None, None, None, None, None, "skipped: " + c["skipped"]])
        else:
            busy = c.get("server_busy")
            rows.append(
                [
                    name,
                    c["median"],
                    c["min"],
                    c["max"],
                    c["client_cpu_us_per_request"],
                    None if busy is None else f"{busy:.0%}",
                    "",
                ]
            )
    headers = ["case (requests/s)", "median", "min", "max", "client CPU us/req", "server busy", ""]
    table = _stats.format_table(headers, rows)
    ratio_rows = [
        [name, r["value"], r["best_vs_best"], r["target"], r["verdict"]]
        for name, r in result["ratios"].items()
    ]
    ratios = _stats.format_table(["ratio", "of medians", "of best", "target", ""], ratio_rows)
    return f"{table}\n\n{ratios}"


def main(argv: list[str] | None = None) -> int:
    """Run the concurrent fetch benchmark, print its tables and store them."""
    parser = argparse.ArgumentParser(
        description="Concurrent fetch benchmark (see benchmarks/README.md)."
    )
    _stats.add_common_args(parser, rounds=15, quick_rounds=1)
    args = parser.parse_args(argv)
    rounds, out = _stats.resolve_common_args(args)
    n = QUICK_REQUESTS if args.quick else REQUESTS
    # twilio-python passes auth=BasicAuth(...), which aiohttp 3.14 deprecates on every request.
    warnings.filterwarnings("ignore", category=DeprecationWarning, message=".*auth.*")
    before = _stats.machine_info()
    print(
        f"fetch benchmark: {rounds} rounds of {n} fetches, {CONCURRENCY} at a time",
        file=sys.stderr,
        flush=True,
    )
    start = time.perf_counter()
    with ServerProcess(ttl=900) as server:
        result = asyncio.run(measure(server, rounds, n))
    elapsed = time.perf_counter() - start
    print(report(result))
    print(f"\n({elapsed:.0f} s; load average before: {before['load_average_1_5_15']})")
    if out is not None:
        config = {"requests": n, "concurrency": CONCURRENCY, "latency_s": 0.0}
        _stats.save_results("fetch", result, out, rounds=rounds, before=before, config=config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
