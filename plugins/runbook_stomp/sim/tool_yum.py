"""Stand-in for ``yum -y install|downgrade NAME-[EPOCH:]VERSION-RELEASE...``.

Replacing a file httpd maps leaves httpd on the old code (``(deleted)`` in its
``/proc/PID/maps``) until it restarts. Fault ``yum_refuses_downgrade``: every
downgrade fails as yum does when the old version is gone from the repositories.
"""

from __future__ import annotations

import sys
from pathlib import Path

from runbook.sim import hosts
from runbook.sim.store import transaction
from runbook_stomp.sim import estate


def run(directory: Path, argv: list[str]) -> int:
    if len(argv) < 3 or argv[0] != "-y" or argv[1] not in ("install", "downgrade"):
        print("yum: this stand-in knows -y install|downgrade NAME-VERSION...", file=sys.stderr)
        return 1
    with transaction(directory) as state:
        name = hosts.current(state) or ""
        h = estate.host(state, name)
        if argv[1] == "downgrade" and state["faults"].get("yum_refuses_downgrade"):
            for spec in argv[2:]:
                print(f"Package {spec} not available for downgrade.")
            print("Error: Nothing to do")
            return 1
        changed = []
        for spec in argv[2:]:
            pkg = next((n for n in sorted(h["packages"], key=len, reverse=True)
                        if spec.startswith(n + "-")), None)
            if pkg is None:
                print(f"No package {spec} available.\nError: Nothing to do")
                return 1
            h["packages"][pkg] = spec[len(pkg) + 1:]
            changed.append(pkg)
        pid = estate.httpd_pid(h)
        stale = [estate.HTTPD_FILES[p] for p in changed if p in estate.HTTPD_FILES]
        stale += h.setdefault("stale", [])
        h["stale"] = sorted(set(stale))
    if pid and stale:
        estate.write_maps(directory, name, pid, h["stale"])
    print(f"{'Updated' if argv[1] == 'install' else 'Downgraded'}: " + " ".join(argv[2:]))
    print("Complete!")
    return 0
