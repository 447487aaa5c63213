"""The fetch benchmark on both event loops: the standard asyncio loop and uvloop.

The concurrent fetch cases of ``bench_fetch`` (this library and the raw aiohttp + orjson
loop, both providers: 2000 GETs, 50 at a time, server in its own process), each run on
a fresh event loop of either kind, every (case, loop) pair interleaved in rotating
rounds. Reports requests per second and client CPU per request, ours / raw on each loop,
and uvloop / asyncio for each case. The official SDKs are left out: they are measured on
the default loop by ``bench_fetch``, and the question here is what the loop changes.

Run with ``python -m benchmarks.bench_uvloop [--rounds N] [--quick] [--no-save]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from . import _stats
from ._server import ServerProcess
from .bench_fetch import CASES, CONCURRENCY, QUICK_REQUESTS, REQUESTS, Case, run_case, verify
from .bench_fetch import expected_ids as _expected_ids

LOOPS = ("asyncio", "uvloop")
# The cases compared: this library and the raw loop, per provider.
PAIRS = (
    ("twilio", "twilio: this library", "twilio: raw aiohttp"),
    ("telnyx", "telnyx: this library", "telnyx: raw aiohttp"),
)


def loop_factory(kind: str) -> Callable[[], asyncio.AbstractEventLoop]:
    """A new event loop of ``kind``."""
    if kind == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    return asyncio.new_event_loop


def timed_run(server: ServerProcess, case: Case, loop: str, n: int) -> tuple[float, float]:
    """One run of ``case`` on a fresh ``loop``: (wall seconds, client CPU seconds)."""
    run = run_case(server, case, n)

    async def fetch_all() -> list[str]:
        return await run()

    with asyncio.Runner(loop_factory=loop_factory(loop)) as runner:
        gc.collect()
        cpu = time.process_time()
        start = time.perf_counter()
        got = runner.run(fetch_all())
        wall = time.perf_counter() - start
        cpu = time.process_time() - cpu
    verify(case.name, _expected_ids(case.shape, n), got)
    return wall, cpu


def measure(server: ServerProcess, rounds: int, n: int) -> dict[str, Any]:
    """Warm every (case, loop), then time them in interleaved, rotated rounds."""
    by_name = {c.name: c for c in CASES}
    keys = [(name, loop) for _, ours, raw in PAIRS for name in (ours, raw) for loop in LOOPS]
    for name, loop in keys:
        timed_run(server, by_name[name], loop, n)  # every response built once, imports done
    samples: dict[tuple[str, str], dict[str, list[float]]] = {
        k: {"wall": [], "cpu": []} for k in keys
    }
    for r, order in enumerate(_stats.rotations(keys, rounds)):
        for name, loop in order:
            wall, cpu = timed_run(server, by_name[name], loop, n)
            samples[(name, loop)]["wall"].append(wall)
            samples[(name, loop)]["cpu"].append(cpu)
        print(f"  round {r + 1}/{rounds} done", file=sys.stderr, flush=True)
    cases: dict[str, Any] = {}
    rates: dict[tuple[str, str], float] = {}
    cpus: dict[tuple[str, str], float] = {}
    for key, got in samples.items():
        summary = _stats.summarize([n / t for t in got["wall"]])
        rates[key] = summary.median
        cpus[key] = statistics.median(got["cpu"]) / n * 1e6
        entry = summary.as_dict(1)
        entry["client_cpu_us_per_request"] = round(cpus[key], 1)
        cases[f"{key[0]} [{key[1]}]"] = entry
    ratios: dict[str, Any] = {}
    for provider, ours, raw in PAIRS:
        for loop in LOOPS:
            ratios[f"{provider} on {loop}: ours / raw"] = {
                "rate": round(rates[(ours, loop)] / rates[(raw, loop)], 3),
                "cpu_us_over_raw": round(cpus[(ours, loop)] - cpus[(raw, loop)], 1),
            }
        for name in (ours, raw):
            ratios[f"{name}: uvloop / asyncio"] = {
                "rate": round(rates[(name, "uvloop")] / rates[(name, "asyncio")], 3),
                "cpu_us_over_raw": None,
            }
    return {"cases": cases, "ratios": ratios}


def report(result: dict[str, Any]) -> str:
    """The tables a person reads."""
    rows = [
        [name, c["median"], c["min"], c["max"], c["client_cpu_us_per_request"]]
        for name, c in result["cases"].items()
    ]
    table = _stats.format_table(
        ["case (requests/s)", "median", "min", "max", "client CPU us/req"], rows
    )
    ratio_rows = [[name, r["rate"], r["cpu_us_over_raw"]] for name, r in result["ratios"].items()]
    ratios = _stats.format_table(["ratio (medians)", "requests/s", "CPU us over raw"], ratio_rows)
    return f"{table}\n\n{ratios}"


def main(argv: list[str] | None = None) -> int:
    """Run the fetch cases on both loops, print the tables and store them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    _stats.add_common_args(parser, rounds=9, quick_rounds=1)
    args = parser.parse_args(argv)
    rounds, out = _stats.resolve_common_args(args)
    n = QUICK_REQUESTS if args.quick else REQUESTS
    before = _stats.machine_info()
    print(
        f"uvloop benchmark: {rounds} rounds of {n} fetches, {CONCURRENCY} at a time, "
        f"on {' and '.join(LOOPS)}",
        file=sys.stderr,
        flush=True,
    )
    start = time.perf_counter()
    with ServerProcess(ttl=900) as server:
        result = measure(server, rounds, n)
    elapsed = time.perf_counter() - start
    print(report(result))
    print(f"\n({elapsed:.0f} s; load average before: {before['load_average_1_5_15']})")
    if out is not None:
        config = {"requests": n, "concurrency": CONCURRENCY, "loops": list(LOOPS)}
        _stats.save_results("uvloop", result, out, rounds=rounds, before=before, config=config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
