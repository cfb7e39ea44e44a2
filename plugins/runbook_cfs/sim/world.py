"""How the simulated CFS evolves with time: its actors in the estate's event simulation.

The world module of the ``cfs`` part (see ``runbook.sim.parts``); it owns the
state keys ``options`` and ``cfs``, and acts on the Kubernetes and Kafka
parts it requires. The actors:

- the batcher (while enabled and running) keeps ``batches`` sessions going:
  it creates one per batch, deletes it when it stays pending longer than
  ``batcher_pending_timeout`` ("stuck in pending and will be deleted") and
  then waits ``batcher_max_backoff`` before the next try; after a session
  completes it waits ``batcher_interval``.
- every running operator pod consumes the partitions of
  ``cfs-session-events`` it is assigned, one event at a time: a CREATE for a
  pending session starts its job (cheap), a CREATE for a session that no
  longer exists ends in a 404 (costs ``operator_stale_seconds``). On start an
  operator pod also picks up sessions left pending while it was down (in
  ``settle``, as soon as the Kubernetes part has started the pod).
- running sessions complete after ``session_runtime``.
- the ``consumer_never_quiet`` fault creates a session every
  ``never_quiet_interval`` seconds, whatever the batcher does.

Once the queue is long enough that events only reach the operator after
their session was deleted, every event costs the slow 404 path and the queue
cannot drain unless session creation slows down (a long back-off) or the
queue is purged: the incident, as an emergent state rather than a flag.
CFS durations (timeouts, back-off) are mapped to simulated seconds by the
``cfs_seconds`` knob; every duration is divided by ``time_scale``.
"""

from __future__ import annotations

import random
from typing import Any

from runbook_kafka.sim import kafka
from runbook_kubectl.sim import k8s

from runbook.sim.model import Action, Event, State, dur, knob
from runbook_cfs.sim import cfs
from runbook_cfs.sim.setup import build

Obj = dict[str, Any]
FAULT = "consumer_never_quiet"

_EVENTS_LOGGER = "cray.cfs.operator.events.session_events"
_SESSIONS_LOGGER = "cray.cfs.operator.cfs.sessions"

__all__ = ["build", "events", "fault_changed", "settle", "summary"]


def cfs_duration(state: State, seconds: float) -> float:
    """A CFS option in seconds, as wall seconds of the simulation."""
    return seconds * knob(state, "cfs_seconds") / knob(state, "time_scale")


def settle(state: State, t: float) -> None:
    """Before each event: started operator pods recover, the batcher follows its pods."""
    _operators_recover(state)
    _sync_batcher(state, t)


def events(state: State, t: float) -> list[Event]:
    found: list[Event] = []
    found += _batcher_events(state)
    found += _session_events(state)
    found += _operator_events(state, t)
    found += _fault_events(state)
    return found


def fault_changed(state: State, name: str, on: bool, t: float) -> None:
    if name == FAULT and on:
        state["cfs"]["fault_next"] = t


def summary(state: State, t: float) -> list[str]:
    opts = state["options"]
    counts: dict[str, int] = {}
    for session in cfs.sessions(state).values():
        counts[session["status"]] = counts.get(session["status"], 0) + 1
    lines = [f"cfs options: batcher_disable={str(opts['batcher_disable']).lower()} "
             f"batcher_max_backoff={opts['batcher_max_backoff']}",
             "cfs sessions: " + (", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
                                 or "none"),
             "log lines in the last minute:"]
    for source, entries in sorted(state["logs"].items()):
        recent = [text for ts, text in entries if ts >= t - 60]
        stuck = sum("stuck in pending" in text for text in recent)
        missing = sum("404 Client Error" in text for text in recent)
        lines.append(f"  {source}: {len(recent)} ({stuck} stuck in pending, {missing} 404s)")
    return lines


# -- batcher ----------------------------------------------------------------

def batcher_running(state: State, t: float) -> bool:
    dep = k8s.get_deployment(state, cfs.NAMESPACE, cfs.BATCHER)
    started = dep is not None and any(p["started"] for p in k8s.ready_pods(dep, t))
    return started and not state["options"]["batcher_disable"]


def _sync_batcher(state: State, t: float) -> None:
    """A batcher that stops forgets its batches; one that starts begins afresh."""
    running = batcher_running(state, t)
    if running == bool(state["cfs"]["batches"]):
        return
    count = int(knob(state, "batches")) if running else 0
    spread = dur(state, "batcher_interval") / max(count, 1)
    state["cfs"]["batches"] = [{"session": None, "next_at": t + i * spread} for i in range(count)]


def _batcher_events(state: State) -> list[Event]:
    events: list[Event] = []
    timeout = cfs_duration(state, state["options"]["batcher_pending_timeout"])
    for index, batch in enumerate(state["cfs"]["batches"]):
        session = cfs.sessions(state).get(batch["session"] or "")
        if session is None:
            events.append((float(batch["next_at"]), 2, _creator(state, index)))
        elif session["status"] == "pending":
            events.append((float(session["created"]) + timeout, 2, _giver_up(state, index)))
    return events


