"""Keep secrets out of the log records of the libraries tcmodel drives.

mohawk logs whole Hawk headers (whose ``ext`` holds certificates) at DEBUG,
and httpx/httpcore log URLs and response headers, which may hold a bewit.
Over HTTP/2, hpack (h2's header compression) logs every header it encodes
or decodes at DEBUG -- ``authorization``, a ``:path`` with a bewit, a
``location`` with a presigned signature -- in clear or Huffman-coded, which
no mask can catch. A filter on every logger of those libraries drops the
DEBUG records of mohawk, hpack and h2 and masks bewits, signatures and Hawk
headers in the rest.

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
    "hpack.hpack",
    "hpack.table",
    "h2",  # h2 logs only through a logger handed to it; this is the one it would be
)
# A filter applies only to records of the logger it is on, not to its
# children's: every logger of these libraries gets one, including those made
# after import (``install`` runs again whenever tcmodel makes an HTTP client).
_FAMILIES = ("tcmodel", "httpx", "httpcore", "mohawk", "hpack", "h2", "hyperframe")
# Libraries whose DEBUG records show headers in forms no mask can catch.
_SILENT_BELOW_INFO = ("mohawk", "hpack", "h2", "hyperframe")
# A whole Hawk header value: `Hawk key="value", key="value", ...`.
_HAWK = re.compile(r'(Hawk )(?:\s*,?\s*[A-Za-z]+="[^"]*")+')


class _SecretFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        family = record.name.partition(".")[0]
        if family in _SILENT_BELOW_INFO and record.levelno < logging.INFO:
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
    """Attach the filter to the loggers that could show secrets: those
    named above and every other logger of their libraries that exists by
    now (idempotent).

    Example:
        >>> install(); install()
        >>> sum(f is _FILTER for f in logging.getLogger("httpx").filters)
        1
        >>> _ = logging.getLogger("hpack.new_module"); install()
        >>> _FILTER in logging.getLogger("hpack.new_module").filters
        True
    """
    known = [n for n in list(logging.root.manager.loggerDict) if _in_family(n)]
    for name in {*_LOGGERS, *known}:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


def _in_family(name: str) -> bool:
    return name.partition(".")[0] in _FAMILIES
