"""The ``host`` plugin: commands on a host (local or over SSH)."""

from __future__ import annotations

from typing import Any

from runbook import hookimpl
from runbook_host.shell import Query, Shell


@hookimpl
def runbook_actions() -> list[type[Any]]:
    from runbook_host.logscan import LogScan
    from runbook_host.ports import WaitPort
    from runbook_host.reboot import Reboot
    from runbook_host.service import Service, ServiceState

    return [Shell, Query, Service, ServiceState, Reboot, WaitPort, LogScan]
