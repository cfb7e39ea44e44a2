"""Simulated hosts: who a stand-in runs as, and each host's own files.

A scenario may declare named hosts with loopback addresses (``db1`` at
``127.0.1.11``). Each has a root folder inside the sandbox
(``DIR/hosts/NAME/root``) standing in for its file system, so an action that
writes ``/etc/x.conf`` on ``db1`` changes ``DIR/hosts/db1/root/etc/x.conf``
and never the machine's own ``/etc``.

A stand-in learns its host the way a real process would: ``RUNBOOK_SIM_HOST``
(set by the sandbox transport and ``runbook sim exec --host``), else the
server address of ``SSH_CONNECTION`` (a real sshd on a loopback address
sets it: the connection came in on the host's address), else none (the
estate's default, for tools that are not about a host). Stdlib only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from runbook.sim.model import State
from runbook.sim.store import SandboxError

HOSTS_DIR = "hosts"


def hosts(state: State) -> dict[str, dict[str, Any]]:
    """name -> {"address", "up"} of every simulated host."""
    found: dict[str, dict[str, Any]] = state.get("hosts", {})
    return found


def find(state: State, name_or_address: str) -> str | None:
    """The simulated host called ``name_or_address`` or listening on it, else None."""
    known = hosts(state)
    if name_or_address in known:
        return name_or_address
    return next((name for name, host in known.items()
                 if host["address"] == name_or_address), None)


def current(state: State, environ: Mapping[str, str] | None = None) -> str | None:
    """The host this process runs on (see the module docstring), or None."""
    env = os.environ if environ is None else environ
    named = env.get("RUNBOOK_SIM_HOST")
    if named:
        if named not in hosts(state):
            raise SandboxError(f"RUNBOOK_SIM_HOST={named} is not a simulated host; hosts: "
                               f"{', '.join(sorted(hosts(state))) or 'none'}")
        return named
    fields = env.get("SSH_CONNECTION", "").split()
    if len(fields) >= 3:
        return find(state, fields[2])
    return None


def root(directory: Path, name: str) -> Path:
    """The folder standing in for host ``name``'s ``/``."""
    return Path(directory) / HOSTS_DIR / name / "root"


def host_path(directory: Path, name: str, path: str) -> Path:
    """Where ``path`` on host ``name`` lives in the sandbox; ``..`` and escapes are refused."""
    pure = PurePosixPath(path)
    if ".." in pure.parts:
        raise SandboxError(f"{path}: '..' is not allowed in a path on simulated host {name}")
    base = root(directory, name).resolve()
    relative = pure.relative_to("/") if pure.is_absolute() else pure
    found = (base / relative).resolve()
    if found != base and base not in found.parents:
        raise SandboxError(f"{path} leaves the root of simulated host {name}")
    return found


def seed(directory: Path, name: str, files: Mapping[str, str]) -> None:
    """Create host ``name``'s root with its scenario files."""
    root(directory, name).mkdir(parents=True, exist_ok=True)
    for path, text in files.items():
        target = host_path(directory, name, path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
