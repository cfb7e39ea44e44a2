"""Deployments and pods of the simulated cluster, and their API objects.

The state keeps only what changes (replica counts, pods with their start and
end times); the Deployment and Pod documents ``kubectl -o json`` prints are
derived here on demand, so a pod's phase or a deployment's counters can never
disagree with the times they are computed from.
"""

from __future__ import annotations

import random
from typing import Any

from runbook.sim.model import State, dur, hex_id, new_uuid, rfc3339

Obj = dict[str, Any]
NODES = ("ncn-w001", "ncn-w002", "ncn-w003")
LOG_CAP = 1000
"""Lines kept per deployment log; older ones fall off like a rotated log."""
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def k8s_suffix(length: int = 5) -> str:
    """The random tail Kubernetes gives generated names (pods, replica sets)."""
    return "".join(random.choice(_ALPHABET) for _ in range(length))


def pod_ip() -> str:
    return f"10.32.{random.randint(0, 15)}.{random.randint(2, 254)}"


def next_version(state: State) -> str:
    """A fresh resourceVersion, increasing across the whole estate like etcd's."""
    state["resource_version"] = int(state["resource_version"]) + 1
    return str(state["resource_version"])


def append_log(state: State, source: str, ts: float, line: str) -> None:
    """Append one line to a deployment's log (``source`` is ``namespace/deployment``).

    Lines keep their real time so that ``kubectl logs --since`` windows tell old
    symptoms from new ones.
    """
    lines: list[Any] = state["logs"].setdefault(source, [])
    lines.append([ts, line])
    if len(lines) > LOG_CAP:
        del lines[: len(lines) - LOG_CAP]


# -- state ------------------------------------------------------------------

def new_deployment(state: State, namespace: str, name: str, *, image: str, replicas: int,
                   created: float, extra: Obj | None = None) -> Obj:
    """Add a deployment whose pods are already running at ``created``."""
    dep: Obj = {
        "uid": new_uuid(), "created": created, "generation": 1, "replicas": 0,
        "revision": 1, "template_hash": k8s_suffix(10), "image": image,
        "resource_version": next_version(state), "pods": [], "conditions": {},
        **(extra or {}),
    }
    state["namespaces"].setdefault(namespace, {"deployments": {}, "pods": {}})
    state["namespaces"][namespace]["deployments"][name] = dep
    _set_replicas(state, name, dep, replicas, created, start_delay=0.0)
    dep["generation"] = 1
    refresh_conditions(dep, created)
    return dep


def new_pod(state: State, namespace: str, name: str, *, labels: dict[str, str],
            containers: list[tuple[str, str]], owner: tuple[str, str], created: float,
            ready_at: float | None = None) -> Obj:
    """Add a pod that no deployment owns (a StatefulSet member, a Job's pod)."""
    pod = _pod_record(state, name, labels, containers, owner, created,
                      created if ready_at is None else ready_at)
    state["namespaces"].setdefault(namespace, {"deployments": {}, "pods": {}})
    state["namespaces"][namespace]["pods"][name] = pod
    return pod


def _pod_record(state: State, name: str, labels: dict[str, str],
                containers: list[tuple[str, str]], owner: tuple[str, str], created: float,
                ready_at: float) -> Obj:
    return {
        "name": name, "uid": new_uuid(), "ip": pod_ip(), "node": random.choice(NODES),
        "created": created, "ready_at": ready_at, "finished_at": None, "started": False,
        "labels": labels, "owner": [owner[0], owner[1], new_uuid()],
        "containers": [[c, image, hex_id()] for c, image in containers],
        "resource_version": next_version(state),
    }


def get_deployment(state: State, namespace: str, name: str) -> Obj | None:
    dep: Obj | None = state["namespaces"].get(namespace, {}).get("deployments", {}).get(name)
    return dep


def deployments(state: State, namespace: str) -> dict[str, Obj]:
    found: dict[str, Obj] = state["namespaces"].get(namespace, {}).get("deployments", {})
    return found


def ready_pods(dep: Obj, t: float) -> list[Obj]:
    return [p for p in dep["pods"] if p["ready_at"] <= t]


def scale(state: State, name: str, dep: Obj, replicas: int, t: float) -> None:
    """Change the desired count: new pods start after ``pod_start_seconds``."""
    if replicas != dep["replicas"]:
        dep["generation"] += 1
        _set_replicas(state, name, dep, replicas, t, start_delay=dur(state, "pod_start_seconds"))
        dep["resource_version"] = next_version(state)
    refresh_conditions(dep, t)


def restart(state: State, name: str, dep: Obj, t: float) -> None:
    """``rollout restart``: a new revision replaces every pod."""
    count = dep["replicas"]
    dep["generation"] += 1
    dep["revision"] += 1
    dep["template_hash"] = k8s_suffix(10)
    _set_replicas(state, name, dep, 0, t, start_delay=0.0)
    _set_replicas(state, name, dep, count, t, start_delay=dur(state, "pod_start_seconds"))
    dep["resource_version"] = next_version(state)
    refresh_conditions(dep, t)


