"""Shared pieces for the plugins' output parsers.

Parsers are pure functions from captured text to plain data, so they can be
tested on recorded samples. Everything that is not specific to one tool lives
here: the one error they raise (``ParseError``), line splitting, splitting
whitespace-aligned tables by their header, ``-`` as "no value", and type checks
for decoded JSON. Low-level helpers raise ``ValueError``; a public parser wraps
its work in ``parse_errors(command, output)`` so that every failure becomes a
``ParseError`` carrying the command and the beginning of its output.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from runbook.errors import RunbookError

HEAD_LINES = 5
_INT = re.compile(r"-?[0-9]+")


class ParseError(RunbookError):
    """Output of a command did not have the expected format."""

    def __init__(self, message: str, *, command: str = "", output: str = "") -> None:
        self.reason = message
        self.command = command
        self.output = output
        prefix = f"{command}: " if command else ""
        super().__init__(f"{prefix}{message}\n{head(output)}")


def head(output: str, n: int = HEAD_LINES) -> str:
    """The first ``n`` lines of ``output``, indented, for error messages."""
    lines = split_lines(output)
    if not lines:
        return "  (no output)"
    shown = [f"  | {line}" for line in lines[:n]]
    if len(lines) > n:
        shown.append(f"  ... ({len(lines) - n} more lines)")
    return "output began with:\n" + "\n".join(shown)


@contextmanager
def parse_errors(command: str, output: object) -> Iterator[None]:
    """Turn a ``ValueError`` raised while reading ``output`` into a ``ParseError``.

    ``output`` may be the raw text or an already decoded value (serialised only
    when an error actually happens).
    """
    try:
        yield
    except ParseError:
        raise
    except ValueError as exc:
        text = output if isinstance(output, str) else json.dumps(output, indent=4, default=str)
        raise ParseError(str(exc), command=command, output=text) from exc


def split_lines(text: str) -> list[str]:
    """Lines of ``text`` split on ``\\n`` only, without the empty piece after a final newline.

    ``str.splitlines`` would also split on form feeds and other separators that
    can legitimately appear inside a record.
    """
    if not text:
        return []
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def none_if_dash(value: str) -> str | None:
    """Tools print ``-`` for a missing value; read it as None."""
    return None if value == "-" else value


def to_int(value: str) -> int:
    """A decimal integer cell, strictly (``int()`` would also accept ``+1``, `` 1`` and ``1_0``)."""
    if not _INT.fullmatch(value):
        raise ValueError(f"expected an integer, found {value!r}")
    return int(value)


def to_int_or_none(value: str) -> int | None:
    """A decimal integer cell where ``-`` means "no value"."""
    return None if value == "-" else to_int(value)


def table_rows(text: str, columns: Sequence[str]) -> list[dict[str, str]] | None:
    """Rows of the whitespace-aligned tables in ``text`` whose header has ``columns``.

    A header is any line whose words include all of ``columns``; its own words
    name the cells, so layouts with extra or missing optional columns parse the
    same way. Cells are split on runs of spaces rather than positions, because
    tools pad to a minimum width but let longer values overflow; the last cell
    takes the rest of the line. A blank line ends a table, and lines outside a
    table (notes, messages) are skipped. Several tables (one per header) are
    concatenated. Returns None when no header was found at all, ``[]`` for a
    header without rows.
    """
    wanted = set(columns)
    header: list[str] | None = None
    rows: list[dict[str, str]] | None = None
    for number, raw in enumerate(split_lines(text), start=1):
        line = raw.strip()
        if not line:
            header = None
            continue
        words = line.split()
        if wanted.issubset(words):
            header = words
            rows = rows if rows is not None else []
            continue
        if header is None or rows is None:
            continue
        cells = line.split(None, len(header) - 1)
        if len(cells) != len(header):
            raise ValueError(
                f"line {number}: expected {len(header)} columns ({' '.join(header)}), "
                f"found {len(cells)}: {line!r}"
            )
        rows.append(dict(zip(header, cells, strict=True)))
    return rows


def load_json(text: str) -> Any:
    """Decode JSON output, as ValueError with the position when it is not JSON."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON: {exc}") from exc


def expect_dict(value: object, what: str) -> dict[str, Any]:
    """``value`` if it is a JSON object, else a ValueError naming ``what``."""
    if not isinstance(value, dict):
        raise ValueError(f"{what}: expected an object, found {_kind(value)}")
    return value


def expect_list(value: object, what: str) -> list[Any]:
    """``value`` if it is a JSON array, else a ValueError naming ``what``."""
    if not isinstance(value, list):
        raise ValueError(f"{what}: expected an array, found {_kind(value)}")
    return value


def expect_str(value: object, what: str) -> str:
    """``value`` if it is a JSON string, else a ValueError naming ``what``."""
    if not isinstance(value, str):
        raise ValueError(f"{what}: expected a string, found {_kind(value)}")
    return value


def expect_int(value: object, what: str) -> int:
    """``value`` if it is a JSON integer (not a boolean), else a ValueError naming ``what``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{what}: expected an integer, found {_kind(value)}")
    return value


def expect_bool(value: object, what: str) -> bool:
    """``value`` if it is a JSON boolean, else a ValueError naming ``what``."""
    if not isinstance(value, bool):
        raise ValueError(f"{what}: expected a boolean, found {_kind(value)}")
    return value


def _kind(value: object) -> str:
    """JSON-ish name of a decoded value's type, for messages."""
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
             int: "an integer", float: "a number", type(None): "null"}
    return f"{names.get(type(value), type(value).__name__)} ({json.dumps(value, default=str)[:60]})"
