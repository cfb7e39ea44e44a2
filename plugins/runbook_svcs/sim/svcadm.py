"""Stand-in for illumos ``svcadm``: enable [-s], disable [-s], restart, clear.

Silent on success. Unmatched pattern: ``svcadm: Pattern 'x' doesn't match
any instances``, exit 1. With ``-s`` it waits for the state: exit 3 when the
instance lands in maintenance, 4 when a dependency keeps it offline.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from runbook.sim.store import transaction
from runbook_svcs.sim import files, smf
from runbook_svcs.sim.match import no_match, select

VERBS = ("enable", "disable", "restart", "clear")
USAGE = "Usage: svcadm [-v] [cmd [args ... ]]\n"
WAIT_LIMIT = 60.0


def _arguments(argv: list[str]) -> tuple[str, bool, list[str]] | None:
    """(verb, -s, operands), or None for a usage error."""
    if not argv or argv[0] not in VERBS:
        return None
    verb, rest = argv[0], argv[1:]
    wait = verb in ("enable", "disable") and "-s" in rest
    operands = [a for a in rest if not (a == "-s" and wait)]
    if not operands or any(a.startswith("-") for a in operands):
        return None
    return verb, wait, operands


def run(directory: Path, argv: list[str]) -> int:
    parsed = _arguments(argv)
    if parsed is None:
        sys.stderr.write(USAGE)
        return 2
    verb, wait, operands = parsed
    with transaction(directory) as state:
        chosen, missing = select(smf.services(state), operands)
        t = float(state["updated"])
        for fmri in chosen:
            _apply(state, verb, fmri, t)
        smf.settle(state, t)
        files.sync(directory, state)
    for pattern in missing:
        print(no_match("svcadm", pattern), file=sys.stderr)
    if missing:
        return 1
    return _wait(directory, chosen, verb == "enable") if wait else 0


def _apply(state: dict[str, object], verb: str, fmri: str, t: float) -> None:
    if verb in ("enable", "disable"):
        smf.enable(state, fmri, t, verb == "enable")
    elif verb == "restart":
        smf.restart(state, fmri, t)
    else:
        smf.clear(state, fmri, t)


def _wait(directory: Path, fmris: list[str], online: bool) -> int:
    """``-s``: until every instance is online (disabled); 3/4 when it cannot get there."""
    deadline = time.monotonic() + WAIT_LIMIT
    while time.monotonic() < deadline:
        with transaction(directory) as state:
            known = smf.services(state)
            code = _reached(state, known, fmris, online)
            files.sync(directory, state)
        if code is not None:
            return code
        time.sleep(0.05)
    return 1


def _reached(state: dict[str, object], known: dict[str, dict[str, object]],
             fmris: list[str], online: bool) -> int | None:
    states = [known[f]["state"] for f in fmris]
    if not online:
        return 0 if all(s == "disabled" for s in states) else None
    if "maintenance" in states:
        return 3
    if all(s in smf.RUNNING for s in states):
        return 0
    starting = any(known[f]["start_at"] is not None for f in fmris)
    if not starting and any(not smf.deps_online(state, known[f]) for f in fmris):
        return 4
    return None
