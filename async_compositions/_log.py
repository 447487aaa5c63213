"""The library's logger and the redaction applied to everything it logs."""

from __future__ import annotations

import logging
import re

logger = logging.getLogger("async_compositions")

# Query parameters that carry credentials in pre-signed media URLs.
_SECRET_NAMES = (
    r"(?i)([?&](?:x-amz-(?:signature|credential|security-token)|signature|token|key|"
    r"access_token|api_key)=)"
)
_SECRET_QUERY = re.compile(_SECRET_NAMES + r"[^&#]*")
# The same inside free text (a quoted response body): a value ends at a quote or a space.
_SECRET_QUERY_IN_TEXT = re.compile(_SECRET_NAMES + r"[^&#\"'\s]*")


def redact_text(text: str) -> str:
    """Mask credential-bearing query values of any URL quoted in ``text``."""
    return _SECRET_QUERY_IN_TEXT.sub(r"\1***", text)


def redact_url(url: str) -> str:
    """Return ``url`` with user info and credential-bearing query values masked."""
    url = re.sub(r"(?<=://)[^/@]*@", "***@", url)
    return _SECRET_QUERY.sub(r"\1***", url)


def redacted_repr(url: object) -> str:
    """attrs ``repr=`` for a URL field that may be pre-signed (None shown as None)."""
    return "None" if url is None else repr(redact_url(str(url)))
