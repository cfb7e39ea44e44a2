"""SMF's behaviour on the simulated node: instance states, start methods, logs.

The state (``state["smf"]``) keeps per instance whether it is enabled, its
state and since when, a pending start (``start_at``: when the start method
exits), recent start failures, its dependencies and what its start method
prints when it fails (``failure_output``, set by the part that owns the
service). Rules, as svc.startd applies them: a start method that fails three
times within ``smf_fail_window`` puts the instance in maintenance
("Restarting too quickly"); ``clear`` starts it again (it helps only once
the cause is gone); ``restart`` acts only on online/degraded instances; an
instance starts only when its dependencies are online. Log lines go to the
node's files (``state["smf"]["files"]``), written into the host's root by
``files.sync`` after each stand-in call.
"""

from __future__ import annotations

import time
from typing import Any

from runbook.sim.model import State, dur

Obj = dict[str, Any]
LOG_CAP = 1000
RUNNING = ("online", "degraded")


def smf(state: State) -> Obj:
    found: Obj = state["smf"]
    return found


def services(state: State) -> dict[str, Obj]:
    found: dict[str, Obj] = smf(state)["services"]
    return found


def log_path(fmri: str) -> str:
    """``svc:/system/smartdc/vminfod:default`` ->
    ``/var/svc/log/system-smartdc-vminfod:default.log``."""
    return "/var/svc/log/" + fmri.removeprefix("svc:/").replace("/", "-") + ".log"


def smf_time(t: float) -> str:
    """svc.startd's log time: ``May 14 14:22:37`` (UTC)."""
    moment = time.gmtime(t)
    return time.strftime("%b ", moment) + f"{moment.tm_mday:2d}" + time.strftime(" %H:%M:%S",
                                                                                 moment)


def append(state: State, path: str, t: float, line: str) -> None:
    """Append a line to a file of the node (kept in the state, capped like a rotated log)."""
    lines: list[Any] = smf(state)["files"].setdefault(path, [])
    lines.append([t, line])
    if len(lines) > LOG_CAP:
        del lines[: len(lines) - LOG_CAP]


def note(state: State, fmri: str, t: float, message: str) -> None:
    """An SMF line in the instance's log: ``[ May 14 14:22:37 message ]``."""
    append(state, log_path(fmri), t, f"[ {smf_time(t)} {message} ]")


def add_service(state: State, fmri: str, description: str | None, *, since: float,
                enabled: bool = True, depends: tuple[str, ...] = (),
                method: str = ":true") -> Obj:
    """An instance, online since ``since`` when enabled (disabled otherwise)."""
    svc: Obj = {"description": description, "enabled": enabled,
                "state": "online" if enabled else "disabled", "since": since,
                "started_at": since if enabled else None, "start_at": None, "fails": [],
                "depends": list(depends), "method": method, "failure_output": None}
    services(state)[fmri] = svc
    return svc


def set_state(svc: Obj, new: str, t: float) -> None:
    if svc["state"] != new:
        svc["state"] = new
        svc["since"] = t


def deps_online(state: State, svc: Obj) -> bool:
    known = services(state)
    return all(known.get(d, {}).get("state") in RUNNING for d in svc["depends"])


def start(state: State, fmri: str, t: float) -> None:
    """Run the start method: the instance is offline with a pending start until it exits."""
    svc = services(state)[fmri]
    set_state(svc, "offline", t)
    svc["start_at"] = t + dur(state, "smf_start_seconds")
    note(state, fmri, t, f'Executing start method ("{svc["method"]} start").')


def start_exits(state: State, fmri: str, t: float) -> None:
    """The start method exits: online, or a failure (three quick ones: maintenance)."""
    svc = services(state)[fmri]
    svc["start_at"] = None
    if not svc["failure_output"]:
        note(state, fmri, t, 'Method "start" exited with status 0.')
        set_state(svc, "online", t)
        svc["started_at"] = t
        return
    for line in svc["failure_output"]:
        append(state, log_path(fmri), t, line.replace("{time}", _iso(t)))
    note(state, fmri, t, 'Method "start" exited with status 1.')
    window = dur(state, "smf_fail_window")
    svc["fails"] = [f for f in svc["fails"] if f > t - window] + [t]
    if len(svc["fails"]) >= 3:
        note(state, fmri, t, "Restarting too quickly, changing state to maintenance.")
        set_state(svc, "maintenance", t)
        svc["fails"] = []
    else:
        start(state, fmri, t)


def stop(state: State, fmri: str, t: float, why: str, to: str = "offline") -> None:
    svc = services(state)[fmri]
    note(state, fmri, t, f"Stopping because {why}.")
    note(state, fmri, t, 'Executing stop method (:kill).')
    svc["start_at"] = None
    set_state(svc, to, t)


def clear(state: State, fmri: str, t: float) -> None:
    """``svcadm clear``: maintenance -> start again; degraded -> online."""
    svc = services(state)[fmri]
    if svc["state"] == "maintenance":
        note(state, fmri, t, "Leaving maintenance because clear requested.")
        svc["fails"] = []
        set_state(svc, "offline", t)
        if svc["enabled"] and deps_online(state, svc):
            start(state, fmri, t)
    elif svc["state"] == "degraded":
        set_state(svc, "online", t)


def restart(state: State, fmri: str, t: float) -> None:
    """``svcadm restart``: only an online or degraded instance is restarted."""
    if services(state)[fmri]["state"] in RUNNING:
        stop(state, fmri, t, "service restarting")
        start(state, fmri, t)


def enable(state: State, fmri: str, t: float, on: bool) -> None:
    svc = services(state)[fmri]
    if on and not svc["enabled"]:
        svc["enabled"] = True
        note(state, fmri, t, "Enabled.")
        set_state(svc, "offline", t)
    elif not on and svc["enabled"]:
        svc["enabled"] = False
        stop(state, fmri, t, "service disabled", to="disabled")
        note(state, fmri, t, "Disabled.")


def settle(state: State, t: float) -> None:
    """Dependencies: start what can start, take down what lost a dependency."""
    for fmri, svc in services(state).items():
        if not svc["enabled"] or svc["state"] == "maintenance":
            continue
        ready = deps_online(state, svc)
        if svc["state"] in RUNNING and not ready:
            stop(state, fmri, t, "dependency is not running")
        elif svc["state"] == "offline" and svc["start_at"] is None and ready:
            start(state, fmri, t)


def _iso(t: float) -> str:
    moment = time.gmtime(t)
    return time.strftime("%Y-%m-%dT%H:%M:%S", moment) + f".{int(t * 1000) % 1000:03d}Z"


def iso(t: float) -> str:
    """Bunyan's time: ``2024-05-14T10:16:39.169Z``."""
    return _iso(t)
