"""Archive benchmark: 200 compositions of 4 MiB, 8 at a time, from the emulator to disk.

Run with ``python -m benchmarks.bench_archive [--rounds N] [--quick] [--no-save]``. See README.md.

The emulator (``python -m async_compositions.emulator``) runs in its own process with 20 ms
of latency on API requests and none on media. Three cases copy the same media into a fresh
directory per run: ``archive()``, a raw aiohttp loop doing the same work, and a sequential
twilio-python script; a fourth writes and syncs files of the same sizes with no network
(the disk floor). Peak RSS growth of ``archive()`` (and of the raw loop) is measured in
fresh interpreters for two numbers of compositions.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import concurrent.futures
import contextlib
import gc
import hashlib
import json
import os
import secrets
import shlex
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, BinaryIO

import aiohttp
import attrs

from async_compositions import TwilioClient
from async_compositions._archive import MANIFEST_NAME
from async_compositions._download import DEFAULT_CHUNK_SIZE
from async_compositions.emulator._media import media_bytes

from . import _stats
from ._common import BenchmarkError
from ._sdks import TWILIO_SDK_NOTE, TwilioSDK

loads: Callable[[bytes], Any]
try:  # the parser the library uses: orjson when installed, else the standard library's
    from orjson import loads
except ImportError:  # pragma: no cover - the bench extra installs orjson
    loads = json.loads

ROOT = Path(__file__).resolve().parent.parent
MiB = 1024 * 1024

COMPOSITIONS = 200
MEDIA_SIZE = 4 * MiB
QUICK_COMPOSITIONS = 20
QUICK_MEDIA_SIZE = 512 * 1024
LATENCY = 0.02  # seconds on every API request; media is served at full speed
CONCURRENCY = 8
PAGE_SIZE = 100  # the raw loop's listing pages (Twilio's maximum, as archive() uses)
CHUNK_SIZE = DEFAULT_CHUNK_SIZE  # every case reads the media 256 KiB at a time
# The warm-up: a few odd-sized files (no chunk size divides them), every byte checked.
WARMUP_COMPOSITIONS = 5
WARMUP_MEDIA_SIZE = 300_001
SAMPLE_FILES = 4  # files read back from disk and hashed after every timed run
# Peak RSS growth of one archive run in a fresh interpreter, at two numbers of compositions.
MEMORY_COUNTS = (100, 200)
QUICK_MEMORY_COUNTS = (10, 20)
# "Independent of the number of compositions": growth at the larger count within
# GROWTH_FACTOR x the growth at the smaller one, plus GROWTH_SLACK_MB of allocator noise.
GROWTH_FACTOR = 1.25
GROWTH_SLACK_MB = 2.0
CHILD_TIMEOUT = 300
START_TIMEOUT = 30.0

OURS = "this library: archive()"
RAW = "raw aiohttp loop"
SDK = "twilio-python, sequential"
FLOOR = "floor: write + fsync only, 8 threads"
CASE_NAMES = (OURS, RAW, SDK, FLOOR)
# (name, numerator, denominator, target); throughputs, so every target is ">=".
RATIOS: list[tuple[str, str, str, float]] = [
    ("ours / raw aiohttp", OURS, RAW, 0.9),
    ("ours / twilio-python", OURS, SDK, 5.0),
]
MEMORY_MODES = {"ours": OURS, "raw": RAW}

# What one run moved: composition id -> (bytes, hex SHA-256 the case computed or recorded).
Files = dict[str, tuple[int, str]]


# -- the emulator, in its own process -----------------------------------------------------


def _prctl() -> Any:
    """libc's ``prctl``, looked up here: the child between fork and exec only calls it."""
    if sys.platform != "linux":
        return None
    try:
        import ctypes

        return ctypes.CDLL(None).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _prctl()


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Have Linux stop the emulator if the benchmark dies without stopping it."""
    if _PRCTL is not None:
        _PRCTL(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class EmulatorProcess:
    """``python -m async_compositions.emulator`` seeded with Twilio compositions, in a ``with``."""

    def __init__(
        self, compositions: int, media_size: int, latency: float, extra: tuple[str, ...] = ()
    ) -> None:
        self.compositions = compositions
        self.media_size = media_size
        self.latency = latency
        self.extra = extra
        self.env: dict[str, str] = {}
        self._proc: subprocess.Popen[str] | None = None
        self._stderr: Any = None

    @property
    def argv(self) -> list[str]:
        """The command that starts it."""
        return [
            sys.executable,
            "-m",
            "async_compositions.emulator",
            "--port=0",
            "--manual",
            f"--seed-twilio={self.compositions}",
            f"--media-size={self.media_size}",
            f"--latency={self.latency:g}",
            *self.extra,
        ]

    def __enter__(self) -> EmulatorProcess:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        self._stderr = tempfile.TemporaryFile("w+")
        proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            cwd=ROOT,
            env=env,
            text=True,
            preexec_fn=_die_with_parent if _PRCTL is not None else None,
        )
        self._proc = proc
        watchdog = threading.Timer(START_TIMEOUT, proc.kill)
        watchdog.start()
        try:
            assert proc.stdout is not None
            first = proc.stdout.readline()
            if not first.startswith("#"):
                raise RuntimeError(f"emulator did not start (got {first!r}){self._errors()}")
            # KEY=value lines follow the comment line; TELNYX_PUBLIC_KEY is the last one.
            while (line := proc.stdout.readline()) and "=" in line:
                key, _, value = line.strip().partition("=")
                self.env[key] = value
                if key == "TELNYX_PUBLIC_KEY":
                    break
        except BaseException:
            self._stop()
            raise
        finally:
            watchdog.cancel()
        missing = {"TWILIO_VIDEO_BASE_URL", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"} - set(
            self.env
        )
        if missing:
            self._stop()
            raise RuntimeError(f"emulator printed no {', '.join(sorted(missing))}")
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop()

    def _errors(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        text: str = self._stderr.read()[-2000:]
        return f":\n{text}" if text else ""

    def _stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)  # the emulator stops cleanly on SIGTERM
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
            if proc.stdout is not None:
                proc.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    @property
    def base_url(self) -> str:
        """The Twilio Video API root, ``http://127.0.0.1:PORT/v1``."""
        return self.env["TWILIO_VIDEO_BASE_URL"]

    @property
    def root(self) -> str:
        """What twilio-python calls the Video domain's ``base_url`` (no ``/v1``)."""
        return self.base_url.removesuffix("/v1")

    @property
    def account_sid(self) -> str:
        return self.env["TWILIO_ACCOUNT_SID"]

    @property
    def auth_token(self) -> str:
        return self.env["TWILIO_AUTH_TOKEN"]

    def cpu_seconds(self) -> float | None:
        """CPU time (user + system) the emulator has used so far; None off Linux."""
        if self._proc is None:
            return None
        try:
            with open(f"/proc/{self._proc.pid}/stat", encoding="ascii") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@attrs.frozen(slots=True)
