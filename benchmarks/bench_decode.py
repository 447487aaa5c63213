"""Decode benchmark: compositions per second turned from page bodies (bytes) into models.

Run with ``python -m benchmarks.bench_decode [--rounds N] [--quick] [--no-save]``. See README.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from async_compositions._http import HttpResponse
from async_compositions.twilio._dialect import TwilioDialect

from . import _stats
from ._payloads import telnyx_id, telnyx_page, twilio_page, twilio_sid

try:
    import orjson
except ImportError:  # optional: the floor is then json.loads alone
    orjson = None  # type: ignore[assignment]

try:
    from async_compositions.telnyx._dialect import TelnyxDialect
except ImportError as exc:
    TelnyxDialect = None  # type: ignore[assignment,misc]
    TELNYX_LIB_NOTE: str | None = f"async_compositions.telnyx not importable ({exc})"
else:
    TELNYX_LIB_NOTE = None

try:
    from twilio.http.response import Response as TwilioResponse  # type: ignore[import-untyped]
    from twilio.rest import Client as TwilioSDK  # type: ignore[import-untyped]
    from twilio.rest.video.v1.composition import (  # type: ignore[import-untyped]
        CompositionPage,
    )
except ImportError as exc:
    TwilioSDK = None
    TWILIO_SDK_NOTE: str | None = f"twilio not installed ({exc}); run `make bench`"
else:
    TWILIO_SDK_NOTE = None

try:
    from telnyx._models import construct_type
    from telnyx.pagination import AsyncDefaultFlatPagination
    from telnyx.types.room_composition import RoomComposition as TelnyxRoomComposition
except ImportError as exc:
    construct_type = None  # type: ignore[assignment]
    TELNYX_SDK_NOTE: str | None = f"telnyx not installed ({exc}); run `make bench`"
else:
    TELNYX_SDK_NOTE = None

PAGES = 20
PAGE_SIZE = 50
RECORDS = PAGES * PAGE_SIZE
TWILIO_BASE = "https://video.twilio.com/v1"
TELNYX_BASE = "https://api.telnyx.com/v2"
# Aim for samples of about this many seconds, so timer resolution and noise stay small.
SAMPLE_SECONDS = 0.08
QUICK_SAMPLE_SECONDS = 0.01

Decoder = Callable[[bytes], Sequence[Any]]


def _headers() -> CIMultiDictProxy[str]:
    return CIMultiDictProxy(CIMultiDict({"Content-Type": "application/json"}))


def twilio_bodies() -> list[bytes]:
    """PAGES full pages of 50 compositions, as video.twilio.com sends them."""
    return [
        twilio_page(
            origin="https://video.twilio.com",
            collection_path="/v1/Compositions",
            page=n,
            page_size=PAGE_SIZE,
            total=RECORDS + PAGE_SIZE,
        )
        for n in range(PAGES)
    ]


def telnyx_bodies() -> list[bytes]:
    """PAGES full pages of 50 room compositions, as api.telnyx.com sends them."""
    return [
        telnyx_page(page_number=n + 1, page_size=PAGE_SIZE, total=RECORDS + PAGE_SIZE)
        for n in range(PAGES)
    ]


# -- decoders: bytes of one page -> the models (or dicts) a caller gets ---------------------


def json_twilio(body: bytes) -> Sequence[Any]:
    """Floor: ``json.loads`` alone."""
    return json.loads(body)["compositions"]  # type: ignore[no-any-return]


def orjson_twilio(body: bytes) -> Sequence[Any]:
    """Floor: ``orjson.loads`` alone."""
    return orjson.loads(body)["compositions"]  # type: ignore[no-any-return]


def json_telnyx(body: bytes) -> Sequence[Any]:
    """Floor: ``json.loads`` alone."""
    return json.loads(body)["data"]  # type: ignore[no-any-return]


def orjson_telnyx(body: bytes) -> Sequence[Any]:
    """Floor: ``orjson.loads`` alone."""
    return orjson.loads(body)["data"]  # type: ignore[no-any-return]


def ours_twilio() -> Decoder:
    """What ``page()`` does with the bytes: the listing parses, the dialect decodes."""
    dialect = TwilioDialect(URL(TWILIO_BASE))
    url = URL(f"{TWILIO_BASE}/Compositions?PageSize={PAGE_SIZE}")
    listing = dialect.listing({}, PAGE_SIZE)
    headers = _headers()

    def decode(body: bytes) -> Sequence[Any]:
        return dialect.decode_batch(listing.parse(HttpResponse(200, headers, body, url), url))

    return decode


def ours_telnyx() -> Decoder:
    """What ``page()`` does with the bytes: the listing parses, the dialect decodes."""
    assert TelnyxDialect is not None
    dialect = TelnyxDialect(URL(TELNYX_BASE))
    url = URL(f"{TELNYX_BASE}/room_compositions?page%5Bsize%5D={PAGE_SIZE}")
    listing = dialect.listing({}, PAGE_SIZE)
    headers = _headers()

    def decode(body: bytes) -> Sequence[Any]:
        # The cursor only fills in a missing meta.page_number; every page here has one.
        return dialect.decode_batch(listing.parse(HttpResponse(200, headers, body, url), 1))

    return decode


def sdk_twilio() -> Decoder:
    """twilio-python: what ``stream_async`` does per page, from the response onwards.

    AsyncTwilioHttpClient hands ``await response.text()`` to ``Response``; ``CompositionPage``
    runs ``json.loads`` on it; iterating the page builds one ``CompositionInstance`` per record.
    """
    assert TwilioSDK is not None
    version = TwilioSDK("AC" + "b" * 32, "bench-auth-token").video.v1

    def decode(body: bytes) -> Sequence[Any]:
        page = CompositionPage(version, TwilioResponse(200, body.decode("utf-8"), None), {})
        return list(page)

    return decode


def sdk_telnyx() -> Decoder:
    """telnyx-python: ``response.json()`` then ``construct_type`` into the page model.

    That is ``AsyncAPIClient._process_response_data`` for
    ``AsyncDefaultFlatPagination[RoomComposition]`` (no ``build``, no strict validation).
    """
    assert construct_type is not None
    page_type = AsyncDefaultFlatPagination[TelnyxRoomComposition]

    def decode(body: bytes) -> Sequence[Any]:
        page: Any = construct_type(type_=page_type, value=json.loads(body))
        return page.data  # type: ignore[no-any-return]

    return decode


# -- checks: a decoder that drops or mangles records must not be timed --------------------


def _check(name: str, decode: Decoder, bodies: list[bytes], first_id: Callable[[Any], str]) -> None:
    expected = twilio_sid if "twilio" in name else telnyx_id
    for n, body in enumerate(bodies):
        items = decode(body)
        if len(items) != PAGE_SIZE:
            raise RuntimeError(f"{name}: page {n} gave {len(items)} items, expected {PAGE_SIZE}")
        if first_id(items[0]) != expected(n * PAGE_SIZE):
            raise RuntimeError(f"{name}: page {n} starts with {first_id(items[0])!r}")


def _twilio_model_ok(c: Any) -> str:
    if not isinstance(c.date_created, datetime) or c.duration < 6:
        raise RuntimeError(f"undecoded fields in {c!r}")
    return str(c.sid)


def _telnyx_model_ok(c: Any) -> str:
    if not isinstance(c.completed_at, datetime) or c.duration_secs < 84:
        raise RuntimeError(f"undecoded fields in {c!r}")
    return str(c.id)


# -- timing ---------------------------------------------------------------------------------


def sampler(
    decode: Decoder, bodies: list[bytes], seconds: float = SAMPLE_SECONDS
) -> Callable[[], float]:
    """A function returning records decoded per second over ``repeat`` passes."""
    start = time.perf_counter()
    for body in bodies:
        decode(body)
    once = time.perf_counter() - start
    repeat = max(1, min(200, round(seconds / max(once, 1e-6))))

    def sample() -> float:
        start = time.perf_counter()
        for _ in range(repeat):
            for body in bodies:
                decode(body)
        return repeat * len(bodies) * PAGE_SIZE / (time.perf_counter() - start)

    return sample


def build_cases(
    seconds: float = SAMPLE_SECONDS,
) -> tuple[dict[str, Callable[[], float]], dict[str, str]]:
    """Timed cases (name -> sampler) and skipped ones (name -> why), checked before timing."""
    tw, tx = twilio_bodies(), telnyx_bodies()
    plain_tw, plain_tx = (lambda r: r["sid"]), (lambda r: r["id"])
    specs: list[tuple[str, Callable[[], Decoder] | None, list[bytes], Any, str | None]] = [
        ("twilio: json.loads (floor)", lambda: json_twilio, tw, plain_tw, None),
        (
            "twilio: orjson.loads (floor)",
            lambda: orjson_twilio,
            tw,
            plain_tw,
            None if orjson else "orjson not installed",
        ),
        ("twilio: this library", ours_twilio, tw, _twilio_model_ok, None),
        ("twilio: twilio-python", sdk_twilio, tw, _twilio_model_ok, TWILIO_SDK_NOTE),
        ("telnyx: json.loads (floor)", lambda: json_telnyx, tx, plain_tx, None),
        (
            "telnyx: orjson.loads (floor)",
            lambda: orjson_telnyx,
            tx,
            plain_tx,
            None if orjson else "orjson not installed",
        ),
        ("telnyx: this library", ours_telnyx, tx, _telnyx_model_ok, TELNYX_LIB_NOTE),
        ("telnyx: telnyx-python", sdk_telnyx, tx, _telnyx_model_ok, TELNYX_SDK_NOTE),
    ]
    cases: dict[str, Callable[[], float]] = {}
    skipped: dict[str, str] = {}
    for name, factory, bodies, first_id, skip in specs:
        if skip is not None or factory is None:
            skipped[name] = skip or "unavailable"
            continue
        decode = factory()
        _check(name, decode, bodies, first_id)
        cases[name] = sampler(decode, bodies, seconds)
    return cases, skipped


# (name, numerator, denominator, target) -- all ">=": rates, higher is better
RATIOS: list[tuple[str, str, str, float | None]] = [
    ("twilio: ours / twilio-python", "twilio: this library", "twilio: twilio-python", 1.2),
    ("twilio: ours / json.loads floor", "twilio: this library", "twilio: json.loads (floor)", None),
    (
        "twilio: ours / orjson.loads floor",
        "twilio: this library",
        "twilio: orjson.loads (floor)",
        None,
    ),
    ("telnyx: ours / telnyx-python", "telnyx: this library", "telnyx: telnyx-python", 5.0),
    ("telnyx: ours / json.loads floor", "telnyx: this library", "telnyx: json.loads (floor)", None),
    (
        "telnyx: ours / orjson.loads floor",
        "telnyx: this library",
        "telnyx: orjson.loads (floor)",
        None,
    ),
]


def measure(rounds: int, seconds: float = SAMPLE_SECONDS) -> dict[str, Any]:
    """Time every case in interleaved rounds; rates are records per second."""
    cases, skipped = build_cases(seconds)
    summaries = _stats.run_interleaved(cases, rounds)
    out: dict[str, Any] = {}
    for name in [*cases, *skipped]:
        if name in skipped:
            out[name] = {"skipped": skipped[name]}
            continue
        s = summaries[name]
        entry = s.as_dict(0)
        entry["us_per_record"] = round(1e6 / s.median, 2)
        out[name] = entry
    ratios: dict[str, Any] = {}
    for name, num, den, target in RATIOS:
        a, b = summaries.get(num), summaries.get(den)
        value = _stats.ratio(a.median if a else None, b.median if b else None)
        # Best against best: bursts of load elsewhere only ever lower a rate.
        best = _stats.ratio(a.max if a else None, b.max if b else None)
        verdict = "skipped" if value is None else ""
        if value is not None and target is not None:
            verdict = "met" if value >= target else "MISSED"
        ratios[name] = {
            "value": None if value is None else round(value, 3),
            "best_vs_best": None if best is None else round(best, 3),
            "target": None if target is None else f">= {target}",
            "verdict": verdict,
        }
    return {"cases": out, "ratios": ratios}


def report(result: dict[str, Any]) -> str:
    """The tables a person reads."""
    rows = []
    for name, c in result["cases"].items():
        if "skipped" in c:
            rows.append([name, None, None, None, None, "skipped: " + c["skipped"]])
        else:
            rows.append([name, c["median"], c["min"], c["max"], c["us_per_record"], ""])
    table = _stats.format_table(["case (records/s)", "median", "min", "max", "us/record", ""], rows)
    ratio_rows = [
        [name, r["value"], r["best_vs_best"], r["target"] or "", r["verdict"]]
        for name, r in result["ratios"].items()
    ]
    ratios = _stats.format_table(["ratio", "of medians", "of best", "target", ""], ratio_rows)
    return f"{table}\n\n{ratios}"


def main(argv: list[str] | None = None) -> int:
    """Run the decode benchmark, print its tables and store them in results.json."""
    parser = argparse.ArgumentParser(description="Decode benchmark (see benchmarks/README.md).")
    _stats.add_common_args(parser, rounds=9, quick_rounds=2)
    args = parser.parse_args(argv)
    rounds, out = _stats.resolve_common_args(args)
    before = _stats.machine_info()
    print(f"decode benchmark: {rounds} rounds", file=sys.stderr, flush=True)
    start = time.perf_counter()
    result = measure(rounds, QUICK_SAMPLE_SECONDS if args.quick else SAMPLE_SECONDS)
    print(report(result))
    print(
        f"\n({time.perf_counter() - start:.0f} s; {RECORDS} records in {PAGES} pages per pass; "
        f"load average before: {before['load_average_1_5_15']})"
    )
    if out is not None:
        config = {"pages": PAGES, "page_size": PAGE_SIZE, "records_per_pass": RECORDS}
        _stats.save_results("decode", result, out, rounds=rounds, before=before, config=config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
