"""Stand-in for ``rpm -qa --qf FMT`` and ``rpm -q --qf FMT NAME...`` on a publisher host."""

from __future__ import annotations

import sys
from pathlib import Path

from runbook_stomp.sim import pkgtool


def _line(fmt: str, name: str, version: str) -> str:
    epoch, _, rest = version.rpartition(":") if ":" in version else ("0", "", version)
    ver, _, rel = rest.partition("-")
    text = (fmt.replace("%{NAME}", name).replace("%{EPOCHNUM}", epoch)
            .replace("%{VERSION}", ver).replace("%{RELEASE}", rel)
            .replace("%{ARCH}", "x86_64"))
    return pkgtool.unescape(text)


def run(directory: Path, argv: list[str]) -> int:
    if len(argv) < 3 or argv[0] not in ("-qa", "-q") or argv[1] != "--qf":
        print("rpm: this stand-in knows -qa --qf FMT and -q --qf FMT NAME...", file=sys.stderr)
        return 1
    packages = pkgtool.installed(directory, "rpm", "rpm")
    if packages is None:
        return 127
    names = sorted(packages) if argv[0] == "-qa" else argv[3:]
    return pkgtool.query(packages, names, lambda name, version: _line(argv[2], name, version),
                         lambda name: print(f"package {name} is not installed"))
