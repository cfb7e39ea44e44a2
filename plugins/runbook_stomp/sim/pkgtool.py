"""What the package stand-ins (``rpm``, ``dpkg-query``, ``yum``, ``apt-get``) share.

The host's ``manager`` (rpm or dpkg) decides which of them exist (the others
answer ``command not found``, exit 127, as a shell does); a query prints one
line per installed package in the caller's format; an install, once the
caller has changed the versions, replaces the packages' files, which leaves
the web server mapping old ones until it restarts.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from runbook.sim import hosts
from runbook.sim.store import transaction
from runbook_stomp.sim import estate

Change = Callable[[dict[str, Any], dict[str, Any]], "list[str] | int"]
"""(state, host) -> the packages whose version it changed, or the exit status of a refusal."""


def unescape(text: str) -> str:
    """The ``\\t`` and ``\\n`` of a query format, as rpm and dpkg-query expand them."""
    return text.replace("\\t", "\t").replace("\\n", "\n")


def _missing(h: dict[str, Any], manager: str, tool: str) -> bool:
    """True (and the shell's message printed) when this host has no such command."""
    if h.get("manager", "rpm") == manager:
        return False
    print(f"bash: {tool}: command not found", file=sys.stderr)
    return True


def installed(directory: Path, manager: str, tool: str) -> dict[str, str] | None:
    """The current host's packages and versions; None when ``tool`` does not exist there."""
    with transaction(directory) as state:
        h = estate.host(state, hosts.current(state) or "")
        packages = dict(h.get("packages", {}))
    return None if _missing(h, manager, tool) else packages


def query(packages: dict[str, str], names: Iterable[str], line: Callable[[str, str], str],
          not_installed: Callable[[str], None]) -> int:
    """Print ``line(name, version)`` for each name; 1 if one of them is not installed."""
    rc = 0
    for name in names:
        if name not in packages:
            not_installed(name)
            rc = 1
            continue
        sys.stdout.write(line(name, packages[name]))
    return rc


def install(directory: Path, manager: str, tool: str, change: Change) -> int:
    """Run ``change`` on the current host, then replace the changed packages' files
    (httpd's ``/proc/PID/maps`` rewritten); the exit status."""
    with transaction(directory) as state:
        name = hosts.current(state) or ""
        h = estate.host(state, name)
        if _missing(h, manager, tool):
            return 127
        changed = change(state, h)
        if isinstance(changed, int):
            return changed
        pid = estate.httpd_pid(h)
        estate.replace_files(h, changed, time.time())
    if pid:
        estate.write_proc(directory, name, h, pid)
    return 0
