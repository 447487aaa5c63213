"""One memory case, run in a fresh interpreter by ``bench_memory``: prints one JSON line.

    python -m benchmarks._memory_case --shape telnyx --mode stream --prefetch 1 \\
        --base-url http://127.0.0.1:PORT/telnyx/0/100000/v2 --records 100000 --page-size 250

After the imports and a warm-up listing (two pages of two records, through the same client
and the same verb), a peak-RSS window starts (see ``reset_peak``): the RSS then is the
baseline. The case then lists every record; each one is checked against the id the server
holds at that position, and nothing is kept (``stream``, ``raw``) or everything is kept
(``list``). The peak RSS of the window minus the baseline is the growth.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import resource
import sys
import time
from collections.abc import Callable
from typing import Any

# Before any import: what the process inherited (see reset_peak).
MAXRSS_AT_START = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

import aiohttp  # noqa: E402

from async_compositions import TelnyxClient, TwilioClient  # noqa: E402

from ._common import ACCOUNT_SID, AUTH_TOKEN, TELNYX_AUTH, TELNYX_KEY  # noqa: E402
from ._payloads import telnyx_id, twilio_sid  # noqa: E402

_loads: Callable[[bytes], Any]
try:  # parse as the library does (orjson when installed)
    from orjson import loads as _loads
except ImportError:
    _loads = json.loads

WARMUP_PAGE_SIZE = 2
WARMUP_RECORDS = 4


def _status_kib(field: str) -> int | None:
    """A ``kB`` field of /proc/self/status (VmRSS, VmHWM), or None off Linux."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def ru_maxrss_kib() -> int:
    """``getrusage(RUSAGE_SELF).ru_maxrss`` in KiB (macOS reports bytes)."""
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return usage // 1024 if sys.platform == "darwin" else usage


def reset_peak() -> str:
    """Start a new peak-RSS window; the name of the method that measures it.

    ``ru_maxrss`` is a high-water mark for the whole process, and Linux carries into it
    the parent's RSS at the time of the fork/exec, so a benchmark parent larger than this
    process hides any growth. Writing 5 to /proc/self/clear_refs resets the peak (VmHWM)
    to the current RSS (Linux 4.0+); elsewhere ru_maxrss is all there is.
    """
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
    except OSError:
        return "ru_maxrss"
    return "VmHWM" if _status_kib("VmHWM") is not None else "ru_maxrss"


def peak_kib(method: str) -> int:
    """The peak RSS of the current window, in KiB."""
    if method == "VmHWM":
        value = _status_kib("VmHWM")
        if value is not None:
            return value
    return ru_maxrss_kib()


def _client(shape: str, mode: str, base_url: str) -> Any:
    if mode == "raw":
        return aiohttp.ClientSession()
    if shape == "twilio":
        # No budget: the raw loops it is compared with have none either.
        return TwilioClient(ACCOUNT_SID, AUTH_TOKEN, base_url=base_url, rate_limit=None)
    return TelnyxClient(TELNYX_KEY, base_url=base_url)


def _check(shape: str, index: int, item: Any) -> None:
    if isinstance(item, dict):
        got = item["sid"] if shape == "twilio" else item["id"]
    else:
        got = item.sid if shape == "twilio" else item.id
    want = twilio_sid(index) if shape == "twilio" else telnyx_id(index)
    if got != want:
        raise RuntimeError(f"record {index}: got {got!r}, expected {want!r}")


async def _stream(client: Any, shape: str, page_size: int, prefetch: int, limit: Any) -> int:
    kwargs: dict[str, Any] = {"page_size": page_size, "limit": limit}
    if shape == "telnyx":
        kwargs["prefetch"] = prefetch
    count = 0
    async for item in client.compositions.stream(**kwargs):
        _check(shape, count, item)
        count += 1
    return count


