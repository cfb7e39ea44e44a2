"""``host.process`` (memory of processes over time) and ``host.needs_restart``.

Both start from ``ps`` on the target. ``needs_restart`` then reads each
process's ``/proc/PID/maps`` and ``/proc/PID/stat`` through
``Executor.read_file`` and reports the processes that map files which were
deleted (replaced by a rename) or replaced in place (changed after the
process started: ``/proc/stat``'s ``btime`` plus the process's starttime,
against each file's mtime/ctime from ``stat``), what ``needs-restarting`` /
``checkrestart`` look for: they still run the old code. Reading ``/proc``
through the executor also works on a simulated host, whose ``/proc`` is part
of its files.
"""

from __future__ import annotations

import re
import time
from typing import Any

from pydantic import Field

from runbook.actions import Action, ActionContext, Args
from runbook.errors import CommandError
from runbook.models import Duration

_MAPPED = re.compile(r"^\S+\s+(?P<perms>\S+)\s+\S+\s+\S+\s+(?P<inode>\d+)\s+(?P<path>/\S.*?)"
                     r"(?P<deleted> \(deleted\))?$")
_IGNORED = ("/dev/", "/memfd:", "/SYSV", "/run/", "/proc/")
_SLACK = 1.0
"""Seconds: ``btime`` is whole seconds, so a start time may be up to one second early;
a file time (``%Y``, whole seconds) must be later than the start plus this."""
_STAT_BATCH = 200


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


def mapped(maps: str) -> tuple[list[str], list[str]]:
    """The files a process maps: (gone or replaced by rename: ``(deleted)``, still there).

    Only read-only mappings count as still there: code and read-only data. A file
    the process maps writable (a database, shared memory) changes because it is
    written, not because it was replaced."""
    deleted: list[str] = []
    present: list[str] = []
    for line in maps.splitlines():
        m = _MAPPED.match(line.strip())
        if not m or m["inode"] == "0" or m["path"].startswith(_IGNORED):
            continue
        path, gone = m["path"], m["deleted"] is not None
        if not gone and "w" in m["perms"]:
            continue
        found = deleted if gone else present
        if path not in found:
            found.append(path)
    return deleted, present


def stale_files(maps: str) -> list[str]:
    """Files a process maps that are gone or replaced (``(deleted)`` in its maps)."""
    return mapped(maps)[0]


def boot_time(proc_stat: str) -> float | None:
    """``btime`` of ``/proc/stat``: when the host booted (seconds since the epoch)."""
    m = re.search(r"(?m)^btime\s+(\d+)\s*$", proc_stat)
    return float(m[1]) if m else None


def started_at(pid_stat: str, boot: float, hz: int) -> float | None:
    """When a process started: ``/proc/PID/stat``'s starttime (field 22, clock ticks
    since boot; the command name before it may hold spaces and parentheses)."""
    fields = pid_stat.rpartition(")")[2].split()
    if len(fields) < 20 or not fields[19].isdigit():
        return None
    return boot + int(fields[19]) / hz


def parse_stat(text: str) -> dict[str, float]:
    """``stat -c '%Y %Z %n'`` lines: {path: the later of its mtime and ctime}."""
    found: dict[str, float] = {}
    for line in text.splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3 and parts[0].isdigit() and parts[1].isdigit():
            found[parts[2]] = float(max(int(parts[0]), int(parts[1])))
    return found


class NeedsRestart(Action[NeedsRestartArgs]):
    """argv: `ps -e -o pid=,comm=` (or `ps -C NAMES ...`), `getconf CLK_TCK`, then
    through the target's `read_file`: `cat -- /proc/stat` (the boot time) and, per
    process, `cat -- /proc/PID/maps` and `cat -- /proc/PID/stat` (its start time);
    then `stat -c '%Y %Z %n' -- FILE...` on the files they map.

    A process is flagged for a mapped file that is `(deleted)` (replaced by a
    rename, as rpm/dpkg do) or whose mtime/ctime is later than the process's
    start (replaced in place), as `needs-restarting` / `checkrestart` do; only
    read-only mappings count for that (a file mapped writable changes because it
    is written). The boot time and the file times are whole seconds, so a file
    changed within two seconds after the start is not counted. A process
    vanishing meanwhile is skipped. Each process found is a finding.
    """

    name = "host.needs_restart"
    summary = "processes still running replaced or deleted files (old code after an update)"
    Args = NeedsRestartArgs
    result_fields = {
        "processes": "[{pid, name, files, deleted, replaced}] mapping deleted files or "
                     "files replaced in place since they started",
        "names": "[the distinct process names among them]",
    }

    def commands(self, args: NeedsRestartArgs) -> list[list[str]]:
        return [ps_argv(args.names, "pid=,comm="), ["getconf", "CLK_TCK"]]

    def run(self, args: NeedsRestartArgs, ctx: ActionContext) -> Any:
        procs = []
        for row in parse_ps(ctx.exec(ps_argv(args.names, "pid=,comm="), check=False).stdout):
            seen = _read_process(ctx, row[0])
            if seen is not None:
                procs.append((int(row[0]), row[1] if len(row) > 1 else "?", *seen))
        started = _start_times(ctx, [(pid, stat) for pid, _, _, _, stat in procs])
        times = _file_times(ctx, sorted({f for *_, present, _ in procs for f in present}))
        found = [flagged for pid, name, deleted, present, _ in procs
                 if (flagged := _flagged(pid, name, deleted, present, started.get(pid), times))]
        for proc in found:
            ctx.finding("warning", f"{proc['name']} (pid {proc['pid']}) still runs replaced "
                        f"files: {', '.join(proc['files'][:3])}", evidence=proc,
                        next_step=f"restart {proc['name']} (or reboot)")
        return {"processes": found, "names": sorted({p["name"] for p in found})}


def _flagged(pid: int, name: str, deleted: list[str], present: list[str],
             since: float | None, times: dict[str, float]) -> dict[str, Any] | None:
    """The process's row when it runs deleted files or files written after it started."""
    replaced = [] if since is None else [f for f in present
                                         if times.get(f, 0.0) > since + _SLACK]
    if not deleted and not replaced:
        return None
    return {"pid": pid, "name": name, "files": deleted + replaced, "deleted": deleted,
            "replaced": replaced}


def _read(ctx: ActionContext, path: str) -> str | None:
    try:
        return ctx.read_text(path)
    except CommandError:
        return None


def _read_process(ctx: ActionContext, pid: str) -> tuple[list[str], list[str], str] | None:
    """(deleted, present, /proc/PID/stat) of a process; None once it is gone."""
    maps = _read(ctx, f"/proc/{pid}/maps")
    if maps is None:
        return None
    return (*mapped(maps), _read(ctx, f"/proc/{pid}/stat") or "")


def _start_times(ctx: ActionContext, stats: list[tuple[int, str]]) -> dict[int, float]:
    boot = boot_time(_read(ctx, "/proc/stat") or "") if stats else None
    if boot is None:
        return {}
    tck = ctx.exec(["getconf", "CLK_TCK"], check=False).stdout.strip()
    hz = int(tck) if tck.isdigit() and int(tck) > 0 else 100
    found = {pid: started_at(text, boot, hz) for pid, text in stats}
    return {pid: t for pid, t in found.items() if t is not None}


def _file_times(ctx: ActionContext, files: list[str]) -> dict[str, float]:
    found: dict[str, float] = {}
    for i in range(0, len(files), _STAT_BATCH):
        argv = ["stat", "-c", "%Y %Z %n", "--", *files[i:i + _STAT_BATCH]]
        found.update(parse_stat(ctx.exec(argv, check=False).stdout))
    return found