class Target:
    """Where a case reaches an emulator (picklable into a child's JSON)."""

    base_url: str
    account_sid: str
    auth_token: str

    @classmethod
    def of(cls, emu: EmulatorProcess) -> Target:
        return cls(emu.base_url, emu.account_sid, emu.auth_token)

    @property
    def root(self) -> str:
        return self.base_url.removesuffix("/v1")

    def headers(self) -> dict[str, str]:
        """Basic auth and JSON, for the API requests of the raw loop."""
        pair = f"{self.account_sid}:{self.auth_token}".encode()
        auth = "Basic " + base64.b64encode(pair).decode("ascii")
        return {"Authorization": auth, "Accept": "application/json"}


# -- what every run must produce ----------------------------------------------------------


@attrs.frozen(slots=True)
class Inventory:
    """What the emulator holds: every completed composition's size and SHA-256."""

    files: dict[str, tuple[int, str]]

    def sample(self, k: int) -> list[str]:
        """``k`` ids spread over the listing, first and last included."""
        ids = sorted(self.files)
        if len(ids) <= k:
            return ids
        return [ids[round(i * (len(ids) - 1) / (k - 1))] for i in range(k)]


async def list_compositions(session: aiohttp.ClientSession, target: Target) -> list[Any]:
    """Every completed composition, as the raw loop pages through them (dicts)."""
    items: list[Any] = []
    headers = target.headers()
    url: str | None = f"{target.base_url}/Compositions?Status=completed&PageSize={PAGE_SIZE}"
    while url:
        page = await _get_json(session, url, headers)
        items.extend(page["compositions"])
        url = page["meta"]["next_page_url"]
    return items


async def inventory(emu: EmulatorProcess) -> Inventory:
    """List the emulator's compositions and derive each one's media bytes, to check against.

    The emulator's media is deterministic (``media_bytes`` of ``twilio:<sid>``): the
    expected SHA-256 does not come from any of the cases measured.
    """
    async with aiohttp.ClientSession() as session:
        items = await list_compositions(session, Target.of(emu))
    if len(items) != emu.compositions or len({c["sid"] for c in items}) != len(items):
        raise BenchmarkError(
            f"the emulator lists {len(items)} compositions, not {emu.compositions}"
        )
    files: dict[str, tuple[int, str]] = {}
    for c in items:
        if c["size"] != emu.media_size:
            raise BenchmarkError(f"{c['sid']}: size {c['size']}, expected {emu.media_size}")
        body = media_bytes(f"twilio:{c['sid']}", c["size"])
        files[c["sid"]] = (len(body), hashlib.sha256(body).hexdigest())
    return Inventory(files)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(MiB):
            digest.update(chunk)
    return digest.hexdigest()


