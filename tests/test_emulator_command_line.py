"""`python -m async_compositions.emulator` run in-process: its options and what it prints."""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import socket
import sys
import threading
import urllib.error
import urllib.request
from typing import Any

import pytest
from helpers import basic_auth

from async_compositions.cli import main as cli_main
from async_compositions.emulator.__main__ import main


class _Lines(io.StringIO):
    """Stdout that lets another thread wait for the emulator's environment lines."""

    def __init__(self) -> None:
        super().__init__()
        self.printed = threading.Event()

    def write(self, text: str) -> int:
        written = super().write(text)
        if "TELNYX_PUBLIC_KEY=" in self.getvalue():
            self.printed.set()
        return written


def _get(url: str, authorization: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers={"Authorization": authorization})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, dict(exc.headers), exc.read()


def test_serves_seeded_compositions_under_a_rate_limit_until_sigint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = _Lines()
    monkeypatch.setattr(sys, "stdout", out)
    seen: dict[str, Any] = {}

    def client() -> None:
        try:
            assert out.printed.wait(timeout=20), "the emulator printed no environment"
            env = dict(line.split("=", 1) for line in out.getvalue().splitlines() if "=" in line)
            seen["env"] = env
            auth = basic_auth(env["TWILIO_ACCOUNT_SID"], env["TWILIO_AUTH_TOKEN"])
            url = env["TWILIO_VIDEO_BASE_URL"] + "/Compositions"
            seen["answers"] = [_get(url, auth) for _ in range(6)]
        except BaseException as exc:  # reported by the test below
            seen["error"] = exc
        finally:
            # What Ctrl-C does; only once the emulator serves (and so handles SIGINT).
            if out.printed.is_set():
                os.kill(os.getpid(), signal.SIGINT)

    thread = threading.Thread(target=client)
    thread.start()
    try:
        code = main(
            ["--port", "0", "--manual", "--seed", "3", "--seed-twilio", "2", "--rate-limit", "1"]
        )
    finally:
        thread.join(timeout=30)
    monkeypatch.undo()
    assert "error" not in seen, seen.get("error")
    assert code == 0
    first, *_ = out.getvalue().splitlines()
    assert first.startswith("# async-compositions emulator listening on http://127.0.0.1:")
    env = seen["env"]
    assert set(env) == {
        "TWILIO_VIDEO_BASE_URL",
        "TWILIO_ACCOUNT_SID",
        "TWILIO_AUTH_TOKEN",
        "TWILIO_API_KEY",
        "TWILIO_API_SECRET",
        "TELNYX_BASE_URL",
        "TELNYX_API_KEY",
        "TELNYX_PUBLIC_KEY",
    }
    assert len(base64.b64decode(env["TELNYX_PUBLIC_KEY"])) == 32  # a raw Ed25519 key
    statuses = [status for status, _, _ in seen["answers"]]
    # One read a second: the first answers, and the quick ones after it are refused.
    assert statuses[0] == 200 and 429 in statuses
    _, _, body = seen["answers"][0]
    assert len(json.loads(body)["compositions"]) == 2
    refused = next(headers for status, headers, _ in seen["answers"] if status == 429)
    assert float(refused["Retry-After"]) > 0


@pytest.mark.parametrize("value", ["fast", "1,2,3", "0", "-1,1"])
def test_a_malformed_rate_limit_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], value: str
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--port", "0", f"--rate-limit={value}"])
    assert info.value.code == 2
    assert capsys.readouterr().err.endswith(
        "error: --rate-limit must be READS or READS,WRITES (requests a second)\n"
    )


def test_a_port_in_use_exits_1_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        # Through the tool's `emulator` command, which passes its options on.
        code = cli_main(["emulator", "--host", "127.0.0.1", "--port", str(port), "--manual"])
    captured = capsys.readouterr()
    assert code == 1 and captured.out == ""
    assert captured.err.startswith("error: ") and captured.err.count("\n") == 1
    assert "address already in use" in captured.err.lower()
