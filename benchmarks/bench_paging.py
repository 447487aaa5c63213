"""Paging benchmark: listing 2000 compositions from a loopback server with per-request latency.

Run with ``python -m benchmarks.bench_paging [--rounds N] [--quick] [--no-save]``. See README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import functools
import json
import sys
import time
import warnings
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from operator import attrgetter
from typing import Any

import aiohttp
import attrs

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


@attrs.frozen(slots=True)
class Workload:
    """One listing: ``total`` records in pages of ``page_size``; latency and consumer time."""

    name: str
    shape: str  # "twilio" or "telnyx"
    total: int
    page_size: int
    latency: float  # seconds the server waits per request (L)
    work: float  # seconds the consumer spends per page of items (C)

    @property
    def pages(self) -> int:
        """Number of pages (P)."""
        return -(-self.total // self.page_size)

    def ideal(self, depth: int = 1) -> float:
        """Lower bound with ``depth`` pages in flight: no request or decode overhead at all.

        The first page costs L; then a page is ready every max(L / depth, C); the last
        page still needs C. With depth 1 this is max(P*L, P*C) + min(L, C).
        """
        p, lat, c = self.pages, self.latency, self.work
        return lat + (p - 1) * max(lat / depth, c) + c

    @property
    def expected(self) -> list[str]:
        """The ids the server lists, in order."""
        return _expected_ids(self.shape, self.total)

    def warmup(self) -> Workload:
        """A tiny version (two short pages, no waiting) to load modules and open connections."""
        return attrs.evolve(self, total=2 * self.page_size, latency=0.0, work=0.0)


@functools.lru_cache(maxsize=16)
def _expected_ids(shape: str, total: int) -> list[str]:
    make = twilio_sid if shape == "twilio" else telnyx_id
    return [make(i) for i in range(total)]


TWILIO = Workload("twilio", "twilio", 2000, 50, 0.020, 0.020)
TELNYX = Workload("telnyx", "telnyx", 2000, 50, 0.020, 0.020)
TELNYX_LATENCY = Workload("telnyx-latency-bound", "telnyx", 2000, 50, 0.040, 0.005)
WORKLOADS = (TWILIO, TELNYX, TELNYX_LATENCY)
QUICK_RECORDS = 400  # --quick: 8 pages per listing instead of 40


def workloads(quick: bool) -> tuple[Workload, Workload, Workload]:
    """The three workloads; shorter listings for a smoke check."""
    if not quick:
        return WORKLOADS
    t, x, xl = (attrs.evolve(w, total=QUICK_RECORDS) for w in WORKLOADS)
    return t, x, xl


Runner = Callable[[Workload], Awaitable[list[str]]]


@attrs.frozen(slots=True)
class Case:
    """One timed case: a workload, how it lists, and its lower bound's pipeline depth."""

    name: str
    workload: Workload
    run: Runner
    depth: int = 1
    skip: str | None = None


# -- the consumer -------------------------------------------------------------------------


async def consume(items: AsyncIterable[Any], key: Callable[[Any], str], wl: Workload) -> list[str]:
    """Take every item; spend ``wl.work`` seconds after each page's worth of items."""
    ids: list[str] = []
    bound = wl.total + wl.page_size
    async for item in items:
        ids.append(key(item))
        n = len(ids)
        if n % wl.page_size == 0 and wl.work:
            await asyncio.sleep(wl.work)
        if n > bound:
            raise BenchmarkError(f"{wl.name}: more than {bound} records; the listing loops")
    return ids


def verify(name: str, wl: Workload, ids: list[str]) -> None:
    """Fail loudly unless every record came exactly once, in order."""
    if ids != wl.expected:
        raise BenchmarkError(
            f"{name}: listed {len(ids)} records ({len(set(ids))} distinct), "
            f"expected all {wl.total} in order"
        )


# -- this library -------------------------------------------------------------------------


def ours_twilio(server: ServerProcess) -> Runner:
    """``TwilioClient(...).compositions.stream(page_size=50)`` (prefetches one page)."""

    async def run(wl: Workload) -> list[str]:
        base = server.twilio_base_url(wl.latency, wl.total)
        async with TwilioClient(ACCOUNT_SID, AUTH_TOKEN, base_url=base, rate_limit=None) as client:
            stream = client.compositions.stream(page_size=wl.page_size)
            return await consume(stream, attrgetter("sid"), wl)

    return run


def ours_telnyx(server: ServerProcess, prefetch: int) -> Runner:
    """``TelnyxClient(...).compositions.stream(page_size=50, prefetch=k)``."""

    async def run(wl: Workload) -> list[str]:
        assert TelnyxClient is not None
        base = server.telnyx_base_url(wl.latency, wl.total)
        async with TelnyxClient(TELNYX_KEY, base_url=base) as client:
            stream = client.compositions.stream(page_size=wl.page_size, prefetch=prefetch)
            return await consume(stream, attrgetter("id"), wl)

    return run


