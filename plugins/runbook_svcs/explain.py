"""Parser for ``svcs -x`` and ``svcs -xv`` (see shared/formats svcs, "Explanations").

Each paragraph is one service: a ``<fmri> (<description>)`` line, then lines
labelled right-aligned in six columns (``State:``, ``Reason:``, ``See:``,
``Path:``, ``Impact:``, ``Zone:``) and unlabelled continuation lines (a long
reason, the hops of ``Path:``, the dependents listed after ``Impact:``).
Both layouts give the same keys; ``path`` and ``dependents_not_running`` are
empty without ``-v``.
"""

from __future__ import annotations

import re
from typing import Any, TypedDict

from runbook.parsing import parse_errors, split_lines

_LABEL = re.compile(r"^ {0,5}(?P<label>Zone|State|Reason|See|Path|Impact): ?(?P<value>.*)$")
_TITLE = re.compile(r"^(?P<fmri>\S+)(?: \((?P<description>.*)\))?$")
_SINCE = re.compile(r"^(?P<state>\S+) since (?P<since>.+)$")
_COUNT = re.compile(r"^(?P<n>\d+) dependent services? (?:is|are) not running")


class Service(TypedDict):
    """One explained service."""

    fmri: str
    description: str | None
    zone: str | None
    state: str
    since: str | None
    reason: str
    see: list[str]
    log: str | None
    path: list[str]
    dependents_not_running: list[str]
    dependents_not_running_count: int


def parse_explain(stdout: str) -> dict[str, list[Service]]:
    """``{"services": [...]}`` in the order svcs printed them (none: an empty list)."""
    with parse_errors("svcs -x", stdout):
        services = [_service(block) for block in _paragraphs(stdout)]
        return {"services": services}


def _paragraphs(text: str) -> list[list[str]]:
    blocks: list[list[str]] = [[]]
    for line in split_lines(text):
        if line.strip():
            blocks[-1].append(line.rstrip())
        elif blocks[-1]:
            blocks.append([])
    return [b for b in blocks if b]


def _service(lines: list[str]) -> Service:
    title = _TITLE.fullmatch(lines[0])
    if title is None or not title["fmri"].count(":"):
        raise ValueError(f"expected '<fmri> (<description>)', found {lines[0]!r}")
    fields: dict[str, list[str]] = {}
    extra: dict[str, list[str]] = {}
    last: str | None = None
    for line in lines[1:]:
        found = _LABEL.match(line)
        if found:
            last = found["label"]
            fields.setdefault(last, []).append(found["value"].strip())
        elif last is not None and line.startswith("        "):
            extra.setdefault(last, []).append(line.strip())
        else:
            raise ValueError(f"{title['fmri']}: line not understood: {line!r}")
    return _assemble(title["fmri"], title["description"], fields, extra)


def _assemble(fmri: str, description: str | None, fields: dict[str, list[str]],
              extra: dict[str, list[str]]) -> Service:
    state_line = _one(fields, "State", fmri)
    since = _SINCE.fullmatch(state_line)
    see = fields.get("See", [])
    impact = _one(fields, "Impact", fmri)
    dependents = extra.get("Impact", [])
    count = _COUNT.match(impact)
    path = fields.get("Path", [])[:1] + extra.get("Path", [])
    return {
        "fmri": fmri,
        "description": None if description in (None, "?") else description,
        "zone": fields["Zone"][0] if "Zone" in fields else None,
        "state": since["state"] if since else state_line,
        "since": since["since"] if since else None,
        "reason": " ".join([*fields.get("Reason", []), *extra.get("Reason", [])]),
        "see": see,
        "log": next((s for s in see if s.startswith("/") and " " not in s), None),
        "path": path,
        "dependents_not_running": dependents,
        "dependents_not_running_count": int(count["n"]) if count else len(dependents),
    }


def _one(fields: dict[str, Any], label: str, fmri: str) -> str:
    values = fields.get(label)
    if not values:
        raise ValueError(f"{fmri}: no '{label}:' line")
    return str(values[0])
