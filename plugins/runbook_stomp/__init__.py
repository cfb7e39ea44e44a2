"""The ``stomp`` plugin: stompclt publishers and the simplevisor that supervises them.

Reads their Config::General files (secrets masked), lints stompclt's delivery
settings, turns the broker's refusals in stompclt's log into findings,
measures whether the on-disk queue drains, and checks or restarts the
children under simplevisor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runbook import hookimpl

if TYPE_CHECKING:
    from runbook.samples import OutputParser


@hookimpl
def runbook_actions() -> dict[str, str]:
    """Imported when a playbook first uses one (runbook.lazyactions)."""
    return {
        "stomp.config": "runbook_stomp.config_actions:StompConfigAction",
        "simplevisor.config": "runbook_stomp.config_actions:SimplevisorConfigAction",
        "stomp.lint": "runbook_stomp.config_actions:StompLint",
        "stomp.queue_progress": "runbook_stomp.queue:QueueProgress",
        "simplevisor.status": "runbook_stomp.supervise:SimplevisorStatus",
        "simplevisor.restart": "runbook_stomp.supervise:SimplevisorRestart",
        "stomp.authorization": "runbook_stomp.refusals:StompAuthorization",
    }


@hookimpl
def runbook_parsers() -> dict[str, OutputParser]:
    from runbook_stomp.parse import PARSERS

    return PARSERS


@hookimpl
def runbook_sim_parts() -> list[Any]:
    from runbook_stomp.sim.part import PART

    return [PART]
