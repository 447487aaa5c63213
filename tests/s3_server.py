"""moto's standalone S3 server, run by the tests on 127.0.0.1 in a subprocess.

Nothing reaches the internet: the credentials are dummies, the shared AWS config and
credential files are pointed at nothing, and the instance metadata service is disabled.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

__all__ = ["ACCESS_KEY_ID", "REGION", "SECRET_ACCESS_KEY", "MotoServer", "dummy_aws_env"]

ACCESS_KEY_ID = "AKIAZZZZDUMMYTEST123"
SECRET_ACCESS_KEY = "dummy/Secret+Key/never-a-real-one-0123456789"
REGION = "us-east-1"

# Runs moto's S3 server on an ephemeral port of 127.0.0.1, prints the port, and serves
# until its standard input closes (so it also ends if the test run is killed).
_SERVER = """
import sys
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()
server.stop()
"""


class MotoServer:
    """One moto server subprocess."""

    def __init__(self, log: Path, **env: str) -> None:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self._log = log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-c", _SERVER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env={**clean, **env},
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.strip().isdigit():
            self.stop()
            raise RuntimeError(f"moto server did not start: {log.read_text()[-2000:]}")
        self.url = f"http://127.0.0.1:{int(line)}"

    def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._log.close()


def dummy_aws_env(tmp_path: Path) -> dict[str, str]:
    """The only AWS settings a test process may see: dummies, no files, no metadata service."""
    return {
        "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
    }