# -- the official SDKs --------------------------------------------------------------------


def sdk_twilio(server: ServerProcess) -> Runner:
    """twilio-python: ``await compositions.stream_async(page_size=50)`` over aiohttp."""

    async def run(wl: Workload) -> list[str]:
        assert TwilioSDK is not None
        http = AsyncTwilioHttpClient()
        try:
            client = TwilioSDK(ACCOUNT_SID, AUTH_TOKEN, http_client=http)
            # The Video domain's root; the server's next_page_url then points back at it.
            client.video.base_url = server.twilio_root(wl.latency, wl.total)
            stream = await client.video.v1.compositions.stream_async(page_size=wl.page_size)
            return await consume(stream, attrgetter("sid"), wl)
        finally:
            await http.close()

    return run


def sdk_telnyx(server: ServerProcess) -> Runner:
    """telnyx-python: ``async for`` over ``AsyncTelnyx(...).room_compositions.list(...)``."""

    async def run(wl: Workload) -> list[str]:
        assert AsyncTelnyx is not None
        base = server.telnyx_base_url(wl.latency, wl.total)
        async with AsyncTelnyx(api_key=TELNYX_KEY, base_url=base) as client:
            paginator = client.room_compositions.list(page_size=wl.page_size)
            return await consume(paginator, attrgetter("id"), wl)

    return run


# -- raw aiohttp loops --------------------------------------------------------------------


async def _get_json(
    session: aiohttp.ClientSession, url: str, headers: dict[str, str], params: Any = None
) -> Any:
    async with session.get(url, params=params, headers=headers) as resp:
        body = await resp.read()
        if resp.status != 200:
            raise BenchmarkError(f"GET {resp.url} -> HTTP {resp.status}: {body[:200]!r}")
    return json.loads(body)


async def _cancel(tasks: list[asyncio.Task[Any]]) -> None:
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.gather(*tasks, return_exceptions=True)


async def raw_twilio_items(
    session: aiohttp.ClientSession, first_url: str, max_pages: int, prefetch: bool
) -> AsyncIterator[dict[str, Any]]:
    """Follow ``next_page_url``; with ``prefetch`` a task fetches page N+1 during page N."""
    headers = {"Authorization": TWILIO_AUTH, "Accept": "application/json"}
    body = await _get_json(session, first_url, headers)
    ahead: asyncio.Task[Any] | None = None
    try:
        for _ in range(max_pages):
            nxt = body["meta"]["next_page_url"]
            if nxt and prefetch:
                ahead = asyncio.ensure_future(_get_json(session, nxt, headers))
            for record in body["compositions"]:
                yield record
            if not nxt:
                return
            if ahead is not None:
                body, ahead = await ahead, None
            else:
                body = await _get_json(session, nxt, headers)
        raise BenchmarkError(f"more than {max_pages} pages; the listing loops")
    finally:
        await _cancel([ahead] if ahead is not None else [])


async def raw_telnyx_items(
    session: aiohttp.ClientSession, url: str, page_size: int, max_pages: int, depth: int
) -> AsyncIterator[dict[str, Any]]:
    """Numbered pages; up to ``depth`` later pages in flight (0 = one request at a time)."""
    headers = {"Authorization": TELNYX_AUTH, "Accept": "application/json"}

    def fetch(number: int) -> Awaitable[Any]:
        params = {"page[size]": str(page_size)}
        if number > 1:
            params["page[number]"] = str(number)
        return _get_json(session, url, headers, params)

    inflight: collections.deque[asyncio.Task[Any]] = collections.deque()
    try:
        body = await fetch(1)
        total_pages = int(body["meta"]["total_pages"])
        if total_pages > max_pages:
            raise BenchmarkError(f"{total_pages} pages, more than {max_pages}")
        number = 2
        for _ in range(max_pages):
            while len(inflight) < depth and number <= total_pages:
                inflight.append(asyncio.ensure_future(fetch(number)))
                number += 1
            for record in body["data"]:
                yield record
            if inflight:
                body = await inflight.popleft()
            elif number <= total_pages:
                body = await fetch(number)
                number += 1
            else:
                return
    finally:
        await _cancel(list(inflight))


def raw_twilio(server: ServerProcess, prefetch: bool) -> Runner:
    """A plain aiohttp loop over Twilio pages, sequential or one page ahead."""

    async def run(wl: Workload) -> list[str]:
        first = f"{server.twilio_base_url(wl.latency, wl.total)}/Compositions"
        async with aiohttp.ClientSession() as session:
            items = raw_twilio_items(
                session, f"{first}?PageSize={wl.page_size}", wl.pages + 1, prefetch
            )
            return await consume(items, lambda r: r["sid"], wl)

    return run


