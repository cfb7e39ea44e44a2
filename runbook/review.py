"""What a reviewer of a plan needs besides the commands, one line each.

The plan shows the exact commands; a reviewer also has to see how long a step
may take and how often it is tried (timeout, retry, ``until``), what it
restores, the checks that decide whether it worked and what its commands run
with (env, cwd, stdin). Values pass through the run's redactor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import BaseModel

    from runbook.models import Playbook, Step
    from runbook.redact import Redactor

SECRET_PLACEHOLDER = "<secret>"
"""What a plan uses for a secret param that was not given (a plan needs none)."""


def seconds(value: float) -> str:
    return f"{value:g}s"


def review_lines(step: Step, playbook: Playbook, args: BaseModel | None,
                 redact: Redactor) -> list[str]:
    lines: list[str] = []
    timeout = step.timeout or playbook.defaults.timeout
    if timeout:
        lines.append(f"timeout: {seconds(timeout)}")
    if step.retry is not None:
        r = step.retry
        lines.append(f"retry: up to {r.attempts} attempts, {seconds(r.delay)} apart"
                     + (f" (x{r.backoff:g} each time)" if r.backoff != 1 else ""))
    if step.until:
        lines.append(f"until: {step.until}")
    if step.restores:
        lines.append(f"restores: {step.restores} (its rollback is no longer needed)")
    if step.on_fail != "rollback":
        lines.append(f"on_fail: {step.on_fail}")
    for check in step.checks:
        lines.append(f"check: {check.probe} -> {' and '.join(check.that)}"
                     + (f" (retry {check.retry.attempts}x)" if check.retry else ""))
    lines += [f"{name}: {redact(value)!r}" for name, value in _exec_settings(args)]
    return [redact.text(line) for line in lines]


def _exec_settings(args: BaseModel | None) -> list[tuple[str, Any]]:
    if args is None:
        return []
    return [(name, getattr(args, name)) for name in ("env", "cwd", "stdin")
            if getattr(args, name, None)]
