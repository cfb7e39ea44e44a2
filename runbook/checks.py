"""Checks: a read-only probe plus assertions, as preconditions, post-conditions and verify.

A check never changes anything, so it also runs in a dry-run (unless offline).
Its result says what was expected and what was observed; ``on_fail: warn``
turns a failure into a finding instead of a stop. Retrying (the playbook's
``retry``) is shared with steps through ``retrying``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from runbook.errors import CheckFailed, CommandError, RunbookError, StepError
from runbook.events import Event
from runbook.models import Check, Step
from runbook.recorder import Recorder
from runbook.result import CheckResult
from runbook.templating import Templates

if TYPE_CHECKING:
    from pydantic import BaseModel

    from runbook.actions import Action, ActionContext
    from runbook.plugins import Registry

_OBSERVED = re.compile(r"(?<![\w.'\"])[A-Za-z_]\w*(?:\.[A-Za-z_]\w*|\[[^\]\[]+\])+")

ContextFor = Callable[[Step | None, str, str], "ActionContext"]
"""(step, target, id) -> the ActionContext a probe runs with."""
RenderArgs = Callable[["Action[Any]", Mapping[str, Any], str, str], "BaseModel"]
"""(action, raw args, id, field) -> validated args."""


class Checks:
    """Evaluates checks and records each result once."""

    def __init__(self, *, registry: Registry, templates: Templates, recorder: Recorder,
                 render_args: RenderArgs, context_for: ContextFor, default_target: str,
                 skip_live: bool) -> None:
        self.registry = registry
        self.templates = templates
        self.recorder = recorder
        self.render_args = render_args
        self.context_for = context_for
        self.default_target = default_target
        self.skip_live = skip_live
        """An offline dry-run: no probe runs at all."""

    def run(self, check: Check, kind: str, check_id: str, *, step: Step | None = None,
            default_target: str | None = None, live: bool = True) -> CheckResult:
        target = check.target or default_target or self.default_target
        cid = check.id or check_id
        res = CheckResult(id=cid, kind=kind, probe=check.probe, target=target, ok=None,
                          expected=list(check.that), step=step.id if step else None)
        self.recorder.result.checks.append(res)
        action = self.registry.action(check.probe)
        probed: list[Any] = []
        try:
            args = self.render_args(action, check.with_, cid, "with")
            if self.skip_live or not live:
                res.status = "skipped"
                res.message = "not evaluated (offline)" if live else "evaluated after the run"
                self._finished(res)
                return res
            self._evaluate(check, action, args, self.context_for(step, target, cid), res, probed)
            res.ok, res.status = True, "ok"
        except CheckFailed as exc:
            self._failed(check, res, exc)
        except (CommandError, StepError, RunbookError) as exc:  # the probe or `that` broke
            self._failed(check, res, exc, evaluated=False)
        self.recorder.ctx["checks"][cid] = {"ok": res.ok,
                                            "result": probed[0] if probed else None}
        self._finished(res)
        return res

    def _evaluate(self, check: Check, action: Action[Any], args: BaseModel,
                  actx: ActionContext, res: CheckResult, probed: list[Any]) -> None:
        def attempt() -> Any:
            res.attempts += 1
            value = action.run(args, actx)
            probed[:] = [value]
            failed = self._assert(check, value, res)
            if failed is not None:
                raise CheckFailed(failed, check=res.id)
            return value

        res.attempts = 0
        if check.retry is None:
            attempt()
        else:
            retrying(check.retry, (CommandError, CheckFailed, StepError), attempt)

    def _failed(self, check: Check, res: CheckResult, exc: Exception, *,
                evaluated: bool = True) -> None:
        """``evaluated`` False: the check could not be evaluated at all (status
        ``error``), which is not the same as a check that does not hold."""
        res.ok = False
        res.status = "warn" if check.on_fail == "warn" else (
            "failed" if evaluated else "error")
        detail = self.recorder.redact.text(str(exc))
        if not evaluated:  # the check's own message says what it means when it does not hold
            res.message = f"could not check: {detail}"
        else:
            res.message = f"{check.message} ({detail})" if check.message else detail
        if check.on_fail == "warn":
            self.recorder.add_finding(
                severity=check.severity,
                title=(check.message if evaluated else None) or res.message or detail,
                evidence={"probe": check.probe, "expected": check.that,
                          "observed": res.observed}, step=res.step)

    def _assert(self, check: Check, value: Any, res: CheckResult) -> str | None:
        """None if every ``that`` holds, else what failed with the observed values."""
        scope = {**self.recorder.ctx, "result": value}
        res.observed = self.recorder.redact(observe(self.templates, check.that, scope))
        for expr in check.that:
            if not self.templates.evaluate(expr, scope, step=res.id, field="that"):
                seen = ", ".join(f"{k} = {v!r}" for k, v in (res.observed or {}).items())
                return f"expected {expr}" + (f"; observed {seen}" if seen else "")
        return None

    def _finished(self, res: CheckResult) -> None:
        self.recorder.emit("runbook_check_finished", Event(
            "check.finished", step=res.step or res.id, action=res.probe, target=res.target,
            status=res.status, message=res.message,
            data={"check": res.id, "kind": res.kind, "expected": res.expected,
                  "observed": res.observed, "attempts": res.attempts}))


def retrying(spec: Any, errors: tuple[type[BaseException], ...],
             attempt: Callable[[], Any]) -> Any:
    """Run attempt under tenacity with the playbook's retry settings."""
    import tenacity

    wait = tenacity.wait_exponential(multiplier=spec.delay, exp_base=spec.backoff,
                                     min=spec.delay,
                                     max=spec.max_delay if spec.max_delay else float("inf"))
    retry = tenacity.Retrying(stop=tenacity.stop_after_attempt(spec.attempts), wait=wait,
                              retry=tenacity.retry_if_exception_type(errors), reraise=True)
    return retry(attempt)


def observe(templates: Templates, exprs: list[str], scope: Mapping[str, Any]) -> dict[str, Any]:
    """The values an assertion looked at (``result.total_lag`` and the like)."""
    seen: dict[str, Any] = {}
    for expr in exprs:
        for match in _OBSERVED.finditer(expr):
            name = match.group(0)
            if name in seen or len(seen) >= 6:
                continue
            try:
                value = templates.evaluate(name, scope)
            except RunbookError:
                continue
            if callable(value):
                continue
            text = repr(value)
            seen[name] = value if len(text) <= 200 else text[:200] + "..."
    return seen
