"""Draw benchmarks/results.png from benchmarks/results.json (matplotlib, from the `bench` extra).

Run with ``python -m benchmarks.chart [--results PATH] [--out PATH]``. Every panel shows
medians as bars and the min-max range of the rounds as whiskers; each bar is labelled with
its value and its ratio to the reference case of the same run.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._stats import RESULTS

OURS, SDK, RAW, FLOOR = "#1f77b4", "#ff7f0e", "#8c8c8c", "#2ca02c"
MET, MISSED = "#2ca02c", "#d62728"


def color(name: str) -> str:
    """Bar colour by what a case is: this library, an SDK, a raw loop or reference, a floor."""
    if "this library" in name or "async_compositions" in name or ": stream" in name:
        return OURS
    if "list()" in name and "telnyx-python" not in name:
        return OURS
    if "-python" in name:
        return SDK
    if "floor" in name or "ideal" in name:
        return FLOOR
    return RAW


Bar = tuple[str, float, float, float, str]  # label, median, min, max, annotation


def bars(
    ax: Any,
    title: str,
    unit: str,
    rows: Sequence[Bar],
    *,
    log: bool = False,
    marks: dict[str, float] | None = None,
) -> None:
    """One horizontal bar per case, first case at the top, min-max whiskers, annotations.

    ``marks`` puts a red tick on the named bars (a bound the bar should stay under).
    """
    ax.set_title(title, loc="left", fontsize=12, fontweight="bold")
    if not rows:
        ax.text(0.5, 0.5, "not measured", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    ys = list(range(len(rows)))[::-1]
    medians = [r[1] for r in rows]
    low = [max(r[1] - r[2], 0.0) for r in rows]
    high = [max(r[3] - r[1], 0.0) for r in rows]
    ax.barh(
        ys,
        medians,
        xerr=[low, high],
        color=[color(r[0]) for r in rows],
        error_kw={"ecolor": "black", "capsize": 3, "lw": 1},
        height=0.7,
    )
    ax.set_yticks(ys, [r[0] for r in rows], fontsize=9)
    ax.set_xlabel(unit, fontsize=9)
    if log:
        ax.set_xscale("log")
    for y, r in zip(ys, rows, strict=True):
        if marks and r[0] in marks:
            ax.plot([marks[r[0]]] * 2, [y - 0.42, y + 0.42], color=MISSED, lw=2)
    right = max([r[3] for r in rows] + list((marks or {}).values()))
    ax.set_xlim(right=right * (40 if log else 1.45))
    for y, r in zip(ys, rows, strict=True):
        ax.text(
            r[3] * (1.08 if log else 1.0) + (0 if log else right * 0.02),
            y,
            r[4],
            va="center",
            fontsize=8,
        )
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)


def _summary(c: dict[str, Any]) -> tuple[float, float, float] | None:
    if "median" not in c:
        return None
    return c["median"], c["min"], c["max"]


def paging_rows(section: dict[str, Any]) -> list[Bar]:
    """Seconds per listing; ratio to the raw loop with the same pipeline depth; ideal bounds."""
    cases = section["cases"]
    out: list[Bar] = []
    for workload in dict.fromkeys(n.split(":")[0] for n in cases):
        ideals: dict[str, float] = {}
        for name, c in cases.items():
            if not name.startswith(workload + ":"):
                continue
            depth = "4" if "prefetch 4" in name else "1"
            ideals.setdefault(depth, c["ideal_seconds"])
            s = _summary(c)
            if s is None:
                continue
            ref = cases.get(f"{workload}: raw aiohttp, prefetch {depth}", {}).get("median")
            note = f"{s[0]:.3f} s"
            if ref and "raw aiohttp" not in name:
                note += f"  ({s[0] / ref:.2f}x raw prefetch {depth})"
            out.append((name, *s, note))
        distinct = {ideal: depth for depth, ideal in sorted(ideals.items(), reverse=True)}
        for ideal, depth in sorted(distinct.items(), reverse=True):
            label = f"{workload}: ideal bound"
            if len(distinct) > 1:
                label += f", {depth} in flight"
            out.append((label, ideal, ideal, ideal, f"{ideal:.3f} s"))
    return out


def decode_rows(section: dict[str, Any]) -> list[Bar]:
    """Thousands of records per second; ratio to the provider's SDK."""
    cases = section["cases"]
    rows: list[Bar] = []
    for name, c in cases.items():
        s = _summary(c)
        if s is None:
            continue
        shape = name.split(":")[0]
        sdk = cases.get(f"{shape}: {shape}-python", {}).get("median")
        note = f"{s[0] / 1000:.1f}k/s"
        if sdk and "this library" in name:
            note += f"  ({s[0] / sdk:.2f}x {shape}-python)"
        rows.append((name, s[0] / 1000, s[1] / 1000, s[2] / 1000, note))
    return rows


