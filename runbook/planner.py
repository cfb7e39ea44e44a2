"""The planner: a step, rendered against what is known so far, as a typed ``PlannedStep``.

Planning decides ``when``, renders the arguments for every host the step
runs on, the exact commands, the gate, and whether the step is executed or
only planned (a dry-run plans mutating steps and runs the read-only ones).
An argument that needs the result of an earlier step that was only planned
is a ``WaitsOn`` (the expression and the steps), never an invented value.
A dry-run records planned steps; a run executes them: one code path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from runbook.commandline import OptionGuard
from runbook.errors import ArgumentsInvalid, StepError, TemplateError
from runbook.executors.kinds import kind_of
from runbook.models import Step
from runbook.templating import Templates, referenced_names

if TYPE_CHECKING:
    from pydantic import BaseModel

    from runbook.actions import Action
    from runbook.connections import Connections
    from runbook.executors.base import Executor
    from runbook.plugins import Registry
    from runbook.redact import Redactor


@dataclass(frozen=True)
class WaitsOn:
    """A value that only exists once earlier (planned, not run) steps have run."""

    expression: str
    steps: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.expression} (waits on {', '.join(self.steps)})"


@dataclass(frozen=True)
class HostPlan:
    """The step on one host (a single target is a group of one): args and commands."""

    name: str
    args: BaseModel
    commands: tuple[str, ...]
    argv: tuple[tuple[str, ...], ...] = ()
    """The redacted argv as sent to the host (only when the step will run)."""
    preview: str | None = None
    """In a plan: what the mutating step would change (``Action.preview``), redacted."""
    guard: OptionGuard = field(default_factory=OptionGuard)
    """Values that may not become options in any command the action runs here."""


@dataclass(frozen=True)
class PlannedStep:
    """One step, planned: what a dry-run shows and what a run executes."""

    step: Step
    action: Action[Any]
    target: str
    group: bool
    hosts: tuple[HostPlan, ...] = ()
    waits_on: WaitsOn | None = None
    gate: str | None = None
    asks: bool = False
    """The gate is asked before the step (always-gated actions ask while they run)."""
    execute: bool = True
    """False: only planned (a dry-run of a mutating step, an offline plan, a WaitsOn)."""
    batches: tuple[tuple[str, ...], ...] = ()
    max_fail: int = 0
    rollback: str | None = None
    """In a plan: what would undo the step."""

    @property
    def id(self) -> str:
        return self.step.id

    @property
    def mutating(self) -> bool:
        return self.action.mutating

    @property
    def commands(self) -> list[str]:
        if self.waits_on is not None:
            return [str(self.waits_on)]
        if self.group:
            return [f"[{h.name}] {c}" for h in self.hosts for c in h.commands]
        return [c for h in self.hosts for c in h.commands]

    @property
    def argv(self) -> list[list[str]]:
        return [list(a) for h in self.hosts[:1] for a in h.argv] if not self.group else []

    @property
    def preview(self) -> str | None:
        shown = [(h.name, h.preview) for h in self.hosts if h.preview]
        if not self.group:
            return shown[0][1] if shown else None
        return "\n".join(f"[{name}]\n{text}" for name, text in shown) or None

    def host(self, name: str) -> HostPlan:
        return next(h for h in self.hosts if h.name == name)

    def record(self) -> dict[str, Any]:
        """The plain-data form a plan file stores."""
        return {"action": self.action.name, "target": self.target, "group": self.group,
                "mutating": self.mutating, "execute": self.execute,
                "commands": self.commands, "gate": self.gate, "rollback": self.rollback,
                "waits_on": None if self.waits_on is None else {
                    "expression": self.waits_on.expression,
                    "steps": list(self.waits_on.steps)},
                **({"preview": self.preview} if self.preview else {})}


def describe_commands(action: Action[Any], args: BaseModel, executor: Executor | None,
                      redact: Redactor) -> list[str]:
    """The commands as a person reads them (redacted), or the action's own description."""
    if action.in_engine or executor is None:
        return [redact.text(action.describe(args))]
    return [redact.text(executor.describe(redact.argv(argv)))
            for argv in action.commands(args)]


