"""How the puptoo consumer, its producer and its downstream evolve (the ``puptoo`` part).

The Kafka consumer post-mortem as an emergent state: a producer keeps adding
uploads to ``platform.upload.available`` (round-robin over 4 partitions); the
``puptoo`` deployment in namespace ``platform`` consumes them in group
``puptoo`` and delivers each one downstream, where a counter per upload makes
duplicates visible. A pod running an image whose client library is broken
(``broken_tags`` in the state) processes but never commits: the broker
re-serves the same records on every poll, each is delivered again and again,
and the pods crash now and then (new member ids: rebalances). Any other image
commits after every poll. Speeds are the part's knobs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runbook_kubectl.sim import k8s

from runbook.sim.model import Action, Event, State, dur, knob, new_uuid
from runbook_kafka.sim import kafka

if TYPE_CHECKING:
    from runbook.sim.parts import Scenario

Obj = dict[str, Any]
NAMESPACE = "platform"
DEPLOYMENT = "puptoo"
GROUP = "puptoo"
TOPIC = "platform.upload.available"
PARTITIONS = 4
REPOSITORY = "quay.io/cloudservices/puptoo"
CLIENT_ID = "puptoo"
LOG = f"{NAMESPACE}/{DEPLOYMENT}"


def build(state: State, scenario: Scenario, start: float) -> None:
    """The topic with some history, the deployment, the group's commits."""
    settings = scenario.settings.get("puptoo", {})
    tag = str(settings.get("tag", "2.3.1"))
    state["puptoo"] = {"next_produce": start, "seq": 0, "busy": {}, "deliveries": {},
                       "broken_tags": list(settings.get("broken_tags", ["2.4.0"])),
                       "next_crash": start + dur(state, "crash_every"), "rebalances": 0}
    top = kafka.new_topic(state, TOPIC, PARTITIONS)
    for index, part in enumerate(top["partitions"]):
        part["start"] = 1000 * (index + 1)
        kafka.commit(state, GROUP, TOPIC, index, int(part["start"]))
    k8s.new_deployment(state, NAMESPACE, DEPLOYMENT, image=f"{REPOSITORY}:{tag}",
                       replicas=int(knob(state, "replicas")), created=start - 7 * 86400,
                       extra={"consumer": {"group": GROUP, "topic": TOPIC,
                                           "client_id": CLIENT_ID}})


def settle(state: State, t: float) -> None:
    """Pods that stopped (scale-down, crash) stay in the group for ``leave_seconds``."""
    dep = k8s.get_deployment(state, NAMESPACE, DEPLOYMENT)
    pods = {f"{CLIENT_ID}-{p['uid']}": p for p in (k8s.ready_pods(dep, t) if dep else [])}
    seen: dict[str, Obj] = state["puptoo"].setdefault("members", {})
    for member_id, member in seen.items():
        if member_id not in pods:
            kafka.leaving(state, GROUP, member, t + dur(state, "leave_seconds"))
    state["puptoo"]["members"] = {
        member_id: {"id": member_id, "client_id": CLIENT_ID, "host": pod["ip"],
                    "pod": pod["name"], "topic": TOPIC}
        for member_id, pod in pods.items()}


def committing(state: State, dep: Obj) -> bool:
    """Whether the deployment's image commits offsets (its client library works)."""
    return str(dep["image"]).rpartition(":")[2] not in state["puptoo"]["broken_tags"]


def events(state: State, t: float) -> list[Event]:
    found: list[Event] = [(float(state["puptoo"]["next_produce"]), 1, _producer(state))]
    dep = k8s.get_deployment(state, NAMESPACE, DEPLOYMENT)
    if dep is None:
        return found
    found += _consumer_events(state, dep, t)
    if not committing(state, dep) and knob(state, "crash_every") > 0 and dep["pods"]:
        found.append((float(state["puptoo"]["next_crash"]), 4, _crasher(state, dep)))
    return found


