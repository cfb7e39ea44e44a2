"""The ``notify`` plugin: tell a chat channel or syslog what a run is doing.

An observer of the run lifecycle, registered like every built-in plugin. It
posts the start of a run, a gate that has waited longer than ``gate_wait``
for an answer (and, once answered, who answered), failed steps and rollbacks,
and the finish, to a Slack-compatible webhook and/or syslog, as configured per
user and per playbook (its ``notify:`` key names channels the user defines;
``runbook_notify.config``). Messages are built from what
observers are given, which the engine has already redacted, and never carry
params or commands. Delivery happens on a background thread
(``runbook_notify.send``): a notification that fails or hangs is logged and
dropped, and the end of a run waits for it at most ``flush`` seconds.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from runbook import hookimpl

if TYPE_CHECKING:
    from runbook.events import Event, RunInfo
    from runbook_notify.config import Settings
    from runbook_notify.send import Outbox

log = logging.getLogger("runbook.notify")


@dataclass
class _Run:
    settings: Settings
    outbox: Outbox
    timers: dict[str, threading.Timer] = field(default_factory=dict)
    waited: set[str] = field(default_factory=set)


_runs: dict[str, _Run] = {}


def _guard(func: Callable[..., None]) -> Callable[..., None]:
    """A hook that can never fail the run it observes."""

    def hook(*args: Any, **kwargs: Any) -> None:
        try:
            func(*args, **kwargs)
        except Exception:  # a notification never fails anything
            log.warning("runbook notification skipped", exc_info=True)

    return hook


def _send(run: RunInfo, kind: str, severity: str, text: str) -> None:
    state = _runs.get(run.run_id)
    if state is None or kind not in state.settings.events:
        return
    from runbook_notify.send import Message

    s = state.settings
    tag = " [plan]" if run.dry_run else " [sandbox]" if run.sandbox else ""
    for dest in s.destinations:
        state.outbox.post(Message(f"runbook{tag} {run.playbook} {run.run_id}: {text}",
                                  severity, dest.webhook, dest.syslog, s.timeout))


@hookimpl
def runbook_run_started(run: RunInfo) -> None:
    _guard(_started)(run)


def _configured() -> bool:
    """Anything to read at all? (Keeps an unconfigured run from loading the config model.)"""
    import os

    from runbook.paths import runbook_home

    return any(os.environ.get(v) for v in ("RUNBOOK_NOTIFY_CONFIG", "RUNBOOK_NOTIFY_WEBHOOK",
                                           "RUNBOOK_NOTIFY_SYSLOG")) or \
        (runbook_home() / "notify.yaml").is_file()


def _started(run: RunInfo) -> None:
    if not _configured():
        return
    from runbook_notify.config import settings_for

    settings = settings_for(run.playbook, run.notify)
    if settings is None or (run.dry_run and not settings.dry_run):
        return
    from runbook_notify.send import Outbox

    _runs[run.run_id] = _Run(settings, Outbox())
    _send(run, "start", "info", f"started by {run.actor}"
          + (f" ({run.reason})" if run.reason else ""))


@hookimpl
def runbook_gate_asked(run: RunInfo, event: Event) -> None:
    _guard(_asked)(run, event)


def _asked(run: RunInfo, event: Event) -> None:
    state = _runs.get(run.run_id)
    if state is None or event.step is None:
        return
    step = event.step
    first_line = (event.message or "").splitlines()[0] if event.message else ""

    def waiting() -> None:
        state.waited.add(step)
        _send(run, "gate", "warning", f"waiting at the gate of step {step} for more than "
              f"{state.settings.gate_wait:g}s: {first_line}")

    timer = threading.Timer(state.settings.gate_wait, _guard(waiting))
    timer.daemon = True
    state.timers[step] = timer
    timer.start()


@hookimpl
def runbook_gate_answered(run: RunInfo, event: Event) -> None:
    _guard(_answered)(run, event)


def _answered(run: RunInfo, event: Event) -> None:
    state = _runs.get(run.run_id)
    if state is None or event.step is None:
        return
    timer = state.timers.pop(event.step, None)
    if timer is not None:
        timer.cancel()
    if event.step in state.waited:
        state.waited.discard(event.step)
        _send(run, "gate", "info", f"gate of step {event.step} {event.status} by {run.actor} "
              f"({event.data.get('how', '')})")


@hookimpl
def runbook_step_finished(run: RunInfo, event: Event) -> None:
    if event.status == "failed":
        where = f" on {event.host}" if event.host else f" on {event.target}" if event.target \
            else ""
        _guard(_send)(run, "failure", "error",
                      f"step {event.step} failed{where}: {event.message or ''}")


@hookimpl
def runbook_rollback_finished(run: RunInfo, event: Event) -> None:
    if event.status == "failed":
        _guard(_send)(run, "failure", "error", f"rollback of step {event.step} failed: "
                      f"{event.message or ''}; the run needs attention")


@hookimpl
def runbook_run_finished(run: RunInfo, event: Event) -> None:
    _guard(_finished)(run, event)


def _finished(run: RunInfo, event: Event) -> None:
    state = _runs.get(run.run_id)
    if state is None:
        return
    for timer in state.timers.values():
        timer.cancel()
    took = f" in {event.duration_ms / 1000:.1f}s" if event.duration_ms else ""
    manual = event.data.get("manual") or []
    severity = "info" if event.rc == 0 else "error"
    _send(run, "finish", severity, f"{event.status} (exit {event.rc}){took}"
          + (f": {event.message}" if event.message and event.rc else "")
          + (f"; {len(manual)} command(s) left to do by hand" if manual else ""))
    _runs.pop(run.run_id, None)
    state.outbox.drain(state.settings.flush)
