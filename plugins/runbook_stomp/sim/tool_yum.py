"""Stand-in for ``yum -y install|downgrade NAME-[EPOCH:]VERSION-RELEASE...``.

Replacing a file httpd maps leaves httpd on the old code (``(deleted)`` in its
``/proc/PID/maps``) until it restarts. Fault ``yum_refuses_downgrade``: every
downgrade fails as yum does when the old version is gone from the repositories.
"""

from __future__ import annotations

import sys
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
        if argv[1] == "downgrade" and state["faults"].get("yum_refuses_downgrade"):
            for spec in argv[2:]:
                print(f"Package {spec} not available for downgrade.")
            print("Error: Nothing to do")
            return 1
        changed = _install(h, argv[2:])
        if changed is None:
            return 1
        pid = estate.httpd_pid(h)
        stale = [estate.HTTPD_FILES[p] for p in changed if p in estate.HTTPD_FILES]
        h["stale"] = sorted(set(stale + h.setdefault("stale", [])))
    if pid and stale:
        estate.write_maps(directory, name, pid, h["stale"])
    print(f"{'Updated' if argv[1] == 'install' else 'Downgraded'}: " + " ".join(argv[2:]))
    print("Complete!")
    return 0
