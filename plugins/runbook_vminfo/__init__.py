"""The ``vminfo`` plugin: vminfod's health on SmartOS (ping, status, VM list, client logs).

It brings the ``vminfod`` part of the simulated estate (stand-ins ``vminfo``
and ``vmadm``, the ``vminfod-*`` scenarios), built on the ``smf`` part of the
``runbook_svcs`` plugin.
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
        "vminfo.ping": "runbook_vminfo.actions:Ping",
        "vminfo.status": "runbook_vminfo.actions:Status",
        "vminfo.vms_vs_vmadm": "runbook_vminfo.actions:VmsVsVmadm",
        "vminfo.events_for": "runbook_vminfo.actions:EventsFor",
    }


@hookimpl
def runbook_parsers() -> dict[str, OutputParser]:
    from runbook_vminfo.parse import PARSERS

    return PARSERS


@hookimpl
def runbook_sim_parts() -> list[Any]:
    from runbook_vminfo.sim.part import PART

    return [PART]