@dataclass
class Planner:
    """Plans steps against the run's context; remembers what was only planned."""

    registry: Registry
    templates: Templates
    ctx: dict[str, Any]
    connections: Connections
    redact: Redactor
    dry_run: bool = False
    offline: bool = False
    expected: Mapping[str, list[str]] = field(default_factory=dict)
    unresolved: dict[str, str] = field(default_factory=dict)
    """Names (a register, ``steps.<id>``) whose value a planned step would produce."""
    skips: Mapping[str, str] = field(default_factory=dict)
    """Steps ``--tags``/``--skip-tags``/``--start-at`` leave out, with why."""

    def when(self, step: Step) -> tuple[bool | None, str]:
        """The ``when`` decision and how the plan shows it; None: decided at run time."""
        from runbook.checks import observe

        if step.id in self.skips:
            return False, f"left out: {self.skips[step.id]}"
        assert step.when is not None
        try:
            decision = bool(self.templates.evaluate(step.when, self.ctx, step=step.id,
                                                    field="when"))
        except TemplateError:
            waits = self.waits_on("{{ " + step.when + " }}")
            if self.dry_run and waits:
                return None, f"{step.when} (decided at run time: waits on {', '.join(waits)})"
            raise
        seen = self.redact(observe(self.templates, [step.when], self.ctx))
        return decision, f"{step.when} -> {str(decision).lower()}" + (
            f" (observed {', '.join(f'{k} = {v!r}' for k, v in seen.items())})" if seen else "")

    def plan(self, step: Step) -> PlannedStep:
        """The step rendered for every host it runs on (StepError/TemplateError if it
        cannot be, or if it differs from the reviewed plan)."""
        action = self.registry.action(step.action)
        target = self.connections.target_name(step.target)
        if step.hosts is not None:
            planned = self._runtime(step, action, target)
        elif self.connections.is_group(target):
            planned = self._group(step, action, target)
        else:
            planned = self._single(step, action, target)
        expected = self.expected.get(step.id)
        if expected is not None and planned.execute and expected != planned.commands:
            raise StepError(f"step {step.id!r} would run {planned.commands}, but the reviewed "
                            f"plan says {expected}; make a new plan", step=step.id)
        return planned

    def _single(self, step: Step, action: Action[Any], target: str) -> PlannedStep:
        args, guard = self.guarded_args(action, step.with_, step.id, "with", may_wait=True)
        if isinstance(args, WaitsOn):
            return PlannedStep(step, action, target, False, waits_on=args, execute=False)
        executor = None if action.in_engine else self.connections.executor(target)
        execute = not (self.dry_run and (action.mutating or action.in_engine or action.waits
                                         or self.offline))
        argv = () if executor is None or self.dry_run else tuple(
            tuple(self.redact.argv(executor.wire_argv(a))) for a in action.commands(args))
        host = HostPlan(target, args, tuple(describe_commands(action, args, executor,
                                                              self.redact)), argv,
                        self.preview(step, action, args, executor), guard)
        gate = step.confirm or (action.summary if action.always_gated else None)
        return PlannedStep(step, action, target, False, (host,), gate=gate,
                           asks=gate is not None and (not action.always_gated or self.dry_run),
                           execute=execute)

    def _runtime(self, step: Step, action: Action[Any], target: str) -> PlannedStep:
        """A fan-out over ``hosts`` named at run time; in a plan, a WaitsOn while an
        earlier planned step decides them."""
        raw = step.hosts
        try:
            names = self.templates.render(raw, self.ctx, step=step.id, field="hosts")
        except TemplateError:
            waits = self.waits_on(raw)
            if self.dry_run and waits:
                expr = str(raw).strip().removeprefix("{{").removesuffix("}}").strip()
                return PlannedStep(step, action, target, True, execute=False,
                                   waits_on=WaitsOn(f"hosts: from {expr}", tuple(waits)))
            raise
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise StepError(f"hosts must render to a list of host names, got {names!r}",
                            step=step.id)
        if not names:
            return PlannedStep(step, action, target, True)
        return self._group(step, action, target, self.runtime_members(target, names))

    def runtime_members(self, target: str, names: list[str]) -> list[str]:
        """Host names known at run time as targets: each not already declared inherits
        ``target``'s settings, as a bare name in a group does."""
        from runbook.models import Target

        base = self.connections.targets[target]
        kind = kind_of(self.registry, base.connection)
        for name in names:
            if name in self.connections.targets:
                continue
            inherited = base.model_dump(exclude={"hosts"}, exclude_none=True, by_alias=True)
            if kind is None or kind.reaches_hosts:
                inherited["host"] = name
            made = Target.model_validate(inherited)
            self.connections.targets[name] = made
            self.ctx["targets"].setdefault(name, {"name": name, "connection": made.connection,
                                                  "vars": made.vars, "hosts": None})
        return list(dict.fromkeys(names))

    def _group(self, step: Step, action: Action[Any], target: str,
               names: list[str] | None = None) -> PlannedStep:
        from runbook.fanout import batches, failure_budget

        if step.background or action.in_engine:
            raise StepError(f"{step.action} cannot fan out over group {target!r}",
                            step=step.id)
        names = self.members(target) if names is None else names
        try:
            plan = batches(names, step.serial)
            budget = failure_budget(step.max_fail, len(names))
        except ValueError as exc:
            raise StepError(str(exc), step=step.id) from exc
        hosts = tuple(self._member(step, action, name) for name in names)
        return PlannedStep(step, action, target, True, hosts, gate=step.confirm,
                           asks=step.confirm is not None,
                           execute=not (self.dry_run and (action.mutating or self.offline)),
                           batches=tuple(tuple(b) for b in plan), max_fail=budget)

    def _member(self, step: Step, action: Action[Any], name: str) -> HostPlan:
        scope = {**self.ctx, "target": self.ctx["targets"][name]}
        args, guard = self.guarded_args(action, step.with_, step.id, "with", scope=scope)
        assert not isinstance(args, WaitsOn)
        executor = self.connections.executor(name)
        argv = tuple(tuple(self.redact.argv(executor.wire_argv(a))) for a in action.commands(args))
        return HostPlan(name, args, tuple(describe_commands(action, args, executor,
                                                            self.redact)), argv,
                        self.preview(step, action, args, executor), guard)

    def preview(self, step: Step, action: Action[Any], args: BaseModel,
                executor: Executor | None) -> str | None:
        """In a live plan, what a mutating step would change (its action's ``preview``,
        read-only, like a probe), redacted; a failure to read it is shown, not raised."""
        if not (self.dry_run and not self.offline and action.mutating and executor
                is not None and action.has_preview()):
            return None
        from runbook.actions import ActionContext
        from runbook.errors import RunbookError

        try:
            text = action.preview(args, ActionContext(executor=executor, step=step.id,
                                                      timeout=step.timeout))
        except RunbookError as exc:
            text = f"(no preview: {exc})"
        return None if text is None else self.redact.text(text)

    def members(self, name: str) -> list[str]:
        """The target names a group fans out to (bare host names become targets)."""
        names, made = self.connections.members(name)
        for entry, target in made.items():
            self.ctx["targets"].setdefault(entry, {"name": entry,
                                                   "connection": target.connection,
                                                   "vars": target.vars, "hosts": None})
        return names

    def planned_only(self, planned: PlannedStep) -> None:
        """A step that was planned, not run: later references to its result wait on it."""
        step = planned.step
        if step.register_as:
            self.unresolved[step.register_as] = step.id
        self.unresolved[f"steps.{step.id}"] = step.id
        self.ctx["steps"][step.id] = {"status": "planned"}

    def args(self, action: Action[Any], raw: Mapping[str, Any], step_id: str, field: str,
             *, scope: Mapping[str, Any] | None = None,
             may_wait: bool = False) -> BaseModel | WaitsOn:
        """Render and validate arguments; in a dry-run, a WaitsOn where they need the
        result of a step that was only planned."""
        return self.guarded_args(action, raw, step_id, field, scope=scope,
                                 may_wait=may_wait)[0]

    def guarded_args(self, action: Action[Any], raw: Mapping[str, Any], step_id: str,
                     field: str, *, scope: Mapping[str, Any] | None = None,
                     may_wait: bool = False) -> tuple[BaseModel | WaitsOn, OptionGuard]:
        """``args``, and the guard that keeps their values from becoming options (the
        planned commands are checked here, every command run by ``ActionContext``)."""
        from runbook.commandline import render_args

        try:
            rendered = render_args(self.templates, action, raw, scope or self.ctx,
                                   step=step_id, field=field)
        except TemplateError:
            waits = self.waits_on(dict(raw))
            if self.dry_run and waits and may_wait:
                return WaitsOn(f"{action.name} {raw}", tuple(waits)), OptionGuard()
            raise
        try:
            args = action.validate_args(rendered.args)
        except ArgumentsInvalid as exc:
            problems = "; ".join(f"{loc or field}: {msg}" for loc, msg in exc.problems)
            raise StepError(f"invalid arguments for {action.name}: {problems}",
                            step=step_id) from None
        self.redact.derived(rendered.pairs, scope or self.ctx)
        guard = OptionGuard(frozenset(rendered.risky), action.command_field is None,
                            action.name)
        if not action.in_engine:
            try:
                guard.check(action.commands(args), self.redact.text)
            except StepError as exc:
                exc.step = step_id
                raise
        return args, guard

    def waits_on(self, value: Any) -> list[str]:
        names = referenced_names(self.templates, value)
        waits = {self.unresolved[n] for n in names if n in self.unresolved}
        if "steps" in names:
            waits |= {sid for key, sid in self.unresolved.items() if key.startswith("steps.")
                      and key[6:] in str(value)}
        return sorted(waits)

    def check_args(self, action: Action[Any], raw: Mapping[str, Any], check_id: str,
                   field: str) -> BaseModel:
        args = self.args(action, raw, check_id, field)
        assert not isinstance(args, WaitsOn)
        return args
