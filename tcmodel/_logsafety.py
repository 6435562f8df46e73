"""Keep secrets out of the log records of the libraries tcmodel drives.

mohawk logs whole Hawk headers (whose ``ext`` holds certificates) at DEBUG,
and httpx/httpcore log URLs and response headers, which may hold a bewit.
A filter on those loggers drops mohawk's DEBUG records and masks bewits.

Example:
    >>> import logging
    >>> url = "https://x/?bewit=abc"
    >>> rec = logging.LogRecord("httpx", logging.INFO, "", 0, "GET %s", (url,), None)
    >>> _SecretFilter().filter(rec), rec.getMessage()
    (True, 'GET https://x/?bewit=<redacted>')
"""

from __future__ import annotations

import logging
import re

from tcmodel.errors import redact_url

__all__ = ["install"]

_LOGGERS = (
    "tcmodel",  # callers may name a request by its (pre-signed) URL
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
    "mohawk.base",
    "mohawk.sender",
    "mohawk.receiver",
    "mohawk.bewit",
    "mohawk.util",
)
# A whole Hawk header value: `Hawk key="value", key="value", ...`.
_HAWK = re.compile(r'(Hawk )(?:\s*,?\s*[A-Za-z]+="[^"]*")+')


class _SecretFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("mohawk") and record.levelno < logging.INFO:
            return False
        try:
            text = record.getMessage()
        except Exception:  # a broken record is not ours to fix
            return True
        clean = _HAWK.sub(r"\1<redacted>", redact_url(text))
        if clean != text:
            record.msg, record.args = clean, None
        return True


_FILTER = _SecretFilter()


def install() -> None:
    """Attach the filter to the loggers that could show secrets (idempotent).

    Example:
        >>> install(); install()
        >>> sum(f is _FILTER for f in logging.getLogger("httpx").filters)
        1
    """
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
