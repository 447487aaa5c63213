"""``python -m benchmarks``: the paging benchmark, then the decode benchmark."""

from __future__ import annotations

import argparse
import sys
import time

from . import bench_decode, bench_paging


def main(argv: list[str] | None = None) -> int:
    """Run every benchmark; figures go to benchmarks/results.json unless --no-save."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--no-save", action="store_true", help="do not write results.json")
    parser.add_argument(
        "--only", choices=("paging", "decode"), help="run one benchmark instead of both"
    )
    args = parser.parse_args(argv)
    extra = ["--no-save"] if args.no_save else []
    start = time.perf_counter()
    status = 0
    if args.only in (None, "paging"):
        print("== paging ==", flush=True)
        status |= bench_paging.main(extra)
    if args.only in (None, "decode"):
        print("\n== decode ==", flush=True)
        status |= bench_decode.main(extra)
    print(f"\nall benchmarks: {time.perf_counter() - start:.0f} s")
    return status


if __name__ == "__main__":
    sys.exit(main())
