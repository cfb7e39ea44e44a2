"""The Configuration Framework Service: its global options and its sessions.

Sessions are kept as plain records (name, times, status, job); the session
documents ``cray cfs v3 sessions`` prints are rendered from them. Creating a
session publishes a CREATE event on ``cfs-session-events``, which is what the
operator consumes to start the session's job.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from runbook_kafka.sim import kafka
from runbook_kubectl.sim import k8s

from runbook.sim.model import State, log_time, new_uuid

Obj = dict[str, Any]
NAMESPACE = "services"
OPERATOR = "cray-cfs-operator"
BATCHER = "cray-cfs-batcher"
API = "cray-cfs-api"
TOPIC = "cfs-session-events"
GROUP = "cfs-operator"
AEE_IMAGE = "registry.lab.internal/csm/cray-aee:1.13.0"
KEEP_FINISHED = 50
"""Completed sessions kept (standing in for ``session_ttl`` expiry)."""

OPTION_TYPES: dict[str, str] = {
    "additional_inventory_source": "str",
    "additional_inventory_url": "str",
    "batch_size": "int",
    "batch_window": "int",
    "batcher_check_interval": "int",
    "batcher_disable": "bool",
    "batcher_max_backoff": "int",
    "batcher_pending_timeout": "int",
    "debug_wait_time": "int",
    "default_ansible_config": "str",
    "default_batcher_retry_policy": "int",
    "default_page_size": "int",
    "default_playbook": "str",
    "hardware_sync_interval": "int",
    "include_ara_links": "bool",
    "logging_level": "level",
    "session_ttl": "str",
}
"""Every V3Options field and its type; ``level`` is one of LOGGING_LEVELS."""

READ_ONLY_OPTIONS = frozenset({"default_playbook"})
LOGGING_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

DEFAULT_OPTIONS: Obj = {
    "additional_inventory_url": "",
    "batch_size": 50,
    "batch_window": 45,
    "batcher_check_interval": 15,
    "batcher_disable": False,
    "batcher_max_backoff": 3600,
    "batcher_pending_timeout": 600,
    "debug_wait_time": 1800,
    "default_ansible_config": "cfs-default-ansible-cfg",
    "default_batcher_retry_policy": 2,
    "default_page_size": 1000,
    "default_playbook": "site.yml",
    "hardware_sync_interval": 30,
    "include_ara_links": True,
    "logging_level": "INFO",
    "session_ttl": "7d",
}


def cfs_time(ts: float) -> str:
    """CFS session timestamps: ``2024-05-14T09:12:55`` (no zone, as captured)."""
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def log(state: State, deployment: str, ts: float, level: str, logger: str,
        message: str) -> None:
    """One line of a CFS service's log, in its Python logging format."""
    k8s.append_log(state, f"{NAMESPACE}/{deployment}", ts,
                   f"{log_time(ts)} - {level} - {logger} - {message}")


def sessions(state: State) -> dict[str, Obj]:
    found: dict[str, Obj] = state["cfs"]["sessions"]
    return found


def create_session(state: State, t: float, *, batch: int | None, limit: str) -> str:
    """Create a pending session and publish its CREATE event."""
    name = f"batcher-{new_uuid()}"
    configuration = state["cfs"]["configuration"]
    sessions(state)[name] = {
        "name": name, "created": t, "status": "pending", "succeeded": "none",
        "batch": batch, "limit": limit, "configuration": configuration,
        "job": None, "pod": None, "completed": None,
    }
    kafka.produce(state, TOPIC, t, session_event(name, configuration, limit))
    return name


def session_event(name: str, configuration: str, limit: str) -> str:
    """The CREATE event the CFS API publishes for a new session (a JSON line)."""
    return json.dumps({"type": "CREATE", "data": {
        "name": name, "configuration": {"name": configuration, "limit": ""},
        "ansible": {"limit": limit}, "target": {"definition": "dynamic"},
    }})


def event_session(value: str) -> str:
    """The session name a session event is about ('' when unreadable)."""
    try:
        return str(json.loads(value)["data"]["name"])
    except (ValueError, KeyError, TypeError):
        return ""


def delete_session(state: State, name: str) -> None:
    session = sessions(state).pop(name, None)
    if session and session["pod"]:
        state["namespaces"][NAMESPACE]["pods"].pop(session["pod"], None)


def start_session(state: State, name: str, t: float) -> str:
    """The operator created the session's job: its pod starts running."""
    session = sessions(state)[name]
    job = f"cfs-{new_uuid()}"
    pod = f"{job}-{k8s.k8s_suffix()}"
    k8s.new_pod(state, NAMESPACE, pod, labels={"cfsession": name, "job-name": job},
                containers=[("ansible", AEE_IMAGE)], owner=("Job", job), created=t)
    session.update(status="running", job=job, pod=pod, running_since=t)
    return job


def complete_session(state: State, name: str, t: float) -> None:
    session = sessions(state)[name]
    session.update(status="complete", succeeded="true", completed=t)
    pod = state["namespaces"][NAMESPACE]["pods"].get(session["pod"])
    if pod is not None:
        pod["finished_at"] = t
    finished = sorted((s for s in sessions(state).values() if s["status"] == "complete"),
                      key=lambda s: float(s["completed"]))
    for old in finished[: max(0, len(finished) - KEEP_FINISHED)]:
        delete_session(state, old["name"])


def session_object(state: State, session: Obj) -> Obj:
    """The v3 session document, keys absent until they have a value."""
    status: Obj = {"start_time": cfs_time(session["created"]), "status": session["status"],
                   "succeeded": session["succeeded"]}
    if session["job"]:
        status["job"] = session["job"]
    if session["completed"] is not None:
        status["completion_time"] = cfs_time(session["completed"])
    return {
        "ansible": {"config": state["options"]["default_ansible_config"],
                    "limit": session["limit"], "passthrough": "", "verbosity": 0},
        "configuration": {"limit": "", "name": session["configuration"]},
        "debug_on_failure": False,
        "logs": f"ara.cmn.lab.internal/hosts?label={session['name']}",
        "name": session["name"],
        "status": {"artifacts": [], "session": status},
        "tags": {},
        "target": {"definition": "dynamic", "groups": None},
    }
