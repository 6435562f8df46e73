"""What downloads and uploads share about the storage that holds artifact
data (S3, a CDN, the object service's URLs): how it refuses a request, how
its URLs are shown, and how long one transfer attempt may take.

Example:
    >>> public_url("https://b.example.com/k?X-Amz-Signature=s")
    'https://b.example.com/k'
"""

from __future__ import annotations

import json
import re

import httpx

from tcmodel.transport import Transport

__all__ = ["public_url", "refusal", "transfer_deadline"]


def public_url(url: str) -> str:
    """A URL without its query (which may sign it), for messages.

    Example:
        >>> public_url("https://b.example.com/k")
        'https://b.example.com/k'
    """
    return url.split("?", 1)[0]


_XML_FIELD = re.compile(r"<(Code|Message)>([^<]{0,300})</\1>")


def refusal(response: httpx.Response) -> str | None:
    """What a storage said when it refused a request (a 401 or 403 that no
    Taskcluster service sent): an S3-style XML error's ``Code: Message``,
    else a short excerpt of the text; ``None`` for any other answer.

    Example:
        >>> refusal(httpx.Response(403, text="<Error><Code>AccessDenied</Code></Error>"))
        'AccessDenied'
        >>> refusal(httpx.Response(403, json={"code": "InsufficientScopes"})) is None
        True
    """
    if response.status_code not in (401, 403) or _from_taskcluster(response):
        return None
    text = response.text
    found = dict(_XML_FIELD.findall(text))
    parts = [found[k] for k in ("Code", "Message") if found.get(k)]
    detail = " ".join((": ".join(parts) if parts else text).split())
    return detail if len(detail) <= 200 else detail[:200] + "…"


def _from_taskcluster(response: httpx.Response) -> bool:
    """Whether an error answer is a Taskcluster service's (a JSON body with
    a ``code``), e.g. a reference leading to another getArtifact URL."""
    try:
        body = json.loads(response.content)
    except (ValueError, RecursionError):
        return False
    return isinstance(body, dict) and isinstance(body.get("code"), str)


def transfer_deadline(transport: Transport) -> float:
    """The deadline of one download or upload attempt: the transport's
    ``download_deadline`` (``inf`` when it sets none: ``None`` in a send
    would mean the API calls' deadline).

    Example:
        >>> transfer_deadline(Transport("https://tc.example.com", download_deadline=None))
        inf
        >>> transfer_deadline(Transport("https://tc.example.com", download_deadline=60))
        60.0
    """
    limit = transport.download_deadline
    return float("inf") if limit is None else limit