def _producer(state: State) -> Action:
    def produce(t: float) -> None:
        sim = state["puptoo"]
        sim["seq"] += 1
        kafka.produce(state, TOPIC, t, f"upload-{sim['seq']:07d}")
        sim["next_produce"] = t + dur(state, "produce_interval")

    return produce


def _consumer_events(state: State, dep: Obj, t: float) -> list[Event]:
    assigned = kafka.assignment(state, GROUP, TOPIC, t)
    top = state["kafka"]["topics"][TOPIC]
    found: list[Event] = []
    for pod in k8s.ready_pods(dep, t):
        heads = []
        for partition in assigned.get(f"{CLIENT_ID}-{pod['uid']}", []):
            offset = kafka.position(state, GROUP, TOPIC, partition)
            record = kafka.record_at(top["partitions"][partition], offset)
            if record is not None:
                heads.append(record[0])
        if heads:
            when = max(float(state["puptoo"]["busy"].get(pod["uid"], 0.0)), min(heads))
            found.append((when, 3, _poller(state, dep, pod, assigned)))
    return found


def _poller(state: State, dep: Obj, pod: Obj, assigned: dict[str, list[int]]) -> Action:
    """One poll: up to ``poll_batch`` records per partition, delivered, committed if it can."""
    def poll(t: float) -> None:
        top = state["kafka"]["topics"][TOPIC]
        handled = 0
        for partition in assigned.get(f"{CLIENT_ID}-{pod['uid']}", []):
            offset = kafka.position(state, GROUP, TOPIC, partition)
            taken = 0
            while taken < int(knob(state, "poll_batch")):
                record = kafka.record_at(top["partitions"][partition], offset + taken)
                if record is None or record[0] > t:
                    break
                _deliver(state, t, record[1])
                taken += 1
            if taken and committing(state, dep):
                kafka.commit(state, GROUP, TOPIC, partition, offset + taken)
            handled += taken
        state["puptoo"]["busy"][pod["uid"]] = t + max(1, handled) * dur(state, "process_seconds")

    return poll


def _deliver(state: State, t: float, value: str) -> None:
    """The downstream service counts deliveries per upload; a repeat is logged."""
    counts: dict[str, int] = state["puptoo"]["deliveries"]
    counts[value] = counts.get(value, 0) + 1
    if counts[value] > 1:
        k8s.append_log(state, LOG, t, f"WARNING duplicate delivery: {value} delivered "
                                      f"{counts[value]} times")
    if len(counts) > 5000:
        for key in sorted(counts)[:1000]:
            del counts[key]


def _crasher(state: State, dep: Obj) -> Action:
    """A pod of a broken consumer crashes: it leaves the group and rejoins with a new id."""
    def crash(t: float) -> None:
        sim = state["puptoo"]
        pods = dep["pods"]
        pod = pods[sim["rebalances"] % len(pods)]
        pod["uid"] = new_uuid()
        pod["ready_at"] = t + dur(state, "restart_seconds")
        k8s.append_log(state, LOG, t, "ERROR consumer crashed: too many in-flight requests; "
                                      "rejoining group puptoo")
        sim["rebalances"] += 1
        sim["next_crash"] = t + dur(state, "crash_every")

    return crash


def duplicates(state: State) -> int:
    """Deliveries beyond the first of each upload."""
    return sum(n - 1 for n in state["puptoo"]["deliveries"].values())


def summary(state: State, t: float) -> list[str]:
    dep = k8s.get_deployment(state, NAMESPACE, DEPLOYMENT)
    image = dep["image"] if dep else "-"
    return [f"puptoo: image {image}, {dep['replicas'] if dep else 0} replica(s), "
            f"{state['puptoo']['seq']} uploads produced, {duplicates(state)} duplicate "
            f"deliveries, {state['puptoo']['rebalances']} crash(es)"]
