"""Memory benchmark: peak RSS growth while streaming 100,000 records, against list().

Run with ``python -m benchmarks.bench_memory [--rounds N] [--quick] [--no-save]``. See README.md.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import gc
import json
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from async_compositions._http import HttpResponse
from async_compositions.telnyx._dialect import TelnyxDialect
from async_compositions.twilio._dialect import TwilioDialect

from . import _stats
from ._payloads import telnyx_id, telnyx_page, twilio_page, twilio_sid
from ._server import ServerProcess

_loads: Callable[[bytes], Any]
try:  # parse as the library does (orjson when installed)
    from orjson import loads as _loads
except ImportError:
    _loads = json.loads

ROOT = Path(__file__).resolve().parent.parent
RECORDS = 100_000
QUICK_RECORDS = 10_000
# The largest page each provider allows: the fewest requests, the biggest pages to hold.
PAGE_SIZE = {"twilio": 100, "telnyx": 250}
# Peak RSS does not depend on CPU contention, so two cases run at once to halve the wait.
PARALLEL = 2
CHILD_TIMEOUT = 300


@attrs.frozen(slots=True)
class Case:
    """One listing in a fresh interpreter: a shape, ``stream`` or ``list``, a prefetch depth."""

    name: str
    shape: str
    mode: str
    prefetch: int = 1

    @property
    def page_size(self) -> int:
        """Records per page (the provider's maximum)."""
        return PAGE_SIZE[self.shape]

    def bound_pages(self) -> int | None:
        """Pages of data a stream may hold at once (1 + prefetch); None for list()."""
        return None if self.mode == "list" else 1 + self.prefetch


CASES = [
    Case("telnyx: stream, prefetch 1", "telnyx", "stream", 1),
    Case("telnyx: stream, prefetch 4", "telnyx", "stream", 4),
    Case("telnyx: list()", "telnyx", "list"),
    Case("telnyx: raw aiohttp, prefetch 1 (dicts)", "telnyx", "raw", 1),
    Case("twilio: stream (prefetch 1)", "twilio", "stream", 1),
    Case("twilio: list()", "twilio", "list"),
]


# -- the size of one page of data -------------------------------------------------------------


def _headers() -> CIMultiDictProxy[str]:
    return CIMultiDictProxy(CIMultiDict({"Content-Type": "application/json"}))


def _page_body(shape: str, size: int) -> bytes:
    if shape == "twilio":
        return twilio_page(
            origin="https://video.twilio.com",
            collection_path="/v1/Compositions",
            page=0,
            page_size=size,
            total=2 * size,
        )
    return telnyx_page(page_number=1, page_size=size, total=2 * size)


def _decode_page(shape: str, body: bytes) -> list[Any]:
    if shape == "twilio":
        url = URL("https://video.twilio.com/v1/Compositions?PageSize=100")
        twilio = TwilioDialect(URL("https://video.twilio.com/v1"))
        batch = twilio.listing({}, None).parse(HttpResponse(200, _headers(), body, url), url)
        return twilio.decode_batch(batch)
    url = URL("https://api.telnyx.com/v2/room_compositions")
    telnyx = TelnyxDialect(URL("https://api.telnyx.com/v2"))
    batch = telnyx.listing({}, None).parse(HttpResponse(200, _headers(), body, url), 1)
    return telnyx.decode_batch(batch)


def _traced(make: Callable[[], Any]) -> tuple[Any, int]:
    """What ``make()`` returns, and the bytes it still holds once it has returned."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        value = make()
        gc.collect()
        return value, tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


def page_of_data(shape: str) -> dict[str, Any]:
    """Bytes one decoded page of models holds (tracemalloc), and its JSON body's size.

    The same page parsed to plain dicts (as the raw loop holds it) is measured too.
    """
    size = PAGE_SIZE[shape]
    body = _page_body(shape, size)
    make_id = twilio_sid if shape == "twilio" else telnyx_id
    _decode_page(shape, body)  # converters compile their hooks on first use: not page data
    items, held = _traced(lambda: _decode_page(shape, body))
    ids = [i.sid if shape == "twilio" else i.id for i in items]
    if ids != [make_id(i) for i in range(size)]:
        raise RuntimeError(f"{shape}: the page did not decode to the ids it holds")
    _, as_dicts = _traced(lambda: _loads(body))
    return {
        "records": size,
        "decoded_bytes": held,
        "dicts_bytes": as_dicts,
        "json_bytes": len(body),
        "decode_peak_bytes": _decode_peak(shape, body),
    }


def _decode_peak(shape: str, body: bytes) -> int:
    """Peak bytes allocated while one page is decoded from its body (dicts and models)."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        items = _decode_page(shape, body)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    del items
    return peak


# -- one case in a fresh process ---------------------------------------------------------------


def _base_url(server: ServerProcess, shape: str, records: int) -> str:
    if shape == "twilio":
        return server.twilio_base_url(0, records)
    return server.telnyx_base_url(0, records)


def run_child(server: ServerProcess, case: Case, records: int) -> dict[str, Any]:
    """Run ``case`` in a fresh interpreter; its JSON result (it checks every id itself)."""
    argv = [
        sys.executable,
        "-m",
        "benchmarks._memory_case",
        f"--shape={case.shape}",
        f"--mode={case.mode}",
        f"--prefetch={case.prefetch}",
        f"--base-url={_base_url(server, case.shape, records)}",
        f"--records={records}",
        f"--page-size={case.page_size}",
    ]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=CHILD_TIMEOUT, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{case.name} failed:\n{proc.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    if result.get("records") != records:
        raise RuntimeError(f"{case.name}: listed {result.get('records')} of {records} records")
    return result


def run_rounds(server: ServerProcess, records: int, rounds: int) -> dict[str, list[dict[str, Any]]]:
    """Every case ``rounds`` times in rotating order, ``PARALLEL`` processes at a time."""
    order = [name for r in _stats.rotations([c.name for c in CASES], rounds) for name in r]
    by_name = {c.name: c for c in CASES}
    results: dict[str, list[dict[str, Any]]] = {c.name: [] for c in CASES}
    with concurrent.futures.ThreadPoolExecutor(PARALLEL) as pool:
        futures = [pool.submit(run_child, server, by_name[name], records) for name in order]
        for i, (name, future) in enumerate(zip(order, futures, strict=True)):
            results[name].append(future.result())
            if (i + 1) % len(CASES) == 0:
                print(f"  round {(i + 1) // len(CASES)}/{rounds} done", file=sys.stderr, flush=True)
    return results


def measure(server: ServerProcess, rounds: int, records: int) -> dict[str, Any]:
    """Size one page of data per shape, check every case once, then run the rounds."""
    pages = {shape: page_of_data(shape) for shape in PAGE_SIZE}
    # A small listing first: a wrong id or count aborts before the long runs (and the
    # server builds its page bodies for the small listing only, so it stays quick).
    with concurrent.futures.ThreadPoolExecutor(PARALLEL) as pool:
        for check in [pool.submit(run_child, server, c, 4 * c.page_size) for c in CASES]:
            check.result()
    runs = run_rounds(server, records, rounds)
    cases: dict[str, Any] = {}
    for case in CASES:
        page = pages[case.shape]["decoded_bytes"]
        # The same growth in pages as parsed JSON, the form in which a client holds a page
        # before handing its records out.
        page_json = pages[case.shape]["dicts_bytes"]
        got = runs[case.name]
        growth = _stats.summarize([r["growth_kib"] * 1024 for r in got])
        entry: dict[str, Any] = {
            "shape": case.shape,
            "mode": case.mode,
            "prefetch": case.prefetch if case.mode == "stream" else None,
            "page_size": case.page_size,
            "growth_mb": {
                "median": round(growth.median / 1e6, 2),
                "min": round(growth.min / 1e6, 2),
                "max": round(growth.max / 1e6, 2),
                "samples": [round(s / 1e6, 2) for s in growth.samples],
            },
            "growth_pages": {
                "median": round(growth.median / page, 2),
                "min": round(growth.min / page, 2),
                "max": round(growth.max / page, 2),
            },
            "growth_pages_as_dicts": round(growth.median / page_json, 2),
            "baseline_mb": round(statistics.median(r["baseline_kib"] for r in got) * 1024 / 1e6, 1),
            "seconds": round(statistics.median(r["seconds"] for r in got), 2),
            "method": sorted({r["method"] for r in got}),
            "raw": got,
        }
        bound = case.bound_pages()
        if bound is not None:
            value = growth.median / (bound * page)
            entry["bound_pages"] = bound
            entry["growth_vs_bound"] = round(value, 3)
            if case.mode == "stream":  # the raw loop is a reference, with no target
                entry["verdict"] = "met" if value < 1 else "MISSED"
        cases[case.name] = entry
    return {
        "records": records,
        "page_of_data": pages,
        "cases": cases,
    }


def report(result: dict[str, Any]) -> str:
    """The tables a person reads."""
    rows = []
    for name, c in result["cases"].items():
        g = c["growth_mb"]
        p = c["growth_pages"]
        rows.append(
            [
                name,
                g["median"],
                g["min"],
                g["max"],
                f"{p['median']:.1f} ({p['min']:.1f}-{p['max']:.1f})",
                f"{c['growth_pages_as_dicts']:.1f}",
                c.get("bound_pages"),
                c.get("growth_vs_bound"),
                c.get("verdict", ""),
            ]
        )
    headers = [
        "case (peak RSS growth, MB)",
        "median",
        "min",
        "max",
        "pages of models",
        "pages of dicts",
        "bound",
        "vs bound",
        "",
    ]
    table = _stats.format_table(headers, rows)
    keys = ("decoded_bytes", "dicts_bytes", "json_bytes", "decode_peak_bytes")
    page_rows = [
        [shape, p["records"], *(p[k] / 1e6 for k in keys)]
        for shape, p in result["page_of_data"].items()
    ]
    headers = ["one page of data", "records", "models MB", "as dicts MB", "JSON MB"]
    pages = _stats.format_table([*headers, "peak decoding MB"], page_rows)
    return f"{table}\n\n{pages}"


def main(argv: list[str] | None = None) -> int:
    """Run the memory benchmark, print its tables and store them."""
    parser = argparse.ArgumentParser(description="Memory benchmark (see benchmarks/README.md).")
    _stats.add_common_args(parser, rounds=5, quick_rounds=1)
    args = parser.parse_args(argv)
    rounds, out = _stats.resolve_common_args(args)
    records = QUICK_RECORDS if args.quick else RECORDS
    before = _stats.machine_info()
    print(f"memory benchmark: {rounds} rounds of {records} records", file=sys.stderr, flush=True)
    start = time.perf_counter()
    with ServerProcess(ttl=900) as server:
        result = measure(server, rounds, records)
    elapsed = time.perf_counter() - start
    print(report(result))
    print(f"\n({elapsed:.0f} s; load average before: {before['load_average_1_5_15']})")
    if out is not None:
        config = {"records": records, "page_size": PAGE_SIZE, "parallel_processes": PARALLEL}
        _stats.save_results("memory", result, out, rounds=rounds, before=before, config=config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
