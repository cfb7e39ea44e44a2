"""The node's files (SMF logs, client logs) written into the simulated host's root.

The world keeps file contents in the state (world functions have no
sandbox folder); every stand-in writes them out after its transaction, so an
action that reads ``/var/svc/log/...`` through the sandbox executor sees the
world as of the last command.
"""

from __future__ import annotations

from pathlib import Path

from runbook.sim import hosts
from runbook.sim.model import State


def sync(directory: Path, state: State) -> None:
    """Write every file of the node into its host root (when the node is a simulated host)."""
    node = state.get("smf", {}).get("node")
    if node not in hosts.hosts(state):
        return
    for path, lines in state["smf"]["files"].items():
        target = hosts.host_path(directory, node, path)
        target.parent.mkdir(parents=True, exist_ok=True)
        text = "".join(f"{line}\n" for _, line in lines)
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
