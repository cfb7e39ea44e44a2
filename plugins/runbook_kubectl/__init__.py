"""The ``kubectl`` plugin: read and change Kubernetes objects through the real kubectl."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runbook import hookimpl

if TYPE_CHECKING:
    from runbook.samples import OutputParser


@hookimpl
def runbook_actions() -> dict[str, str]:
    """Imported when a playbook first uses one (runbook.lazyactions)."""
    return {
        "kubectl.get": "runbook_kubectl.actions:Get",
        "kubectl.scale": "runbook_kubectl.actions:Scale",
        "kubectl.wait_replicas": "runbook_kubectl.actions:WaitReplicas",
        "kubectl.rollout_status": "runbook_kubectl.actions:RolloutStatus",
        "kubectl.logs": "runbook_kubectl.actions:Logs",
        "kubectl.exec": "runbook_kubectl.actions:Exec",
        "kubectl.set_image": "runbook_kubectl.set_image:SetImage",
        "kubectl.rollout_restart": "runbook_kubectl.restart:RolloutRestart",
        "kubectl.pods_log_scan": "runbook_kubectl.pods:PodsLogScan",
        "kubectl.restart_pods": "runbook_kubectl.pods:RestartPods",
    }


@hookimpl
def runbook_parsers() -> dict[str, OutputParser]:
    from runbook_kubectl.parse import PARSERS

    return PARSERS


@hookimpl
def runbook_sim_parts() -> list[Any]:
    from runbook_kubectl.sim.part import PART

    return [PART]
