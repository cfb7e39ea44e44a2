"""How vminfod evolves: it follows its SMF instance, refreshes, and catches up with new VMs.

The world module of the ``vminfod`` part; it owns ``state["vminfod"]`` and
adds vminfod and the services that depend on it to SMF when it builds.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from runbook_svcs.sim import smf

from runbook.sim.model import Event, State, new_uuid
from runbook_vminfo.sim import daemon
from runbook_vminfo.sim.daemon import PROVISIONER, VMADMD, VMINFOD

if TYPE_CHECKING:
    from runbook.sim.parts import Scenario

DAY = 86400.0


def build(state: State, scenario: Scenario, start: float) -> None:
    settings: dict[str, Any] = dict(scenario.settings.get("vminfod", {}))
    since = start - 14 * DAY
    smf.add_service(state, VMINFOD, "vminfod", since=since, method="/usr/vm/smf/system-vminfod")
    smf.add_service(state, VMADMD, "VM management daemon", since=since, depends=(VMINFOD,))
    smf.add_service(state, PROVISIONER, "Triton provisioner agent", since=since,
                    depends=(VMINFOD,))
    vms = {new_uuid(): {"alias": f"vm{i:02d}", "brand": random.choice(("joyent", "bhyve"))}
           for i in range(23)}
    state["vminfod"] = {"up": False, "started": None, "pid": 0, "node_boot": start - 20 * DAY,
                        "vms": vms, "hidden": [], "race": None, "race_armed": False,
                        "pending": [], "queued": [], "last_refresh": None,
                        "next_refresh": start, "refresh_errors": [], "listeners": []}
    daemon.boot(state, since, since)
    d = state["vminfod"]
    for listener in d["listeners"]:
        listener["created"] = since + random.uniform(5, 25)
    d["last_refresh"] = start - float(settings.get("last_refresh_age", 200.0))
    d["next_refresh"] = d["last_refresh"] + 300.0
    _trouble(state, settings, start)


def _trouble(state: State, settings: dict[str, Any], start: float) -> None:
    d = state["vminfod"]
    if "stuck_age" in settings:
        created = start - float(settings["stuck_age"])
        vm = sorted(d["vms"])[3]
        d["pending"].append({"id": "1", "stuck": True, "created": created,
                             "started": created + 0.004,
                             "description": f"handle zoneevent for {vm} (state: running -> "
                                            "shutting_down)"})
        d["queued"].append({"description": "full refresh", "created": d["last_refresh"] + 300})
    d["hidden"] = sorted(d["vms"])[: int(settings.get("hidden_vms", 0))]
    d["race_armed"] = bool(settings.get("race", False))
    if "restart_at" in settings:
        d["restart_at"] = start + float(settings["restart_at"])
    if settings.get("client") == "type-mismatch":
        _type_mismatch(state, start)


def _type_mismatch(state: State, start: float) -> None:
    """Two resizes in the provisioner's log: vminfod emits 1024, the client waits for "1024"."""
    for index, vm in enumerate(sorted(state["vminfod"]["vms"])[5:7]):
        t = start - 600 + index * 120
        daemon.client(state, t, 30, "updating VM", vm_uuid=vm,
                      payload={"max_physical_memory": 1024})
        daemon.client(state, t + 0.8, 20, "vminfod event", vm_uuid=vm, type="modify",
                      changes=[{"path": ["max_physical_memory"], "action": "changed",
                                "oldValue": 512, "newValue": 1024}])
        daemon.client(state, t + 60.0, 50, "vminfod watchForChanges timeout exceeded",
                      vm_uuid=vm, changes=[{"path": ["max_physical_memory"],
                                            "action": "changed", "newValue": "1024"}],
                      err={"message": "vminfod watchForChanges timeout exceeded",
                           "name": "Error"})


def settle(state: State, t: float) -> None:
    """Follow SMF: the bad-config fault breaks the start method; online with a new start
    time means the daemon booted; not running means it is down."""
    d = daemon.daemon(state)
    svc = smf.services(state)[VMINFOD]
    svc["failure_output"] = (daemon.failure_output(state)
                             if state["faults"].get("vminfod_bad_config") else None)
    if svc["state"] in smf.RUNNING and d["started"] != svc["started_at"]:
        daemon.boot(state, float(svc["started_at"]), t)
    elif svc["state"] not in smf.RUNNING and d["up"]:
        daemon.down(state, t)


def events(state: State, t: float) -> list[Event]:
    d = daemon.daemon(state)
    found: list[Event] = []
    if d["up"]:
        found.append((float(d["next_refresh"]), 5, lambda when: daemon.refresh(state, when)))
    if d["race"]:
        found.append((float(d["race"]["visible_at"]), 5, lambda when: d.update(race=None)))
    if d.get("restart_at") is not None:
        found.append((float(d["restart_at"]), 1, lambda when: _operator_restart(state, when)))
    return found


def _operator_restart(state: State, t: float) -> None:
    daemon.daemon(state)["restart_at"] = None
    smf.restart(state, VMINFOD, t)


def summary(state: State, t: float) -> list[str]:
    d = daemon.daemon(state)
    return [f"vminfod: {'up' if d['up'] else 'down'}, {len(d['pending'])} pending, "
            f"{len(d['queued'])} queued, {len(daemon.known_vms(state))}/{len(d['vms'])} VMs "
            f"known, hidden: {', '.join(d['hidden']) or 'none'}"]