def raw_telnyx(server: ServerProcess, depth: int) -> Runner:
    """A plain aiohttp loop over Telnyx pages with ``depth`` pages fetched ahead."""

    async def run(wl: Workload) -> list[str]:
        url = f"{server.telnyx_base_url(wl.latency, wl.total)}/room_compositions"
        async with aiohttp.ClientSession() as session:
            items = raw_telnyx_items(session, url, wl.page_size, wl.pages + 1, depth)
            return await consume(items, lambda r: r["id"], wl)

    return run


# -- the benchmark ------------------------------------------------------------------------


def build_cases(
    server: ServerProcess, wls: tuple[Workload, Workload, Workload] = WORKLOADS
) -> list[Case]:
    """Every case, in their reporting order; unavailable ones carry a skip note."""
    t, x, xl = wls
    return [
        Case("twilio: this library", t, ours_twilio(server)),
        Case("twilio: twilio-python stream_async", t, sdk_twilio(server), skip=TWILIO_SDK_NOTE),
        Case("twilio: raw aiohttp, sequential", t, raw_twilio(server, False)),
        Case("twilio: raw aiohttp, prefetch 1", t, raw_twilio(server, True)),
        Case("telnyx: this library, prefetch 1", x, ours_telnyx(server, 1), skip=TELNYX_LIB_NOTE),
        Case(
            "telnyx: this library, prefetch 4",
            x,
            ours_telnyx(server, 4),
            depth=4,
            skip=TELNYX_LIB_NOTE,
        ),
        Case("telnyx: telnyx-python list()", x, sdk_telnyx(server), skip=TELNYX_SDK_NOTE),
        Case("telnyx: raw aiohttp, sequential", x, raw_telnyx(server, 0)),
        Case("telnyx: raw aiohttp, prefetch 1", x, raw_telnyx(server, 1)),
        Case(
            "latency-bound: this library, prefetch 1",
            xl,
            ours_telnyx(server, 1),
            skip=TELNYX_LIB_NOTE,
        ),
        Case(
            "latency-bound: this library, prefetch 4",
            xl,
            ours_telnyx(server, 4),
            depth=4,
            skip=TELNYX_LIB_NOTE,
        ),
        Case("latency-bound: raw aiohttp, prefetch 1", xl, raw_telnyx(server, 1)),
        Case("latency-bound: raw aiohttp, prefetch 4", xl, raw_telnyx(server, 4), depth=4),
    ]


def timed(case: Case) -> Callable[[], Awaitable[None]]:
    """The case as a no-argument coroutine function that verifies what it listed."""

    async def run() -> None:
        verify(case.name, case.workload, await case.run(case.workload))

    return run


# (name, numerator case, denominator case or "ideal", target, "<=" or ">=")
RATIOS: list[tuple[str, str, str, float | None, str]] = [
    (
        "twilio: ours / raw prefetch 1",
        "twilio: this library",
        "twilio: raw aiohttp, prefetch 1",
        1.05,
        "<=",
    ),
    ("twilio: ours / ideal", "twilio: this library", "ideal", None, "<="),
    (
        "twilio: twilio-python / ours",
        "twilio: twilio-python stream_async",
        "twilio: this library",
        1.9,
        ">=",
    ),
    (
        "telnyx: ours (prefetch 1) / raw prefetch 1",
        "telnyx: this library, prefetch 1",
        "telnyx: raw aiohttp, prefetch 1",
        1.05,
        "<=",
    ),
    ("telnyx: ours (prefetch 1) / ideal", "telnyx: this library, prefetch 1", "ideal", None, "<="),
    (
        "telnyx: telnyx-python / ours (prefetch 1)",
        "telnyx: telnyx-python list()",
        "telnyx: this library, prefetch 1",
        2.0,
        ">=",
    ),
    (
        "telnyx: telnyx-python / ours (prefetch 4)",
        "telnyx: telnyx-python list()",
        "telnyx: this library, prefetch 4",
        2.0,
        ">=",
    ),
    (
        "latency-bound: ours prefetch 1 / prefetch 4",
        "latency-bound: this library, prefetch 1",
        "latency-bound: this library, prefetch 4",
        3.0,
        ">=",
    ),
    (
        "latency-bound: ours (prefetch 4) / raw prefetch 4",
        "latency-bound: this library, prefetch 4",
        "latency-bound: raw aiohttp, prefetch 4",
        1.05,
        "<=",
    ),
    (
        "latency-bound: ours (prefetch 4) / ideal (4 in flight)",
        "latency-bound: this library, prefetch 4",
        "ideal",
        None,
        "<=",
    ),
]


def _verdict(value: float | None, target: float | None, op: str) -> str:
    if value is None:
        return "skipped"
    if target is None:
        return ""
    ok = value <= target if op == "<=" else value >= target
    return "met" if ok else "MISSED"


