"""What ``vminfo status`` prints: the JSON document (``-j``) and the human layout.

Formats as in shared/formats vminfo.md: durations ``<s>.<9 digits>s (<short>)``,
monotonic times ``<s>.<9 digits>``, memory in bytes (the text layout in MiB).
"""

from __future__ import annotations

import json
from typing import Any

from runbook_svcs.sim import smf

from runbook.sim.model import State
from runbook_vminfo.sim import daemon

UNITS = (("d", 86400.0), ("h", 3600.0), ("m", 60.0), ("s", 1.0), ("ms", 1e-3), ("us", 1e-6),
         ("ns", 1e-9))


def short(seconds: float) -> str:
    for unit, size in UNITS:
        if seconds >= size:
            return f"{seconds / size:.2f}".rstrip("0").rstrip(".") + unit
    return "0ns"


def duration(seconds: float) -> str:
    """``208.461083903s (3.47m)``."""
    seconds = max(seconds, 0.0)
    return f"{seconds:.9f}s ({short(seconds)})"


def document(state: State, t: float, full: bool) -> dict[str, Any]:
    """The status object vminfod serves on GET /status."""
    d = daemon.daemon(state)
    mono = t - float(d["node_boot"])
    vms = daemon.known_vms(state)
    rss = 40 * 1024 * 1024 + len(vms) * 950_000 + 123_456
    doc: dict[str, Any] = {
        "pid": d["pid"], "uptime": duration(t - float(d["started"])),
        "memory": {"rss": rss, "heapTotal": rss * 3 // 5, "heapUsed": rss * 2 // 5,
                   "external": 1_402_110},
        "state": "running", "status": "working", "numVms": len(vms),
        "curDate": smf.iso(t), "curTime": f"{mono:.9f}", "queue": _queue(d, t, mono),
        "lastRefresh": None if d["last_refresh"] is None
        else duration(t - float(d["last_refresh"])),
        "refreshErrors": list(d["refresh_errors"]),
        "eventsListeners": {
            ln["uuid"]: {"userAgent": ln["ua"], "createdTime": f"{mono - (t - ln['created']):.9f}",
                         "createdDate": smf.iso(float(ln["created"])),
                         "createdAgo": duration(t - float(ln["created"]))}
            for ln in d["listeners"]},
    }
    if full:
        doc["refreshLog"] = []
        doc["fswatcher"] = {"running": True, "watching": len(vms) * 3, "pendingActions": {}}
    return doc


def _queue(d: dict[str, Any], t: float, mono: float) -> dict[str, Any]:
    def at(when: float) -> str:
        return f"{mono - (t - when):.9f}"

    pending = {task["id"]: {"description": task["description"],
                            "created_at": at(task["created"]), "started_at": at(task["started"]),
                            "created_ago": duration(t - task["created"]),
                            "started_ago": duration(t - task["started"]),
                            "start_latency": duration(task["started"] - task["created"])}
               for task in d["pending"]}
    queued = [{"description": q["description"], "created_at": at(q["created"]),
               "created_ago": duration(t - q["created"])} for q in d["queued"]]
    return {"now": f"{mono:.9f}", "paused": False, "idle": not pending and not queued,
            "vasync_queue": {"concurrency": 1, "npending": len(pending), "nqueued": len(queued),
                             "pending": pending, "queued": queued}}


def as_json(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2)


def as_text(doc: dict[str, Any]) -> str:
    """The human layout (including its ``(%d items)`` quirk)."""
    queue = doc["queue"]
    lines = [f"state: {doc['state']} ({doc['status']})", f"pid: {doc['pid']}",
             f"uptime: {doc['uptime']}", f"rss: {doc['memory']['rss'] / 1048576:.2f}mb",
             f"numVms: {doc['numVms']}", "queue", f"  paused: {str(queue['paused']).lower()}",
             f"  idle: {str(queue['idle']).lower()}",
             f"  npending: {queue['vasync_queue']['npending']}",
             f"  nqueued: {queue['vasync_queue']['nqueued']}", "fullRefresh",
             f"  lastRefresh: {doc['lastRefresh'] or 'null'}"]
    if doc["refreshErrors"]:
        lines += ["  refreshErrors: (%d items)", str(len(doc["refreshErrors"]))]
        lines += [f"    - {e['err']} ({e['ago']})" for e in doc["refreshErrors"]]
    listeners = doc["eventsListeners"]
    lines.append(f"eventsListeners: ({len(listeners)} listeners)")
    for uuid, ln in listeners.items():
        lines += [f"  - {ln['userAgent']}", f"    {uuid} created {ln['createdAgo']} ago", ""]
    return "\n".join(lines) + "\n"
