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
from pathlib import Path
from typing import Any

from runbook_stomp.sim import pkgtool


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

    def change(state: dict[str, Any], h: dict[str, Any]) -> list[str] | int:
        if argv[1] == "downgrade" and state["faults"].get("yum_refuses_downgrade"):
            for spec in argv[2:]:
                print(f"Package {spec} not available for downgrade.")
            print("Error: Nothing to do")
            return 1
        changed = _install(h, argv[2:])
        return 1 if changed is None else changed

    rc = pkgtool.install(directory, "rpm", "yum", change)
    if rc == 0:
        print(f"{'Updated' if argv[1] == 'install' else 'Downgraded'}: " + " ".join(argv[2:]))
        print("Complete!")
    return rc
