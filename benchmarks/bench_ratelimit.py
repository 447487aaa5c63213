"""Rate governor benchmark: fetches and creates against an emulator that enforces a limit.

The emulator runs in its own process with ``--rate-limit READS,WRITES`` (a scaled-down
account limit): beyond it, it answers 429 with Retry-After and Twilio's error body, as
Twilio does. The library's client then runs with the governor set to the same limit, and
without it. Run with ``python -m benchmarks.bench_ratelimit [--rounds N] [--quick]``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from typing import Any

from async_compositions import RateLimit, RetryPolicy, TwilioClient

from . import _stats
from ._common import BenchmarkError
from .bench_archive import EmulatorProcess

READS, WRITES = 400, 100
FETCHES, FETCH_TASKS = 2000, 50
CREATES, CREATE_TASKS = 200, 20
QUICK = {"fetches": 400, "creates": 60}
ROOM = "RM" + "b" * 32


async def _fetch_all(client: TwilioClient, sids: list[str], n: int, tasks: int) -> int:
    todo = iter(range(n))
    got = 0

    async def worker() -> None:
        nonlocal got
        for i in todo:
            comp = await client.compositions.fetch(sids[i % len(sids)])
            if comp.sid != sids[i % len(sids)]:
                raise BenchmarkError(f"fetched {comp.sid}, asked {sids[i % len(sids)]}")
            got += 1

    await asyncio.gather(*(worker() for _ in range(tasks)))
    return got


async def _create_all(client: TwilioClient, n: int, tasks: int) -> int:
    todo = iter(range(n))
    made: set[str] = set()

    async def worker() -> None:
        for _ in todo:
            comp = await client.compositions.create(ROOM, audio_sources=["*"])
            made.add(comp.sid)

    await asyncio.gather(*(worker() for _ in range(tasks)))
    if len(made) != n:
        raise BenchmarkError(f"{len(made)} compositions created, {n} asked")
    return len(made)


async def _case(
    emu: EmulatorProcess, governed: bool, kind: str, n: int, sids: list[str]
) -> dict[str, float]:
    limit = RateLimit(reads=READS, writes=WRITES) if governed else None
    # The same retry policy for both: a 429 is waited out (Retry-After), up to many times.
    retry = RetryPolicy(max_attempts=4, rate_limit_attempts=50, max_retry_after=5)
    async with TwilioClient(
        emu.account_sid, emu.auth_token, base_url=emu.base_url, rate_limit=limit, retry=retry
    ) as client:
        cpu, start = time.process_time(), time.perf_counter()
        if kind == "fetch":
            done = await _fetch_all(client, sids, n, FETCH_TASKS)
        else:
            done = await _create_all(client, n, CREATE_TASKS)
        wall = time.perf_counter() - start
        cpu = time.process_time() - cpu
        stats = client.stats
    allowed = READS if kind == "fetch" else WRITES
    return {
        "rate": done / wall,
        "share_of_allowed": done / wall / allowed,
        "seconds": wall,
        "rate_limited": stats.rate_limited,
        "requests": stats.requests,
        "waited_s": stats.waited,
        "client_cpu_us_per_request": cpu / max(stats.requests, 1) * 1e6,
    }


async def _sids(emu: EmulatorProcess) -> list[str]:
    async with TwilioClient(
        emu.account_sid, emu.auth_token, base_url=emu.base_url, rate_limit=RateLimit(READS, WRITES)
    ) as client:
        return [c.sid for c in await client.compositions.list()]


def _median(samples: list[dict[str, float]]) -> dict[str, Any]:
    keys = samples[0].keys()
    out: dict[str, Any] = {k: round(statistics.median(s[k] for s in samples), 3) for k in keys}
    out["samples"] = [{k: round(v, 3) for k, v in s.items()} for s in samples]
    return out


async def measure(rounds: int, fetches: int, creates: int) -> dict[str, Any]:
    """Each case once per round, rounds interleaved; a fresh emulator (a full bucket) each."""
    cases = {
        "fetch, governor at the limit": (True, "fetch", fetches),
        "fetch, no governor": (False, "fetch", fetches),
        "create, governor at the limit": (True, "create", creates),
        "create, no governor": (False, "create", creates),
    }
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in cases}
    for r, order in enumerate(_stats.rotations(list(cases), rounds)):
        for name in order:
            governed, kind, n = cases[name]
            extra = (f"--rate-limit={READS},{WRITES}",)
            with EmulatorProcess(50, 1024, 0.0, extra) as emu:
                sids = await _sids(emu)
                await asyncio.sleep(1.2)  # let the listing's tokens refill
                samples[name].append(await _case(emu, governed, kind, n, sids))
        print(f"  round {r + 1}/{rounds} done", file=sys.stderr, flush=True)
    result: dict[str, Any] = {"cases": {name: _median(s) for name, s in samples.items()}}
    ratios = {}
    for name in ("fetch, governor at the limit", "create, governor at the limit"):
        case = result["cases"][name]
        met = case["rate_limited"] == 0 and case["share_of_allowed"] >= 0.95
        ratios[name] = {
            "share_of_allowed": case["share_of_allowed"],
            "rate_limited": case["rate_limited"],
            "target": "0 429s and >= 0.95 of the allowed rate",
            "verdict": "met" if met else "MISSED",
        }
    result["ratios"] = ratios
    return result


def report(result: dict[str, Any]) -> str:
    """The tables a person reads."""
    headers = ["case", "req/s", "of allowed", "429s", "requests", "waited s", "CPU us/req"]
    rows = [
        [
            name,
            c["rate"],
            c["share_of_allowed"],
            c["rate_limited"],
            c["requests"],
            c["waited_s"],
            c["client_cpu_us_per_request"],
        ]
        for name, c in result["cases"].items()
    ]
    verdicts = [
        [name, r["share_of_allowed"], r["rate_limited"], r["target"], r["verdict"]]
        for name, r in result["ratios"].items()
    ]
    return "\n\n".join(
        [
            _stats.format_table(headers, rows),
            _stats.format_table(["case", "of allowed", "429s", "target", ""], verdicts),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """Run the rate governor benchmark, print its tables and store them."""
    parser = argparse.ArgumentParser(description="Rate governor benchmark (benchmarks/README.md).")
    _stats.add_common_args(parser, rounds=3, quick_rounds=1)
    args = parser.parse_args(argv)
    rounds, out = _stats.resolve_common_args(args)
    fetches = QUICK["fetches"] if args.quick else FETCHES
    creates = QUICK["creates"] if args.quick else CREATES
    before = _stats.machine_info()
    print(
        f"rate limit benchmark: {rounds} rounds; {fetches} fetches from {FETCH_TASKS} tasks, "
        f"{creates} creates from {CREATE_TASKS}, at {READS} reads / {WRITES} writes a second",
        file=sys.stderr,
        flush=True,
    )
    start = time.perf_counter()
    result = asyncio.run(measure(rounds, fetches, creates))
    print(report(result))
    print(f"\n({time.perf_counter() - start:.0f} s)")
    if out is not None:
        config = {
            "reads_per_second": READS,
            "writes_per_second": WRITES,
            "fetches": fetches,
            "fetch_tasks": FETCH_TASKS,
            "creates": creates,
            "create_tasks": CREATE_TASKS,
        }
        _stats.save_results("ratelimit", result, out, rounds=rounds, before=before, config=config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
