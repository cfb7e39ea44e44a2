"""Secrets never leave the process: every string shown or stored goes through here."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from typing import Any

MASK = "***"


class Redactor:
    """Replaces every known secret value with ``***`` in strings and nested data."""

    def __init__(self, secrets: Iterable[object] = ()) -> None:
        self._values: list[str] = []
        self._pattern: re.Pattern[str] | None = None
        self.add(*secrets)

    def add(self, *secrets: object) -> None:
        for value in secrets:
            if value is None or isinstance(value, bool):
                continue
            text = str(value)
            # Also the forms a secret takes once quoted for display (shlex.join).
            for form in (text, shlex.quote(text), text.replace("'", "'\"'\"'")):
                if form and form not in self._values:
                    self._values.append(form)
        # Longest first, so a secret containing another is masked whole.
        ordered = sorted(self._values, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def text(self, value: str) -> str:
        if self._pattern is None:
            return value
        return self._pattern.sub(MASK, value)

    def __call__(self, value: Any) -> Any:
        """Redact strings inside any JSON-like value."""
        if self._pattern is None:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self(v) for v in value]
        return value
