"""Stand-in for ``simplevisor --conf FILE status|restart [rsv/stompclt]``.

``status`` is liveness only: a stalled stompclt is "running". ``restart``
stops stompclt (a stalled one logs the flush error to syslog as it exits)
and starts it again with the delivery settings of its configuration file as
it is now. Fault ``stompclt_restart_fails``: the restart fails before
stopping anything.
"""

from __future__ import annotations

import sys
from pathlib import Path

from runbook.sim import hosts
from runbook.sim.store import transaction
from runbook_stomp.sim import estate

CHILD = "rsv/stompclt"


def run(directory: Path, argv: list[str]) -> int:
    if len(argv) < 3 or argv[0] != "--conf" or argv[2] not in ("status", "restart"):
        print("simplevisor: this stand-in knows --conf FILE status|restart [CHILD]",
              file=sys.stderr)
        return 1
    child = argv[3] if len(argv) > 3 else CHILD
    if child != CHILD:
        print(f"simplevisor: unknown child {child}", file=sys.stderr)
        return 1
    line = None
    with transaction(directory) as state:
        name = hosts.current(state) or ""
        h = estate.host(state, name)
        if argv[2] == "status":
            running = h["stompclt"].get("pid") is not None
            print(f"{child} {'running' if running else 'stopped'}")
            return 0 if running else 1
        if state["faults"].get("stompclt_restart_fails"):
            print(f"simplevisor: {child} failed to start: stompclt exited with status 255",
                  file=sys.stderr)
            return 1
        conf = hosts.host_path(directory, name, estate.CONF).read_text(encoding="utf-8")
        line = estate.stop_stompclt(h)
        pid = estate.start_stompclt(h, estate.delivery(conf), state["updated"])
    if line:
        estate.syslog(directory, name, line)
    estate.syslog(directory, name, f"simplevisor: {child} restarted (pid {pid})")
    return 0
