"""The ``kafka`` plugin: consumer groups and console consumers through Kafka's own scripts."""

from __future__ import annotations

from typing import Any

from runbook import hookimpl
from runbook_kafka.actions import ACTIONS


@hookimpl
def runbook_actions() -> list[type[Any]]:
    return list(ACTIONS)


@hookimpl
def runbook_sim_parts() -> list[Any]:
    from runbook_kafka.sim.part import PART

    return [PART]
