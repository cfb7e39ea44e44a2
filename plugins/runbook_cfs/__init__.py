"""The ``cfs`` plugin: HPE Cray CFS options and sessions through the ``cray`` CLI."""

from __future__ import annotations

from typing import Any

from runbook import hookimpl
from runbook_cfs.actions import ACTIONS


@hookimpl
def runbook_actions() -> list[type[Any]]:
    return list(ACTIONS)


@hookimpl
def runbook_sim_parts() -> list[Any]:
    from runbook_cfs.sim.part import PART

    return [PART]