async def measure(
    server: ServerProcess, rounds: int, wls: tuple[Workload, Workload, Workload] = WORKLOADS
) -> dict[str, Any]:
    """Warm up every case once, then time them in interleaved rounds."""
    cases = build_cases(server, wls)
    active = [c for c in cases if c.skip is None]
    for case in active:
        # Loads lazily imported modules (telnyx-python's resources) outside the timings.
        verify(case.name, case.workload.warmup(), await case.run(case.workload.warmup()))
    for wl in wls:
        # The server builds each page body on first request; do that before any timing.
        fill = raw_twilio(server, True) if wl.shape == "twilio" else raw_telnyx(server, 4)
        full = attrs.evolve(wl, work=0.0)
        verify(f"{wl.name} warm-up", full, await fill(full))

    def progress(done: int, total: int) -> None:
        print(f"  round {done}/{total} done", file=sys.stderr, flush=True)

    summaries = await _stats.run_interleaved_async(
        {c.name: timed(c) for c in active}, rounds, progress=progress
    )
    by_name = {c.name: c for c in cases}
    out_cases: dict[str, Any] = {}
    for case in cases:
        entry: dict[str, Any] = {
            "workload": case.workload.name,
            "ideal_seconds": round(case.workload.ideal(case.depth), 4),
        }
        if case.skip is not None:
            entry["skipped"] = case.skip
        else:
            s = summaries[case.name]
            entry.update(s.as_dict())
            entry["vs_ideal"] = round(s.median / case.workload.ideal(case.depth), 3)
        out_cases[case.name] = entry

    ratios: dict[str, Any] = {}
    for name, num, den, target, op in RATIOS:
        top = summaries.get(num)
        if den == "ideal":
            bottom: float | None = by_name[num].workload.ideal(by_name[num].depth)
        else:
            other = summaries.get(den)
            bottom = other.median if other is not None else None
        value = _stats.ratio(top.median if top is not None else None, bottom)
        ratios[name] = {
            "value": None if value is None else round(value, 3),
            "target": None if target is None else f"{op} {target}",
            "verdict": _verdict(value, target, op),
        }
    return {"cases": out_cases, "ratios": ratios}


def report(result: dict[str, Any]) -> str:
    """The tables a person reads."""
    rows = []
    for name, c in result["cases"].items():
        if "skipped" in c:
            rows.append([name, None, None, None, c["ideal_seconds"], "skipped"])
        else:
            rows.append(
                [name, c["median"], c["min"], c["max"], c["ideal_seconds"], f"{c['vs_ideal']:.2f}x"]
            )
    cases = _stats.format_table(["case", "median s", "min s", "max s", "ideal s", "vs ideal"], rows)
    ratio_rows = [
        [name, r["value"], r["target"] or "", r["verdict"]] for name, r in result["ratios"].items()
    ]
    ratios = _stats.format_table(["ratio (medians)", "value", "target", ""], ratio_rows)
    notes = [c["skipped"] for c in result["cases"].values() if "skipped" in c]
    lines = [cases, "", ratios]
    if notes:
        lines += ["", "skipped: " + "; ".join(sorted(set(notes)))]
    return "\n".join(lines)


def config(wls: tuple[Workload, ...] = WORKLOADS) -> dict[str, Any]:
    """The workloads, as stored with the figures."""
    return {
        w.name: {
            "shape": w.shape,
            "records": w.total,
            "page_size": w.page_size,
            "pages": w.pages,
            "latency_s": w.latency,
            "consumer_s_per_page": w.work,
        }
        for w in wls
    }


def main(argv: list[str] | None = None) -> int:
    """Run the paging benchmark, print its tables and store them in results.json."""
    parser = argparse.ArgumentParser(description="Paging benchmark (see benchmarks/README.md).")
    _stats.add_common_args(parser, rounds=5, quick_rounds=1)
    args = parser.parse_args(argv)
    rounds, out = _stats.resolve_common_args(args)
    wls = workloads(args.quick)
    # twilio-python passes auth=BasicAuth(...), which aiohttp 3.14 deprecates on every request.
    warnings.filterwarnings("ignore", category=DeprecationWarning, message=".*auth.*")
    before = _stats.machine_info()
    print(f"paging benchmark: {rounds} rounds", file=sys.stderr, flush=True)
    start = time.perf_counter()
    with ServerProcess(ttl=900) as server:
        result = asyncio.run(measure(server, rounds, wls))
    elapsed = time.perf_counter() - start
    print(report(result))
    print(f"\n({elapsed:.0f} s; load average before: {before['load_average_1_5_15']})")
    if out is not None:
        _stats.save_results("paging", result, out, rounds=rounds, before=before, config=config(wls))
    return 0


if __name__ == "__main__":
    sys.exit(main())
