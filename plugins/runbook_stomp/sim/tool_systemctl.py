"""Stand-in for ``systemctl restart|is-active httpd`` on a publisher host (``apache2`` on
a Debian one).

A restart starts httpd with a new pid on the files installed now (its
``/proc/PID/maps`` has nothing ``(deleted)``, its ``/proc/PID/stat`` a start
time after every file it maps was written).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from runbook.sim import hosts
from runbook.sim.store import transaction
from runbook_stomp.sim import estate


def run(directory: Path, argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("restart", "start", "stop", "is-active"):
        print("systemctl: this stand-in knows start|stop|restart|is-active UNIT",
              file=sys.stderr)
        return 1
    verb, unit = argv[0], argv[1].removesuffix(".service")
    with transaction(directory) as state:
        name = hosts.current(state) or ""
        h = estate.host(state, name)
        served = estate.web(h)["name"]
        old = estate.httpd_pid(h) if unit == served else None
        if unit != served:
            print(f"Failed to {verb} {unit}.service: Unit {unit}.service not found.",
                  file=sys.stderr)
            return 5 if verb != "is-active" else 4
        if verb == "is-active":
            print("active" if old else "inactive")
            return 0 if old else 3
        if old:
            h["procs"].pop(old)
        pid = None if verb == "stop" else estate.start_httpd(h, time.time())
    if old:
        estate.drop_proc(directory, name, old)
    if pid:
        estate.write_proc(directory, name, h, pid)
    return 0
