"""Parsers for ``vminfo`` (ping, status, vms) and ``vmadm lookup`` (see shared/formats vminfo).

``vminfo``'s output is not a stable interface, so ``vminfo status`` is read
field by field: what is missing, of an unexpected type or unknown is named
in ``not_understood`` and the value is null, instead of a traceback or a
silent "healthy". Only output that is not a status at all (not JSON, no
``state:`` line) is a ``ParseError``. The text layout is in ``status_text``.
"""

from __future__ import annotations

import re
from typing import Any

from runbook.parsing import load_json, parse_errors, split_lines
from runbook.samples import OutputParser

_DURATION = re.compile(r"^(?P<seconds>\d+(?:\.\d+)?)s(?: \([^)]*\))?$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
KNOWN_FIELDS = frozenset({"pid", "uptime", "memory", "state", "status", "numVms", "curDate",
                          "curTime", "queue", "lastRefresh", "refreshErrors", "eventsListeners",
                          "refreshLog", "fswatcher"})
MIB = 1024 * 1024


def duration_seconds(text: str) -> float:
    """``208.461083903s (3.47m)`` (or the older ``300.0s (5m)``) -> 208.461083903."""
    found = _DURATION.fullmatch(text.strip())
    if found is None:
        raise ValueError(f"not a vminfo duration: {text!r}")
    return float(found["seconds"])


def parse_ping(stdout: str, stderr: str = "", rc: int = 0) -> dict[str, Any]:
    """``vminfo ping``: alive only for exit 0 with ``pong``; otherwise what it said."""
    said = stdout.strip()
    if rc == 0 and said == "pong":
        return {"alive": True, "error": None}
    if rc == 0:
        return {"alive": False, "error": f"unexpected answer to ping: {said[:200]!r}"}
    message = stderr.strip() or said or f"exit {rc} without a message"
    return {"alive": False, "error": message}


class Fields:
    """Reads fields of a decoded status, recording what it could not understand."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.problems: list[str] = []

    def get(self, path: str, kind: type | tuple[type, ...], *, null_ok: bool = False) -> Any:
        value: Any = self.doc
        for key in path.split("."):
            if not isinstance(value, dict) or key not in value:
                self.problems.append(f"{path}: missing")
                return None
            value = value[key]
        if value is None and null_ok:
            return None
        if not isinstance(value, kind) or (isinstance(value, bool) and kind in (int, float)):
            self.problems.append(f"{path}: unexpected value {value!r}")
            return None
        return value

    def duration(self, path: str, *, null_ok: bool = False) -> float | None:
        text = self.get(path, str, null_ok=null_ok)
        if text is None:
            return None
        try:
            return duration_seconds(text)
        except ValueError as exc:
            self.problems.append(f"{path}: {exc}")
            return None


def parse_status_json(stdout: str) -> dict[str, Any]:
    """``vminfo status -j [-f]`` as the result of ``vminfo.status`` (see the module docstring)."""
    with parse_errors("vminfo status -j", stdout):
        doc = load_json(stdout)
        if not isinstance(doc, dict):
            raise ValueError("expected a JSON object")
    fields = Fields(doc)
    rss = fields.get("memory.rss", int)
    result: dict[str, Any] = {
        "layout": "json",
        "state": fields.get("state", str), "status": fields.get("status", str),
        "pid": fields.get("pid", int), "num_vms": fields.get("numVms", int),
        "rss_bytes": rss, "rss_mb": None if rss is None else round(rss / MIB, 2),
        "uptime_seconds": fields.duration("uptime"),
        **_queue(fields),
        "last_refresh_age_seconds": fields.duration("lastRefresh", null_ok=True),
        "refresh_errors": _refresh_errors(fields),
        "listeners": _listeners(fields),
        "fswatcher": _fswatcher(fields) if "fswatcher" in doc else None,
    }
    unknown = sorted(set(doc) - KNOWN_FIELDS)
    fields.problems += [f"{key}: unknown field" for key in unknown]
    result["not_understood"] = fields.problems
    return result


def _queue(fields: Fields) -> dict[str, Any]:
    pending = fields.get("queue.vasync_queue.pending", dict)
    ages: list[float] = []
    for task_id, task in (pending or {}).items():
        age = Fields(task if isinstance(task, dict) else {}).get("created_ago", str)
        try:
            ages.append(duration_seconds(age or ""))
        except ValueError:
            fields.problems.append(f"queue.vasync_queue.pending.{task_id}.created_ago: "
                                   f"unexpected value {age!r}")
    return {
        "queue_paused": fields.get("queue.paused", bool),
        "queue_idle": fields.get("queue.idle", bool),
        "npending": fields.get("queue.vasync_queue.npending", int),
        "nqueued": fields.get("queue.vasync_queue.nqueued", int),
        "oldest_pending_age_seconds": max(ages) if ages else None,
    }


def _refresh_errors(fields: Fields) -> list[str]:
    errors = fields.get("refreshErrors", list) or []
    return [str(e.get("err")) if isinstance(e, dict) else str(e) for e in errors]


def _listeners(fields: Fields) -> list[dict[str, Any]]:
    found = fields.get("eventsListeners", dict) or {}
    out = []
    for uuid, listener in found.items():
        one = Fields(listener if isinstance(listener, dict) else {})
        out.append({"uuid": uuid, "user_agent": one.get("userAgent", str),
                    "age_seconds": one.duration("createdAgo")})
        fields.problems += [f"eventsListeners.{uuid}.{p}" for p in one.problems]
    return out


def _fswatcher(fields: Fields) -> dict[str, Any] | None:
    watcher = fields.get("fswatcher", dict)
    if watcher is None:
        return None
    running = fields.get("fswatcher.running", bool)
    pending: Any = next((watcher[k] for k in ("pendingActions", "pending_actions", "pending")
                         if k in watcher), None)
    if isinstance(pending, (dict, list)):
        count: int | None = len(pending)
    elif isinstance(pending, int) and not isinstance(pending, bool):
        count = pending
    else:
        count = None
        fields.problems.append("fswatcher.pendingActions: missing")
    return {"running": running, "pending_actions": count}


def parse_vms(stdout: str) -> list[str]:
    """``vminfo vms``: a JSON array of VM objects -> their UUIDs, sorted."""
    with parse_errors("vminfo vms", stdout):
        doc = load_json(stdout)
        if not isinstance(doc, list):
            raise ValueError("expected a JSON array of VMs")
        uuids = []
        for index, vm in enumerate(doc):
            uuid = vm.get("uuid") if isinstance(vm, dict) else None
            if not isinstance(uuid, str):
                raise ValueError(f"VM [{index}] has no uuid")
            uuids.append(uuid)
        return sorted(uuids)


def parse_lookup(stdout: str) -> list[str]:
    """``vmadm lookup``: one UUID per line, sorted."""
    with parse_errors("vmadm lookup", stdout):
        uuids = [line.strip() for line in split_lines(stdout) if line.strip()]
        for uuid in uuids:
            if not _UUID.fullmatch(uuid):
                raise ValueError(f"not a VM UUID: {uuid!r}")
        return sorted(uuids)


def _status_sample(stdout: str, stderr: str, rc: int) -> dict[str, Any]:
    from runbook_vminfo.status_text import parse_status_text

    return parse_status_json(stdout) if stdout.lstrip().startswith("{") \
        else parse_status_text(stdout)


PARSERS = {
    "vminfo-ping": OutputParser(parse_ping),
    "vminfo-status": OutputParser(_status_sample),
}
