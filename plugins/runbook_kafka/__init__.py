"""The ``kafka`` plugin: consumer groups and console consumers through Kafka's own scripts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runbook import hookimpl
from runbook_kafka.actions import ACTIONS

if TYPE_CHECKING:
    from runbook.samples import OutputParser


@hookimpl
def runbook_actions() -> list[type[Any]]:
    return list(ACTIONS)


@hookimpl
def runbook_parsers() -> dict[str, OutputParser]:
    from runbook_kafka.parse import PARSERS

    return PARSERS


@hookimpl
def runbook_sim_parts() -> list[Any]:
    from runbook_kafka.sim.part import PART
    from runbook_kafka.sim.puptoo_part import PART as PUPTOO

    return [PART, PUPTOO]
