"""kubectl actions: get, scale (auto rollback), wait for replicas, rollout status, logs, exec.

Every command is `KUBECTL [--context CONTEXT] [-n NAMESPACE] VERB ...` as an
argv list (`namespace`, `context` and `kubectl` are arguments of every kubectl
action); `kubectl get` always asks for `-o json` so nothing depends on column
widths.
"""

from __future__ import annotations

import re
import time
from typing import Any

from pydantic import Field, field_validator, model_validator

from runbook.actions import Action, ActionContext, Args, Invocation, parse_or_fail
from runbook.errors import StepError
from runbook.executors.base import CommandResult
from runbook.models import Duration
from runbook_kubectl.parse import (
    deployment_replicas,
    match_lines,
    parse_json,
    parse_rollout_status,
    parse_scale,
)


class KubectlArgs(Args):
    namespace: str | None = Field(default=None, description="-n NAMESPACE")
    context: str | None = Field(default=None, description="--context CONTEXT")
    kubectl: str = Field(default="kubectl", description="the kubectl binary")

    def base(self) -> list[str]:
        argv = [self.kubectl]
        if self.context:
            argv += ["--context", self.context]
        if self.namespace:
            argv += ["-n", self.namespace]
        return argv


class GetArgs(KubectlArgs):
    kind: str = Field(description="deployment, pods, ...")
    name: str | None = Field(default=None, description="one object")
    selector: str | None = Field(default=None, description="-l label selector (a List); "
                                                           "not together with name")

    @model_validator(mode="after")
    def _name_or_selector(self) -> GetArgs:
        if self.name and self.selector:
            raise ValueError("give name or selector, not both")
        return self


class Get(Action[GetArgs]):
    """argv: `kubectl [-n NS] get KIND [NAME] [-l SELECTOR] -o json`

    The result is the decoded JSON object. For a `Deployment`, runbook adds
    `replicas`: `{desired, replicas, ready, available, updated, unavailable}`
    (`desired` is `spec.replicas`, default 1; counters kubectl omits are 0).

    ```yaml
    that: result.replicas.replicas == 0
    ```
    """

    name = "kubectl.get"
    summary = "an object (or a List for a selector) as parsed -o json"
    Args = GetArgs
    result_fields = {
        "kind, metadata, spec, status, items, ...": "the object as kubectl prints it",
        "replicas": "for a Deployment: `{desired, replicas, ready, available, updated, "
                    "unavailable}`",
    }

    def commands(self, args: GetArgs) -> list[list[str]]:
        argv = [*args.base(), "get", args.kind]
        if args.name:
            argv.append(args.name)
        if args.selector:
            argv += ["-l", args.selector]
        return [[*argv, "-o", "json"]]

    def parse(self, result: CommandResult) -> Any:
        obj = parse_or_fail(result, parse_json, result.stdout)
        if obj.get("kind") == "Deployment":
            obj["replicas"] = deployment_replicas(obj)
        return obj


class DeploymentArgs(KubectlArgs):
    deployment: str = Field(description="the deployment's name")


def _get_deployment(args: DeploymentArgs, ctx: ActionContext) -> dict[str, Any]:
    get = Get()
    get_args = GetArgs(kind="deployment", name=args.deployment, namespace=args.namespace,
                       context=args.context, kubectl=args.kubectl)
    obj: dict[str, Any] = get.run(get_args, ctx)
    return obj


class ScaleArgs(DeploymentArgs):
    replicas: int = Field(ge=0, description="the replica count to set")


