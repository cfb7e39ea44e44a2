"""Per-pod kubectl actions: scan every pod's log, restart chosen pods one at a time.

``kubectl.pods_log_scan`` answers "which pods log this?" (a deployment's log
mixes them); ``kubectl.restart_pods`` restarts only those, one by one,
waiting until the deployment is fully ready again before the next, so a
recovery never takes more than one pod out at a time.
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import Field

from runbook.actions import Action, ActionContext, parse_or_fail
from runbook.errors import StepError
from runbook.models import Duration
from runbook_kubectl.actions import DeploymentArgs, KubectlArgs
from runbook_kubectl.parse import deployment_replicas, parse_json


class PodsLogScanArgs(KubectlArgs):
    selector: str = Field(description="-l label selector of the pods (app=kask-eqiad)")
    since: str = Field(default="10m", description="--since= for each pod's log")
    pattern: str = Field(default="", description="a regular expression (Python re)")
    field: str | None = Field(default=None, description="match only this field of JSON lines")
    max_lines: int = Field(default=3, ge=0, description="matching lines kept per pod")


def _pods(args: KubectlArgs, selector: str, ctx: ActionContext) -> list[str]:
    res = ctx.exec([*args.base(), "get", "pods", "-l", selector, "-o", "json"])
    obj = parse_or_fail(res, parse_json, res.stdout)
    return [str(item["metadata"]["name"]) for item in obj.get("items", [])]


class PodsLogScan(Action[PodsLogScanArgs]):
    """argv: `kubectl [-n NS] get pods -l SELECTOR -o json`, then for each pod
    `kubectl [-n NS] logs POD --since=SINCE`

    Lines are matched as `host.log_scan` matches them (`field: msg` for JSON
    lines). `affected` lists the pods with at least one matching line, in the
    order kubectl lists them.
    """

    name = "kubectl.pods_log_scan"
    summary = "scan each pod's log for a pattern; which pods match (affected)"
    Args = PodsLogScanArgs
    result_fields = {"pods": "`[{pod, count, first, last, lines}]` per pod",
                     "affected": "names of the pods with a match", "count": "matches in all"}

    def commands(self, args: PodsLogScanArgs) -> list[list[str]]:
        return [[*args.base(), "get", "pods", "-l", args.selector, "-o", "json"],
                [*args.base(), "logs", "POD", f"--since={args.since}"]]

    def run(self, args: PodsLogScanArgs, ctx: ActionContext) -> Any:
        from runbook_host.logscan import LogScanArgs, scan

        scan_args = LogScanArgs(pod="x", pattern=args.pattern, field=args.field,
                                max_lines=args.max_lines)
        found = []
        for pod in _pods(args, args.selector, ctx):
            res = ctx.exec([*args.base(), "logs", pod, f"--since={args.since}"])
            found.append({"pod": pod, **scan(res.stdout, scan_args, None)})
        return {"pods": found, "affected": [p["pod"] for p in found if p["count"]],
                "count": sum(p["count"] for p in found)}


class RestartPodsArgs(DeploymentArgs):
    pods: list[str] = Field(description="the pods to restart, in order")
    pause: Duration = Field(default=0.0, description="wait between pods, once the "
                                                     "deployment is ready again")
    interval: Duration = Field(default=1.0, description="pause between readiness polls")
    timeout: Duration = Field(default=300.0, description="per pod: give up after this")


class RestartPods(Action[RestartPodsArgs]):
    """argv, for each pod in turn: `kubectl [-n NS] delete pod POD`, then
    `kubectl [-n NS] get deployment DEPLOYMENT -o json` until every replica is
    ready again (and the pod is gone), then `pause`.

    One pod at a time: the next is only deleted once the deployment is whole
    again. A deployment that does not recover within `timeout` fails the step,
    naming the pods already restarted. No inverse. An empty `pods` list does
    nothing.
    """

    name = "kubectl.restart_pods"
    summary = "restart chosen pods of a deployment one at a time, waiting for it to be ready"
    Args = RestartPodsArgs
    mutating = True
    result_fields = {"restarted": "the pods deleted (their replacements are ready)"}

    def commands(self, args: RestartPodsArgs) -> list[list[str]]:
        return [[*args.base(), "delete", "pod", pod] for pod in args.pods]

    def run(self, args: RestartPodsArgs, ctx: ActionContext) -> Any:
        from runbook_kubectl.actions import _get_deployment

        done: list[str] = []
        for pod in args.pods:
            ctx.exec([*args.base(), "delete", "pod", pod])
            deadline = time.monotonic() + args.timeout
            while True:
                dep = _get_deployment(args, ctx)
                counts = deployment_replicas(dep)
                if counts["ready"] == counts["desired"] == counts["replicas"] and \
                        pod not in _pods(args, f"app={args.deployment}", ctx):
                    break
                if time.monotonic() >= deadline:
                    raise StepError(f"deployment/{args.deployment} not ready again "
                                    f"{args.timeout:g}s after deleting {pod} (restarted: "
                                    f"{', '.join([*done, pod])})", step=ctx.step)
                time.sleep(args.interval)
            done.append(pod)
            if args.pause and pod != args.pods[-1]:
                time.sleep(args.pause)
        return {"restarted": done}