def verify(
    name: str, dest: Path, files: Files, inv: Inventory, *, every_file: bool, content: bool = True
) -> None:
    """Fail unless the run moved exactly the emulator's media, intact, under final names.

    What the case reports (sizes and SHA-256 it computed or recorded) must match the
    inventory for every composition; the directory must hold exactly ``<sid>.mp4`` for
    each (plus the library's manifest), no temporary file left; ``SAMPLE_FILES`` of them
    (all of them with ``every_file``) are read back and hashed. ``content=False`` (the
    disk floor, which writes other bytes) checks the names and sizes only.
    """
    if set(files) != set(inv.files):
        missing, extra = set(inv.files) - set(files), set(files) - set(inv.files)
        raise BenchmarkError(
            f"{name}: {len(files)} of {len(inv.files)} compositions "
            f"({len(missing)} missing, {len(extra)} unexpected)"
        )
    for sid, (size, sha) in files.items():
        if (size, sha if content else inv.files[sid][1]) != inv.files[sid]:
            raise BenchmarkError(f"{name}: {sid} has {size} bytes, SHA-256 {sha[:12]}...")
    manifest = MANIFEST_NAME.format(provider="twilio")
    present = {p.name for p in dest.iterdir()} - {manifest, f"{manifest}-wal", f"{manifest}-shm"}
    wanted = {f"{sid}.mp4" for sid in inv.files}
    if present != wanted:
        odd = sorted(present ^ wanted)[:3]
        raise BenchmarkError(f"{name}: the directory does not hold one file per composition {odd}")
    for sid, (size, _) in inv.files.items():
        if (dest / f"{sid}.mp4").stat().st_size != size:
            raise BenchmarkError(f"{name}: {sid}.mp4 is not {size} bytes on disk")
    read_back = list(inv.files) if every_file else inv.sample(SAMPLE_FILES)
    for sid in read_back if content else ():
        if _file_sha256(dest / f"{sid}.mp4") != inv.files[sid][1]:
            raise BenchmarkError(f"{name}: {sid}.mp4 on disk differs from the media")


def manifest_files(dest: Path) -> Files:
    """What archive() recorded in its manifest; every row must say ``archived``."""
    path = dest / MANIFEST_NAME.format(provider="twilio")
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT id, state, size, sha256 FROM compositions").fetchall()
    finally:
        db.close()
    bad = [r for r in rows if r[1] != "archived"]
    if bad:
        raise BenchmarkError(f"archive(): the manifest has {len(bad)} rows not archived: {bad[0]}")
    return {sid: (size, sha) for sid, _, size, sha in rows}


def check_report(report: Any, inv: Inventory) -> None:
    """archive()'s own account: ok, every composition archived, every byte counted."""
    total = sum(size for size, _ in inv.files.values())
    if not report.ok or report.failed:
        first = report.failed[0].message if report.failed else "not ok"
        raise BenchmarkError(f"archive(): {len(report.failed)} failed ({first})")
    if len(report.archived) != len(inv.files) or report.bytes != total:
        raise BenchmarkError(
            f"archive(): {len(report.archived)} archived, {report.bytes} bytes; "
            f"expected {len(inv.files)} and {total}"
        )


# -- the cases ----------------------------------------------------------------------------


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _durable(file: BinaryIO, tmp: Path, final: Path) -> None:
    """flush, fsync, close, rename, fsync the directory: what archive() does at commit."""
    file.flush()
    os.fsync(file.fileno())
    file.close()
    os.replace(tmp, final)
    _fsync_directory(final.parent)


def _temporary(final: Path) -> Path:
    """A hidden temporary name beside the final one."""
    return final.with_name(f".{final.name}.{secrets.token_hex(4)}.part")


def _open_new(path: Path) -> BinaryIO:
    return path.open("wb")


def _discard(file: BinaryIO, tmp: Path) -> None:
    file.close()
    tmp.unlink(missing_ok=True)


async def run_ours(target: Target, dest: Path, inv: Inventory | None = None) -> Any:
    """This library: one client, ``archive(dest, concurrency=8)``; the report."""
    async with TwilioClient(
        target.account_sid, target.auth_token, base_url=target.base_url
    ) as client:
        return await client.compositions.archive(dest, concurrency=CONCURRENCY)