class Scale(Action[ScaleArgs]):
    """argv: `kubectl [-n NS] scale deployment/DEPLOYMENT --replicas=N`

    `rollback: auto`: before scaling it runs
    `kubectl [-n NS] get deployment DEPLOYMENT -o json` and keeps
    `spec.replicas`; the rollback scales back to that number. If the deployment
    already had the requested count there is nothing to undo. In a plan:

    ```
    rollback: auto: kubectl -n services scale deployment/cray-cfs-operator --replicas=1
    ```
    """

    name = "kubectl.scale"
    summary = "scale a deployment; captures spec.replicas so rollback: auto restores it"
    Args = ScaleArgs
    mutating = True
    idempotent = True
    result_fields = {
        "kind": "`deployment`, from `deployment.apps/NAME scaled`",
        "group": "`apps`",
        "name": "the deployment",
        "lines": "kubectl's output lines",
    }

    def commands(self, args: ScaleArgs) -> list[list[str]]:
        return [[*args.base(), "scale", f"deployment/{args.deployment}",
                 f"--replicas={args.replicas}"]]

    def parse(self, result: CommandResult) -> Any:
        scaled = parse_or_fail(result, parse_scale, result.stdout)
        return {**scaled, "lines": result.lines}

    def capture(self, args: ScaleArgs, ctx: ActionContext) -> Any:
        return deployment_replicas(_get_deployment(args, ctx))["desired"]

    def inverse(self, args: ScaleArgs, captured: Any) -> Invocation | None:
        if captured is None or captured == args.replicas:
            return None
        restored = args.model_dump(exclude_defaults=True)
        restored["replicas"] = captured
        return Invocation(self.name, restored)


class WaitReplicasArgs(DeploymentArgs):
    ready: int = Field(ge=0, description="ready replicas to reach")
    stable_for: Duration = Field(default=0.0, description="how long it must hold")
    interval: Duration = Field(default=2.0, description="pause between polls")
    timeout: Duration = Field(default=300.0, description="give up after this")


class WaitReplicas(Action[WaitReplicasArgs]):
    """It polls `kubectl get`; the deployment's `status.replicas` must equal
    `ready` too. argv (each poll): `kubectl [-n NS] get deployment DEPLOYMENT -o json`

    After `timeout` the step fails:
    `deployment/cray-cfs-operator has 1 ready replicas, not 2, after 300s`.
    """

    name = "kubectl.wait_replicas"
    summary = "wait until a deployment's ready replicas reach a number and stay there"
    Args = WaitReplicasArgs
    waits = True
    result_fields = {
        "desired": "`spec.replicas`",
        "replicas": "`status.replicas`",
        "ready": "ready replicas",
        "available": "available replicas",
        "updated": "updated replicas",
        "unavailable": "unavailable replicas",
    }

    def commands(self, args: WaitReplicasArgs) -> list[list[str]]:
        return Get().commands(GetArgs(kind="deployment", name=args.deployment,
                                      namespace=args.namespace, context=args.context,
                                      kubectl=args.kubectl))

    def run(self, args: WaitReplicasArgs, ctx: ActionContext) -> Any:
        deadline = time.monotonic() + args.timeout
        held_since: float | None = None
        while True:
            counts = deployment_replicas(_get_deployment(args, ctx))
            now = time.monotonic()
            if counts["ready"] == args.ready and counts["replicas"] == args.ready:
                held_since = held_since or now
                if now - held_since >= args.stable_for:
                    return counts
            else:
                held_since = None
            if now >= deadline:
                raise StepError(f"deployment/{args.deployment} has {counts['ready']} ready "
                                f"replicas, not {args.ready}, after {args.timeout:g}s",
                                step=ctx.step)
            time.sleep(min(args.interval, max(deadline - now, 0.05)))


class RolloutStatusArgs(DeploymentArgs):
    timeout: Duration = Field(default=300.0, description="--timeout=, in seconds")


