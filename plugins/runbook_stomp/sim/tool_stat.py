"""Stand-in for ``stat -c FORMAT -- FILE...`` on a publisher host (``%Y``, ``%Z``, ``%n``).

The times of the files httpd maps come from the host's state (``file_times``:
when a package update last wrote them), so ``host.needs_restart`` can tell a
library replaced in place after httpd started; any other file is the host
root's own. A missing file is reported as GNU stat does (exit 1, the others
still printed).
"""

from __future__ import annotations

import sys
from pathlib import Path

from runbook.sim import hosts
from runbook.sim.store import transaction
from runbook_stomp.sim import estate


def _line(fmt: str, path: str, when: int) -> str:
    return fmt.replace("%Y", str(when)).replace("%Z", str(when)).replace("%n", path)


def run(directory: Path, argv: list[str]) -> int:
    if len(argv) < 4 or argv[0] != "-c" or argv[2] != "--":
        print("stat: this stand-in knows only -c FORMAT -- FILE...", file=sys.stderr)
        return 1
    with transaction(directory) as state:
        name = hosts.current(state) or ""
        times = dict(estate.host(state, name).get("file_times", {}))
    rc = 0
    for path in argv[3:]:
        local = hosts.host_path(directory, name, path)
        if path in times:
            print(_line(argv[1], path, int(times[path])))
        elif local.exists():
            print(_line(argv[1], path, int(max(local.stat().st_mtime, local.stat().st_ctime))))
        else:
            print(f"stat: cannot statx '{path}': No such file or directory", file=sys.stderr)
            rc = 1
    return rc
