"""Stand-in for ``rpm -qa --qf FMT`` and ``rpm -q --qf FMT NAME...`` on a publisher host."""

from __future__ import annotations

import sys
from pathlib import Path

from runbook.sim import hosts
from runbook.sim.store import transaction
from runbook_stomp.sim import estate


def _line(fmt: str, name: str, version: str) -> str:
    epoch, _, rest = version.rpartition(":") if ":" in version else ("0", "", version)
    ver, _, rel = rest.partition("-")
    text = (fmt.replace("%{NAME}", name).replace("%{EPOCHNUM}", epoch)
            .replace("%{VERSION}", ver).replace("%{RELEASE}", rel)
            .replace("%{ARCH}", "x86_64"))
    return text.replace("\\t", "\t").replace("\\n", "\n")


def run(directory: Path, argv: list[str]) -> int:
    if len(argv) < 3 or argv[0] not in ("-qa", "-q") or argv[1] != "--qf":
        print("rpm: this stand-in knows -qa --qf FMT and -q --qf FMT NAME...", file=sys.stderr)
        return 1
    with transaction(directory) as state:
        h = estate.host(state, hosts.current(state) or "")
        packages = dict(h.get("packages", {}))
    if h.get("manager", "rpm") != "rpm":
        print("bash: rpm: command not found", file=sys.stderr)
        return 127
    names = sorted(packages) if argv[0] == "-qa" else argv[3:]
    rc = 0
    for name in names:
        if name not in packages:
            print(f"package {name} is not installed")
            rc = 1
            continue
        sys.stdout.write(_line(argv[2], name, packages[name]))
    return rc
