"""Parsers for kubectl output (see /work/shared/formats/kubectl-*.md).

Pure functions: they read captured text (or an already decoded object) and
return plain data, raising ``runbook.parsing.ParseError`` when the output is
not what kubectl prints. Only the JSON forms of ``kubectl get`` are parsed; the
plain tables are for humans and their spacing differs between kubectl versions.
"""

from __future__ import annotations

import re
from typing import Any, TypedDict

from runbook.parsing import (
    expect_bool,
    expect_dict,
    expect_int,
    expect_list,
    expect_str,
    load_json,
    parse_errors,
    split_lines,
)
from runbook.samples import OutputParser

_SCALED = re.compile(r"(?P<resource>[A-Za-z0-9.-]+)/(?P<name>[^\s/]+) scaled")
_ROLLED_OUT = re.compile(r'.+ "[^"]+" successfully rolled out')


class Replicas(TypedDict):
    """Replica counters of a Deployment; counters kubectl omits are 0."""

    desired: int
    replicas: int
    ready: int
    available: int
    updated: int
    unavailable: int


class Scaled(TypedDict):
    """The resource named in ``<kind>.<group>/<name> scaled``."""

    kind: str
    group: str
    name: str


class RolloutStatus(TypedDict):
    """Outcome of ``kubectl rollout status``: every line, and the last one."""

    complete: bool
    lines: list[str]
    message: str


class PodSummary(TypedDict):
    """What a runbook check needs to know about one pod."""

    name: str
    phase: str
    ready: bool
    restarts: int
    node: str | None


class LineMatches(TypedDict):
    """Lines of a log and those matching a pattern."""

    lines: list[str]
    matches: list[str]
    count: int


def parse_json(text: str) -> dict[str, Any]:
    """Decode ``kubectl get ... -o json``: one object or a ``List`` envelope, with a ``kind``."""
    with parse_errors("kubectl get -o json", text):
        obj = expect_dict(load_json(text), "document")
        expect_str(obj.get("kind"), "kind")
        return obj


def deployment_replicas(obj: dict[str, Any]) -> Replicas:
    """Replica counters of a decoded Deployment.

    kubectl omits every status counter that is 0 (a deployment scaled to zero
    has none), so a missing counter reads as 0; ``spec.replicas`` defaults to 1
    as in the API. The counters describe the spec the controller last observed
    (``status.observedGeneration``), which may lag behind ``metadata.generation``.
    """
    with parse_errors("kubectl get deployment -o json", obj):
        doc = expect_dict(obj, "document")
        if doc.get("kind") != "Deployment":
            raise ValueError(f"expected kind 'Deployment', found {doc.get('kind')!r}")
        spec = expect_dict(doc.get("spec") or {}, "spec")
        status = expect_dict(doc.get("status") or {}, "status")

        def counter(name: str) -> int:
            value = status.get(name)
            return 0 if value is None else expect_int(value, f"status.{name}")

        desired = spec.get("replicas")
        return {
            "desired": 1 if desired is None else expect_int(desired, "spec.replicas"),
            "replicas": counter("replicas"),
            "ready": counter("readyReplicas"),
            "available": counter("availableReplicas"),
            "updated": counter("updatedReplicas"),
            "unavailable": counter("unavailableReplicas"),
        }


def parse_scale(text: str) -> Scaled:
    """Read the one ``<kind>.<group>/<name> scaled`` line (group is "" for the core group)."""
    with parse_errors("kubectl scale", text):
        lines = [line.strip() for line in split_lines(text) if line.strip()]
        if len(lines) != 1:
            raise ValueError(f"expected one '<kind>.<group>/<name> scaled' line, "
                             f"found {len(lines)} lines")
        found = _SCALED.fullmatch(lines[0])
        if found is None:
            raise ValueError(f"not a '<kind>.<group>/<name> scaled' line: {lines[0]!r}")
        kind, _, group = found["resource"].partition(".")
        return {"kind": kind, "group": group, "name": found["name"]}


def parse_rollout_status(text: str, rc: int, stderr: str = "") -> RolloutStatus:
    """Outcome of ``kubectl rollout status`` from its stdout, exit status and stderr.

    Complete only with exit status 0 *and* the success line last: ``--watch=false``
    also exits 0 while still printing a "Waiting for ..." line. ``lines`` are the
    non-empty stdout lines followed by the stderr lines; ``message`` is the last
    of them (the deadline error, when there is one).
    """
    with parse_errors("kubectl rollout status", text + stderr):
        out = [line.rstrip() for line in split_lines(text) if line.strip()]
        err = [line.rstrip() for line in split_lines(stderr) if line.strip()]
        lines = out + err
        if not lines and rc == 0:
            raise ValueError("no output although the command succeeded")
        complete = rc == 0 and bool(out) and _ROLLED_OUT.fullmatch(out[-1]) is not None
        return {"complete": complete, "lines": lines, "message": lines[-1] if lines else ""}