def _creator(state: State, index: int) -> Action:
    def create(t: float) -> None:
        size = int(knob(state, "batch_components"))
        limit = ",".join(f"x3000c0s{2 * (index * size + n) + 1}b0n0" for n in range(size))
        name = cfs.create_session(state, t, batch=index, limit=limit)
        state["cfs"]["batches"][index]["session"] = name
        cfs.log(state, cfs.BATCHER, t, "INFO", "batcher.batch",
                   f"Created session {name} for {size} components")

    return create


def _giver_up(state: State, index: int) -> Action:
    def give_up(t: float) -> None:
        batch = state["cfs"]["batches"][index]
        cfs.log(state, cfs.BATCHER, t, "WARNING", "batcher.batch",
                   f"Session {batch['session']} is stuck in pending and will be deleted.")
        cfs.delete_session(state, batch["session"])
        batch["session"] = None
        backoff = cfs_duration(state, state["options"]["batcher_max_backoff"])
        batch["next_at"] = t + backoff * random.uniform(0.75, 1.25)

    return give_up


# -- sessions ---------------------------------------------------------------

def _session_events(state: State) -> list[Event]:
    runtime = dur(state, "session_runtime")
    return [(float(s["running_since"]) + runtime, 1, _completer(state, s["name"]))
            for s in cfs.sessions(state).values() if s["status"] == "running"]


def _completer(state: State, name: str) -> Action:
    def complete(t: float) -> None:
        cfs.complete_session(state, name, t)
        for batch in state["cfs"]["batches"]:
            if batch["session"] == name:
                batch["session"] = None
                batch["next_at"] = t + dur(state, "batcher_interval")

    return complete


# -- operator ---------------------------------------------------------------

def _operator_events(state: State, t: float) -> list[Event]:
    dep = k8s.get_deployment(state, cfs.NAMESPACE, cfs.OPERATOR)
    if dep is None:
        return []
    consumer = dep["consumer"]
    assigned = kafka.assignment(state, cfs.GROUP, cfs.TOPIC, t)
    topic = state["kafka"]["topics"][cfs.TOPIC]
    events: list[Event] = []
    for pod in dep["pods"]:
        if not pod["started"]:
            continue
        heads = []
        for partition in assigned.get(f"{consumer['client_id']}-{pod['uid']}", []):
            offset = kafka.position(state, cfs.GROUP, cfs.TOPIC, partition)
            record = kafka.record_at(topic["partitions"][partition], offset)
            if record is not None:
                heads.append((record[0], partition, offset, record[1]))
        if heads:
            ts, partition, offset, value = min(heads)
            when = max(float(pod["busy_until"]), ts)
            events.append((when, 3, _handler(state, pod, partition, offset, value)))
    return events


def _handler(state: State, pod: Obj, partition: int, offset: int, value: str) -> Action:
    def handle(t: float) -> None:
        kafka.commit(state, cfs.GROUP, cfs.TOPIC, partition, offset + 1)
        name = cfs.event_session(value)
        cfs.log(state, cfs.OPERATOR, t, "INFO", _EVENTS_LOGGER, f"EVENT: CREATE {name}")
        session = cfs.sessions(state).get(name)
        if session is None:
            cfs.log(state, cfs.OPERATOR, t, "ERROR", _SESSIONS_LOGGER,
                       "Unexpected response from CFS: 404 Client Error: Not Found for url: "
                       f"http://cray-cfs-api/v2/sessions/{name}")
            pod["busy_until"] = t + dur(state, "operator_stale_seconds")
            return
        if session["status"] == "pending":
            _start_job(state, name, t)
        pod["busy_until"] = t + dur(state, "operator_event_seconds")

    return handle


def _start_job(state: State, name: str, t: float) -> None:
    job = cfs.start_session(state, name, t)
    cfs.log(state, cfs.OPERATOR, t, "INFO", "cray.cfs.operator.cfs.jobs",
               f"Created job {job} for session {name}")


def _operators_recover(state: State) -> None:
    """An operator pod that just started picks up the sessions left pending meanwhile."""
    dep = k8s.get_deployment(state, cfs.NAMESPACE, cfs.OPERATOR)
    for pod in dep["pods"] if dep is not None else []:
        if pod["started"] and not pod.get("recovered"):
            pod["recovered"] = True
            t = float(pod["busy_until"])
            cfs.log(state, cfs.OPERATOR, t, "INFO", "cray.cfs.operator.__main__",
                    "Starting CFS operator; checking for pending sessions")
            for name, session in list(cfs.sessions(state).items()):
                if session["status"] == "pending":
                    _start_job(state, name, t)


# -- faults -----------------------------------------------------------------

def _fault_events(state: State) -> list[Event]:
    if not state["faults"].get(FAULT):
        return []
    return [(float(state["cfs"]["fault_next"]), 2, _stray_creator(state))]


def _stray_creator(state: State) -> Action:
    def create(t: float) -> None:
        cfs.create_session(state, t, batch=None, limit="x3000c0s99b0n0")
        state["cfs"]["fault_next"] = t + dur(state, "never_quiet_interval")

    return create
