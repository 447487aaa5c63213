"""Import-time benchmark: wall time of ``python -c "import async_compositions"`` in a fresh process.

Run with ``python -m benchmarks.bench_import [--rounds N] [--quick] [--no-save]``. See README.md.
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from . import _stats

ROOT = Path(__file__).resolve().parent.parent

# (name, code given to `python -c`); the second is the reference, the first the floor.
CASES: list[tuple[str, str]] = [
    ("python -c pass (floor)", "pass"),
    ("import aiohttp, attrs, cattrs (reference)", "import aiohttp, attrs, cattrs"),
    ("import async_compositions", "import async_compositions"),
    (
        "import both clients",
        "from async_compositions import TelnyxClient, TwilioClient",
    ),
]
OURS, REFERENCE, FLOOR = CASES[2][0], CASES[1][0], CASES[0][0]
# The providers load when a client is first named; this shows what a real program pays.
CLIENTS = CASES[3][0]
TARGET = 1.15
IMPORTTIME_RUNS = 3
TOP = 15


def command(code: str) -> list[str]:
    """The exact command a case runs: this interpreter, ``-c code``."""
    return [sys.executable, "-c", code]


def run_once(code: str) -> float:
    """Wall time of one fresh interpreter running ``code``, start to exit; fails on an error."""
    start = time.perf_counter()
    proc = subprocess.run(command(code), cwd=ROOT, capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"python -c {code!r} failed: {proc.stderr.decode(errors='replace')}")
    return elapsed


def check() -> str:
    """The library the subprocesses import must be this checkout's: return where it lives."""
    code = "import async_compositions as m; print(m.__file__)"
    out = subprocess.run(command(code), cwd=ROOT, capture_output=True, text=True, check=True)
    where = Path(out.stdout.strip()).resolve()
    if ROOT not in where.parents:
        raise RuntimeError(f"the subprocess imported async_compositions from {where}, not {ROOT}")
    return str(where.parent)


def importtime(code: str) -> dict[str, tuple[int, int]]:
    """``-X importtime`` of ``code``: module -> (self µs, cumulative µs)."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    modules: dict[str, tuple[int, int]] = {}
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, cumulative, name = line[len("import time:") :].split("|")
        modules[name.strip()] = (int(own), int(cumulative))
    return modules


def costliest(runs: int) -> dict[str, Any]:
    """What importing the library adds to the reference imports, from ``-X importtime``.

    Each module's self time is the median over ``runs`` runs; only modules the reference
    command does not import are listed, costliest first, and summed per top-level package.
    """
    ours: dict[str, list[int]] = defaultdict(list)
    cumulative: dict[str, list[int]] = defaultdict(list)
    reference: set[str] = set()
    for _ in range(runs):
        reference |= set(importtime(CASES[1][1]))
        for name, (own, cum) in importtime(CASES[2][1]).items():
            ours[name].append(own)
            cumulative[name].append(cum)
    extra = {name: statistics.median(v) for name, v in ours.items() if name not in reference}
    by_package: dict[str, float] = defaultdict(float)
    for name, us in extra.items():
        by_package[name.split(".")[0]] += us
    top = sorted(extra.items(), key=lambda kv: -kv[1])[:TOP]
    return {
        "runs": runs,
        "extra_modules": len(extra),
        "extra_self_ms": round(sum(extra.values()) / 1000, 2),
        "by_package_ms": {
            k: round(v / 1000, 2) for k, v in sorted(by_package.items(), key=lambda kv: -kv[1])
        },
        "top_modules": [
            {
                "module": name,
                "self_ms": round(us / 1000, 2),
                "cumulative_ms": round(statistics.median(cumulative[name]) / 1000, 2),
            }
            for name, us in top
        ],
    }


def measure(rounds: int, importtime_runs: int) -> dict[str, Any]:
    """Check the commands, warm the caches, then time fresh interpreters in interleaved rounds."""
    location = check()
    for _, code in CASES:
        run_once(code)  # writes .pyc files and fills the page cache before anything is timed
    summaries = _stats.run_interleaved({name: _runner(code) for name, code in CASES}, rounds)
    cases: dict[str, Any] = {}
    for name, code in CASES:
        entry = summaries[name].as_dict(4)
        entry["command"] = shlex.join(command(code))
        cases[name] = entry
    ours, ref, floor = summaries[OURS], summaries[REFERENCE], summaries[FLOOR]
    value = ours.median / ref.median
    above_floor = _stats.ratio(ours.median - floor.median, ref.median - floor.median)
    ratios = {
        "ours / reference": {
            "value": round(value, 3),
            "best_vs_best": round(ours.min / ref.min, 3),
            "target": f"<= {TARGET}",
            "verdict": "met" if value <= TARGET else "MISSED",
        },
        "both clients / reference (for reading only)": {
            "value": round(summaries[CLIENTS].median / ref.median, 3),
            "best_vs_best": round(summaries[CLIENTS].min / ref.min, 3),
            "target": None,
            "verdict": "",
        },
        "ours / reference, floor subtracted (for reading only)": {
            "value": None if above_floor is None else round(above_floor, 3),
            "best_vs_best": None,
            "target": None,
            "verdict": "",
        },
    }
    return {
        "library": location,
        "cases": cases,
        "ratios": ratios,
        "costliest_imports": costliest(importtime_runs),
    }


def _runner(code: str) -> Any:
    return lambda: run_once(code)


def report(result: dict[str, Any]) -> str:
    """The tables a person reads."""
    rows = [
        [name, c["median"] * 1000, c["min"] * 1000, c["max"] * 1000]
        for name, c in result["cases"].items()
    ]
    table = _stats.format_table(["case (wall ms, fresh process)", "median", "min", "max"], rows)
    ratio_rows = [
        [name, r["value"], r["best_vs_best"], r["target"] or "", r["verdict"]]
        for name, r in result["ratios"].items()
    ]
    ratios = _stats.format_table(["ratio", "of medians", "of best", "target", ""], ratio_rows)
    cost = result["costliest_imports"]
    top_rows = [[m["module"], m["self_ms"], m["cumulative_ms"]] for m in cost["top_modules"]]
    top = _stats.format_table(["module not in the reference", "self ms", "cumul. ms"], top_rows)
    packages = ", ".join(f"{k} {v:.1f}" for k, v in list(cost["by_package_ms"].items())[:8])
    return (
        f"{table}\n\n{ratios}\n\n"
        f"-X importtime (median of {cost['runs']} runs): {cost['extra_modules']} modules beyond "
        f"the reference, {cost['extra_self_ms']:.1f} ms of self time; by package (ms): "
        f"{packages}\n{top}"
    )


def main(argv: list[str] | None = None) -> int:
    """Run the import-time benchmark, print its tables and store them."""
    parser = argparse.ArgumentParser(
        description="Import-time benchmark (see benchmarks/README.md)."
    )
    _stats.add_common_args(parser, rounds=12, quick_rounds=3)
    args = parser.parse_args(argv)
    rounds, out = _stats.resolve_common_args(args)
    before = _stats.machine_info()
    print(f"import benchmark: {rounds} rounds", file=sys.stderr, flush=True)
    start = time.perf_counter()
    result = measure(rounds, 2 if args.quick else IMPORTTIME_RUNS)
    print(report(result))
    print(
        f"\n({time.perf_counter() - start:.0f} s; "
        f"load average before: {before['load_average_1_5_15']})"
    )
    if out is not None:
        _stats.save_results("import", result, out, rounds=rounds, before=before)
    return 0


if __name__ == "__main__":
    sys.exit(main())
