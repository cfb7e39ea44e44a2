"""How the publisher hosts evolve: a tick every ``tick_seconds`` on each host.

The world module of the ``publisher`` part (see ``runbook.sim.parts``); it
owns the state key ``publisher``. Scenario ``settings["publisher"]`` gives,
per host, the packages, whether stompclt starts with reliable delivery, the
initial backlog, a topic the broker refuses, when the host booted and httpd
started, and the mtimes of the files httpd maps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from runbook.sim.model import State, dur
from runbook_stomp.sim import estate

if TYPE_CHECKING:
    from runbook.sim.model import Event
    from runbook.sim.parts import Scenario


def build(state: State, scenario: Scenario, start: float) -> None:
    hosts = {}
    for name, spec in scenario.settings.get("publisher", {}).items():
        h = {"packages": dict(spec["packages"]), "procs": {}, "next_pid": 2911000,
             "stompclt": {"pid": None}, "queue": [round(start, 3)] * int(spec.get("backlog", 0)),
             "refused_topic": spec.get("refused_topic"), "stale": list(spec.get("stale", [])),
             "booted": spec.get("booted", start - 40 * 86400),
             "file_times": dict(spec.get("file_times", {})),
             "web": spec.get("web", estate.WEB), "repo": spec.get("repo", {}),
             "manager": spec.get("manager", "rpm")}
        h["procs"][str(spec.get("httpd_pid", 2001))] = {
            "name": h["web"]["name"], "rss_kb": 9000,
            "started": spec.get("httpd_started", start)}
        estate.start_stompclt(h, {"reliable": spec.get("reliable", False),
                                  "window": spec.get("window"),
                                  "heart_beat": spec.get("reliable", False)}, start)
        hosts[name] = h
    state["publisher"] = {"hosts": hosts, "next_tick": start}


def events(state: State, t: float) -> list[Event]:
    def tick(t: float) -> None:
        for name in state["publisher"]["hosts"]:
            estate.tick(state, name, t)
        state["publisher"]["next_tick"] = t + dur(state, "tick_seconds")

    return [(state["publisher"]["next_tick"], 0, tick)]


def summary(state: State, t: float) -> list[str]:
    lines = ["publisher:"]
    for name, h in sorted(state["publisher"]["hosts"].items()):
        st = h["stompclt"]
        pid = st.get("pid")
        rss = h["procs"][pid]["rss_kb"] if pid else 0
        lines.append(f"  {name}: queue {len(h['queue'])}, stompclt "
                     + (f"pid {pid} rss {rss} KiB{' stalled' if st.get('stalled') else ''}"
                        if pid else "stopped")
                     + f", reliable {st.get('reliable')}, window {st.get('window')}")
    return lines
