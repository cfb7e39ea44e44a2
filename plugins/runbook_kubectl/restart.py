"""``kubectl.rollout_restart``: replace every pod of a deployment with a new revision.

A separate module so the kubectl actions file stays one concern per block;
registered beside the others in the plugin's ``__init__``.
"""

from __future__ import annotations

from typing import Any

from runbook.actions import Action
from runbook.executors.base import CommandResult
from runbook_kubectl.actions import DeploymentArgs


class RolloutRestart(Action[DeploymentArgs]):
    """argv: `kubectl [-n NS] rollout restart deployment/DEPLOYMENT`

    Returns at once; follow it with `kubectl.rollout_status` to wait for the new
    pods. No inverse (a restart cannot be undone); a missing deployment fails.
    """

    name = "kubectl.rollout_restart"
    summary = "rolling-restart a deployment (new pods replace every old one)"
    Args = DeploymentArgs
    mutating = True
    result_fields = {"deployment": "the deployment restarted", "lines": "kubectl's output"}

    def commands(self, args: DeploymentArgs) -> list[list[str]]:
        return [[*args.base(), "rollout", "restart", f"deployment/{args.deployment}"]]

    def parse(self, result: CommandResult) -> Any:
        name = result.argv[-1].partition("/")[2]
        return {"deployment": name, "lines": result.lines}
