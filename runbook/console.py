"""What a person sees: live progress, the plan review, and the end-of-run summary.

The console is an observer like the audit log: it attaches through the
lifecycle hooks and never changes what the engine does. Colour and spinners
appear only on a terminal (rich decides); piped output stays plain text,
written by ``PlainConsole`` without importing rich at all (start-up cost).
"""

from __future__ import annotations

import functools
import os
import shlex
import sys
import threading
import time
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any, TypeVar

from runbook._plugin_markers import hookimpl
from runbook.events import Event, RunInfo
from runbook.markup import escape, plain
from runbook.result import RunResult, plural

if TYPE_CHECKING:
    from rich.status import Status

Console = Any
"""A rich Console on a terminal, a ``PlainConsole`` elsewhere (same ``print``)."""

_MARK = {"ok": "[green]✓[/]", "failed": "[red]✗[/]", "warn": "[yellow]![/]",
         "skipped": "[dim]-[/]", "planned": "[cyan]·[/]", "started": "[blue]↻[/]",
         "declined": "[red]✗[/]", "error": "[red]?[/]", "interrupted": "[yellow]■[/]",
         "cancelled": "[yellow]-[/]"}


class _Elapsed:
    """A spinner label that shows how long the step has been running, live."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.started = time.monotonic()

    def __rich__(self) -> str:
        return f"{escape(self.label)} [dim]{time.monotonic() - self.started:.1f}s[/]"


F = TypeVar("F", bound=Callable[..., None])

CLOSED = (BrokenPipeError, ConnectionResetError, ValueError, OSError)
"""What writing to a closed pipe or terminal raises (ValueError: a closed file)."""


class PlainConsole:
    """What a run prints when its output is not a terminal: the markup's text, line
    by line, flushed at once; a broken pipe raises for the caller to handle."""

    is_terminal = False
    color_system: str | None = None

    def __init__(self, file: IO[str] | None = None) -> None:
        self._file = file
        self._lock = threading.Lock()

    @property
    def file(self) -> IO[str]:
        return self._file if self._file is not None else sys.stdout

    def print(self, *objects: Any, sep: str = " ", end: str = "\n",
              markup: bool | None = None, **_looks: Any) -> None:
        """rich's ``print``; its options that only change colours (``highlight``,
        ``style``...) mean nothing in plain text and are accepted and ignored."""
        text = sep.join(plain(o) if isinstance(o, str) and markup is not False else str(o)
                        for o in objects)
        with self._lock:
            self.file.write(text + end)
            self.file.flush()


_RICH_ENV = ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")


def wants_rich(file: IO[str] | None) -> bool:
    """A terminal, or the environment asks rich for colour anyway."""
    if any(os.environ.get(name) for name in _RICH_ENV):
        return True
    stream = file if file is not None else sys.stdout
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def make_console(file: IO[str] | None = None) -> Console:
    if not wants_rich(file):
        return PlainConsole(file)
    from rich.console import Console as RichConsole

    class _Console(RichConsole):
        """rich's Console, except that a broken pipe is an error the caller handles
        (rich's default exits the process with status 1, halfway through a run)."""

        def on_broken_pipe(self) -> None:
            raise BrokenPipeError("the console's output was closed")

    return _Console(file=file, highlight=False, soft_wrap=True)


def _unless_closed(method: F) -> F:
    """Console output never decides a run's fate: once the terminal or pipe is gone
    the observer switches itself off, and the run (audit log, journal) goes on."""

    @functools.wraps(method)
    def guarded(self: ConsoleObserver, *args: Any, **kwargs: Any) -> None:
        if self.off:
            return
        try:
            method(self, *args, **kwargs)
        except CLOSED:
            self.off = True
            self.status = None

    return guarded  # type: ignore[return-value]


class ConsoleObserver:
    """Prints each step as it starts and ends, with elapsed time."""

    def __init__(self, console: Console, *, plan: bool = False) -> None:
        self.console = console
        self.plan = plan
        self.status: Status | None = None
        self.started: dict[str, float] = {}
        self._write_lock = threading.Lock()
        self._status_lock = threading.RLock()
        """A fan-out's hosts finish on worker threads while the engine thread starts the
        next ones: the spinner is replaced and stopped under this lock, never leaked."""
        self.off = False
        """The output went away (a closed pipe or terminal): print nothing more."""

    def _print(self, text: str) -> None:
        console = self.console
        if console.is_terminal or console.color_system is not None:
            console.print(text)
            return
        # Piped output is plain text: skip rich's render pipeline (about half a
        # millisecond a line, two lines a step) and write the markup's text directly.
        with self._write_lock:
            console.file.write(plain(text) + "\n")
            console.file.flush()

    @hookimpl
    @_unless_closed
    def runbook_run_started(self, run: RunInfo) -> None:
        mode = "plan (dry-run: nothing will change)" if run.dry_run else "run"
        self._print(f"[bold]{escape(run.playbook)}[/] {mode} · run {run.run_id} · "
                    f"actor {escape(run.actor)}"
                    + (f" · [yellow]sandbox {escape(run.sandbox)}[/]" if run.sandbox else "")
                    + (f" · reason: {escape(run.reason)}" if run.reason else "")
                    + "".join(f" · {k.replace('_', ' ')}: "
                              + escape(",".join(v) if isinstance(v, list) else str(v))
                              for k, v in run.selection.items()))

    @hookimpl
    @_unless_closed
    def runbook_check_finished(self, run: RunInfo, event: Event) -> None:
        if self.plan:
            return
        kind = event.data.get("kind", "check")
        mark = _MARK.get(event.status or "", "?")
        line = f"  {mark} {kind} {escape(str(event.data.get('check')))}"
        if event.status != "ok" and event.message:
            line += f": {escape(event.message)}"
        self._print(line)

    @hookimpl
    @_unless_closed
    def runbook_step_started(self, run: RunInfo, event: Event) -> None:
        if self.plan or event.step is None:
            return
        self.started[event.step] = time.monotonic()
        label = f"{event.step} · {event.action} on {event.target}"
        if self.console.is_terminal:
            with self._status_lock:
                self._stop_status()  # a fan-out starts one host after another: one spinner
                self.status = self.console.status(_Elapsed(label))
                self.status.start()
        else:
            self._print(f"  → {escape(label)}")

    def _stop_status(self) -> None:
        with self._status_lock:
            if self.status is not None:
                self.status.stop()
                self.status = None

    @hookimpl
    @_unless_closed
    def runbook_step_finished(self, run: RunInfo, event: Event) -> None:
        if self.plan or event.step is None:
            return
        self._stop_status()
        mark = _MARK.get(event.status or "", "?")
        took = f" {event.duration_ms / 1000:.2f}s" if event.duration_ms else ""
        where = f" on {escape(event.host)}" if event.host else ""
        line = (f"  {mark} {escape(event.step)}{where} "
                f"[dim]{event.status}{_how_many(event.data)}{took}[/]")
        if event.status == "skipped" and event.data.get("when"):
            when = str(event.data["when"])
            line += f" [dim]({'' if when.startswith('left out:') else 'when '}{escape(when)})[/]"
        if event.message and event.status in ("failed", "declined", "cancelled"):
            line += f"\n      {escape(event.message)}"
        self._print(line)

    @hookimpl
    @_unless_closed
    def runbook_gate_answered(self, run: RunInfo, event: Event) -> None:
        self._stop_status()
        how = event.data.get("how", "")
        self._print(f"  ? gate at {escape(str(event.step))}: {event.status} ({escape(how)})")

    @hookimpl
    @_unless_closed
    def runbook_rollback_started(self, run: RunInfo, event: Event) -> None:
        self._stop_status()
        cmd = "; ".join(event.data.get("commands") or [shlex.join(event.argv or [])])
        self._print(f"  ↶ rolling back {escape(str(event.step))}: {escape(cmd)}")

    @hookimpl
    @_unless_closed
    def runbook_rollback_finished(self, run: RunInfo, event: Event) -> None:
        mark = _MARK.get(event.status or "", "?")
        line = f"    {mark} rollback of {escape(str(event.step))} {event.status}"
        if event.message:
            line += f": {escape(event.message)}"
        self._print(line)


def _how_many(data: dict[str, Any]) -> str:
    """A fan-out group's host count, or a step's attempts when it needed more than one."""
    hosts, attempts = data.get("hosts"), data.get("attempts") or 0
    if hosts:
        return f" · {hosts} host{'s' if hosts != 1 else ''}"
    return f" after {attempts} attempts" if attempts > 1 else ""


def render_plan(console: Console, result: RunResult) -> None:
    """The dry-run review: the params, then per step its target, exact commands,
    rollback, gate, decision, and what else a reviewer needs (timeouts, retries...)."""
    _print_params(console, result.params)
    checks = [c for c in result.checks if c.kind == "precondition"]
    if checks:
        console.print("[bold]Preconditions[/] (read-only, evaluated live)")
        for c in checks:
            _print_check(console, c)
    console.print("[bold]Steps[/]")
    for n, s in enumerate(result.steps, 1):
        _print_planned_step(console, n, s)
        for c in [c for c in result.checks if c.step == s.id and c.kind == "check"]:
            _print_check(console, c, indent="     ")
    verify = [c for c in result.checks if c.kind == "verify"]
    if verify:
        console.print("[bold]Verify[/] (after the steps)")
        for c in verify:
            console.print(f"   · {escape(c.id)}: {escape(c.probe)} on {escape(c.target)}: "
                          f"{escape(' and '.join(c.expected))}")


def _print_params(console: Console, params: dict[str, Any]) -> None:
    if params:
        console.print("[bold]Params[/] " + escape(", ".join(
            f"{n}=<secret>" if v == "***" else f"{n}={v!r}" for n, v in params.items())))


def _print_planned_step(console: Console, n: int, s: Any) -> None:
    kind = "[yellow]MUTATES[/]" if s.mutating else "read-only"
    title = f" — {escape(s.title)}" if s.title else ""
    console.print(f" {n:>2}. [bold]{escape(s.id)}[/]{title}  {escape(s.action)} on "
                  f"{escape(s.target)}  {kind}" + ("  [blue]background[/]" if s.background else ""))
    if s.when:
        label = "" if s.when.startswith("left out:") else "when: "
        console.print(f"     {label}{escape(s.when)}")
    for cmd in s.commands:
        console.print(f"     $ {escape(cmd)}")
    for label, value in (("gate", s.gate), ("rollback", s.rollback)):
        if value:
            console.print(f"     {label}: {escape(value)}")
    for line in s.review:
        console.print(f"     {escape(line)}")
    _print_preview(console, getattr(s, "preview", None))
    if s.status == "skipped":
        console.print("     [dim]skipped[/]")
    elif s.status == "ok" and s.result is not None:
        console.print(f"     [dim]result: {escape(_short(s.result))}[/]")
    elif s.status == "failed":
        console.print(f"     [red]failed:[/] {escape(s.error or '')}")


def _print_preview(console: Console, preview: str | None) -> None:
    """What a mutating step would change (``Action.preview``), as the plan read it."""
    if preview:
        console.print("     would change:")
        for line in preview.splitlines():
            console.print(f"       {escape(line)}", highlight=False)


def _print_check(console: Console, c: Any, indent: str = "   ") -> None:
    mark = _MARK.get(c.status, "?")
    observed = ", ".join(f"{k} = {v!r}" for k, v in (c.observed or {}).items())
    console.print(f"{indent}{mark} {escape(c.id)}: {escape(' and '.join(c.expected))}"
                  + (f"  [dim](observed {escape(observed)})[/]" if observed else ""))
    if c.status != "ok" and c.message:
        console.print(f"{indent}  {escape(c.message)}")


def _short(value: Any, limit: int = 160) -> str:
    text = str(value)
    return text if len(text) <= limit else text[:limit] + "…"


def render_summary(console: Console, result: RunResult) -> None:
    """The end of a run: outcome, findings, rollbacks and what is left to do by hand."""
    if result.findings:
        console.print("[bold]Findings[/]")
        colours = {"critical": "red", "warning": "yellow", "info": "blue"}
        for f in result.findings:
            console.print(f"  [{colours.get(f.severity, 'white')}]{f.severity.upper()}[/] "
                          f"{escape(f.title)}")
            if f.evidence:
                console.print(f"      evidence: {escape(_short(f.evidence, 300))}")
            if f.next_step:
                console.print(f"      next: {escape(f.next_step)}")
    if result.manual:
        console.print("[bold red]Left to do by hand[/] (these rollbacks did not complete):")
        for cmd in result.manual:
            console.print(f"    $ {escape(cmd)}")
    colour = "green" if result.exit_code == 0 else "red"
    counts: dict[str, int] = {}
    for s in result.steps:
        counts[s.status] = counts.get(s.status, 0) + 1
    tally = ", ".join(f"{n} {status}" for status, n in counts.items()) or "no steps"
    console.print(
        f"[bold {colour}]{result.outcome}[/] · exit {result.exit_code} · steps: {tally} · "
        f"{plural(len(result.rollbacks), 'rollback')} · {result.duration_ms / 1000:.2f}s")
    if result.error and result.exit_code != 0:
        console.print(f"  {escape(result.error)}")
    if result.audit_log:
        flag = "--state" if "://" in result.audit_log else "--audit-log"
        console.print(f"[dim]audit: runbook audit show {result.run_id} "
                      f"{flag} {escape(result.audit_log)}[/]")
