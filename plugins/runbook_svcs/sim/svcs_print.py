"""What ``svcs`` prints: listings (STATE/STIME/FMRI columns) and ``-x`` explanations."""

from __future__ import annotations

import time
from typing import Any

from runbook_svcs.sim import smf

ORDER = ("legacy_run", "disabled", "online", "degraded", "offline", "maintenance",
         "uninitialized")
WIDTHS = {"STATE": 15, "NSTATE": 15, "STIME": 9}


def stime(since: float, now: float) -> str:
    """``13:05:51`` / `` 7:42:10`` within a day, ``Mar_28`` within a year, else the year."""
    moment = time.gmtime(since)
    if now - since < 86400:
        return f"{moment.tm_hour:2d}" + time.strftime(":%M:%S", moment)
    if now - since < 365 * 86400:
        return time.strftime("%b_", moment) + f"{moment.tm_mday:02d}"
    return str(moment.tm_year)


def cells(fmri: str, svc: dict[str, Any], now: float, with_nstate: bool) -> dict[str, str]:
    moving = svc["start_at"] is not None
    state = svc["state"] + ("*" if moving and not with_nstate else "")
    return {"STATE": state, "NSTATE": "online" if moving else "-",
            "STIME": stime(float(svc["since"]), now), "FMRI": fmri}


def row(values: dict[str, str], columns: list[str]) -> str:
    """Cells padded to their column width (at least one blank after each), FMRI last."""
    out = ""
    for column in columns[:-1]:
        value, width = values[column], WIDTHS.get(column, 0)
        out += value.ljust(width) if len(value) < width else value + " "
    return (out + values[columns[-1]]).rstrip()


def listing(chosen: dict[str, dict[str, Any]], now: float, columns: list[str],
            header: bool) -> list[str]:
    def key(item: tuple[str, dict[str, Any]]) -> tuple[int, float, str]:
        state = item[1]["state"]
        return (ORDER.index(state) if state in ORDER else 99, float(item[1]["since"]), item[0])

    with_nstate = "NSTATE" in columns
    lines = [row({c: c for c in columns}, columns)] if header else []
    for fmri, svc in sorted(chosen.items(), key=key):
        lines.append(row(cells(fmri, svc, now, with_nstate), columns))
    return lines


def c_time(t: float) -> str:
    """The C locale's ``%c``: ``Tue May 14 14:22:37 2024`` (UTC)."""
    moment = time.gmtime(t)
    return time.strftime("%a %b ", moment) + f"{moment.tm_mday:2d}" + time.strftime(
        " %H:%M:%S %Y", moment)


def _reason(known: dict[str, Any], fmri: str, svc: dict[str, Any]) -> tuple[list[str], str]:
    """The Reason: lines and the SMF message id."""
    if svc["state"] == "maintenance":
        return ["Start method failed repeatedly, last exited with status 1."], "SMF-8000-KS"
    if svc["state"] == "disabled":
        return ["Disabled by an administrator."], "SMF-8000-05"
    blocker = next((d for d in svc["depends"] if known[d]["state"] not in smf.RUNNING), None)
    if blocker is not None:
        why = ("a method failed repeatedly" if known[blocker]["state"] == "maintenance"
               else "it is disabled" if known[blocker]["state"] == "disabled"
               else "it is not running")
        return [f"Service {blocker}", f"        is not running because {why}."], "SMF-8000-GE"
    return ["Start method is running."], "SMF-8000-C4"


def blocked(known: dict[str, Any], fmri: str) -> list[str]:
    return sorted(f for f, s in known.items()
                  if fmri in s["depends"] and s["state"] not in smf.RUNNING and s["enabled"])


def explain(known: dict[str, Any], fmri: str, verbose: bool) -> list[str]:
    """One ``svcs -x`` paragraph."""
    svc = known[fmri]
    reason, message = _reason(known, fmri, svc)
    title = f"{fmri} ({svc['description'] or '?'})"
    lines = [title, f" State: {svc['state']} since {c_time(float(svc['since']))}",
             f"Reason: {reason[0]}", *reason[1:],
             f"   See: http://illumos.org/msg/{message}"]
    if verbose and message == "SMF-8000-GE":
        lines.append(f"  Path: {fmri}")
        lines += [f"          {d}" for d in svc["depends"]
                  if known[d]["state"] not in smf.RUNNING]
    lines.append(f"   See: {smf.log_path(fmri)}")
    lines += _impact(blocked(known, fmri), verbose)
    return lines


def _impact(dependents: list[str], verbose: bool) -> list[str]:
    n = len(dependents)
    if not n:
        return ["Impact: This service is not running."]
    noun = "1 dependent service is" if n == 1 else f"{n} dependent services are"
    if not verbose:
        return [f"Impact: {noun} not running.  (Use -v for list.)"]
    return [f"Impact: {noun} not running:", *(f"        {d}" for d in dependents)]
