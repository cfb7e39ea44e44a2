"""Stand-in for illumos ``svcs``: listings, ``-H -o``, ``-x [-v]`` and ``-L``.

Formats as in shared/formats svcs.md; a pattern that matches nothing prints
``svcs: Pattern 'x' doesn't match any instances`` and exits 1 after listing
the rest. Options: ``-a``, ``-H``, ``-o COLS``, ``-x``, ``-v``, ``-L``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from runbook.sim.store import transaction
from runbook_svcs.sim import files, smf, svcs_print
from runbook_svcs.sim.match import no_match, select

COLUMNS = {"state": "STATE", "nstate": "NSTATE", "stime": "STIME", "fmri": "FMRI"}
USAGE = "Usage: svcs [-aHpv?] [-o col[,col]...] [-R FMRI-instance]... [-sS col]...\n" \
        "\t[-Z | -z zone ]\n\t[<service> ...]\n"


def _options(argv: list[str]) -> tuple[set[str], list[str], list[str]] | str:
    """(flags, columns, operands), or the bad option."""
    flags: set[str] = set()
    columns = ["STATE", "STIME", "FMRI"]
    i = 0
    while i < len(argv) and argv[i].startswith("-") and argv[i] != "-":
        token = argv[i]
        if token == "-o":
            if i + 1 >= len(argv):
                return "o"
            names = argv[i + 1].split(",")
            if any(n not in COLUMNS for n in names):
                return "o"
            columns = [COLUMNS[n] for n in names]
            i += 2
            continue
        for letter in token[1:]:
            if letter not in "aHxvL":
                return letter
            flags.add(letter)
        i += 1
    return flags, columns, argv[i:]


def run(directory: Path, argv: list[str]) -> int:
    parsed = _options(argv)
    if isinstance(parsed, str):
        sys.stderr.write(f"svcs: illegal option -- {parsed}\n{USAGE}")
        return 2
    flags, columns, operands = parsed
    with transaction(directory) as state:
        known = smf.services(state)
        now = float(state["updated"])
        chosen, missing = select(known, operands)
        if not operands:
            chosen = [f for f, s in known.items() if "a" in flags or s["enabled"]
                      or "x" in flags]
        out = _render(known, chosen, operands, flags, columns, now)
        files.sync(directory, state)
    for line in out:
        print(line)
    for pattern in missing:
        print(no_match("svcs", pattern), file=sys.stderr)
    return 1 if missing else 0


def _render(known: dict[str, dict[str, object]], chosen: list[str], operands: list[str],
            flags: set[str], columns: list[str], now: float) -> list[str]:
    if "L" in flags:
        return [smf.log_path(f) for f in chosen]
    if "x" in flags:
        return _explained(known, chosen, operands, "v" in flags)
    return svcs_print.listing({f: known[f] for f in chosen}, now, columns, "H" not in flags)


def _explained(known: dict[str, dict[str, object]], chosen: list[str], operands: list[str],
               verbose: bool) -> list[str]:
    troubled = [f for f in chosen
                if known[f]["state"] not in smf.RUNNING and (known[f]["enabled"] or operands)]
    troubled.sort(key=lambda f: -len(svcs_print.blocked(known, f)))
    out: list[str] = []
    for fmri in troubled:
        if out:
            out.append("")
        out += svcs_print.explain(known, fmri, verbose)
    return out
