"""The ``svcs`` plugin: SMF states, explanations and logs; svcadm enable/disable/restart/clear.

It also brings the ``smf`` part of the simulated estate: SMF instances of a
SmartOS node with their states, start methods, dependencies and logs, and
the stand-ins ``svcs`` and ``svcadm``.
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
        "svcs.state": "runbook_svcs.actions:State",
        "svcs.list": "runbook_svcs.actions:List",
        "svcs.explain": "runbook_svcs.actions:Explain",
        "svcs.log": "runbook_svcs.actions:Log",
        "svcadm.enable": "runbook_svcs.actions:Enable",
        "svcadm.disable": "runbook_svcs.actions:Disable",
        "svcadm.restart": "runbook_svcs.actions:Restart",
        "svcadm.clear": "runbook_svcs.actions:Clear",
    }


@hookimpl
def runbook_parsers() -> dict[str, OutputParser]:
    from runbook_svcs.parse import PARSERS

    return PARSERS


@hookimpl
def runbook_sim_parts() -> list[Any]:
    from runbook_svcs.sim.part import PART

    return [PART]
