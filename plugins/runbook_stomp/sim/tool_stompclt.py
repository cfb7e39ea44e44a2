"""Stand-in for ``stompclt --conf FILE --status`` on a publisher host.

``docs stompclt-config.md`` documents only the lines stompclt prints when it
daemonizes (``stompclt (pid N) started``) and its ``--statistics`` summary; a
status query's output is not documented, so this stand-in stays minimal:
``stompclt (pid N) running`` (exit 0) or ``stompclt not running`` (exit 3),
after checking that FILE exists on the host.
"""

from __future__ import annotations

import sys
from pathlib import Path

from runbook.sim import hosts
from runbook.sim.store import transaction
from runbook_stomp.sim import estate


def run(directory: Path, argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] != "--conf" or argv[2] != "--status":
        print("stompclt: this stand-in knows only --conf FILE --status", file=sys.stderr)
        return 1
    with transaction(directory) as state:
        name = hosts.current(state) or ""
        pid = estate.host(state, name)["stompclt"].get("pid")
    if not hosts.host_path(directory, name, argv[1]).exists():
        print(f"stompclt: cannot read {argv[1]}", file=sys.stderr)
        return 2
    print(f"stompclt (pid {pid}) running" if pid else "stompclt not running")
    return 0 if pid else 3
