"""Stand-in for ``yum -y install|downgrade NAME-[EPOCH:]VERSION-RELEASE...``.

Replacing a file httpd maps leaves httpd on the old code until it restarts:
most packages replace it by a rename (``(deleted)`` in httpd's
``/proc/PID/maps``), ``openssl-libs`` rewrites its library in place (a newer
mtime than httpd's start, what the ``stat`` stand-in reports).
Fault ``yum_refuses_downgrade``: every downgrade fails as yum does when the old
version is gone from the repositories.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from runbook.sim import hosts
from runbook.sim.store import transaction
from runbook_stomp.sim import estate


def _install(h: dict[str, Any], specs: list[str]) -> list[str] | None:
    """Set the versions of ``NAME-VERSION`` specs; the names, or None for an unknown one."""
    changed = []
    for spec in specs:
        pkg = next((n for n in sorted(h["packages"], key=len, reverse=True)
                    if spec.startswith(n + "-")), None)
        if pkg is None:
            print(f"No package {spec} available.\nError: Nothing to do")
            return None
        h["packages"][pkg] = spec[len(pkg) + 1:]
        changed.append(pkg)
    return changed


def run(directory: Path, argv: list[str]) -> int:
    if len(argv) < 3 or argv[0] != "-y" or argv[1] not in ("install", "downgrade"):
        print("yum: this stand-in knows -y install|downgrade NAME-VERSION...", file=sys.stderr)
        return 1
    with transaction(directory) as state:
        name = hosts.current(state) or ""
        h = estate.host(state, name)
        if h.get("manager", "rpm") != "rpm":
            print("bash: yum: command not found", file=sys.stderr)
            return 127
        if argv[1] == "downgrade" and state["faults"].get("yum_refuses_downgrade"):
            for spec in argv[2:]:
                print(f"Package {spec} not available for downgrade.")
            print("Error: Nothing to do")
            return 1
        changed = _install(h, argv[2:])
        if changed is None:
            return 1
        pid = estate.httpd_pid(h)
        estate.replace_files(h, changed, time.time())
    if pid:
        estate.write_proc(directory, name, h, pid)
    print(f"{'Updated' if argv[1] == 'install' else 'Downgraded'}: " + " ".join(argv[2:]))
    print("Complete!")
    return 0
