"""The ``cfs`` plugin: HPE Cray CFS options and sessions through the ``cray`` CLI."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runbook import hookimpl
from runbook_cfs.actions import ACTIONS

if TYPE_CHECKING:
    from runbook.samples import OutputParser


@hookimpl
def runbook_actions() -> list[type[Any]]:
    return list(ACTIONS)


@hookimpl
def runbook_parsers() -> dict[str, OutputParser]:
    from runbook_cfs.parse import PARSERS

    return PARSERS


@hookimpl
def runbook_sim_parts() -> list[Any]:
    from runbook_cfs.sim.part import PART

    return [PART]
