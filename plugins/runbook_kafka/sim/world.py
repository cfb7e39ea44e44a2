"""How the simulated Kafka cluster evolves: dead members leave, retention trims.

The world module of the ``kafka`` part (see ``runbook.sim.parts``). It owns
the state key ``kafka`` (topics and consumer groups); records are produced
and consumed by the other parts and by the console consumer stand-in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from runbook.sim.model import State
from runbook_kafka.sim import kafka

if TYPE_CHECKING:
    from runbook.sim.parts import Scenario


def build(state: State, scenario: Scenario, start: float) -> None:
    state["kafka"] = {"topics": {}, "groups": {}}


def prepare(state: State, now: float) -> None:
    kafka.reap(state, now)


def finish(state: State, now: float) -> None:
    kafka.trim(state)


def summary(state: State, t: float) -> list[str]:
    lines = ["kafka:"]
    for group_name, grp in sorted(state["kafka"]["groups"].items()):
        for topic_name in sorted(grp["offsets"]):
            parts = state["kafka"]["topics"][topic_name]["partitions"]
            offsets = kafka.committed(state, group_name, topic_name)
            lag = sum(kafka.end_offset(p) - (o if o is not None else kafka.end_offset(p))
                      for p, o in zip(parts, offsets, strict=True))
            members = kafka.members(state, group_name, topic_name, t)
            lines.append(f"  group {group_name} on {topic_name}: lag {lag}, "
                         f"{len(members)} member(s)"
                         + "".join(f"\n    {m['id']} ({m['client_id']})" for m in members))
    return lines
