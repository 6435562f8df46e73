"""Placeholder until the artifact helper lands the real module (helper-8 owns this file)."""

from __future__ import annotations

from typing import Any


class Artifact:
    """Placeholder."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args
