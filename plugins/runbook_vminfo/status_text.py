"""Parser for the human layout of ``vminfo status`` (older platforms without ``-j``).

Same result keys as ``parse_status_json``. The text shows no byte count and
no per-task ages, so ``rss_bytes`` and ``oldest_pending_age_seconds`` are
null here; lines this parser does not know are named in ``not_understood``.
"""

from __future__ import annotations

import re
from typing import Any

from runbook.parsing import parse_errors, split_lines
from runbook_vminfo.parse import duration_seconds

_STATE = re.compile(r"^state: (?P<state>\S+) \((?P<status>.*)\)$")
_RSS = re.compile(r"^(?P<mb>\d+(?:\.\d+)?)mb$")
_LISTENER = re.compile(r"^(?P<uuid>\S+) created (?P<ago>.+) ago$")
_ERROR = re.compile(r"^- (?P<err>.*) \((?P<ago>[^()]*)\)$")
_INTS = {"pid": "pid", "numVms": "num_vms", "npending": "npending", "nqueued": "nqueued"}
_BOOLS = {"paused": "queue_paused", "idle": "queue_idle"}
_EMPTY: dict[str, Any] = {
    "layout": "text", "state": None, "status": None, "pid": None, "num_vms": None,
    "rss_bytes": None, "rss_mb": None, "uptime_seconds": None, "queue_paused": None,
    "queue_idle": None, "npending": None, "nqueued": None, "oldest_pending_age_seconds": None,
    "last_refresh_age_seconds": None, "refresh_errors": [], "listeners": [], "fswatcher": None,
}
_REQUIRED = ("state", "pid", "uptime_seconds", "rss_mb", "num_vms", "queue_paused",
             "queue_idle", "npending", "nqueued")


def parse_status_text(stdout: str) -> dict[str, Any]:
    """``vminfo status`` (no ``-j``) as the result of ``vminfo.status``."""
    with parse_errors("vminfo status", stdout):
        lines = [line.rstrip() for line in split_lines(stdout)]
        first = _STATE.fullmatch(lines[0]) if lines else None
        if first is None:
            raise ValueError("expected a first line 'state: <state> (<status>)'")
    result = {**_EMPTY, "refresh_errors": [], "listeners": [], "not_understood": []}
    result.update(state=first["state"], status=first["status"])
    for line in lines[1:]:
        if line.strip() and not _line(line, result):
            result["not_understood"].append(f"line not understood: {line.strip()!r}")
    result["not_understood"] += [f"{key}: missing" for key in _REQUIRED if result[key] is None]
    return result


def _line(line: str, result: dict[str, Any]) -> bool:
    """Apply one line to ``result``; False when it is not understood."""
    text = line.strip()
    if text in ("queue", "fullRefresh") or text.startswith(("eventsListeners: (",
                                                            "refreshErrors: (")):
        return True
    if text.isdigit():  # the count printed after the unsubstituted 'refreshErrors: (%d items)'
        return True
    listener = _LISTENER.fullmatch(text)
    if listener and result["listeners"]:
        result["listeners"][-1].update(uuid=listener["uuid"],
                                       age_seconds=_seconds(listener["ago"]))
        return True
    if text.startswith("- "):
        return _list_item(line, text, result)
    key, sep, value = text.partition(": ")
    return bool(sep) and _field(key, value, result)


def _list_item(line: str, text: str, result: dict[str, Any]) -> bool:
    if line.startswith("    - "):
        found = _ERROR.fullmatch(text)
        result["refresh_errors"].append(found["err"] if found else text[2:])
    else:
        result["listeners"].append({"uuid": None, "user_agent": text[2:], "age_seconds": None})
    return True


def _field(key: str, value: str, result: dict[str, Any]) -> bool:
    if key in _INTS and value.isdigit():
        result[_INTS[key]] = int(value)
    elif key in _BOOLS and value in ("true", "false"):
        result[_BOOLS[key]] = value == "true"
    elif key == "uptime":
        result["uptime_seconds"] = _seconds(value)
    elif key == "lastRefresh":
        result["last_refresh_age_seconds"] = None if value == "null" else _seconds(value)
    elif key == "rss" and _RSS.fullmatch(value):
        result["rss_mb"] = float(value[:-2])
    else:
        return False
    return True


def _seconds(text: str) -> float | None:
    try:
        return duration_seconds(text)
    except ValueError:
        return None
