"""vminfod on the simulated node: its life under SMF, its queue, its VMs, its clients.

The state (``state["vminfod"]``) keeps what changes: whether the daemon is up
and since when (it follows the SMF instance: when the instance comes online
with a new start time, the daemon has booted), the VMs on disk (``vmadm``'s
view) and those vminfod does not know, pending and queued tasks, the last
full refresh and the connected clients. The provisioner agent's log is a
file of the node (``runbook_svcs.sim.smf.append``).
"""

from __future__ import annotations

import json
import random
from typing import Any

from runbook_svcs.sim import smf

from runbook.sim.model import State, dur, new_uuid

Obj = dict[str, Any]
VMINFOD = "svc:/system/smartdc/vminfod:default"
VMADMD = "svc:/system/smartdc/vmadmd:default"
PROVISIONER = "svc:/smartdc/agent/provisioner:default"
CLIENT_LOG = smf.log_path(PROVISIONER)
AGENTS = ("Metadata Agent - VminfodWatcher - {node}/3412 (/usr/vm/sbin/metadata)",
          "VM.js watchZoneTransitions - {node}/3980 (/usr/vm/sbin/vmadmd)",
          "provisioner - VminfodEventStream - {node}/4021 (/opt/smartdc/agents/lib/"
          "node_modules/provisioner/bin/provisioner)")
CONFIG = "/etc/vminfod/config.json"


def daemon(state: State) -> Obj:
    found: Obj = state["vminfod"]
    return found


def bunyan(state: State, name: str, pid: int, level: int, msg: str, t: float,
           **fields: Any) -> str:
    record = {"name": name, "hostname": smf.smf(state)["node"], "pid": pid, "level": level,
              **fields, "msg": msg, "time": smf.iso(t), "v": 0}
    return json.dumps(record, separators=(",", ":"))


def failure_output(state: State) -> list[str]:
    """What vminfod's start method prints when its configuration does not parse."""
    err = {"message": "Unexpected token } in JSON at position 112", "name": "SyntaxError",
           "stack": "SyntaxError: Unexpected token } in JSON at position 112\n"
                    "    at JSON.parse (<anonymous>)"}
    record = json.loads(bunyan(state, "vminfod", random.randint(5000, 9000), 60,
                               f"failed to load configuration {CONFIG}", 0.0, err=err))
    record["time"] = "{time}"
    return [json.dumps(record, separators=(",", ":"))]


def client(state: State, t: float, level: int, msg: str, **fields: Any) -> None:
    smf.append(state, CLIENT_LOG, t, bunyan(state, "provisioner", 4021, level, msg, t,
                                            component="vminfod-client", **fields))


def boot(state: State, started: float, t: float) -> None:
    """The SMF instance came online: a fresh process with an empty queue and a full refresh."""
    d = daemon(state)
    d.update(up=True, started=started, pid=random.randint(5000, 9000), pending=[], queued=[],
             last_refresh=t, next_refresh=t + dur(state, "vminfod_refresh_seconds"),
             refresh_errors=[])
    node = smf.smf(state)["node"]
    d["listeners"] = [{"uuid": new_uuid(), "ua": ua.format(node=node), "created": t}
                      for ua in AGENTS]
    client(state, t, 30, "vminfod event stream ready")


def down(state: State, t: float) -> None:
    """The process is gone; connected clients see their stream end."""
    d = daemon(state)
    d["up"] = False
    if d["listeners"]:
        client(state, t, 50, "VminfodEventStream ended prematurely",
               err={"message": "VminfodEventStream ended prematurely", "name": "Error"})
    d["listeners"] = []


def known_vms(state: State) -> list[str]:
    """The UUIDs vminfod knows: those on disk minus the ones it missed or not yet seen."""
    d = daemon(state)
    hidden = set(d["hidden"]) | ({d["race"]["uuid"]} if d["race"] else set())
    return sorted(u for u in d["vms"] if u not in hidden)


def refresh(state: State, t: float) -> None:
    """The forced full refresh: blocked behind a stuck task, it waits in the queue."""
    d = daemon(state)
    d["next_refresh"] = t + dur(state, "vminfod_refresh_seconds")
    if any(task["stuck"] for task in d["pending"]):
        if not any(q["description"] == "full refresh" for q in d["queued"]):
            d["queued"].append({"description": "full refresh", "created": t})
        return
    d["last_refresh"] = t


def new_vm(state: State, t: float) -> str:
    """A VM being created: on disk (vmadm) now, known to vminfod a moment later."""
    d = daemon(state)
    uuid = new_uuid()
    d["vms"][uuid] = {"alias": f"web{len(d['vms']):02d}", "brand": "joyent"}
    d["race"] = {"uuid": uuid, "visible_at": t + dur(state, "vminfod_race_seconds")}
    return uuid
