"""Timing and reporting: interleaved rounds, medians, machine info, results.json."""

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import json
import os
import platform
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import attrs

__all__ = [
    "QUICK_RESULTS",
    "RESULTS",
    "Summary",
    "add_common_args",
    "command_line",
    "format_table",
    "machine_info",
    "ratio",
    "resolve_common_args",
    "rotations",
    "run_interleaved",
    "run_interleaved_async",
    "summarize",
    "write_results",
]

RESULTS = Path(__file__).resolve().parent / "results.json"
# --quick is a smoke check: its figures must not replace the published ones.
QUICK_RESULTS = Path(tempfile.gettempdir()) / "async-compositions-bench-quick" / "results.json"
PACKAGES = (
    "async-compositions",
    "aiohttp",
    "attrs",
    "cattrs",
    "yarl",
    "orjson",
    "twilio",
    "telnyx",
    "httpx",
    "pydantic",
    "uvloop",
)

T = TypeVar("T")


@attrs.frozen(slots=True)
class Summary:
    """Median, min and max of repeated samples."""

    median: float
    min: float
    max: float
    samples: tuple[float, ...]

    def as_dict(self, digits: int = 4) -> dict[str, Any]:
        """The summary as JSON-ready numbers, rounded to ``digits`` decimals."""
        return {
            "median": round(self.median, digits),
            "min": round(self.min, digits),
            "max": round(self.max, digits),
            "samples": [round(s, digits) for s in self.samples],
        }


def summarize(samples: Sequence[float]) -> Summary:
    """Median, min and max of ``samples`` (at least one)."""
    if not samples:
        raise ValueError("no samples")
    return Summary(statistics.median(samples), min(samples), max(samples), tuple(samples))


def rotations(names: Sequence[T], rounds: int) -> list[list[T]]:
    """Each round runs every case once, starting one case later than the round before.

    Rotating the order spreads slow drifts of the machine (other jobs, thermal state)
    over every case instead of always penalising the same one.
    """
    n = len(names)
    return [[names[(r + i) % n] for i in range(n)] for r in range(rounds)]


def run_interleaved(cases: Mapping[str, Callable[[], float]], rounds: int) -> dict[str, Summary]:
    """Run every case ``rounds`` times in rotating order; each call returns its own figure."""
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for order in rotations(list(cases), rounds):
        for name in order:
            gc.collect()
            samples[name].append(cases[name]())
    return {name: summarize(values) for name, values in samples.items()}


async def run_interleaved_async(
    cases: Mapping[str, Callable[[], Awaitable[None]]],
    rounds: int,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Summary]:
    """Time every async case (wall clock) ``rounds`` times in rotating order."""
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for r, order in enumerate(rotations(list(cases), rounds)):
        for name in order:
            gc.collect()
            start = time.perf_counter()
            await cases[name]()
            samples[name].append(time.perf_counter() - start)
        if progress is not None:
            progress(r + 1, rounds)
    return {name: summarize(values) for name, values in samples.items()}


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """``numerator / denominator``, or None when either is missing."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def command_line() -> str:
    """The exact command that started this process, as a shell would take it."""
    argv = list(getattr(sys, "orig_argv", None) or [sys.executable, *sys.argv])
    return shlex.join(argv)


def add_common_args(parser: argparse.ArgumentParser, rounds: int, quick_rounds: int) -> None:
    """The options every benchmark takes: --rounds, --quick, --no-save, --out."""
    parser.add_argument(
        "--rounds",
        type=int,
        default=None,
        help=f"timed rounds (default {rounds}, quick {quick_rounds})",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke check: fewer rounds and records; figures go to {QUICK_RESULTS}",
    )
    parser.add_argument("--no-save", action="store_true", help="do not write any results file")
    parser.add_argument("--out", type=Path, default=None, help=f"results file (default {RESULTS})")
    parser.set_defaults(default_rounds=rounds, quick_rounds=quick_rounds)


def resolve_common_args(args: argparse.Namespace) -> tuple[int, Path | None]:
    """(rounds, results path or None) from the parsed common options."""
    rounds = args.rounds
    if rounds is None:
        rounds = args.quick_rounds if args.quick else args.default_rounds
    if not 1 <= rounds <= 100:
        raise SystemExit("--rounds must be 1..100")
    if args.no_save:
        return rounds, None
    return rounds, args.out or (QUICK_RESULTS if args.quick else RESULTS)


def machine_info() -> dict[str, Any]:
    """CPU, cores, load, Python and package versions: what a figure needs to be read."""
    try:
        load: list[float] | None = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "load_average_1_5_15": load,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "packages": {name: _version(name) for name in PACKAGES},
        "command": command_line(),
    }


def write_results(section: str, data: Mapping[str, Any], path: Path = RESULTS) -> Path:
    """Store ``data`` under ``section`` in results.json, keeping every other section."""
    try:
        existing = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(existing, dict):
            existing = {}
    except (OSError, ValueError):
        existing = {}
    existing[section] = {"measured_at": datetime.now(UTC).isoformat(timespec="seconds"), **data}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(existing, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def save_results(
    section: str,
    result: Mapping[str, Any],
    out: Path,
    *,
    rounds: int,
    before: Mapping[str, Any],
    config: Mapping[str, Any] | None = None,
) -> None:
    """Store a benchmark's figures with the machine they ran on, and say where."""
    machine = machine_info()
    machine["load_average_before"] = before["load_average_1_5_15"]
    data: dict[str, Any] = {"rounds": rounds, "machine": machine}
    if config is not None:
        data["config"] = config
    path = write_results(section, {**data, **result}, out)
    print(f"figures written to {path}")


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table: first column left-aligned, the others right-aligned."""
    cells = [[str(h) for h in headers], *[[_cell(v) for v in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        parts = [
            row[i].ljust(widths[i]) if i == 0 else row[i].rjust(widths[i]) for i in range(len(row))
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths).rstrip()
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
