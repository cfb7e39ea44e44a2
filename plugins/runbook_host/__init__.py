"""The ``host`` plugin: commands on a host (local or over SSH)."""

from __future__ import annotations

from runbook import hookimpl


@hookimpl
def runbook_actions() -> dict[str, str]:
    """Imported when a playbook first uses one (runbook.lazyactions)."""
    return {
        "host.shell": "runbook_host.shell:Shell",
        "host.query": "runbook_host.shell:Query",
        "host.service": "runbook_host.service:Service",
        "host.service_state": "runbook_host.service:ServiceState",
        "host.reboot": "runbook_host.reboot:Reboot",
        "host.wait_port": "runbook_host.ports:WaitPort",
        "host.log_scan": "runbook_host.logscan:LogScan",
        "host.config_get": "runbook_host.configfile:ConfigGet",
        "host.config_set": "runbook_host.configfile:ConfigSet",
        "host.file_restore": "runbook_host.configfile:FileRestore",
        "host.packages": "runbook_host.packages:Packages",
        "host.package_drift": "runbook_host.packages:PackageDrift",
        "host.package_update": "runbook_host.packages:PackageUpdate",
        "host.needs_restart": "runbook_host.processes:NeedsRestart",
        "host.process": "runbook_host.processes:Process",
    }
