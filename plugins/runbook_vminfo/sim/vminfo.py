"""Stand-in for SmartOS ``vminfo``: ``ping``, ``status [-j] [-f]``, ``vms``.

When vminfod is not running (its SMF instance is not online) every
subcommand fails like a refused HTTP connection: the message on stderr,
exit status 1.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from runbook_svcs.sim import files

from runbook.sim.store import transaction
from runbook_vminfo.sim import daemon, status

REFUSED = "connect ECONNREFUSED 127.0.0.1:9090"
USAGE = "usage: vminfo [-h] <command> [args]\n\ncommands: ping, status [-j] [-f], vms, help\n"


def run(directory: Path, argv: list[str]) -> int:
    if not argv or argv[0] not in ("ping", "status", "vms"):
        sys.stderr.write(USAGE)
        return 1 if argv and argv[0] not in ("help", "-h") else 0
    with transaction(directory) as state:
        t = float(state["updated"])
        up = daemon.daemon(state)["up"]
        faults = dict(state["faults"])
        allowed = ("-f",) if faults.get("vminfo_no_json") else ("-j", "-f")
        bad = argv[0] == "status" and any(a not in allowed for a in argv[1:])
        out = _answer(state, t, argv, faults) if up and not bad else ""
        files.sync(directory, state)
    if bad:
        sys.stderr.write(USAGE)
        return 1
    if not up:
        print(REFUSED, file=sys.stderr)
        return 1
    sys.stdout.write(out)
    return 0


def _answer(state: dict[str, object], t: float, argv: list[str],
            faults: dict[str, object]) -> str:
    if argv[0] == "ping":
        return "pong\n"
    if argv[0] == "vms":
        vms = daemon.daemon(state)["vms"]
        return json.dumps([{"uuid": u, "alias": vms[u]["alias"], "brand": vms[u]["brand"],
                            "state": "running", "zone_state": "running"}
                           for u in daemon.known_vms(state)], indent=2) + "\n"
    doc = status.document(state, t, "-f" in argv)
    if faults.get("vminfo_newer_platform"):
        doc = {("vmCount" if k == "numVms" else k): v for k, v in doc.items()}
        doc["queueStats"] = {"processed": 1234, "failed": 0}
    return status.as_json(doc) + "\n" if "-j" in argv else status.as_text(doc)
