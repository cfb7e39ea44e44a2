"""``kubectl.set_image``: roll out another image on one container, undone by ``rollback: auto``.

In its own module (appended to the plugin's action list) so it merges apart
from the other kubectl actions.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from runbook.actions import Action, ActionContext, Invocation, parse_or_fail
from runbook.errors import StepError
from runbook.executors.base import CommandResult
from runbook_kubectl.actions import DeploymentArgs, _get_deployment
from runbook_kubectl.parse import parse_image_updated


class SetImageArgs(DeploymentArgs):
    container: str = Field(description="the container whose image changes")
    image: str = Field(description="the new image (REPOSITORY:TAG)")


def container_image(deployment: dict[str, Any], container: str) -> str | None:
    """The image of ``container`` in a Deployment's pod template."""
    spec = deployment.get("spec", {}).get("template", {}).get("spec", {})
    for found in spec.get("containers", []):
        if found.get("name") == container:
            image: str | None = found.get("image")
            return image
    return None


class SetImage(Action[SetImageArgs]):
    """argv: `kubectl [-n NS] set image deployment/DEPLOYMENT CONTAINER=IMAGE`

    `rollback: auto`: before the change it runs
    `kubectl [-n NS] get deployment DEPLOYMENT -o json` and keeps the
    container's image; the rollback sets it back. A container the deployment
    does not have fails the capture. Follow it with `kubectl.rollout_status`.
    """

    name = "kubectl.set_image"
    summary = "set a container's image (a new rollout); rollback: auto restores the old one"
    Args = SetImageArgs
    mutating = True
    idempotent = True
    result_fields = {
        "name": "the deployment, from `deployment.apps/NAME image updated`",
        "image": "the image set",
    }

    def commands(self, args: SetImageArgs) -> list[list[str]]:
        return [[*args.base(), "set", "image", f"deployment/{args.deployment}",
                 f"{args.container}={args.image}"]]

    def parse(self, result: CommandResult) -> Any:
        return parse_or_fail(result, parse_image_updated, result.stdout)

    def run(self, args: SetImageArgs, ctx: ActionContext) -> Any:
        done = self.parse(ctx.exec(self.commands(args)[0]))
        return {**done, "image": args.image}

    def capture(self, args: SetImageArgs, ctx: ActionContext) -> Any:
        image = container_image(_get_deployment(args, ctx), args.container)
        if image is None:
            raise StepError(f"deployment {args.deployment!r} has no container "
                            f"{args.container!r}", step=ctx.step)
        return image

    def inverse(self, args: SetImageArgs, captured: Any) -> Invocation | None:
        if captured is None or captured == args.image:
            return None
        restored = args.model_dump(exclude_defaults=True)
        restored["image"] = captured
        return Invocation(self.name, restored)