def fetch_rows(section: dict[str, Any]) -> list[Bar]:
    """Requests per second; ratio to the raw aiohttp loop."""
    cases = section["cases"]
    rows: list[Bar] = []
    for name, c in cases.items():
        s = _summary(c)
        if s is None:
            continue
        shape = name.split(":")[0]
        raw = cases.get(f"{shape}: raw aiohttp", {}).get("median")
        note = f"{s[0]:,.0f}/s"
        if raw and "raw" not in name:
            note += f"  ({s[0] / raw:.2f}x raw)"
        rows.append((name, *s, note))
    return rows


def import_rows(section: dict[str, Any]) -> list[Bar]:
    """Milliseconds per fresh interpreter; ratio to the aiohttp+attrs+cattrs reference."""
    cases = section["cases"]
    ref = next((c["median"] for n, c in cases.items() if "reference" in n), None)
    rows: list[Bar] = []
    for name, c in cases.items():
        note = f"{c['median'] * 1000:.0f} ms"
        if ref and "reference" not in name:
            note += f"  ({c['median'] / ref:.2f}x reference)"
        rows.append((name, c["median"] * 1000, c["min"] * 1000, c["max"] * 1000, note))
    return rows


def memory_rows(section: dict[str, Any]) -> list[Bar]:
    """Peak RSS growth in MB; in pages of decoded data, against the (1 + prefetch) bound."""
    rows: list[Bar] = []
    for name, c in section["cases"].items():
        g, p = c["growth_mb"], c["growth_pages"]
        note = f"{g['median']:.1f} MB = {p['median']:.1f} pages"
        if c.get("bound_pages"):
            note += f" (bound {c['bound_pages']})"
        # A zero growth cannot sit on a log axis: draw it at 0.01 MB.
        rows.append((name, max(g["median"], 0.01), max(g["min"], 0.01), max(g["max"], 0.01), note))
    return rows


def memory_marks(section: dict[str, Any]) -> dict[str, float]:
    """Where each stream's bound lies: (1 + prefetch) decoded pages, in MB."""
    marks: dict[str, float] = {}
    for name, c in section["cases"].items():
        if c.get("verdict"):
            page_mb = section["page_of_data"][c["shape"]]["decoded_bytes"] / 1e6
            marks[name] = c["bound_pages"] * page_mb
    return marks


def archive_rows(section: dict[str, Any]) -> list[Bar]:
    """MB/s per archive run; ratio to the raw loop and to the sequential twilio-python."""
    cases = section["cases"]
    raw = next((c.get("median") for n, c in cases.items() if n.startswith("raw")), None)
    sdk = next((c.get("median") for n, c in cases.items() if "-python" in n), None)
    rows: list[Bar] = []
    for name, c in cases.items():
        s = _summary(c)
        if s is None:
            continue
        note = f"{s[0]:.0f} MB/s"
        if "this library" in name:
            ratios = [
                f"{s[0] / ref:.2f}x {what}" for ref, what in ((raw, "raw"), (sdk, "SDK")) if ref
            ]
            if ratios:
                note += f"  ({', '.join(ratios)})"
        rows.append((name, *s, note))
    return rows


def _titles(results: dict[str, Any]) -> dict[str, str]:
    """Panel titles with the sizes this run used (a --quick run uses smaller ones)."""
    paging = results.get("paging", {}).get("config", {})
    records = max((w.get("records", 0) for w in paging.values()), default=2000)
    fetch = results.get("fetch", {}).get("config", {})
    memory = results.get("memory", {})
    archive = results.get("archive", {}).get("config", {})
    return {
        "paging": f"Paging under latency: {records:,} records (lower is better)",
        "decode": "Decode: page bytes to models (higher is better)",
        "fetch": (
            f"Concurrent fetch: {fetch.get('requests', 2000):,} GETs, "
            f"{fetch.get('concurrency', 50)} at a time (higher is better)"
        ),
        "memory": (
            f"Memory: peak RSS growth, {memory.get('records', 100_000):,} records (log; red: bound)"
        ),
        "import": "Import time: fresh interpreter (lower is better)",
        "archive": (
            f"Archive: {archive.get('compositions', 200)} x "
            f"{archive.get('media_size', 4 << 20) / (1 << 20):g} MiB to disk, "
            f"{archive.get('concurrency', 8)} at a time (higher is better)"
        ),
    }


