"""The library's logger and the redaction applied to everything it logs."""

from __future__ import annotations

import logging
import re

logger = logging.getLogger("async_compositions")

# Query parameters that carry credentials in pre-signed media URLs.
_SECRET_QUERY = re.compile(
    r"(?i)([?&](?:x-amz-(?:signature|credential|security-token)|signature|token|key|"
    r"access_token|api_key)=)[^&#]*"
)


def redact_url(url: str) -> str:
    """Return ``url`` with user info and credential-bearing query values masked."""
    url = re.sub(r"(?<=://)[^/@]*@", "***@", url)
    return _SECRET_QUERY.sub(r"\1***", url)


def redacted_repr(url: object) -> str:
    """attrs ``repr=`` for a URL field that may be pre-signed (None shown as None)."""
    return "None" if url is None else repr(redact_url(str(url)))
