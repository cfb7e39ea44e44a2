"""Secrets never leave the process: every string shown or stored goes through here.

A secret is hidden where it was put, never by blind substring replacement of
short values (``-p token=t`` once turned ``precondition`` into ``precondi***ion``,
and the pattern of ``***`` gave the secret away):

- an argv element that contains a secret came from it: the whole element is
  masked (``argv``), never a part of it;
- a string that *is* a secret (a result field, an element of a list-typed
  secret) is masked whole;
- free text (command output, error messages) is masked where a secret appears
  in it, for secrets of at least ``MIN_SECRET`` characters: shorter ones are
  refused as param values (``runbook.params``), so none reaches free text.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping
from typing import Any

MASK = "***"
_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)
_NAME = re.compile(r"[A-Za-z_]\w*")
_PARAM = re.compile(r"params\s*(?:\.\s*(\w+)|\[\s*['\"](\w+)['\"]\s*\])")

MIN_SECRET = 6
"""Shorter secrets are refused as param values: masked inside free text, their
length and position would show through, and they are guessable anyway."""


def secret_values(value: object) -> list[str]:
    """The strings a secret param's value consists of (each element of a list or map)."""
    if value is None or isinstance(value, bool):
        return []
    if isinstance(value, Mapping):
        return [s for v in value.values() for s in secret_values(v)]
    if isinstance(value, (list, tuple, set, frozenset)):
        return [s for v in value for s in secret_values(v)]
    text = str(value)
    return [text] if text else []


class Redactor:
    """Masks known secret values in argv, strings and nested data."""

    def __init__(self, secrets: Iterable[object] = ()) -> None:
        self._whole: set[str] = set()
        self._values: list[str] = []
        self._pattern: re.Pattern[str] | None = None
        self.add(*secrets)

    def add(self, *secrets: object) -> None:
        for value in secrets:
            for text in secret_values(value):
                self._whole.add(text)
                # Also the forms a secret takes once quoted for display (shlex.join).
                for form in (text, shlex.quote(text), text.replace("'", "'\"'\"'")):
                    if len(form) >= MIN_SECRET and form not in self._values:
                        self._values.append(form)
        # Longest first, so a secret containing another is masked whole.
        ordered = sorted(self._values, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def derived(self, pairs: Iterable[tuple[str, Any]], context: Mapping[str, Any]) -> None:
        """Template output that came from a secret is a secret too (``{{ token | b64encode
        }}``, ``"Bearer {{ token[4:] }}"``): masked whole by origin, where the renderer
        put it. ``pairs``: each template with what it rendered to. An output in which the
        secret itself shows is masked as before (the secret, or the argv element);
        outputs shorter than ``MIN_SECRET`` (a length, a flag) are left alone."""
        if not self._whole:
            return
        for source, value in pairs:
            if self._reads_secret(source, context):
                found = [s for s in secret_values(value) if len(s) >= MIN_SECRET
                         and not self._carries(s)]  # a visible secret is masked anyway
                if found:
                    self.add(*found)

    def _reads_secret(self, source: str, context: Mapping[str, Any]) -> bool:
        code = " ".join(_TAG.findall(source))  # names inside the tags, not the text
        names = set(_NAME.findall(code))
        params = context.get("params")
        if "params" in names and isinstance(params, Mapping):
            names |= {a or b for a, b in _PARAM.findall(code)}
            values = [params.get(n) for n in names] + [context.get(n) for n in names]
        else:
            values = [context.get(n) for n in names]
        return any(s in self._whole for v in values for s in secret_values(v))

    def __bool__(self) -> bool:
        return bool(self._whole)

    def text(self, value: str) -> str:
        """Free text: a secret itself is masked whole; inside text, long-enough ones."""
        if not self._whole:
            return value
        if value in self._whole:
            return MASK
        return value if self._pattern is None else self._pattern.sub(MASK, value)

    def argv(self, argv: Iterable[Any]) -> list[Any]:
        """An argv: an element that carries a secret is masked whole (``--token=***``
        would still say where the secret went and how it was written)."""
        if not self._whole:
            return list(argv)
        return [MASK if isinstance(a, str) and self._carries(a) else a for a in argv]

    def _carries(self, element: str) -> bool:
        return any(secret in element for secret in self._whole)

    def __call__(self, value: Any) -> Any:
        """Redact strings inside any JSON-like value."""
        if not self._whole:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self(v) for v in value]
        return value
