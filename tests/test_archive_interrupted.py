"""An archive killed at any moment (kill -9) or interrupted (Ctrl-C) loses nothing.

The archive runs in a child process against the emulator served by this one, so the child
can be killed for real at random points and rerun.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path

import pytest

from async_compositions.emulator import Emulator

SIZE = 1_000_000
COUNT = 24

CHILD = """
import asyncio, sys
from async_compositions import TwilioClient, TelnyxClient

async def main(provider, dest):
    client = TwilioClient() if provider == "twilio" else TelnyxClient()
    async with client:
        report = await client.compositions.archive(dest, delete_after=True, concurrency=3)
    print("done", len(report.archived), len(report.deleted), len(report.failed), flush=True)

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    # Some latency, so that a kill lands in the middle of things rather than after them.
    async with Emulator(seed=77, media_size=SIZE, manual=True, latency=0.05) as emulator:
        yield emulator


def environment(emu: Emulator) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "TELNYX_"))}
    env |= {
        "TWILIO_ACCOUNT_SID": emu.twilio_account_sid,
        "TWILIO_AUTH_TOKEN": emu.twilio_auth_token,
        "TWILIO_VIDEO_BASE_URL": emu.twilio_base_url,
        "TELNYX_API_KEY": emu.telnyx_api_key,
        "TELNYX_BASE_URL": emu.telnyx_base_url,
    }
    return env


def names(dest: Path) -> list[str]:
    return sorted(p.name for p in dest.iterdir() if not p.name.startswith("."))


def parts(dest: Path) -> list[str]:
    return [p.name for p in dest.iterdir() if p.name.endswith(".part")]


def check_consistent(dest: Path, manifest: Path, expected: dict[str, bytes], gone: set[str]):
    """The manifest never claims more than is true; no final name holds a partial file."""
    rows = {}
    if manifest.exists():
        with closing(sqlite3.connect(manifest)) as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            for id, state, key, size, sha256 in db.execute(
                "SELECT id, state, key, size, sha256 FROM compositions"
            ):
                rows[id] = (state, key, size, sha256)
    for id, (state, key, size, sha256) in rows.items():
        if state in ("archived", "deleting", "deleted"):
            content = (dest / key).read_bytes()
            assert content == expected[id], f"{id} recorded {state} but its file differs"
            assert (size, sha256) == (len(content), hashlib.sha256(content).hexdigest())
    for id in gone:
        # Deleted at the provider only once its copy was durable and recorded.
        assert id in rows and rows[id][0] in ("archived", "deleting", "deleted"), id
        assert (dest / rows[id][1]).read_bytes() == expected[id]
    for path in dest.iterdir():
        if not path.name.startswith("."):
            assert path.read_bytes() == expected[path.stem], f"{path.name} is incomplete"
    return rows


@pytest.mark.parametrize("provider", ["twilio", "telnyx"])
async def test_killed_at_random_points_then_rerun(
    emu: Emulator, provider: str, tmp_path: Path
) -> None:
    ids = (emu.seed_twilio if provider == "twilio" else emu.seed_telnyx)(COUNT)
    expected = {id: emu.media_bytes(id) for id in ids}
    manifest = tmp_path / f".async-compositions-{provider}.sqlite3"
    env = environment(emu)

    def gone() -> set[str]:
        return {id for id in ids if (r := emu.store.find(id)) is None or r.status == "deleted"}

    rng = random.Random(f"{provider}-kills")
    kills = 0
    for _ in range(8):
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-c", CHILD, provider, str(tmp_path), env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            await asyncio.wait_for(child.wait(), timeout=rng.uniform(0.4, 1.4))
        except TimeoutError:
            child.send_signal(signal.SIGKILL)
            kills += 1
        out, err = await child.communicate()
        assert child.returncode in (0, -signal.SIGKILL), err.decode()
        check_consistent(tmp_path, manifest, expected, gone())
        if gone() == set(ids):
            break
    assert kills >= 1, "every run finished before it could be killed: the test proved nothing"
    # A last run, left alone, finishes the job from whatever state the kills left.
    final = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CHILD, provider, str(tmp_path), env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(final.communicate(), timeout=60)
    assert final.returncode == 0, err.decode()
    assert out.decode().split()[0] == "done" and out.decode().split()[3] == "0"
    rows = check_consistent(tmp_path, manifest, expected, gone())
    assert gone() == set(ids)
    assert {state for state, *_ in rows.values()} == {"deleted"}
    assert names(tmp_path) == sorted(f"{id}.mp4" for id in ids)
    assert parts(tmp_path) == []


async def test_ctrl_c_in_the_cli_stops_cleanly_and_says_what_was_done(
    emu: Emulator, tmp_path: Path
) -> None:
    ids = emu.seed_twilio(30)
    expected = {id: emu.media_bytes(id) for id in ids}
    emu.latency = 0.05
    cli = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "async_compositions", "archive", str(tmp_path), "--json",
        "--concurrency", "2", env=environment(emu),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert cli.stdout is not None
    first = json.loads(await asyncio.wait_for(cli.stdout.readline(), timeout=30))
    assert "archived" in first
    cli.send_signal(signal.SIGINT)
    out, err = await asyncio.wait_for(cli.communicate(), timeout=30)
    assert cli.returncode == 130, err.decode()
    lines = [json.loads(line) for line in out.decode().splitlines()]
    summary = lines[-1]["summary"]
    assert summary["interrupted"] is True
    archived = [first] + [line for line in lines[:-1] if "archived" in line]
    assert summary["archived"] == len(archived) < len(ids)
    rows = check_consistent(
        tmp_path, tmp_path / ".async-compositions-twilio.sqlite3", expected, set()
    )
    assert {id for id, row in rows.items() if row[0] == "archived"} == {a["id"] for a in archived}
    assert parts(tmp_path) == []
