"""Stand-in for ``reboot`` on a publisher host: every service comes back on the code installed now.

Follows the Cassandra part's reboot/uptime pair (a boot time the ``uptime -s``
stand-in reports, so ``host.reboot`` can tell a real reboot), but the host is
back at once: httpd gets a new pid mapping nothing ``(deleted)``, stompclt
restarts with the delivery settings of its configuration file.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from runbook.sim import hosts
from runbook.sim.store import transaction
from runbook_stomp.sim import estate


def run(directory: Path, argv: list[str]) -> int:
    if argv:
        print("reboot: this stand-in takes no arguments", file=sys.stderr)
        return 1
    with transaction(directory) as state:
        name = hosts.current(state) or ""
        if name not in state.get("publisher", {}).get("hosts", {}):
            print("reboot: not on a simulated publisher host; refusing to reboot this machine",
                  file=sys.stderr)
            return 1
        h = estate.host(state, name)
        conf = hosts.host_path(directory, name, estate.CONF)
        text = conf.read_text(encoding="utf-8") if conf.exists() else ""
        gone = list(h["procs"])
        estate.stop_stompclt(h)
        h["procs"] = {}
        h["booted"] = float(int(time.time()))
        httpd = estate.start_httpd(h, time.time())
        estate.start_stompclt(h, estate.delivery(text), float(state["updated"]))
    for pid in gone:
        estate.drop_proc(directory, name, pid)
    estate.write_proc(directory, name, h, httpd)
    return 0