def _set_replicas(state: State, name: str, dep: Obj, replicas: int, t: float,
                  start_delay: float) -> None:
    pods: list[Obj] = dep["pods"]
    del pods[replicas:]  # scale-down removes the newest pods at once
    labels = {"app": name, "app.kubernetes.io/name": name,
              "pod-template-hash": dep["template_hash"]}
    while len(pods) < replicas:
        pod_name = f"{name}-{dep['template_hash']}-{k8s_suffix()}"
        pods.append(_pod_record(state, pod_name, dict(labels), [(name, dep["image"])],
                                ("ReplicaSet", f"{name}-{dep['template_hash']}"), t,
                                t + start_delay))
    dep["replicas"] = replicas


def refresh_conditions(dep: Obj, t: float) -> None:
    """Move a condition's transition time only when its status changes."""
    ready = len(ready_pods(dep, t))
    available = ready >= dep["replicas"] - dep["replicas"] // 4
    done = ready == dep["replicas"] == len(dep["pods"])
    rs = dep["template_hash"]
    wanted = {
        "Available": ("True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
        if available else
        ("False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability."),
        "Progressing": ("True", "NewReplicaSetAvailable",
                        f'ReplicaSet "{{name}}-{rs}" has successfully progressed.')
        if done else
        ("True", "ReplicaSetUpdated", f'ReplicaSet "{{name}}-{rs}" is progressing.'),
    }
    for kind, (status, reason, message) in wanted.items():
        old = dep["conditions"].get(kind)
        if old is None or old["status"] != status:
            dep["conditions"][kind] = {"status": status, "reason": reason, "message": message,
                                       "since": t, "updated": t}
        elif old["reason"] != reason:
            old.update(reason=reason, message=message, updated=t)


# -- API objects ------------------------------------------------------------

def deployment_object(namespace: str, name: str, dep: Obj, t: float) -> Obj:
    """The apps/v1 Deployment document; zero counters are omitted, as the API does."""
    labels = {"app": name, "app.kubernetes.io/name": name}
    ready = len(ready_pods(dep, t))
    counters = {
        "replicas": len(dep["pods"]), "updatedReplicas": len(dep["pods"]),
        "readyReplicas": ready, "availableReplicas": ready,
        "unavailableReplicas": max(0, dep["replicas"] - ready),
    }
    status: Obj = {k: v for k, v in counters.items() if v}
    status["observedGeneration"] = dep["generation"]
    status["conditions"] = [
        {"lastTransitionTime": rfc3339(c["since"]), "lastUpdateTime": rfc3339(c["updated"]),
         "message": c["message"].replace("{name}", name), "reason": c["reason"],
         "status": c["status"], "type": kind}
        for kind, c in sorted(dep["conditions"].items())
    ]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "annotations": {"deployment.kubernetes.io/revision": str(dep["revision"])},
            "creationTimestamp": rfc3339(dep["created"]),
            "generation": dep["generation"],
            "labels": labels,
            "name": name,
            "namespace": namespace,
            "resourceVersion": dep["resource_version"],
            "uid": dep["uid"],
        },
        "spec": {
            "progressDeadlineSeconds": 600,
            "replicas": dep["replicas"],
            "revisionHistoryLimit": 10,
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
                         "type": "RollingUpdate"},
            "template": {
                "metadata": {"creationTimestamp": None, "labels": labels},
                "spec": {
                    "containers": [_container_spec(name, dep["image"])],
                    "dnsPolicy": "ClusterFirst",
                    "restartPolicy": "Always",
                    "schedulerName": "default-scheduler",
                    "securityContext": {},
                    "terminationGracePeriodSeconds": 30,
                },
            },
        },
        "status": status,
    }


def _container_spec(name: str, image: str) -> Obj:
    return {"image": image, "imagePullPolicy": "IfNotPresent", "name": name,
            "resources": {}, "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File"}


def pod_records(state: State, namespace: str) -> list[Obj]:
    """Every pod of a namespace, by name, as the API lists them."""
    ns = state["namespaces"].get(namespace)
    if ns is None:
        return []
    found = list(ns["pods"].values())
    for dep in ns["deployments"].values():
        found.extend(dep["pods"])
    return sorted(found, key=lambda p: str(p["name"]))


def find_pod(state: State, namespace: str, name: str) -> Obj | None:
    return next((p for p in pod_records(state, namespace) if p["name"] == name), None)


def pod_phase(pod: Obj, t: float) -> str:
    if pod["finished_at"] is not None and pod["finished_at"] <= t:
        return "Succeeded"
    return "Running" if pod["ready_at"] <= t else "Pending"