class RolloutStatus(Action[RolloutStatusArgs]):
    """argv: `kubectl [-n NS] rollout status deployment/DEPLOYMENT --timeout=300s`
    (the timeout in seconds: `2m` renders `--timeout=120s`)

    A non-zero exit is a result, not a failure: a missing deployment or the
    deadline give `complete: false` with kubectl's message.
    """

    name = "kubectl.rollout_status"
    summary = "whether a deployment's rollout completed ({complete, lines, message})"
    Args = RolloutStatusArgs
    waits = True
    result_fields = {
        "complete": "true only when kubectl exits 0 and its last line is "
                    "`... successfully rolled out`",
        "lines": "kubectl's output lines",
        "message": "the last line (the deadline error, when there is one)",
    }

    def commands(self, args: RolloutStatusArgs) -> list[list[str]]:
        return [[*args.base(), "rollout", "status", f"deployment/{args.deployment}",
                 f"--timeout={args.timeout:g}s"]]

    def run(self, args: RolloutStatusArgs, ctx: ActionContext) -> Any:
        res = ctx.exec(self.commands(args)[0], check=False)
        return parse_or_fail(res, parse_rollout_status, res.stdout, res.rc, res.stderr)


class LogsArgs(KubectlArgs):
    deployment: str | None = Field(default=None,
                                   description="exactly one of deployment, pod")
    pod: str | None = None
    container: str | None = Field(default=None, description="-c")
    since: str | None = Field(default=None, description="--since= (1h, 10m)")
    tail: int | None = Field(default=None, description="--tail=")
    pattern: str | None = Field(default=None, description="a regular expression (Python re), "
                                                          "searched in each line")

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"pattern is not a regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _one_source(self) -> LogsArgs:
        if bool(self.deployment) == bool(self.pod):
            raise ValueError("give exactly one of deployment or pod")
        return self


class Logs(Action[LogsArgs]):
    """argv: `kubectl [-n NS] logs deployment/DEPLOYMENT|POD [-c CONTAINER] [--since=SINCE]
    [--tail=N]`

    A non-zero exit fails.

    ```yaml
      - id: batcher-gives-up
        probe: kubectl.logs
        with: {namespace: services, deployment: cray-cfs-batcher, since: 1h,
               pattern: "Session batcher-[0-9a-f-]+ is stuck in pending and will be deleted"}
        that: result.count > 0
    ```
    """

    name = "kubectl.logs"
    summary = "log lines of a pod or deployment, with lines matching a pattern counted"
    Args = LogsArgs
    result_fields = {
        "lines": "the log lines",
        "matches": "the lines matching `pattern` (every line without one)",
        "count": "the number of matching lines",
    }

    def commands(self, args: LogsArgs) -> list[list[str]]:
        source = f"deployment/{args.deployment}" if args.deployment else str(args.pod)
        argv = [*args.base(), "logs", source]
        if args.container:
            argv += ["-c", args.container]
        if args.since:
            argv.append(f"--since={args.since}")
        if args.tail is not None:
            argv.append(f"--tail={args.tail}")
        return [argv]

    def run(self, args: LogsArgs, ctx: ActionContext) -> Any:
        res = ctx.exec(self.commands(args)[0])
        return match_lines(res.stdout, args.pattern)


class ExecArgs(KubectlArgs):
    pod: str
    container: str | None = Field(default=None, description="-c")
    command: list[str] = Field(description="the argv to run in the pod")


class Exec(Action[ExecArgs]):
    """argv: `kubectl [-n NS] exec POD [-c CONTAINER] -- COMMAND...`

    A non-zero exit fails the step. (To run many commands in one pod, a
    `connection: kubectl-exec` target with `host.shell` / `host.query` steps is
    usually clearer.)
    """

    name = "kubectl.exec"
    summary = "run a command in a pod (argv, no shell in between)"
    Args = ExecArgs
    mutating = True
    can_background = True
    result_fields = {
        "rc": "exit status",
        "stdout": "standard output",
        "stderr": "standard error",
        "lines": "stdout split into lines",
    }

    def commands(self, args: ExecArgs) -> list[list[str]]:
        argv = [*args.base(), "exec", args.pod]
        if args.container:
            argv += ["-c", args.container]
        return [[*argv, "--", *args.command]]


ACTIONS = (Get, Scale, WaitReplicas, RolloutStatus, Logs, Exec)