def pods_summary(list_obj: dict[str, Any]) -> list[PodSummary]:
    """One summary per pod of a decoded ``List`` (or of a bare ``Pod`` from ``get pod NAME``).

    ``ready`` is the ``Ready`` condition; before conditions exist it falls back
    to "has containers and all are ready". ``restarts`` sums the containers'
    restart counts; ``node`` is None until the pod is scheduled.
    """
    with parse_errors("kubectl get pods -o json", list_obj):
        doc = expect_dict(list_obj, "document")
        kind = doc.get("kind")
        if kind == "Pod":
            items: list[Any] = [doc]
        elif kind in ("List", "PodList"):
            items = expect_list(doc.get("items"), "items")
        else:
            raise ValueError(f"expected kind 'List' or 'Pod', found {kind!r}")
        return [_pod_summary(expect_dict(item, f"items[{i}]")) for i, item in enumerate(items)]


def _pod_summary(pod: dict[str, Any]) -> PodSummary:
    """Summary of one decoded Pod object."""
    kind = pod.get("kind", "Pod")
    if kind != "Pod":
        raise ValueError(f"expected a Pod, found kind {kind!r}")
    name = expect_str(expect_dict(pod.get("metadata"), "metadata").get("name"), "metadata.name")
    spec = expect_dict(pod.get("spec") or {}, f"{name}: spec")
    status = expect_dict(pod.get("status") or {}, f"{name}: status")
    conditions = expect_list(status.get("conditions") or [], f"{name}: status.conditions")
    containers = expect_list(status.get("containerStatuses") or [],
                             f"{name}: status.containerStatuses")
    container_dicts = [expect_dict(c, f"{name}: containerStatuses[]") for c in containers]

    ready: bool | None = None
    for cond in conditions:
        cond = expect_dict(cond, f"{name}: status.conditions[]")
        if cond.get("type") == "Ready":
            ready = expect_str(cond.get("status"), f"{name}: Ready condition status") == "True"
    if ready is None:
        ready = bool(container_dicts) and all(
            expect_bool(c.get("ready", False), f"{name}: containerStatuses[].ready")
            for c in container_dicts)

    node = spec.get("nodeName")
    return {
        "name": name,
        "phase": expect_str(status.get("phase", "Unknown"), f"{name}: status.phase"),
        "ready": ready,
        "restarts": sum(expect_int(c.get("restartCount", 0), f"{name}: restartCount")
                        for c in container_dicts),
        "node": None if node is None else expect_str(node, f"{name}: spec.nodeName"),
    }


def match_lines(text: str, pattern: str | None) -> LineMatches:
    """Lines of ``kubectl logs`` output and those where ``pattern`` (a regex) is found.

    ``count`` is the number of matching lines; without a pattern every line
    matches. An invalid pattern raises ``re.error`` (an argument problem, not
    an output problem).
    """
    lines = split_lines(text)
    if pattern is None:
        matches = list(lines)
    else:
        regex = re.compile(pattern)
        matches = [line for line in lines if regex.search(line)]
    return {"lines": lines, "matches": matches, "count": len(matches)}


__all__ = [
    "LineMatches",
    "PodSummary",
    "Replicas",
    "RolloutStatus",
    "Scaled",
    "deployment_replicas",
    "match_lines",
    "parse_json",
    "parse_rollout_status",
    "parse_scale",
    "pods_summary",
]


# --- the parsers as declared to runbook_parsers(), each tested on its samples folder ----------
# The table forms of `kubectl get deployments/pods` are not parsed (JSON only), so their
# samples folders hold only the JSON samples.

def _deployment_sample(stdout: str, stderr: str, rc: int) -> Replicas:
    return deployment_replicas(parse_json(stdout))


def _pods_sample(stdout: str, stderr: str, rc: int) -> list[PodSummary]:
    return pods_summary(parse_json(stdout))


def _scale_sample(stdout: str, stderr: str, rc: int) -> Scaled:
    return parse_scale(stdout)


def _rollout_sample(stdout: str, stderr: str, rc: int) -> RolloutStatus:
    return parse_rollout_status(stdout, rc, stderr)


PARSERS = {
    "kubectl-get-deployment": OutputParser(_deployment_sample),
    "kubectl-get-pods": OutputParser(_pods_sample),
    "kubectl-scale": OutputParser(_scale_sample),
    "kubectl-rollout-status": OutputParser(_rollout_sample),
}


def parse_image_updated(text: str) -> dict[str, str]:
    """``kubectl set image``: the deployment from ``deployment.apps/NAME image updated``
    (kubectl prints nothing when the image was already set)."""
    with parse_errors("kubectl set image", text):
        names = [line.strip().split("/", 1)[1].removesuffix(" image updated")
                 for line in split_lines(text) if line.strip().endswith(" image updated")]
        if not names and text.strip():
            raise ValueError(f"not a '<kind>/<name> image updated' line: {text.strip()!r}")
        return {"name": names[0] if names else ""}
