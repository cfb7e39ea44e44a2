"""``host.process`` (memory of processes over time) and ``host.needs_restart``.

Both start from ``ps`` on the target. ``needs_restart`` then reads each
process's ``/proc/PID/maps`` through ``Executor.read_file`` and reports the
processes that map files which were deleted or replaced since they started
(what ``needs-restarting`` / ``checkrestart`` look for): they still run the
old code. Reading ``/proc`` through the executor also works on a simulated
host, whose ``/proc`` is part of its files.
"""

from __future__ import annotations

import re
import time
from typing import Any

from pydantic import Field

from runbook.actions import Action, ActionContext, Args
from runbook.errors import CommandError
from runbook.models import Duration

_DELETED = re.compile(r"^\S+\s+\S+\s+\S+\s+\S+\s+\d+\s+(?P<path>/\S.*?) \(deleted\)$")
_IGNORED = ("/dev/", "/memfd:", "/SYSV", "/run/")


def ps_argv(names: list[str], fields: str) -> list[str]:
    return ["ps", "-C", ",".join(names), "-o", fields] if names else ["ps", "-e", "-o", fields]


def parse_ps(text: str) -> list[list[str]]:
    return [line.split(None, 2) for line in text.splitlines() if line.strip()]


class ProcessArgs(Args):
    names: list[str] = Field(min_length=1, description="process names (ps -C)")
    interval: Duration = Field(default=60.0, description="between the first and last sample")
    samples: int = Field(default=3, ge=2, le=120, description="how many samples")


class Process(Action[ProcessArgs]):
    """argv, per sample: `ps -C NAME[,NAME] -o pid=,rss=` (RSS in KiB, summed over
    the processes); `samples` samples spread over `interval`. No process at a
    sample counts as 0 bytes (and shows in `pids`)."""

    name = "host.process"
    summary = "RSS of processes by name and its trend over an interval"
    Args = ProcessArgs
    result_fields = {
        "samples": "[{seconds, pids, rss_bytes}] in time order (seconds since the first)",
        "rss_bytes": "the RSS at the last sample",
        "growth_bytes_per_min": "(last - first) / minutes between them",
    }

    def commands(self, args: ProcessArgs) -> list[list[str]]:
        return [ps_argv(args.names, "pid=,rss=")]

    def run(self, args: ProcessArgs, ctx: ActionContext) -> Any:
        samples: list[dict[str, Any]] = []
        start = time.monotonic()
        pause = float(args.interval) / (args.samples - 1)
        for i in range(args.samples):
            if i:
                time.sleep(pause)
            rows = parse_ps(ctx.exec(ps_argv(args.names, "pid=,rss="), check=False).stdout)
            samples.append({"seconds": round(time.monotonic() - start, 3),
                            "pids": [int(r[0]) for r in rows],
                            "rss_bytes": sum(int(r[1]) for r in rows) * 1024})
        first, last = samples[0]["rss_bytes"], samples[-1]["rss_bytes"]
        minutes = max(float(samples[-1]["seconds"]) / 60, 1e-9)
        return {"samples": samples, "rss_bytes": last,
                "growth_bytes_per_min": round((last - first) / minutes)}


class NeedsRestartArgs(Args):
    names: list[str] = Field(default_factory=list, description="only these process names "
                                                               "(ps -C); all when empty")


def stale_files(maps: str) -> list[str]:
    """Files a process maps that are gone or replaced (``(deleted)`` in its maps)."""
    found = []
    for line in maps.splitlines():
        m = _DELETED.match(line.strip())
        if m and not m["path"].startswith(_IGNORED) and m["path"] not in found:
            found.append(m["path"])
    return found


class NeedsRestart(Action[NeedsRestartArgs]):
    """argv: `ps -e -o pid=,comm=` (or `ps -C NAMES ...`), then `cat -- /proc/PID/maps`
    for each process (through the target's `read_file`). A process vanishing
    meanwhile is skipped. Each process found is a finding."""

    name = "host.needs_restart"
    summary = "processes still running replaced or deleted files (old code after an update)"
    Args = NeedsRestartArgs
    result_fields = {
        "processes": "[{pid, name, files}] mapping deleted or replaced files",
        "names": "[the distinct process names among them]",
    }

    def commands(self, args: NeedsRestartArgs) -> list[list[str]]:
        return [ps_argv(args.names, "pid=,comm=")]

    def run(self, args: NeedsRestartArgs, ctx: ActionContext) -> Any:
        found: list[dict[str, Any]] = []
        for row in parse_ps(ctx.exec(ps_argv(args.names, "pid=,comm="), check=False).stdout):
            try:
                maps = ctx.executor.read_file(f"/proc/{row[0]}/maps").decode()
            except CommandError:
                continue
            if files := stale_files(maps):
                found.append({"pid": int(row[0]), "name": row[1] if len(row) > 1 else "?",
                              "files": files})
        for proc in found:
            ctx.finding("warning", f"{proc['name']} (pid {proc['pid']}) still runs replaced "
                        f"files: {', '.join(proc['files'][:3])}", evidence=proc,
                        next_step=f"restart {proc['name']} (or reboot)")
        return {"processes": found, "names": sorted({p["name"] for p in found})}
