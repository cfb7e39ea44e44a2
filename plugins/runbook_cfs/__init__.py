"""The ``cfs`` plugin: HPE Cray CFS options and sessions through the ``cray`` CLI."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runbook import hookimpl

if TYPE_CHECKING:
    from runbook.samples import OutputParser


@hookimpl
def runbook_actions() -> dict[str, str]:
    """Imported when a playbook first uses one (runbook.lazyactions)."""
    return {
        "cfs.options_get": "runbook_cfs.actions:OptionsGet",
        "cfs.options_update": "runbook_cfs.actions:OptionsUpdate",
        "cfs.sessions_list": "runbook_cfs.actions:SessionsList",
    }


@hookimpl
def runbook_parsers() -> dict[str, OutputParser]:
    from runbook_cfs.parse import PARSERS

    return PARSERS


@hookimpl
def runbook_sim_parts() -> list[Any]:
    from runbook_cfs.sim.part import PART

    return [PART]
