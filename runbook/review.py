"""What a reviewer of a plan needs besides the commands, one line each.

The plan shows the exact commands; a reviewer also has to see how long a step
may take and how often it is tried (timeout, retry, ``until``), what it
restores, the checks that decide whether it worked and what its commands run
with (env, cwd, stdin). Values pass through the run's redactor.

``plan_markdown`` writes the whole dry-run as Markdown for a change ticket:
params, targets, each step with its commands, gate, rollback and checks, and
the live answers of the read-only probes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import BaseModel

    from runbook.models import Playbook, Step, Target
    from runbook.redact import Redactor
    from runbook.result import CheckResult, RunResult, StepResult

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


# --- the plan for a change ticket: ``runbook plan --format markdown`` ---------------------

_SECRETISH = re.compile(r"pass|secret|token|key", re.I)
_MARK = {"ok": "✅", "failed": "❌", "warn": "⚠️", "error": "❓", "skipped": "⏭️"}
LIVE_ANSWER = 300
"""Characters of a read-only step's live answer the Markdown plan shows."""


def code(text: object) -> str:
    """Inline code that survives backticks and table pipes in the text."""
    value = str(text).replace("\n", " ").replace("|", "\\|")
    fence = "``" if "`" in value else "`"
    return f"{fence} {value} {fence}" if fence == "``" else f"`{value}`"


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", "<br>")


def plan_markdown(result: RunResult, playbook: Playbook, targets: Mapping[str, Target],
                  *, plan_file: str | None = None) -> str:
    """The dry-run as a Markdown document to attach to a change ticket."""
    out = [f"# Plan: {playbook.title or playbook.name} ({code(playbook.name)})", ""]
    out += _head(result, playbook, plan_file)
    if playbook.summary:
        out += [playbook.summary.strip(), ""]
    out += _params(result) + _targets(playbook, targets) + _body(result)
    out += _approval(result, playbook, plan_file)
    return "\n".join(out).rstrip() + "\n"


def _body(result: RunResult) -> list[str]:
    """Preconditions, steps (with their checks), verify and findings."""
    out: list[str] = []
    pre = [c for c in result.checks if c.kind == "precondition"]
    if pre:
        out += ["## Preconditions (read-only, evaluated live)", ""]
        out += [_check_line(c) for c in pre] + [""]
    out += ["## Steps", ""]
    for n, step in enumerate(result.steps, 1):
        out += _step(n, step, [c for c in result.checks if c.step == step.id
                               and c.kind == "check"])
    verify = [c for c in result.checks if c.kind == "verify"]
    if verify:
        out += ["## Verify (after the steps)", ""] + [_check_line(c) for c in verify] + [""]
    if result.findings:
        out += ["## Findings", ""] + [f"- **{f.severity}** {f.title}" for f in result.findings]
        out.append("")
    return out


def _head(result: RunResult, playbook: Playbook, plan_file: str | None) -> list[str]:
    rows = [("playbook", f"{code(playbook.origin)} (sha256 {code(playbook.sha256[:12])})"),
            ("source", _cell(playbook.source) if playbook.source else ""),
            ("planned by", f"{_cell(result.actor)} at {result.started_at} "
                           f"(run {code(result.run_id)})"),
            ("reason", _cell(result.reason or "")),
            ("dry-run outcome", result.outcome + (f": {_cell(result.error)}" if result.error
                                                  else ""))]
    if plan_file:
        import json
        from pathlib import Path

        digest = json.loads(Path(plan_file).read_text(encoding="utf-8")).get("sha256", "")
        rows.append(("plan file", f"{code(plan_file)} (sha256 {code(digest)})"))
    return ["| | |", "|---|---|"] + [f"| {k} | {v} |" for k, v in rows if v] + [""]


def _params(result: RunResult) -> list[str]:
    if not result.params:
        return []
    rows = [f"| {code(n)} | {'*secret*' if v == '***' else code(repr(v))} |"
            for n, v in result.params.items()]
    return ["## Params", "", "| name | value |", "|---|---|", *rows, ""]


def _targets(playbook: Playbook, targets: Mapping[str, Target]) -> list[str]:
    merged = {**playbook.effective_targets(), **targets}
    rows = []
    for name, t in merged.items():
        where = ", ".join(t.hosts or []) or " ".join(
            f"{k}={v}" for k, v in t.settings().items() if not _SECRETISH.search(k))
        rows.append(f"| {code(name)} | {t.connection} | {_cell(where) or '-'} |")
    return ["## Targets", "", "| name | connection | where |", "|---|---|---|", *rows, ""]


def _check_line(c: CheckResult) -> str:
    observed = ", ".join(f"{k} = {v!r}" for k, v in (c.observed or {}).items())
    line = f"- {_MARK.get(c.status, '·')} {code(c.id)} {c.probe} on {code(c.target)}: " \
           f"{code(' and '.join(c.expected))}"
    if c.ok is None:
        line += " (not evaluated)"
    if observed:
        line += f" — observed {code(observed)}"
    if c.status != "ok" and c.message:
        line += f" — {c.message}"
    return line


def _step(n: int, s: StepResult, checks: list[CheckResult]) -> list[str]:
    kind = "**mutates**" if s.mutating else "read-only"
    out = [f"### {n}. {code(s.id)}" + (f" — {s.title}" if s.title else ""), "",
           f"{code(s.action)} on {code(s.target)} · {kind}"
           + (" · background" if s.background else ""), ""]
    out += _facts(s) + [_check_line(c) for c in checks] + _outcome(s)
    if s.commands:
        fence = "````" if any("```" in c for c in s.commands) else "```"
        out += ["", fence + "console", *[f"$ {c}" for c in s.commands], fence]
    return [*out, ""]


def _facts(s: StepResult) -> list[str]:
    out = [f"- when: {code(s.when)}"] if s.when else []
    if s.gate:
        out.append(f"- **gate**: {s.gate.removeprefix('asks: ')}")
    if s.rollback:
        out.append(f"- rollback: {code(s.rollback)}")
    return out + [f"- {line}" for line in s.review]


def _outcome(s: StepResult) -> list[str]:
    """What the dry-run learnt of the step: skipped, a live answer, a failure."""
    if s.status == "skipped":
        return ["- skipped (its `when` is false)"]
    if s.status == "ok" and s.result is not None:
        answer = str(s.result)
        cut = answer[:LIVE_ANSWER] + (" …" if len(answer) > LIVE_ANSWER else "")
        return [f"- live answer: {code(cut)}"]
    if s.status == "failed":
        return [f"- **failed in the dry-run**: {s.error or ''}"]
    return []


def _approval(result: RunResult, playbook: Playbook, plan_file: str | None) -> list[str]:
    rule = ("required before it runs" if playbook.approval.required
            else "optional") + ("; its author may approve it" if playbook.approval.self_approval
                                else "; by someone other than its author")
    out = ["## Approval", "", f"Approval is {rule}."]
    if plan_file:
        out += ["", "```console", f'$ runbook plan approve {plan_file} --reason "TICKET"',
                f"$ runbook run {playbook.origin} --plan {plan_file}", "```"]
    return out