def pod_object(namespace: str, pod: Obj, t: float) -> Obj:
    """The v1 Pod document for a pod record at time ``t``."""
    phase = pod_phase(pod, t)
    kind, owner, owner_uid = pod["owner"]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "creationTimestamp": rfc3339(pod["created"]),
            "generateName": pod["name"].rsplit("-", 1)[0] + "-",
            "labels": pod["labels"],
            "name": pod["name"],
            "namespace": namespace,
            "ownerReferences": [{"apiVersion": "batch/v1" if kind == "Job" else "apps/v1",
                                 "blockOwnerDeletion": True, "controller": True,
                                 "kind": kind, "name": owner, "uid": owner_uid}],
            "resourceVersion": pod["resource_version"],
            "uid": pod["uid"],
        },
        "spec": {
            "containers": [_container_spec(c, image) for c, image, _ in pod["containers"]],
            "dnsPolicy": "ClusterFirst",
            "enableServiceLinks": True,
            "nodeName": pod["node"],
            "restartPolicy": "Never" if kind == "Job" else "Always",
            "schedulerName": "default-scheduler",
            "securityContext": {},
            "serviceAccount": "default",
            "serviceAccountName": "default",
            "terminationGracePeriodSeconds": 30,
        },
        "status": _pod_status(pod, phase),
    }


def _pod_status(pod: Obj, phase: str) -> Obj:
    running = phase == "Running"
    created = rfc3339(pod["created"])
    ready_at = rfc3339(pod["ready_at"] if phase != "Succeeded" else pod["finished_at"])
    ready_reason = None if running else ("PodCompleted" if phase == "Succeeded"
                                         else "ContainersNotReady")
    return {
        "conditions": [
            _condition("Initialized", True, created),
            _condition("Ready", running, ready_at, ready_reason),
            _condition("ContainersReady", running, ready_at, ready_reason),
            _condition("PodScheduled", True, created),
        ],
        "containerStatuses": [_container_status(pod, phase, c) for c in pod["containers"]],
        "hostIP": f"10.252.1.{4 + NODES.index(pod['node'])}",
        "phase": phase,
        "podIP": pod["ip"],
        "podIPs": [{"ip": pod["ip"]}],
        "qosClass": "BestEffort",
        "startTime": created,
    }


def _condition(kind: str, ok: bool, at: str, reason: str | None = None) -> Obj:
    cond: Obj = {"lastProbeTime": None, "lastTransitionTime": at,
                 "status": "True" if ok else "False", "type": kind}
    if reason:
        cond["reason"] = reason
    return cond


def _container_status(pod: Obj, phase: str, container: list[str]) -> Obj:
    cname, image, cid = container
    started = rfc3339(pod["ready_at"])
    now_state: Obj
    if phase == "Running":
        now_state = {"running": {"startedAt": started}}
    elif phase == "Succeeded":
        now_state = {"terminated": {"containerID": f"containerd://{cid}", "exitCode": 0,
                                    "finishedAt": rfc3339(pod["finished_at"]),
                                    "reason": "Completed", "startedAt": started}}
    else:
        now_state = {"waiting": {"reason": "ContainerCreating"}}
    running = phase == "Running"
    entry: Obj = {"image": image, "imageID": "", "lastState": {}, "name": cname,
                  "ready": running, "restartCount": 0, "started": running, "state": now_state}
    if phase != "Pending":
        entry["containerID"] = f"containerd://{cid}"
        entry["imageID"] = f"{image.split(':')[0]}@sha256:{cid}"
    return entry


def pod_ready_count(pod: Obj, t: float) -> tuple[int, int]:
    total = len(pod["containers"])
    return (total if pod_phase(pod, t) == "Running" else 0), total


def matches(labels: dict[str, str], selector: str) -> bool:
    """Equality-based label selectors: ``a=b``, ``a==b``, ``a!=b``, ``a``, ``!a``."""
    for term in filter(None, (s.strip() for s in selector.split(","))):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key.strip()) == value.strip():
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key.strip()) != value.strip():
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def replace_pod(state: State, namespace: str, name: str, t: float) -> bool:
    """A deleted pod of a deployment: gone now, a new one ready after ``pod_start_seconds``."""
    for dep_name, dep in deployments(state, namespace).items():
        pods: list[Obj] = dep["pods"]
        for index, pod in enumerate(pods):
            if pod["name"] == name:
                labels = dict(pod["labels"])
                owner = f"{dep_name}-{dep['template_hash']}"
                pods[index] = _pod_record(
                    state, f"{owner}-{k8s_suffix()}", labels, [(dep_name, dep["image"])],
                    ("ReplicaSet", owner), t, t + dur(state, "pod_start_seconds"))
                dep["resource_version"] = next_version(state)
                refresh_conditions(dep, t)
                return True
    return False