async def _raw(session: aiohttp.ClientSession, base_url: str, page_size: int, limit: Any) -> int:
    """Telnyx pages with one page fetched ahead, parsed to dicts: the HTTP and JSON floor."""
    url = f"{base_url}/room_compositions"
    headers = {"Authorization": TELNYX_AUTH, "Accept": "application/json"}

    async def get(number: int) -> Any:
        params = {"page[size]": str(page_size), "page[number]": str(number)}
        async with session.get(url, params=params, headers=headers) as resp:
            body = await resp.read()
            if resp.status != 200:
                raise RuntimeError(f"GET {resp.url} -> HTTP {resp.status}")
        return _loads(body)

    page, number, count = await get(1), 1, 0
    total_pages = int(page["meta"]["total_pages"])
    while True:
        ahead = asyncio.ensure_future(get(number + 1)) if number < total_pages else None
        try:
            for record in page["data"]:
                if limit is not None and count >= limit:
                    return count
                _check("telnyx", count, record)
                count += 1
            if ahead is None:
                return count
            page, ahead, number = await ahead, None, number + 1
        finally:
            if ahead is not None:
                ahead.cancel()
                await asyncio.gather(ahead, return_exceptions=True)


async def _list(client: Any, shape: str, page_size: int, limit: Any) -> list[Any]:
    items = await client.compositions.list(page_size=page_size, limit=limit)
    for i, item in enumerate(items):
        _check(shape, i, item)
    return items  # type: ignore[no-any-return]


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Warm up, take the baseline, list every record, take the peak."""
    if args.mode == "raw" and args.shape != "telnyx":
        raise SystemExit("--mode raw lists Telnyx pages only")
    async with _client(args.shape, args.mode, args.base_url) as client:
        if args.mode == "stream":
            got = await _stream(client, args.shape, WARMUP_PAGE_SIZE, args.prefetch, WARMUP_RECORDS)
        elif args.mode == "raw":
            got = await _raw(client, args.base_url, WARMUP_PAGE_SIZE, WARMUP_RECORDS)
        else:
            got = len(await _list(client, args.shape, WARMUP_PAGE_SIZE, WARMUP_RECORDS))
        if got != WARMUP_RECORDS:
            raise RuntimeError(f"warm-up listed {got} records, expected {WARMUP_RECORDS}")
        gc.collect()
        method = reset_peak()
        baseline, maxrss_before = peak_kib(method), ru_maxrss_kib()
        start, cpu = time.perf_counter(), time.process_time()
        kept: list[Any] = []
        if args.mode == "stream":
            count = await _stream(client, args.shape, args.page_size, args.prefetch, None)
        elif args.mode == "raw":
            count = await _raw(client, args.base_url, args.page_size, None)
        else:
            kept = await _list(client, args.shape, args.page_size, None)
            count = len(kept)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        peak, maxrss_after, now = peak_kib(method), ru_maxrss_kib(), _status_kib("VmRSS")
        del kept
    if count != args.records:
        raise RuntimeError(f"listed {count} records, expected {args.records}")
    return {
        "records": count,
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu, 3),
        "method": method,
        "baseline_kib": baseline,
        "peak_kib": peak,
        "growth_kib": peak - baseline,
        "rss_after_kib": now,
        # For the record: what ru_maxrss said (its floor is the parent's RSS at fork time).
        "ru_maxrss_start_kib": MAXRSS_AT_START,
        "ru_maxrss_baseline_kib": maxrss_before,
        "ru_maxrss_after_kib": maxrss_after,
    }


def main(argv: list[str] | None = None) -> int:
    """Command line; the result is one JSON object on stdout."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=("twilio", "telnyx"), required=True)
    parser.add_argument("--mode", choices=("stream", "list", "raw"), required=True)
    parser.add_argument("--prefetch", type=int, default=1)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--records", type=int, required=True)
    parser.add_argument("--page-size", type=int, required=True)
    args = parser.parse_args(argv)
    print(json.dumps(asyncio.run(run(args))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
