"""The ``vminfo`` plugin: vminfod's health on SmartOS (ping, status, VM list, client logs).

It brings the ``vminfod`` part of the simulated estate (stand-ins ``vminfo``
and ``vmadm``, the ``vminfod-*`` scenarios), built on the ``smf`` part of the
``runbook_svcs`` plugin.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runbook import hookimpl
from runbook_vminfo.actions import ACTIONS

if TYPE_CHECKING:
    from runbook.samples import OutputParser


@hookimpl
def runbook_actions() -> list[type[Any]]:
    return list(ACTIONS)


@hookimpl
def runbook_parsers() -> dict[str, OutputParser]:
    from runbook_vminfo.parse import PARSERS

    return PARSERS


@hookimpl
def runbook_sim_parts() -> list[Any]:
    from runbook_vminfo.sim.part import PART

    return [PART]
