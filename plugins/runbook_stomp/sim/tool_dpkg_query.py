"""Stand-in for ``dpkg-query -W -f FORMAT [NAME...]`` on a Debian-flavoured publisher host.

``FORMAT`` takes ``${Package}``, ``${Version}``, ``${Architecture}`` and the
escapes ``\\t`` / ``\\n`` as dpkg-query does. A name that is not installed is
reported on stderr (exit 1), the others still printed. On an RPM host the
command does not exist (exit 127).
"""

from __future__ import annotations

import sys
from pathlib import Path

from runbook.sim import hosts
from runbook.sim.store import transaction
from runbook_stomp.sim import estate


def _line(fmt: str, name: str, version: str) -> str:
    text = (fmt.replace("${Package}", name).replace("${Version}", version)
            .replace("${Architecture}", "amd64"))
    return text.replace("\\t", "\t").replace("\\n", "\n")


def run(directory: Path, argv: list[str]) -> int:
    if len(argv) < 3 or argv[:2] != ["-W", "-f"]:
        print("dpkg-query: this stand-in knows only -W -f FORMAT [NAME...]", file=sys.stderr)
        return 2
    with transaction(directory) as state:
        h = estate.host(state, hosts.current(state) or "")
        packages = dict(h.get("packages", {}))
    if h.get("manager", "rpm") != "dpkg":
        print("bash: dpkg-query: command not found", file=sys.stderr)
        return 127
    rc = 0
    for name in argv[3:] or sorted(packages):
        if name not in packages:
            print(f"dpkg-query: no packages found matching {name}", file=sys.stderr)
            rc = 1
            continue
        sys.stdout.write(_line(argv[2], name, packages[name]))
    return rc