async def _get_json(session: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> Any:
    async with session.get(url, headers=headers) as resp:
        body = await resp.read()
        if resp.status != 200:
            raise BenchmarkError(f"GET {resp.url} -> HTTP {resp.status}: {body[:200]!r}")
    return loads(body)


async def _raw_one(
    session: aiohttp.ClientSession,
    target: Target,
    headers: dict[str, str],
    dest: Path,
    sid: str,
    size: int,
) -> tuple[int, str]:
    """One composition: /Media (no redirects), the pre-signed URL, temp file, fsync, rename."""
    media = f"{target.base_url}/Compositions/{sid}/Media"
    async with session.get(media, headers=headers, allow_redirects=False) as resp:
        body = await resp.read()
        if resp.status != 302:
            raise BenchmarkError(f"GET {media} -> HTTP {resp.status}: {body[:200]!r}")
    location = loads(body)["redirect_to"]
    final = dest / f"{sid}.mp4"
    tmp = _temporary(final)
    digest, received = hashlib.sha256(), 0
    file = _open_new(tmp)
    try:
        # No credentials on the pre-signed URL (the session has none of its own).
        async with session.get(location, headers={"Accept-Encoding": "identity"}) as resp:
            if resp.status != 200:
                raise BenchmarkError(f"media of {sid} -> HTTP {resp.status}")
            length = resp.content_length
            async for chunk in resp.content.iter_chunked(CHUNK_SIZE):
                # Written on the loop, as archive() does: the page cache takes it at once.
                file.write(chunk)
                digest.update(chunk)
                received += len(chunk)
        if received != length or received != size:
            raise BenchmarkError(f"{sid}: {received} bytes, Content-Length {length}, size {size}")
        await asyncio.to_thread(_durable, file, tmp, final)
    except BaseException:
        _discard(file, tmp)
        raise
    return received, digest.hexdigest()


async def run_raw(target: Target, dest: Path, inv: Inventory | None = None) -> Files:
    """The raw aiohttp loop: list into a bounded queue, 8 workers copy; no manifest."""
    done: Files = {}
    headers = target.headers()
    queue: asyncio.Queue[tuple[str, int] | None] = asyncio.Queue(CONCURRENCY)
    async with aiohttp.ClientSession() as session:

        async def lister() -> None:
            url: str | None = (
                f"{target.base_url}/Compositions?Status=completed&PageSize={PAGE_SIZE}"
            )
            while url:
                page = await _get_json(session, url, headers)
                for c in page["compositions"]:
                    await queue.put((c["sid"], c["size"]))
                url = page["meta"]["next_page_url"]
            for _ in range(CONCURRENCY):
                await queue.put(None)

        async def worker() -> None:
            while (item := await queue.get()) is not None:
                sid, size = item
                done[sid] = await _raw_one(session, target, headers, dest, sid, size)

        async with asyncio.TaskGroup() as group:
            group.create_task(lister())
            for _ in range(CONCURRENCY):
                group.create_task(worker())
    return done


def _sdk_one(media: Any, url: str, dest: Path, sid: str, size: int) -> tuple[int, str]:
    """One file with ``requests``: stream to a temp file, hash, check, fsync, rename."""
    final = dest / f"{sid}.mp4"
    tmp = _temporary(final)
    digest, received = hashlib.sha256(), 0
    file = _open_new(tmp)
    try:
        with media.get(
            url, stream=True, headers={"Accept-Encoding": "identity"}, timeout=60
        ) as resp:
            if resp.status_code != 200:
                raise BenchmarkError(f"media of {sid} -> HTTP {resp.status_code}")
            length = int(resp.headers["Content-Length"])
            for chunk in resp.iter_content(CHUNK_SIZE):
                file.write(chunk)
                digest.update(chunk)
                received += len(chunk)
        if received != length or received != size:
            raise BenchmarkError(f"{sid}: {received} bytes, Content-Length {length}, size {size}")
        _durable(file, tmp, final)
    except BaseException:
        _discard(file, tmp)
        raise
    return received, digest.hexdigest()


def run_sdk_sync(target: Target, dest: Path) -> Files:
    """twilio-python, one composition after the other, as a script would do it.

    ``compositions.list(status="completed")`` with the default ``TwilioHttpClient``; the
    SDK has no verb for the media, so ``client.request`` (its own HTTP client and auth)
    asks for ``/Media`` without following the redirect, and ``requests`` streams the
    pre-signed URL (one ``Session``, so connections are reused).
    """
    import requests

    assert TwilioSDK is not None
    client = TwilioSDK(target.account_sid, target.auth_token)
    client.video.base_url = target.root
    media = requests.Session()
    done: Files = {}
    try:
        for c in client.video.v1.compositions.list(status="completed"):
            resp = client.request("GET", c.links["media"], allow_redirects=False)
            if resp.status_code != 302:
                raise BenchmarkError(f"/Media of {c.sid} -> HTTP {resp.status_code}")
            url = json.loads(resp.text)["redirect_to"]
            done[c.sid] = _sdk_one(media, url, dest, c.sid, c.size)
    finally:
        media.close()
        session = getattr(client.http_client, "session", None)
        if session is not None:
            session.close()
    return done


async def run_sdk(target: Target, dest: Path, inv: Inventory | None = None) -> Files:
    """The sequential script, in a thread so the event loop is not blocked."""
    return await asyncio.to_thread(run_sdk_sync, target, dest)


def run_floor_sync(dest: Path, inv: Inventory) -> Files:
    """The disk alone: files of the same sizes and names made durable the same way.

    Eight threads each write 256 KiB blocks of random bytes to a temporary file, then
    flush, fsync, rename and fsync the directory. No network, no hashing: no case that
    makes its files durable can be faster than this on the same filesystem.
    """
    block = memoryview(secrets.token_bytes(CHUNK_SIZE))

    def one(item: tuple[str, tuple[int, str]]) -> tuple[str, tuple[int, str]]:
        sid, (size, _) = item
        final = dest / f"{sid}.mp4"
        tmp = _temporary(final)
        file = _open_new(tmp)
        try:
            left = size
            while left > 0:
                left -= file.write(block[: min(left, CHUNK_SIZE)])
            _durable(file, tmp, final)
        except BaseException:
            _discard(file, tmp)
            raise
        return sid, (size, "")

    with concurrent.futures.ThreadPoolExecutor(CONCURRENCY) as pool:
        return dict(pool.map(one, inv.files.items()))


async def run_floor(target: Target, dest: Path, inv: Inventory | None = None) -> Files:
    """The disk floor, in a thread (its own pool of eight inside)."""
    assert inv is not None
    return await asyncio.to_thread(run_floor_sync, dest, inv)


RUNNERS: dict[str, Callable[[Target, Path, Inventory], Awaitable[Any]]] = {
    OURS: run_ours,
    RAW: run_raw,
    SDK: run_sdk,
    FLOOR: run_floor,
}


def outcome(name: str, result: Any, dest: Path, inv: Inventory) -> Files:
    """What a case's run moved, in one form: from the report and manifest, or its own tally."""
    if name == OURS:
        check_report(result, inv)
        return manifest_files(dest)
    files: Files = result
    return files


class Scratch:
    """Fresh destination directories under one parent, one at a time, removed after use."""

    def __init__(self, parent: Path) -> None:
        self.parent = parent

    def __call__(self) -> Path:
        return Path(tempfile.mkdtemp(prefix="bench-archive-", dir=self.parent))

    @staticmethod
    def remove(path: Path) -> None:
        shutil.rmtree(path, ignore_errors=True)


async def run_checked(
    name: str, target: Target, inv: Inventory, scratch: Scratch, *, every_file: bool
) -> dict[str, float]:
    """One run of a case into a fresh directory, timed, then checked and removed."""
    dest = scratch()
    try:
        gc.collect()
        cpu = time.process_time()
        start = time.perf_counter()
        result = await RUNNERS[name](target, dest, inv)
        wall = time.perf_counter() - start
        cpu = time.process_time() - cpu
        files = outcome(name, result, dest, inv)
        verify(name, dest, files, inv, every_file=every_file, content=name != FLOOR)
    finally:
        scratch.remove(dest)
    return {"wall": wall, "cpu": cpu}


async def timed_rounds(
    emu: EmulatorProcess, names: list[str], inv: Inventory, scratch: Scratch, rounds: int
) -> dict[str, dict[str, list[float]]]:
    """Wall time, client CPU and emulator CPU of every run, rounds interleaved and rotated."""
    target = Target.of(emu)
    samples: dict[str, dict[str, list[float]]] = {
        n: {"wall": [], "cpu": [], "server_cpu": []} for n in names
    }
    for r, order in enumerate(_stats.rotations(names, rounds)):
        for name in order:
            server_before = emu.cpu_seconds()
            got = await run_checked(name, target, inv, scratch, every_file=False)
            server_after = emu.cpu_seconds()
            samples[name]["wall"].append(got["wall"])
            samples[name]["cpu"].append(got["cpu"])
            if server_before is not None and server_after is not None:
                # The emulator is idle outside the run: the checks and rmtree send nothing.
                samples[name]["server_cpu"].append(server_after - server_before)
        print(f"  round {r + 1}/{rounds} done", file=sys.stderr, flush=True)
    return samples


def _ratio_entry(num: _stats.Summary | None, den: _stats.Summary | None, target: float) -> Any:
    value = _stats.ratio(num.median if num else None, den.median if den else None)
    best = _stats.ratio(num.max if num else None, den.max if den else None)
    verdict = "skipped" if value is None else ("met" if value >= target else "MISSED")
    return {
        "value": None if value is None else round(value, 3),
        "best_vs_best": None if best is None else round(best, 3),
        "target": f">= {target}",
        "verdict": verdict,
    }


async def measure_throughput(
    emu: EmulatorProcess, warmup: EmulatorProcess, scratch: Scratch, rounds: int
) -> dict[str, Any]:
    """Check every case on the warm-up emulator (every byte), then time the rounds."""
    skips = {SDK: TWILIO_SDK_NOTE} if TWILIO_SDK_NOTE else {}
    names = [n for n in CASE_NAMES if n not in skips]
    small = await inventory(warmup)
    for name in names:
        # Wrong bytes abort here; imports (sqlite3, the SDK's video domain) happen here too.
        await run_checked(name, Target.of(warmup), small, scratch, every_file=True)
    inv = await inventory(emu)
    total = sum(size for size, _ in inv.files.values())
    samples = await timed_rounds(emu, names, inv, scratch, rounds)
    rates: dict[str, _stats.Summary] = {}
    cases: dict[str, Any] = {}
    for name in CASE_NAMES:
        if name in skips:
            cases[name] = {"skipped": skips[name]}
            continue
        got = samples[name]
        rates[name] = rate = _stats.summarize([total / t / 1e6 for t in got["wall"]])
        entry: dict[str, Any] = {"unit": "MB/s", **rate.as_dict(1)}
        entry["seconds"] = _stats.summarize(got["wall"]).as_dict(3)
        entry["median_seconds"] = entry["seconds"]["median"]
        entry["client_cpu_seconds"] = round(statistics.median(got["cpu"]), 3)
        if got["server_cpu"]:
            busy = [s / w for s, w in zip(got["server_cpu"], got["wall"], strict=True)]
            entry["server_cpu_seconds"] = round(statistics.median(got["server_cpu"]), 3)
            entry["server_busy"] = round(statistics.median(busy), 3)
        cases[name] = entry
    ratios = {
        name: _ratio_entry(rates.get(num), rates.get(den), target)
        for name, num, den, target in RATIOS
    }
    return {"bytes_per_run": total, "cases": cases, "ratios": ratios}


# -- memory: peak RSS growth in a fresh interpreter ---------------------------------------


async def _child_run(mode: str, target: Target, dest: Path) -> Files:
    if mode == "ours":
        report = await run_ours(target, dest)
        if not report.ok:
            raise BenchmarkError(f"archive(): {len(report.failed)} failed")
        return manifest_files(dest)
    return await run_raw(target, dest)


async def memory_child(config: dict[str, Any]) -> dict[str, Any]:
    """In a fresh interpreter: warm up on the small emulator, then archive with a peak window.

    The peak-RSS window (``_memory_case.reset_peak``: VmHWM reset through clear_refs on
    Linux) opens after the imports and a warm-up run, so its baseline holds the modules,
    sqlite3 and the thread pools; the growth is what the run itself adds.
    """
    from ._memory_case import peak_kib, reset_peak

    mode = config["mode"]
    dest = Path(config["dest"])
    warm = dest / "warm-up"
    warm.mkdir()
    got = await _child_run(mode, Target(**config["warmup"]), warm)
    if len(got) != config["warmup_count"]:
        raise BenchmarkError(f"warm-up archived {len(got)} of {config['warmup_count']}")
    shutil.rmtree(warm)
    out = dest / "run"
    out.mkdir()
    gc.collect()
    method = reset_peak()
    baseline = peak_kib(method)
    start, cpu = time.perf_counter(), time.process_time()
    files = await _child_run(mode, Target(**config["target"]), out)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    peak = peak_kib(method)
    return {
        "compositions": len(files),
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu, 3),
        "method": method,
        "baseline_kib": baseline,
        "peak_kib": peak,
        "growth_kib": peak - baseline,
        "files": files,
    }


