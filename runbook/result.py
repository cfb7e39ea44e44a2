"""The typed result of a run: what each step, check and rollback did.

This is what ``runbook.run`` returns, what ``--json`` prints, and what the
console summarises. Everything in it is already redacted.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_NEEDS_ATTENTION = 3
EXIT_DECLINED = 4
EXIT_LOCKED = 5
EXIT_PRECONDITION = 6
EXIT_COULD_NOT_CHECK = 7

OUTCOME_EXIT = {
    "succeeded": EXIT_OK,
    "planned": EXIT_OK,
    "failed": EXIT_FAILED,
    "rolled-back": EXIT_FAILED,
    "needs-attention": EXIT_NEEDS_ATTENTION,
    "declined": EXIT_DECLINED,
    "interrupted": EXIT_DECLINED,
    "precondition-failed": EXIT_PRECONDITION,
    "could-not-check": EXIT_COULD_NOT_CHECK,
}
"""Exit codes: 0 ok, 1 failed (rolled back), 2 usage, 3 needs attention, 4 declined or
interrupted, 5 locked, 6 a precondition does not hold, 7 a precondition could not be
checked (its probe failed or its expression raised); nothing changed for 6 and 7."""


def plural(count: int, word: str) -> str:
    """``1 rollback``, ``2 rollbacks``."""
    return f"{count} {word}" + ("" if count == 1 else "s")


@dataclass
class CheckResult:
    id: str
    kind: str  # precondition, check, verify
    probe: str
    target: str
    ok: bool | None  # None: not evaluated (offline dry-run)
    expected: list[str]
    observed: Any = None
    message: str | None = None
    status: str = "ok"  # ok, failed, warn, skipped, error (could not check)
    attempts: int = 1
    step: str | None = None


@dataclass
class Finding:
    severity: str
    title: str
    evidence: Any = None
    next_step: str | None = None
    step: str | None = None


@dataclass
class StepResult:
    id: str
    action: str
    target: str
    mutating: bool
    status: str = "pending"  # ok, failed, skipped, planned, started, declined
    commands: list[str] = field(default_factory=list)
    argv: list[list[str]] = field(default_factory=list)
    rc: int | None = None
    duration_ms: float = 0.0
    result: Any = None
    error: str | None = None
    when: str | None = None  # the decision, e.g. "true", "false: skipped", "waits on x"
    gate: str | None = None
    rollback: str | None = None
    attempts: int = 0
    background: bool = False
    title: str | None = None
    hosts: dict[str, dict[str, Any]] = field(default_factory=dict)
    """A fan-out step's outcome on each host: status, rc, result, error, duration_ms."""
    preview: str | None = None
    """In a plan: what the mutating step would change (a diff), read live."""
    review: list[str] = field(default_factory=list)
    """What a reviewer of the plan needs besides the commands: timeout, retry, until,
    restores, checks, env/cwd/stdin ("label: value" lines)."""


@dataclass
class RollbackResult:
    step: str
    action: str
    target: str
    commands: list[str]
    status: str  # ok, failed
    error: str | None = None
    duration_ms: float = 0.0


@dataclass
class RunResult:
    run_id: str
    playbook: str
    outcome: str
    exit_code: int
    dry_run: bool
    actor: str
    reason: str | None
    params: dict[str, Any]
    started_at: str
    duration_ms: float = 0.0
    steps: list[StepResult] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)
    rollbacks: list[RollbackResult] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    manual: list[str] = field(default_factory=list)
    error: str | None = None
    audit_log: str | None = None

    @property
    def ok(self) -> bool:
        return self.exit_code == EXIT_OK

    def step(self, step_id: str) -> StepResult:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise KeyError(step_id)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Abort(Exception):
    """Leaves a run's step loop: ``kind`` is failed, declined, attention or interrupted;
    ``rollback`` False leaves what was done in place (the run stays resumable)."""

    def __init__(self, kind: str, error: str, *, rollback: bool = True) -> None:
        super().__init__(error)
        self.kind = kind
        self.error = error
        self.rollback = rollback
