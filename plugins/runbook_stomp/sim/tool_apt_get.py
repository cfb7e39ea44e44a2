"""Stand-in for ``apt-get install -y [--allow-downgrades] NAME=VERSION...`` on a Debian host.

A version must be in the host's repository (``repo``: each package's versions,
oldest first); going to an older one needs ``--allow-downgrades``, as apt-get
says. All or nothing. dpkg replaces files by a rename, so the web server maps
them ``(deleted)`` until it restarts. Fault ``yum_refuses_downgrade``: the old
versions are gone from the repository (``Version ... was not found``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from runbook_stomp.sim import pkgtool

DOWNGRADE = "E: Packages were downgraded and -y was used without --allow-downgrades."


def _problem(h: dict[str, Any], wanted: dict[str, str], allow: bool, refuse: bool) -> str:
    """Why apt-get refuses the whole install ('' when it does not)."""
    for name, version in wanted.items():
        known = h["repo"].get(name, [])
        older = (name in h["packages"] and h["packages"][name] in known
                 and version in known and known.index(version) < known.index(h["packages"][name]))
        if version not in known or (older and refuse):
            return f"E: Version '{version}' for '{name}' was not found"
        if older and not allow:
            return DOWNGRADE
    return ""


def run(directory: Path, argv: list[str]) -> int:
    if argv[:2] != ["install", "-y"] or len(argv) < 3:
        print("E: this stand-in knows only install -y [--allow-downgrades] NAME=VERSION...",
              file=sys.stderr)
        return 100
    allow = "--allow-downgrades" in argv
    wanted = dict(spec.split("=", 1) for spec in argv[2:] if "=" in spec)

    def change(state: dict[str, Any], h: dict[str, Any]) -> list[str] | int:
        problem = _problem(h, wanted, allow, bool(state["faults"].get("yum_refuses_downgrade")))
        if problem:
            print(problem, file=sys.stderr)
            return 100
        h["packages"].update(wanted)
        return sorted(wanted)

    rc = pkgtool.install(directory, "dpkg", "apt-get", change)
    if rc == 0:
        for pkg, version in sorted(wanted.items()):
            print(f"Setting up {pkg} ({version}) ...")
    return rc
