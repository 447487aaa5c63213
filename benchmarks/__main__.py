"""``python -m benchmarks``: every benchmark in one run, then the chart.

Paging, decode, concurrent fetch, import time, memory, archive, the rate governor and
the fetch cases on uvloop run
one after the other in this process (each network benchmark starts its own loopback server
or emulator process, and the import and memory cases run in fresh interpreters). Their figures go to
benchmarks/results.json and the chart to benchmarks/results.png; ``--quick`` is a smoke
check whose figures go to a temporary file.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable

from . import (
    _stats,
    bench_archive,
    bench_decode,
    bench_fetch,
    bench_import,
    bench_memory,
    bench_paging,
    bench_ratelimit,
    bench_uvloop,
    chart,
)

BENCHMARKS: dict[str, Callable[[list[str]], int]] = {
    "paging": bench_paging.main,
    "decode": bench_decode.main,
    "fetch": bench_fetch.main,
    "import": bench_import.main,
    "memory": bench_memory.main,
    "archive": bench_archive.main,
    "ratelimit": bench_ratelimit.main,
    "uvloop": bench_uvloop.main,
}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks; a failing one is reported and the others still run."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--only", nargs="+", choices=list(BENCHMARKS), help="run these benchmarks only"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke check: fewer rounds and records; figures go to {_stats.QUICK_RESULTS}",
    )
    parser.add_argument("--no-save", action="store_true", help="write no results and no chart")
    args = parser.parse_args(argv)
    extra = [*(["--quick"] if args.quick else []), *(["--no-save"] if args.no_save else [])]
    start = time.perf_counter()
    failed: list[str] = []
    for name in args.only or list(BENCHMARKS):
        print(f"\n== {name} ==", flush=True)
        try:
            if BENCHMARKS[name](extra) != 0:
                failed.append(name)
        except Exception:
            # A case that fails its checks must not hide the other benchmarks' figures.
            traceback.print_exc()
            failed.append(name)
    if not args.no_save:
        results = _stats.QUICK_RESULTS if args.quick else _stats.RESULTS
        print()
        if chart.main(["--results", str(results)]) != 0:
            failed.append("chart")
    print(f"\nall benchmarks: {time.perf_counter() - start:.0f} s")
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
