"""Stand-in for ``dpkg-query -W -f FORMAT [NAME...]`` on a Debian-flavoured publisher host.

``FORMAT`` takes ``${Package}``, ``${Version}``, ``${Architecture}`` and the
escapes ``\\t`` / ``\\n`` as dpkg-query does. A name that is not installed is
reported on stderr (exit 1), the others still printed. On an RPM host the
command does not exist (exit 127).
"""

from __future__ import annotations

import sys
from pathlib import Path

from runbook_stomp.sim import pkgtool


def _line(fmt: str, name: str, version: str) -> str:
    text = (fmt.replace("${Package}", name).replace("${Version}", version)
            .replace("${Architecture}", "amd64"))
    return pkgtool.unescape(text)


def run(directory: Path, argv: list[str]) -> int:
    if len(argv) < 3 or argv[:2] != ["-W", "-f"]:
        print("dpkg-query: this stand-in knows only -W -f FORMAT [NAME...]", file=sys.stderr)
        return 2
    packages = pkgtool.installed(directory, "dpkg", "dpkg-query")
    if packages is None:
        return 127
    return pkgtool.query(
        packages, argv[3:] or sorted(packages),
        lambda name, version: _line(argv[2], name, version),
        lambda name: print(f"dpkg-query: no packages found matching {name}", file=sys.stderr))
