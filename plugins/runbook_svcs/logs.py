"""Reading an SMF service log: bunyan JSON lines mixed with SMF's own bracketed lines.

A service's log (``svcs -L``) holds what its methods print (for the node
daemons of SmartOS, bunyan JSON: one object per line with a numeric
``level``) and what ``svc.startd`` adds (``[ May 14 14:22:37 Method "start"
exited with status 1. ]``). Lines that are neither are not guessed at: they
are returned in ``not_understood`` so a diagnosis can say what it could not
read instead of calling the service healthy.
"""

from __future__ import annotations

import json
import re
from typing import Any, TypedDict

from runbook.parsing import split_lines

LEVELS = {10: "trace", 20: "debug", 30: "info", 40: "warn", 50: "error", 60: "fatal"}
_SMF = re.compile(r"^\[ (?P<time>\w{3} +\d+ \d\d:\d\d:\d\d) (?P<msg>.*) \]$")
_SMF_PROBLEM = re.compile(r"Restarting too quickly|exited with status [1-9]|failed|"
                          r"changing state to maintenance|Stopping because", re.IGNORECASE)


class LogRead(TypedDict):
    """The parsed tail of a log."""

    entries: list[dict[str, Any]]
    problems: list[str]
    cause: str | None
    not_understood: list[str]


def level_name(level: object) -> str:
    """Bunyan's name for a numeric level (``30`` -> ``info``); unknown levels say so."""
    if isinstance(level, int) and not isinstance(level, bool):
        return LEVELS.get(level, f"level {level}")
    if isinstance(level, str) and level in LEVELS.values():
        return level
    return "unknown"


def parse_entry(line: str) -> dict[str, Any] | None:
    """One log line as an entry, or None when it is neither bunyan JSON nor an SMF line."""
    smf = _SMF.fullmatch(line.strip())
    if smf:
        return {"source": "smf", "time": smf["time"], "msg": smf["msg"], "level_name": "smf"}
    if not line.lstrip().startswith("{"):
        return None
    try:
        record = json.loads(line)
    except ValueError:
        return None
    if not isinstance(record, dict) or "msg" not in record:
        return None
    return {"source": "bunyan", **record, "level_name": level_name(record.get("level"))}


def problem(entry: dict[str, Any]) -> str | None:
    """What an entry says went wrong: an error/fatal record or an SMF failure line."""
    if entry["source"] == "smf":
        return str(entry["msg"]) if _SMF_PROBLEM.search(str(entry["msg"])) else None
    if entry["level_name"] not in ("error", "fatal"):
        return None
    err = entry.get("err")
    detail = err.get("message") if isinstance(err, dict) else None
    return f"{entry['msg']}: {detail}" if detail else str(entry["msg"])


def parse_log(text: str) -> LogRead:
    """Every line of ``text`` as an entry; the problems found; the lines not understood."""
    entries: list[dict[str, Any]] = []
    unread: list[str] = []
    for line in split_lines(text):
        if not line.strip():
            continue
        entry = parse_entry(line)
        if entry is None:
            unread.append(line)
        else:
            entries.append(entry)
    found = [p for p in map(problem, entries) if p]
    own = [p for e in entries if e["source"] == "bunyan" and (p := problem(e))]
    cause = own[-1] if own else (found[-1] if found else None)
    return {"entries": entries, "problems": found, "cause": cause, "not_understood": unread}

