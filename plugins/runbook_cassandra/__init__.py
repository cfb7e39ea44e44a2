"""The ``cassandra`` plugin: nodetool and cqlsh on Cassandra hosts, and the session store estate."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runbook import hookimpl

if TYPE_CHECKING:
    from runbook.samples import OutputParser


@hookimpl
def runbook_actions() -> list[type[Any]]:
    from runbook_cassandra.actions import ACTIONS

    return list(ACTIONS)


@hookimpl
def runbook_parsers() -> dict[str, OutputParser]:
    from runbook_cassandra.parse import PARSERS

    return PARSERS


@hookimpl
def runbook_sim_parts() -> list[Any]:
    from runbook_cassandra.sim.part import PART

    return [PART]
