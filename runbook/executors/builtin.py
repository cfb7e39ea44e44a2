"""The built-in connection kinds, registered like any plugin's.

SSH and kubectl-exec are imported only when a target of that kind is built,
so ``runbook --help`` and local-only runs never import paramiko.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from runbook._plugin_markers import hookimpl
from runbook.executors.base import Executor
from runbook.executors.local import LocalExecutor


def _ssh(name: str, settings: dict[str, Any]) -> Executor:
    from runbook.executors.ssh import SSHExecutor

    return SSHExecutor(name, settings)


def _kubectl_exec(name: str, settings: dict[str, Any]) -> Executor:
    from runbook.executors.kubectl_exec import KubectlExecExecutor

    return KubectlExecExecutor(name, settings)


@hookimpl
def runbook_executors() -> Mapping[str, Callable[[str, dict[str, Any]], Executor]]:
    return {"local": LocalExecutor, "ssh": _ssh, "kubectl-exec": _kubectl_exec}
