"""Human decisions: gates before a step, re-running a step after a crash, interrupts.

Every answer is audited (``gate.answered``) with how it was given: ``--yes``,
the terminal, or no terminal at all (declined). Input typed ahead before a
question was shown is discarded, so a stray Enter pressed while a long step
ran never answers a question the operator has not read.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from runbook.errors import GateDeclined
from runbook.events import Event
from runbook.interrupts import ask_interrupt
from runbook.recorder import Recorder

if TYPE_CHECKING:
    from runbook.approval import PlanApproval

Prompt = Callable[[str, str], bool]
"""Asks a person: (step id, message) -> approved?"""


class Gates:
    """Asks a person (or answers for them with ``--yes``, or declines without a terminal)."""

    def __init__(self, recorder: Recorder, *, yes: bool, interactive: bool,
                 prompt: Prompt | None, dry_run: bool,
                 approval: PlanApproval | None = None) -> None:
        self.recorder = recorder
        self.approval = approval
        self.yes = yes
        self.interactive = interactive
        self.prompt = prompt or terminal_prompt
        self.dry_run = dry_run

    def ask(self, step_id: str, message: str) -> bool:
        """A human decision, audited. Also used by flow.manual."""
        if self.yes:
            answer, how = True, "--yes"
        elif self.interactive:
            try:
                self.recorder.emit("runbook_gate_asked", Event("gate.asked", step=step_id,
                                                               message=message))
                answer, how = self.prompt(step_id, message), "terminal"
            except EOFError:
                answer, how = False, "terminal closed"
        else:
            answer, how = False, "no terminal (use --yes to approve)"
        self.recorder.gate_answered(step_id, "approved" if answer else "declined", message,
                                    how=how)
        return answer

    def gate(self, step_id: str, message: str, commands: list[str]) -> str:
        """The gate before a step: what the plan shows, or GateDeclined if refused."""
        if self.dry_run:
            return f"asks: {message}"
        if self.approval is not None and self.approval.covers(step_id, message, commands):
            self.recorder.gate_answered(step_id, "approved", message,
                                        **self.approval.audit_data())
            return message
        if not self.ask(step_id, f"{message}\n  will run: " + "\n  will run: ".join(commands)):
            raise GateDeclined(f"declined at the gate of step {step_id!r}", step=step_id)
        return message

    def plan_approved(self) -> None:
        """At the start of a run of an approved plan: who approved it, in the audit log
        (whose ``actor`` is the one running it)."""
        if self.approval is not None and not self.dry_run:
            a = self.approval
            self.recorder.gate_answered("plan-approval", "approved",
                                        f"plan {a.plan_sha256[:12]} approved by {a.approver}: "
                                        f"{a.reason}", **a.audit_data())

    def may_rerun(self, step_id: str, idempotent: bool, host: str | None = None) -> bool:
        """A mutating step (or one host of it) in flight when the runner died, with no
        checks to tell whether it happened: run it again? With ``--yes`` only when the
        action is idempotent; on a terminal the operator decides; otherwise no."""
        where, there = (f" on {host}", " there") if host else ("", "")
        question = (f"step {step_id!r} was running{where} when the runner stopped and has no "
                    f"checks to tell whether it happened{there}. Run it again{where}?")
        if self.yes:
            return idempotent
        if self.interactive:
            return self.ask(step_id, question)
        return False

    def interrupted(self, anything_to_undo: bool, *, can_pause: bool = True) -> str:
        """Ctrl-C: ``rollback``, ``pause`` or ``leave``; a person decides on a terminal.
        ``can_pause`` False (a resume could not work) leaves pause out of the offer."""
        decision, how = "rollback", "no terminal: rolling back"
        if self.interactive and anything_to_undo:
            discard_typeahead()
            decision, how = ask_interrupt(pause=can_pause), "terminal"
        self.recorder.gate_answered(
            "interrupt", decision, "interrupted: roll back, pause (resume later) or leave as is?",
            how=how, decision=decision)
        return decision


def discard_typeahead() -> None:
    """Drop what was typed before the question appeared (a terminal only)."""
    with contextlib.suppress(Exception):
        if sys.stdin.isatty():
            import termios

            termios.tcflush(sys.stdin.fileno(), termios.TCIFLUSH)


YES, NO = ("y", "yes"), ("", "n", "no")


def terminal_prompt(step_id: str, message: str) -> bool:
    """Ask on the terminal; Enter is the default shown (no); anything but yes or no
    asks again rather than choosing for the operator."""
    discard_typeahead()
    sys.stderr.write(f"\n? [{step_id}] {message}\n  Proceed? [y/N] ")
    while True:
        sys.stderr.flush()
        line = sys.stdin.readline()
        if not line:
            raise EOFError
        answer = line.strip().lower()
        if answer in YES or answer in NO:
            return answer in YES
        sys.stderr.write(f"  {line.strip()!r} is neither yes nor no. Proceed? [y/N] ")
