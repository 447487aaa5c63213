"""``python -W error -m async_compositions.demo``: exits 0, shows both providers, leaks nothing."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GUARD = 60  # seconds; only stops a hung demo from stalling the run, never asserted on


@pytest.fixture(scope="module")
def demo() -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "TELNYX_"))}
    # Only loopback traffic is expected: a proxy setting must not capture it.
    env.update({"NO_PROXY": "127.0.0.1,localhost", "PYTHONIOENCODING": "utf-8"})
    return subprocess.run(
        [sys.executable, "-W", "error", "-m", "async_compositions.demo"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=GUARD,
        check=False,
    )


def section(output: str, title: str) -> str:
    """The lines of one provider's part of the output."""
    start = output.index(f"== {title}")
    end = output.find("\n== ", start + 1)
    return output[start : end if end != -1 else len(output)]


def test_exits_cleanly_without_warnings(demo: subprocess.CompletedProcess[str]) -> None:
    assert demo.returncode == 0, demo.stderr
    # -W error turns a ResourceWarning into an exception, but one raised in __del__ is only
    # printed: an empty stderr is what proves every session and socket was closed.
    assert demo.stderr == ""
    assert re.search(
        r"^done: \d+ requests served in [\d.]+ s; every client closed$", demo.stdout, re.M
    )


@pytest.mark.parametrize("title", ["Twilio Video v1 Compositions", "Telnyx Room Compositions"])
def test_each_provider_runs_the_whole_tour(
    demo: subprocess.CompletedProcess[str], title: str
) -> None:
    part = section(demo.stdout, title)
    assert re.search(r"emulator at http://127\.0\.0\.1:\d+/v[12]\)", part)
    assert re.search(r"receiver  http://127\.0\.0\.1:\d+/hooks/\w+ ", part)
    assert re.search(r"create    .*: enqueued$", part, re.M)
    assert re.search(r"wait      all 3 completed in [\d.]+ s, woken by the", part)
    assert re.search(r"webhook   (\d+) .* verified .*, \1 answered 200$", part, re.M)
    assert "answered HTTP 403" in part  # the forged delivery
    assert "fetch     " in part and ": completed, 1280x720 mp4" in part
    assert "] 100%  3.0 MiB" in part
    assert "3,145,728 bytes on disk, video/mp4, identical to the served media" in part
    assert re.search(r"^  delete    ", part, re.M)


def test_webhooks_are_verified_with_each_providers_scheme(
    demo: subprocess.CompletedProcess[str],
) -> None:
    twilio = section(demo.stdout, "Twilio")
    telnyx = section(demo.stdout, "Telnyx")
    assert "9 status callbacks verified (X-Twilio-Signature), 9 answered 200" in twilio
    assert "composition-available: CJ" in twilio
    assert "3 events verified (Ed25519 over timestamp|body), 3 answered 200" in telnyx
    assert "video.room.composition.completed: " in telnyx


def test_stream_shows_pages_prefetched_while_items_are_consumed(
    demo: subprocess.CompletedProcess[str],
) -> None:
    for title, prefetch in (("Twilio", 1), ("Telnyx", 2)):
        part = section(demo.stdout, title)
        assert f"stream    24 seeded, page_size=8, prefetch={prefetch}" in part
        events = re.findall(r"^ +\d+ ms  (.+)$", part, re.M)
        assert events, part
        # Page 2 is requested before the consumer is done with page 1: that is prefetching.
        assert events.index("→ GET page 2") < events.index("  consumer done with page 1")
        assert events.count("→ GET page 3") == 1
        assert "24 items in" in part
        assert "the emulator logged 3 page requests (3 traced)" in part
    telnyx_events = re.findall(r"^ +\d+ ms  (.+)$", section(demo.stdout, "Telnyx"), re.M)
    # With prefetch=2, pages 2 and 3 are both requested as soon as page 1 arrives.
    assert telnyx_events.index("→ GET page 3") < telnyx_events.index("← page 2 arrived (HTTP 200)")


def test_delete_is_visible_afterwards(demo: subprocess.CompletedProcess[str]) -> None:
    assert "media deleted, the record now says deleted" in section(demo.stdout, "Twilio")
    assert "fetch now raises NotFoundError (HTTP 404, code 10005)" in section(demo.stdout, "Telnyx")
