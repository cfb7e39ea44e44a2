"""Which instances an FMRI pattern names, the way svcs and svcadm read operands.

``svc:/system/smartdc/vminfod:default``, ``system/smartdc/vminfod``,
``smartdc/vminfod``, ``vminfod`` and ``vminfod:default`` all name it; a
pattern with ``*`` or ``?`` is a glob over the whole FMRI (with or without
``svc:/``).
"""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase


def matches(fmri: str, pattern: str) -> bool:
    short = fmri.split(":/", 1)[-1]
    if any(c in pattern for c in "*?["):
        return fnmatchcase(fmri, pattern) or fnmatchcase(short, pattern)
    if pattern in (fmri, short):
        return True
    service, _, instance = short.rpartition(":")
    parts = service.split("/")
    tails = {"/".join(parts[i:]) for i in range(len(parts))}
    return pattern in tails or pattern in {f"{tail}:{instance}" for tail in tails}


def select(fmris: Iterable[str], patterns: list[str]) -> tuple[list[str], list[str]]:
    """(matched FMRIs in the given order without duplicates, patterns matching nothing)."""
    known = list(fmris)
    found: list[str] = []
    missing: list[str] = []
    for pattern in patterns:
        hits = [f for f in known if matches(f, pattern)]
        if not hits:
            missing.append(pattern)
        found += [f for f in hits if f not in found]
    return found, missing


def no_match(tool: str, pattern: str) -> str:
    return f"{tool}: Pattern '{pattern}' doesn't match any instances"