def verdict_rows(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(section: ratio, value, target, verdict) for every ratio that has a target."""
    out: list[tuple[str, str, str, str]] = []
    for section in ("paging", "decode", "fetch", "import", "archive"):
        for name, r in results.get(section, {}).get("ratios", {}).items():
            if r.get("target") and r.get("value") is not None:
                value = f"{r['value']:.3f}" if r["value"] < 10 else f"{r['value']:.1f}"
                out.append((f"{section}: {name}", value, r["target"], r["verdict"]))
    for name, c in results.get("memory", {}).get("cases", {}).items():
        if c.get("verdict"):
            value = f"{c['growth_pages']['median']:.1f} pages"
            out.append((f"memory: {name}", value, f"< {c['bound_pages']} pages", c["verdict"]))
    memory = results.get("archive", {}).get("memory", {})
    for name, c in memory.get("cases", {}).items():
        if c.get("verdict"):
            small, large = memory["counts"]
            value = f"{c[str(large)]['growth_mb']['median']:.1f} MB"
            target = (
                f"<= {c['bound_mb']:.1f} MB ({small}: {c[str(small)]['growth_mb']['median']:.1f})"
            )
            verdict = "met" if c["verdict"] == "independent" else "MISSED"
            out.append((f"archive: peak RSS growth, {name}, {large}", value, target, verdict))
    return out


def verdict_table(ax: Any, rows: list[tuple[str, str, str, str]]) -> None:
    """The targets and whether this run met them."""
    ax.set_axis_off()
    ax.set_title("targets (ratios of medians)", loc="left", fontsize=12, fontweight="bold")
    if not rows:
        return
    table = ax.table(
        cellText=[list(r) for r in rows],
        colLabels=["ratio", "value", "target", ""],
        colWidths=[0.64, 0.11, 0.13, 0.12],
        loc="upper left",
        cellLoc="left",
    )
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    table.scale(1, 1.1)
    for (row, col), cell in table.get_celld().items():
        cell.set_linewidth(0.3)
        if row > 0 and col == 3:
            verdict = rows[row - 1][3]
            cell.get_text().set_color(MET if verdict == "met" else MISSED)
            cell.get_text().set_fontweight("bold")


def _subtitle(results: dict[str, Any]) -> str:
    machines = [s.get("machine", {}) for s in results.values() if isinstance(s, dict)]
    if not machines:
        return ""
    m = machines[0]
    loads = [
        x.get("load_average_before", [None])[0] for x in machines if x.get("load_average_before")
    ]
    load = f"1-min load {min(loads):.2f}-{max(loads):.2f}" if loads else ""
    dates = sorted(s["measured_at"][:10] for s in results.values() if "measured_at" in s)
    pkgs = m.get("packages", {})
    versions = ", ".join(
        f"{k} {pkgs[k]}" for k in ("aiohttp", "twilio", "telnyx", "orjson") if pkgs.get(k)
    )
    return (
        f"{dates[-1] if dates else ''}  |  {m.get('cpu', '?')}, {m.get('cores', '?')} cores  |  "
        f"Python {m.get('python', '?')}  |  {versions}  |  {load}"
    )


def render(results: dict[str, Any], out: Path) -> Path:
    """Draw every measured section into one PNG at ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    fig = plt.figure(figsize=(18, 25), dpi=100)
    grid = fig.add_gridspec(4, 2, height_ratios=[1.35, 1, 0.9, 1.15], hspace=0.32, wspace=0.55)
    titles = _titles(results)
    panels = [
        ("paging", "seconds", paging_rows, grid[0, 0]),
        ("decode", "thousand records/s", decode_rows, grid[0, 1]),
        ("fetch", "requests/s", fetch_rows, grid[1, 0]),
        ("memory", "MB", memory_rows, grid[1, 1]),
        ("import", "ms", import_rows, grid[2, 0]),
        ("archive", "MB/s", archive_rows, grid[2, 1]),
    ]
    for key, unit, rows_of, cell in panels:
        ax = fig.add_subplot(cell)
        section = results.get(key)
        rows = rows_of(section) if section else []
        if key == "memory" and section:
            bars(ax, titles[key], unit, rows, log=True, marks=memory_marks(section))
        else:
            bars(ax, titles[key], unit, rows)
    verdict_table(fig.add_subplot(grid[3, :]), verdict_rows(results))
    fig.suptitle(
        "async-compositions benchmarks", fontsize=16, fontweight="bold", x=0.01, ha="left", y=0.995
    )
    fig.text(0.01, 0.975, _subtitle(results), fontsize=10, ha="left")
    legend = [Rectangle((0, 0), 1, 1, color=c) for c in (OURS, SDK, RAW, FLOOR)]
    fig.legend(
        legend,
        ["this library", "official SDK", "raw aiohttp / reference", "floor / ideal bound"],
        loc="upper right",
        bbox_to_anchor=(0.975, 0.998),
        ncol=4,
        fontsize=10,
        frameon=False,
    )
    fig.subplots_adjust(left=0.16, right=0.98, top=0.95, bottom=0.03)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> int:
    """Command line: read the results file, write the PNG next to it (or to --out)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=RESULTS, help="results JSON to read")
    parser.add_argument("--out", type=Path, default=None, help="PNG to write (default: beside it)")
    args = parser.parse_args(argv)
    try:
        results = json.loads(args.results.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"cannot read {args.results}: {exc}", file=sys.stderr)
        return 1
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("matplotlib is not installed: install the `bench` extra", file=sys.stderr)
        return 1
    out = render(results, args.out or args.results.with_suffix(".png"))
    print(f"chart written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
