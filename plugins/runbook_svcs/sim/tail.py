"""Stand-in for ``tail -n N FILE`` on the simulated node: the node's files, not this machine's.

Actions read the end of a log with ``tail -n N /var/svc/log/...`` (bounded on
a real host, whatever the log's size). On a simulated host the file lives in
the host's root (``runbook.sim.hosts.host_path``); without a host, the path is
read as it is. Errors as GNU/illumos tail words them, exit status 1.
"""

from __future__ import annotations

import sys
from pathlib import Path

from runbook.sim import hosts
from runbook.sim.store import SandboxError, transaction
from runbook_svcs.sim import files

USAGE = "usage: tail [-n number] [file]\n"


def _arguments(argv: list[str]) -> tuple[int, str] | None:
    args = [a for a in argv if a != "--"]
    if len(args) == 3 and args[0] == "-n" and args[1].isdigit():
        return int(args[1]), args[2]
    if len(args) == 2 and args[0].startswith("-n") and args[0][2:].isdigit():
        return int(args[0][2:]), args[1]
    return None


def run(directory: Path, argv: list[str]) -> int:
    parsed = _arguments(argv)
    if parsed is None:
        sys.stderr.write(USAGE)
        return 2
    count, path = parsed
    with transaction(directory) as state:
        files.sync(directory, state)
        host = hosts.current(state)
    try:
        target = hosts.host_path(directory, host, path) if host else Path(path)
        lines = target.read_bytes().split(b"\n")
    except (OSError, SandboxError):
        print(f"tail: cannot open '{path}' for reading: No such file or directory",
              file=sys.stderr)
        return 1
    if lines and lines[-1] == b"":
        lines.pop()
    kept = lines[-count:] if count else []
    sys.stdout.buffer.write(b"".join(line + b"\n" for line in kept))
    return 0