def run_memory_child(
    mode: str, emu: EmulatorProcess, warmup: EmulatorProcess, inv: Inventory, scratch: Scratch
) -> dict[str, Any]:
    """One memory case in a fresh interpreter; its files are checked before they go."""
    dest = scratch()
    try:
        config = {
            "mode": mode,
            "dest": str(dest),
            "target": attrs.asdict(Target.of(emu)),
            "warmup": attrs.asdict(Target.of(warmup)),
            "warmup_count": warmup.compositions,
        }
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        argv = [sys.executable, "-m", "benchmarks.bench_archive", "--memory-child"]
        proc = subprocess.run(
            [*argv, json.dumps(config)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=CHILD_TIMEOUT,
            check=False,
        )
        if proc.returncode != 0:
            raise BenchmarkError(f"memory child ({mode}) failed:\n{proc.stderr[-2000:]}")
        result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
        files = {sid: (size, sha) for sid, (size, sha) in result.pop("files").items()}
        verify(f"memory: {MEMORY_MODES[mode]}", dest / "run", files, inv, every_file=False)
    finally:
        scratch.remove(dest)
    return result


def measure_memory(
    emulators: dict[int, EmulatorProcess],
    warmup: EmulatorProcess,
    scratch: Scratch,
    rounds: int,
) -> dict[str, Any]:
    """Peak RSS growth of archive() and of the raw loop at each count, rounds rotated."""
    invs = {n: asyncio.run(inventory(emu)) for n, emu in emulators.items()}
    keys = [(mode, n) for mode in MEMORY_MODES for n in emulators]
    runs: dict[tuple[str, int], list[dict[str, Any]]] = {k: [] for k in keys}
    for r, order in enumerate(_stats.rotations(keys, rounds)):
        for mode, n in order:
            runs[mode, n].append(run_memory_child(mode, emulators[n], warmup, invs[n], scratch))
        print(f"  memory round {r + 1}/{rounds} done", file=sys.stderr, flush=True)
    small, large = sorted(emulators)
    cases: dict[str, Any] = {}
    for mode, name in MEMORY_MODES.items():
        growth: dict[int, _stats.Summary] = {}
        entry: dict[str, Any] = {"mode": mode}
        for n in (small, large):
            got = runs[mode, n]
            growth[n] = g = _stats.summarize([x["growth_kib"] * 1024 / 1e6 for x in got])
            entry[str(n)] = {
                "growth_mb": g.as_dict(2),
                "baseline_mb": round(
                    statistics.median(x["baseline_kib"] for x in got) * 1024 / 1e6, 1
                ),
                "seconds": round(statistics.median(x["seconds"] for x in got), 2),
                "method": sorted({x["method"] for x in got}),
            }
        bound = GROWTH_FACTOR * growth[small].median + GROWTH_SLACK_MB
        entry["bound_mb"] = round(bound, 2)
        entry["growth_ratio"] = _stats.ratio(growth[large].median, growth[small].median)
        if entry["growth_ratio"] is not None:
            entry["growth_ratio"] = round(entry["growth_ratio"], 3)
        entry["per_extra_composition_kb"] = round(
            (growth[large].median - growth[small].median) * 1e3 / (large - small), 1
        )
        if mode == "ours":  # the raw loop is a reference, with no target
            entry["verdict"] = "independent" if growth[large].median <= bound else "GROWS"
        cases[name] = entry
    return {
        "counts": [small, large],
        "tolerance": f"growth at {large} <= {GROWTH_FACTOR} x growth at {small} "
        f"+ {GROWTH_SLACK_MB} MB",
        "cases": cases,
    }


# -- report -------------------------------------------------------------------------------


def report(result: dict[str, Any]) -> str:
    """The tables a person reads."""
    rows = []
    for name, c in result["cases"].items():
        if "skipped" in c:
            rows.append([name, None, None, None, None, None, None, "skipped: " + c["skipped"]])
            continue
        busy = c.get("server_busy")
        rows.append(
            [
                name,
                c["median_seconds"],
                c["median"],
                c["min"],
                c["max"],
                c["client_cpu_seconds"],
                c.get("server_cpu_seconds"),
                "" if busy is None else f"{busy:.0%}",
            ]
        )
    headers = ["case", "median s", "MB/s", "min", "max", "client CPU s", "emulator CPU s", "busy"]
    parts = [_stats.format_table(headers, rows)]
    ratio_rows = [
        [name, r["value"], r["best_vs_best"], r["target"], r["verdict"]]
        for name, r in result["ratios"].items()
    ]
    parts.append(
        _stats.format_table(["ratio (MB/s)", "of medians", "of best", "target", ""], ratio_rows)
    )
    memory = result.get("memory")
    if memory:
        small, large = memory["counts"]
        mem_rows = []
        for name, c in memory["cases"].items():
            for n in (small, large):
                g = c[str(n)]["growth_mb"]
                mem_rows.append(
                    [
                        f"{name}, {n} compositions",
                        g["median"],
                        g["min"],
                        g["max"],
                        c[str(n)]["baseline_mb"],
                        c["bound_mb"] if n == large and c.get("verdict") else None,
                        c.get("verdict", "") if n == large else "",
                    ]
                )
        headers = ["peak RSS growth (MB)", "median", "min", "max", "baseline", "bound", ""]
        parts.append(_stats.format_table(headers, mem_rows) + f"\n({memory['tolerance']})")
    return "\n\n".join(parts)


def _filesystem(path: Path) -> str | None:
    """The mount point and type of the filesystem holding ``path`` (Linux), for the record."""
    try:
        with open("/proc/mounts", encoding="utf-8") as f:
            mounts = [line.split()[1:3] for line in f]
    except OSError:
        return None
    real = str(path.resolve())
    best = max(
        (m for m in mounts if real == m[0] or real.startswith(m[0].rstrip("/") + "/")),
        key=lambda m: len(m[0]),
        default=None,
    )
    return None if best is None else f"{best[0]} ({best[1]})"


def main(argv: list[str] | None = None) -> int:
    """Run the archive benchmark, print its tables and store them."""
    parser = argparse.ArgumentParser(description="Archive benchmark (see benchmarks/README.md).")
    _stats.add_common_args(parser, rounds=5, quick_rounds=1)
    parser.add_argument(
        "--memory-rounds", type=int, default=None, help="rounds of the memory cases (default 3)"
    )
    parser.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="where the per-run directories go (default: the system temporary directory)",
    )
    parser.add_argument("--memory-child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child is not None:
        print(json.dumps(asyncio.run(memory_child(json.loads(args.memory_child)))), flush=True)
        return 0
    rounds, out = _stats.resolve_common_args(args)
    memory_rounds = args.memory_rounds or (1 if args.quick else 3)
    n, size = (QUICK_COMPOSITIONS, QUICK_MEDIA_SIZE) if args.quick else (COMPOSITIONS, MEDIA_SIZE)
    counts = QUICK_MEMORY_COUNTS if args.quick else MEMORY_COUNTS
    parent = (args.dir or Path(tempfile.gettempdir())).resolve()
    free = shutil.disk_usage(parent).free
    if free < 2 * max(n, *counts) * size:
        raise SystemExit(f"{parent} has {free / 1e9:.1f} GB free; a run needs twice its media")
    scratch = Scratch(parent)
    before = _stats.machine_info()
    print(
        f"archive benchmark: {rounds} rounds of {n} compositions x {size / MiB:g} MiB, "
        f"{CONCURRENCY} at a time, {LATENCY * 1000:g} ms API latency, into {parent}; "
        f"memory: {memory_rounds} rounds at {counts[0]} and {counts[1]} compositions",
        file=sys.stderr,
        flush=True,
    )
    start = time.perf_counter()
    with contextlib.ExitStack() as stack:
        emu = stack.enter_context(EmulatorProcess(n, size, LATENCY))
        warmup = stack.enter_context(
            EmulatorProcess(WARMUP_COMPOSITIONS, WARMUP_MEDIA_SIZE, LATENCY)
        )
        result = asyncio.run(measure_throughput(emu, warmup, scratch, rounds))
        throughput_seconds = time.perf_counter() - start
        # The larger count is the main emulator's; the smaller one gets its own process.
        memory_emus = {
            count: emu if count == n else stack.enter_context(EmulatorProcess(count, size, LATENCY))
            for count in counts
        }
        result["memory"] = measure_memory(memory_emus, warmup, scratch, memory_rounds)
    elapsed = time.perf_counter() - start
    result["seconds"] = {"throughput": round(throughput_seconds, 1), "total": round(elapsed, 1)}
    print(report(result))
    print(
        f"\n({elapsed:.0f} s, of which throughput {throughput_seconds:.0f} s; "
        f"load average before: {before['load_average_1_5_15']})"
    )
    if out is not None:
        config = {
            "compositions": n,
            "media_size": size,
            "latency_s": LATENCY,
            "media_latency_s": 0.0,
            "concurrency": CONCURRENCY,
            "chunk_size": CHUNK_SIZE,
            "raw_page_size": PAGE_SIZE,
            "memory_rounds": memory_rounds,
            "memory_counts": list(counts),
            "destination": _filesystem(parent),
            "emulator": "python " + shlex.join(EmulatorProcess(n, size, LATENCY).argv[1:]),
        }
        _stats.save_results("archive", result, out, rounds=rounds, before=before, config=config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
