"""The ``cassandra`` plugin: nodetool and cqlsh on Cassandra hosts, and the session store estate."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runbook import hookimpl

if TYPE_CHECKING:
    from runbook.samples import OutputParser


@hookimpl
def runbook_actions() -> dict[str, str]:
    """Imported when a playbook first uses one (runbook.lazyactions)."""
    return {
        "cassandra.status": "runbook_cassandra.actions:Status",
        "cassandra.info": "runbook_cassandra.actions:Info",
        "cassandra.describecluster": "runbook_cassandra.actions:DescribeCluster",
        "cassandra.wait_normal": "runbook_cassandra.actions:WaitNormal",
        "cassandra.disablebinary": "runbook_cassandra.actions:DisableBinary",
        "cassandra.enablebinary": "runbook_cassandra.actions:EnableBinary",
        "cassandra.drain": "runbook_cassandra.actions:Drain",
        "cassandra.consistency_probe": "runbook_cassandra.actions:ConsistencyProbe",
    }


@hookimpl
def runbook_parsers() -> dict[str, OutputParser]:
    from runbook_cassandra.parse import PARSERS

    return PARSERS


@hookimpl
def runbook_sim_parts() -> list[Any]:
    from runbook_cassandra.sim.part import PART

    return [PART]
