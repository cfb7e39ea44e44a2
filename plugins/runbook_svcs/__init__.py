"""The ``svcs`` plugin: SMF states, explanations and logs; svcadm enable/disable/restart/clear.

It also brings the ``smf`` part of the simulated estate: SMF instances of a
SmartOS node with their states, start methods, dependencies and logs, and
the stand-ins ``svcs`` and ``svcadm``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runbook import hookimpl
from runbook_svcs.actions import ACTIONS

if TYPE_CHECKING:
    from runbook.samples import OutputParser


@hookimpl
def runbook_actions() -> list[type[Any]]:
    return list(ACTIONS)


@hookimpl
def runbook_parsers() -> dict[str, OutputParser]:
    from runbook_svcs.parse import PARSERS

    return PARSERS


@hookimpl
def runbook_sim_parts() -> list[Any]:
    from runbook_svcs.sim.part import PART

    return [PART]
