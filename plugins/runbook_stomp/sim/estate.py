"""The publisher hosts' state and what happens to them (shared by the world and the stand-ins).

``state["publisher"]["hosts"][NAME]``: installed packages, the processes
(``procs``: pid -> {name, rss_kb, started}), when the host booted, the files
httpd maps that were replaced by a rename (``stale``) and the mtime of the
files it maps (``file_times``, what the ``stat`` stand-in reports), stompclt
(pid, delivery settings, when it started, whether its socket stalled, its
buffer), the on-disk queue (message times), the topic the broker refuses.
Files (the configuration, ``/proc``, syslog) live in the host's root and only stand-ins touch them.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from runbook.sim.hosts import host_path
from runbook.sim.model import State, knob

CONF = "/etc/rsv/stompclt/default.conf"
QUEUE = "/var/spool/rsv/stompclt"
SYSLOG = "/var/log/messages"
HTTPD_FILES = {"httpd": "/usr/sbin/httpd", "mod_ssl": "/usr/lib64/httpd/modules/mod_ssl.so",
               "openssl-libs": "/usr/lib64/libssl.so.1.0.2k"}
IN_PLACE = ("openssl-libs",)
"""Packages whose update rewrites httpd's file in place (same inode, a newer mtime);
the others replace it by a rename (``(deleted)`` in httpd's maps)."""
WEB = {"name": "httpd", "files": HTTPD_FILES, "in_place": list(IN_PLACE)}
"""The web server of an RPM host: its process and unit name, the files of each
package it maps, the packages rewritten in place. A Debian host has its own
(``apache2``; dpkg replaces every file by a rename)."""


def web(h: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = h.get("web") or WEB
    return found
HZ = 100
BASE_RSS_KB = 48_000


def host(state: State, name: str) -> dict[str, Any]:
    found: dict[str, Any] = state["publisher"]["hosts"][name]
    return found


def delivery(conf_text: str) -> dict[str, Any]:
    """stompclt's delivery settings, as the real program reads its file."""
    values = {m[1]: m[2] for m in re.finditer(r"(?m)^\s*([A-Za-z-]+)\s*=\s*(\S+)\s*$",
                                              conf_text)}
    window = values.get("window", "")
    return {"reliable": values.get("reliable") == "true",
            "window": int(window) if window.isdigit() else None,
            "heart_beat": values.get("heart-beat") == "true"}


def new_pid(h: dict[str, Any]) -> str:
    h["next_pid"] += 1
    return str(h["next_pid"])


def start_stompclt(h: dict[str, Any], settings: dict[str, Any], t: float) -> str:
    pid = new_pid(h)
    h["procs"][pid] = {"name": "stompclt", "rss_kb": BASE_RSS_KB, "started": t}
    h["stompclt"] = {"pid": pid, **settings, "started": t, "stalled": False,
                     "buffer_bytes": 0}
    return pid


def stop_stompclt(h: dict[str, Any]) -> str | None:
    """Stop stompclt; the syslog line a stalled one writes as it exits (else None)."""
    st = h["stompclt"]
    pid = st.get("pid")
    if pid is None:
        return None
    h["procs"].pop(pid, None)
    st["pid"] = None
    if st.get("stalled") and st["buffer_bytes"]:
        return (f"stompclt[{pid}]: [ERROR] failed to flush outgoing buffer "
                f"({st['buffer_bytes']} bytes)!")
    return None


def tick(state: State, name: str, t: float) -> None:
    """One tick of a host: the application enqueues, stompclt sends (or stalls)."""
    h = host(state, name)
    for _ in range(int(knob(state, "produce_per_tick"))):
        h["queue"].append(round(t, 3))
    st = h["stompclt"]
    pid = st.get("pid")
    if pid is None or h.get("refused_topic"):
        return
    stall_after = knob(state, "stall_after_seconds") / knob(state, "time_scale")
    if not st["reliable"] and t - st["started"] > stall_after:
        st["stalled"] = True
        grow = int(knob(state, "rss_growth_kb_per_tick"))
        h["procs"][pid]["rss_kb"] += grow
        st["buffer_bytes"] += grow * 1024
        return
    del h["queue"][:int(knob(state, "send_per_tick"))]


def syslog(directory: Path, name: str, line: str) -> None:
    path = host_path(directory, name, SYSLOG)
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%b %e %H:%M:%S", time.gmtime())
    with path.open("a", encoding="utf-8") as out:
        out.write(f"{stamp} {name} {line}\n")


def maps_text(files: list[str], stale: list[str]) -> str:
    """The web server's ``/proc/PID/maps``: the files it maps, ``(deleted)`` when replaced
    by a rename."""
    lines = []
    for n, file in enumerate(files):
        gone = " (deleted)" if file in stale else ""
        lines.append(f"7f{n:02x}00000000-7f{n:02x}00021000 r-xp 00000000 fd:00 {4000 + n}"
                     f"                    {file}{gone}")
    return "\n".join(lines) + "\n"


def stat_text(pid: str, comm: str, started: float, booted: float) -> str:
    """``/proc/PID/stat``: field 22 is the start time in clock ticks (100 Hz) since boot."""
    ticks = max(0, int((started - int(booted)) * HZ))
    return (f"{pid} ({comm}) S 1 {pid} {pid} 0 -1 4194560 1200 0 0 0 15 4 0 0 20 0 1 0 "
            f"{ticks} 230000000 2250 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 "
            "0 0 0\n")


def boot_text(booted: float) -> str:
    """``/proc/stat`` (the lines that matter): ``btime`` is the boot time, whole seconds."""
    return f"cpu  1000 0 500 90000 20 0 10 0 0 0\nbtime {int(booted)}\nprocesses 4200\n"


def write_proc(directory: Path, name: str, h: dict[str, Any], pid: str) -> None:
    """The web server's ``/proc/PID/maps`` and ``/proc/PID/stat`` on host ``name``, and
    ``/proc/stat``."""
    proc = h["procs"][pid]
    files = list(web(h)["files"].values())
    for path, text in ((f"/proc/{pid}/maps", maps_text(files, h.get("stale", []))),
                       (f"/proc/{pid}/stat", stat_text(pid, proc["name"], proc["started"],
                                                       h["booted"])),
                       ("/proc/stat", boot_text(h["booted"]))):
        target = host_path(directory, name, path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


def start_httpd(h: dict[str, Any], t: float) -> str:
    """The web server starts (again) on the files installed now: nothing of it is stale."""
    pid = new_pid(h)
    h["procs"][pid] = {"name": web(h)["name"], "rss_kb": 9000, "started": t}
    h["stale"] = []
    return pid


def drop_proc(directory: Path, name: str, pid: str) -> None:
    for leaf in ("maps", "stat"):
        host_path(directory, name, f"/proc/{pid}/{leaf}").unlink(missing_ok=True)


def httpd_pid(h: dict[str, Any]) -> str | None:
    """The web server's pid (httpd, or apache2 on a Debian host)."""
    return next((p for p, proc in h["procs"].items() if proc["name"] == web(h)["name"]), None)


def replace_files(h: dict[str, Any], changed: list[str], now: float) -> None:
    """The updated packages' files the web server maps: rewritten in place (a new
    mtime) or renamed over (``(deleted)`` in its maps until it restarts)."""
    spec = web(h)
    for pkg in changed:
        file = spec["files"].get(pkg)
        if file is None:
            continue
        h.setdefault("file_times", {})[file] = now
        if pkg not in spec["in_place"]:
            h["stale"] = sorted({*h.get("stale", []), file})
