"""What the network benchmarks share: credentials and the error type (no SDK imports here)."""

from __future__ import annotations

import base64

__all__ = [
    "ACCOUNT_SID",
    "AUTH_TOKEN",
    "TELNYX_AUTH",
    "TELNYX_KEY",
    "TWILIO_AUTH",
    "BenchmarkError",
]

ACCOUNT_SID = "AC" + "b" * 32
AUTH_TOKEN = "bench-auth-token"
TELNYX_KEY = "KEYbench0000"
TWILIO_AUTH = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
TELNYX_AUTH = f"Bearer {TELNYX_KEY}"


class BenchmarkError(RuntimeError):
    """A case did not return what the server holds: its timing would be meaningless."""
