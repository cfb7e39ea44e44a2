"""Executors: where commands run (local, ssh, kubectl-exec, a plugin's kinds).

``Executor`` runs argv lists on one target; ``ConnectionKind`` is what a
plugin declares to add a kind of target (settings model, URI scheme,
defaults, early connection, factory). The kind's parts load on first use,
so importing the interface pulls in neither pydantic nor paramiko.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runbook.executors.base import CommandResult, Executor, Process

if TYPE_CHECKING:
    from runbook.executors.kinds import ConnectionKind, TargetURI

__all__ = ["CommandResult", "ConnectionKind", "Executor", "Process", "TargetURI"]


def __getattr__(name: str) -> Any:
    if name in ("ConnectionKind", "TargetURI"):
        from runbook.executors import kinds

        return getattr(kinds, name)
    raise AttributeError(f"module 'runbook.executors' has no attribute {name!r}")
