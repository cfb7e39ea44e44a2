"""The rules a playbook must follow beyond the shape of its models, as lists of small functions.

Each rule is a named function that reports problems through ``Rules.add``
(file, line and field path come from the YAML source). They run on the raw
data, so they still run when a shape is off; the loader collects every
problem of every rule before refusing a playbook. ``PLAYBOOK_RULES`` run once
per playbook in order, ``TARGET_RULES`` once per declared target and
``STEP_RULES`` once per step (each step sees what the earlier steps declared
through its ``StepScope``). Every rule has a case of its own in
``tests/playbooks/broken``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from runbook.actions import Action
from runbook.errors import Problem
from runbook.executors.kinds import leads_back, reference_settings
from runbook.executors.validation import target_problems
from runbook.models import NAME_RE, split_tags
from runbook.names import undefined_names
from runbook.params import coerce
from runbook.plugins import Registry
from runbook.shape import pydantic_problems
from runbook.templating import Templates, is_template
from runbook.yamlsrc import Path as FieldPath
from runbook.yamlsrc import Source, dotted

IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
RESERVED = {"params", "result", "steps", "checks", "targets", "target", "run"}
BACKGROUND_ACTIONS = {"flow.stop", "flow.wait_quiet"}


class Rules:
    """The context every rule reports into: the source, the registry, the targets."""

    def __init__(self, source: Source, registry: Registry,
                 extra_targets: Iterable[str] = ()) -> None:
        self.extra_targets = set(extra_targets)
        self.source = source
        self.data: dict[str, Any] = source.data if isinstance(source.data, dict) else {}
        self.registry = registry
        self.templates = Templates(registry.filters)
        self.targets: set[str] = set()
        self.out: list[Problem] = []

    def add(self, path: FieldPath, message: str) -> None:
        self.out.append(Problem(self.source.file, self.source.line_of(path), dotted(path),
                                message))

    def problems(self) -> list[Problem]:
        """Every problem the rules find, in the order the rules run."""
        for rule in PLAYBOOK_RULES:
            rule(self)
        return self.out

    def target_ref(self, path: FieldPath, name: str, names: set[str] | None = None) -> None:
        known = names if names is not None else self.targets
        if is_template(name) or name in known:
            return
        self.add(path, f"undeclared target {name!r}" + _hint(name, known)
                 + f"; declared: {', '.join(sorted(known))}")

    def expression(self, path: FieldPath, expr: Any) -> None:
        if not isinstance(expr, str):
            return
        error = self.templates.check_expression(expr)
        if error:
            self.add(path, f"expression does not compile: {error}: {expr!r}")

    def templates_in(self, path: FieldPath, value: Any) -> None:
        if isinstance(value, str) and is_template(value):
            error = self.templates.check_template(value)
            if error:
                self.add(path, f"template does not compile: {error}: {value!r}")
        elif isinstance(value, dict):
            for k, v in value.items():
                self.templates_in((*path, str(k)), v)
        elif isinstance(value, list):
            for i, v in enumerate(value):
                self.templates_in((*path, i), v)

    def action_args(self, path: FieldPath, action_name: Any, args: Any,
                    *, probe: bool = False) -> None:
        """An action (or probe) by name with its ``with`` arguments: ARGUMENT_RULES."""
        field_name = "probe" if probe else "action"
        if not isinstance(action_name, str):
            return
        cls = self.registry.actions.get(action_name)
        if cls is None:
            self.add((*path, field_name), f"unknown action {action_name!r}"
                     + _hint(action_name, self.registry.actions) + "; see `runbook plugins`")
            return
        if probe and cls.mutating:
            self.add((*path, field_name), f"{action_name!r} changes the system; a check's "
                                          "probe must be a read-only action")
        if isinstance(args, dict):
            for rule in ARGUMENT_RULES:
                rule(self, (*path, "with"), action_name, cls, args)

    def check(self, path: FieldPath, check: Any) -> None:
        """A precondition, step check or verify: CHECK_RULES."""
        if isinstance(check, dict):
            for rule in CHECK_RULES:
                rule(self, path, check)


def _hint(name: str, known: Iterable[str]) -> str:
    hint = difflib.get_close_matches(name, sorted(known), n=1)
    return f" (did you mean {hint[0]!r}?)" if hint else ""


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _walk(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for v in value.values():
            yield from _walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from _walk(v)
    else:
        yield value


# --- the playbook as a whole -----------------------------------------------------------------

def name_format(rules: Rules) -> None:
    name = rules.data.get("name")
    if isinstance(name, str) and not NAME_RE.match(name):
        rules.add(("name",), f"name {name!r} must match [a-z0-9-]+ (lower case, digits, -)")


MAX_CONCURRENCY = 100


def concurrency_slots(rules: Rules) -> None:
    """``concurrency: N``: N runs may hold the playbook's lock at once (1 to 100)."""
    value = rules.data.get("concurrency", 1)
    if isinstance(value, int) and not isinstance(value, bool) and not \
            1 <= value <= MAX_CONCURRENCY:
        rules.add(("concurrency",), f"concurrency must be between 1 and {MAX_CONCURRENCY} "
                                    f"(runs allowed at once), got {value}")


def notify_channel_names(rules: Rules) -> None:
    """``notify.channels`` are names of channels each user's notify.yaml defines, never a
    webhook URL or a socket path (a webhook URL is a secret: not in a playbook)."""
    import re

    from runbook.models import CHANNEL_NAME

    notify = rules.data.get("notify")
    channels = notify.get("channels") if isinstance(notify, dict) else None
    for i, name in enumerate(channels if isinstance(channels, list) else []):
        if isinstance(name, str) and not re.match(CHANNEL_NAME, name):
            what = "a URL" if "://" in name else "a path" if "/" in name else "not a name"
            rules.add(("notify", "channels", i),
                      f"channel {name!r} is {what}: a playbook names channels that each "
                      "user's notify.yaml defines (channels: {NAME: {webhook: ...}}); a "
                      "webhook URL is a secret and never belongs in a playbook")


def param_names_and_defaults(rules: Rules) -> None:
    params = rules.data.get("params")
    if not isinstance(params, dict):
        return
    for pname, spec in params.items():
        path = ("params", str(pname))
        if not isinstance(pname, str) or not IDENT_RE.match(pname):
            rules.add(path, f"param name {pname!r} must be an identifier "
                            "(letters, digits, _), as templates use it by name")
        elif pname in RESERVED:
            rules.add(path, f"param name {pname!r} is reserved in templates")
        if isinstance(spec, dict):
            param_default(rules, path, spec)


def param_default(rules: Rules, path: FieldPath, spec: dict[str, Any]) -> None:
    from runbook.models import Param

    try:
        param = Param.model_validate(spec)
    except ValidationError:
        return  # reported by the shape pass
    if param.default is not None:
        try:
            coerce(param, param.default)
        except ValueError as exc:
            rules.add((*path, "default"), f"default does not fit type {param.type}: {exc}")


def declared_targets(rules: Rules) -> None:
    """Collect the target names, then check each declared target with TARGET_RULES."""
    targets = rules.data.get("targets")
    names = {"local", *rules.extra_targets}
    if isinstance(targets, dict):
        names |= {str(t) for t in targets}
        for tname, spec in targets.items():
            for rule in TARGET_RULES:
                rule(rules, tname, spec, names)
    rules.targets = names


def defaults_target(rules: Rules) -> None:
    defaults = rules.data.get("defaults")
    if isinstance(defaults, dict) and isinstance(defaults.get("target"), str):
        rules.target_ref(("defaults", "target"), defaults["target"])


def at_least_one_step(rules: Rules) -> None:
    if not _list(rules.data.get("steps")) and isinstance(rules.data.get("steps", []), list):
        rules.add(("steps",), "a playbook needs at least one step")


def every_step(rules: Rules) -> None:
    """Run STEP_RULES on each step, in order, sharing what earlier steps declared."""
    steps = _list(rules.data.get("steps"))
    params = rules.data.get("params")
    scope = StepScope(steps=steps, param_names=set(params) if isinstance(params, dict) else set())
    for i, step in enumerate(steps):
        if not isinstance(step, dict):
            continue
        scope.enter(i, step, rules.registry)
        for rule in STEP_RULES:
            rule(rules, scope)


def preconditions_and_verify(rules: Rules) -> None:
    for section in ("preconditions", "verify"):
        for i, check in enumerate(_list(rules.data.get(section))):
            rules.check((section, i), check)


# --- each declared target --------------------------------------------------------------------

def target_name_is_string(rules: Rules, tname: Any, spec: Any, names: set[str]) -> None:
    if not isinstance(tname, str):
        rules.add(("targets", str(tname)), f"target name {tname!r} must be a string")


def target_references(rules: Rules, tname: Any, spec: Any, names: set[str]) -> None:
    """Settings that name another target (``via``, ``jump``, a plugin kind's own) name a
    declared one."""
    if not isinstance(spec, dict):
        return
    for key in reference_settings(rules.registry):
        ref = spec.get(key)
        if not isinstance(ref, str):
            continue
        path = ("targets", str(tname), key)
        rules.target_ref(path, ref, names)
        declared = rules.data.get("targets")
        if not isinstance(declared, dict) or not isinstance(declared.get(ref), dict):
            continue
        other = declared[ref]
        if other.get("hosts") is not None:
            rules.add(path, f"{key} names group {ref!r}; it must name one target")
        elif leads_back(str(tname), _ref_of(declared, key)):
            rules.add(path, f"{key} of {tname!r} leads back to {tname!r}")


def _ref_of(declared: dict[Any, Any], key: str) -> Callable[[str], str | None]:
    """The target a declared target's ``key`` names (None: none, or a template)."""
    def ref_of(name: str) -> str | None:
        spec = declared.get(name)
        ref = spec.get(key) if isinstance(spec, dict) else None
        return ref if isinstance(ref, str) and not is_template(ref) else None
    return ref_of


def target_connection(rules: Rules, tname: Any, spec: Any, names: set[str]) -> None:
    """The connection kind has an executor, and the settings belong to that kind (the
    kind's own settings model decides)."""
    if not isinstance(spec, dict):
        return
    for where, message in target_problems(rules.registry, spec):
        rules.add(("targets", str(tname), *where), message)


# --- each step -------------------------------------------------------------------------------

@dataclass
class StepScope:
    """One step under check, and what the steps before it declared."""

    steps: list[Any]
    param_names: set[str]
    index: int = 0
    step: dict[str, Any] = field(default_factory=dict)
    cls: type[Action[Any]] | None = None
    seen: dict[str, int] = field(default_factory=dict)
    background: set[str] = field(default_factory=set)
    registers: set[str] = field(default_factory=set)

    def enter(self, index: int, step: dict[str, Any], registry: Registry) -> None:
        self.index, self.step = index, step
        action = step.get("action")
        self.cls = registry.actions.get(action) if isinstance(action, str) else None

    @property
    def path(self) -> FieldPath:
        return ("steps", self.index)

    @property
    def sid(self) -> Any:
        return self.step.get("id")

    def is_later(self, ref: str) -> bool:
        return any(isinstance(s, dict) and s.get("id") == ref
                   for s in self.steps[self.index + 1:])


def step_id(rules: Rules, scope: StepScope) -> None:
    """Ids match [a-z0-9-]+ and are unique."""
    sid = scope.sid
    if not isinstance(sid, str):
        return
    if not NAME_RE.match(sid):
        rules.add((*scope.path, "id"), f"step id {sid!r} must match [a-z0-9-]+")
    if sid in scope.seen:
        rules.add((*scope.path, "id"), f"duplicate step id {sid!r} (first used by "
                                       f"steps[{scope.seen[sid]}])")
    else:
        scope.seen[sid] = scope.index


def step_action(rules: Rules, scope: StepScope) -> None:
    rules.action_args(scope.path, scope.step.get("action"), scope.step.get("with", {}))


def step_target(rules: Rules, scope: StepScope) -> None:
    if isinstance(scope.step.get("target"), str):
        rules.target_ref((*scope.path, "target"), scope.step["target"])


def step_expressions(rules: Rules, scope: StepScope) -> None:
    for key in ("when", "until"):
        rules.expression((*scope.path, key), scope.step.get(key))


def step_background(rules: Rules, scope: StepScope) -> None:
    """Only background-capable actions run with background: true."""
    if scope.step.get("background") is not True:
        return
    if scope.cls is not None and not scope.cls.can_background:
        rules.add((*scope.path, "background"),
                  f"{scope.step.get('action')} cannot run in the background")
    if isinstance(scope.sid, str):
        scope.background.add(scope.sid)


def background_reference(rules: Rules, scope: StepScope) -> None:
    """flow.stop and flow.wait_quiet name an earlier background step."""
    action, args = scope.step.get("action"), scope.step.get("with")
    if not isinstance(action, str) or action not in BACKGROUND_ACTIONS \
            or not isinstance(args, dict):
        return
    ref = args.get("step")
    if not isinstance(ref, str) or ref in scope.background:
        return
    what = ("itself" if ref == scope.sid else
            "a later step" if scope.is_later(ref) else
            "not a background step" if ref in scope.seen else "an unknown step")
    rules.add((*scope.path, "with", "step"),
              f"{action} names {ref!r}, which is {what}; it must name an "
              "earlier step with background: true")


def rollback_auto(rules: Rules, scope: StepScope) -> None:
    """rollback: auto needs an action that knows its inverse."""
    if scope.step.get("rollback") == "auto" and scope.cls is not None \
            and not scope.cls.has_inverse():
        rules.add((*scope.path, "rollback"),
                  f"{scope.step.get('action')} has no automatic inverse; write "
                  "rollback: {action: ..., with: ...} instead")


def rollback_explicit(rules: Rules, scope: StepScope) -> None:
    """An explicit rollback is an action with arguments, on a declared target."""
    rollback = scope.step.get("rollback")
    if not isinstance(rollback, dict):
        return
    path = (*scope.path, "rollback")
    rules.action_args(path, rollback.get("action"), rollback.get("with", {}))
    if isinstance(rollback.get("target"), str):
        rules.target_ref((*path, "target"), rollback["target"])


def step_restores(rules: Rules, scope: StepScope) -> None:
    """restores names an earlier step that has a rollback to discharge."""
    restores = scope.step.get("restores")
    if not isinstance(restores, str):
        return
    path = (*scope.path, "restores")
    if restores not in scope.seen or scope.seen.get(restores) == scope.index:
        what = ("itself" if restores == scope.sid else "a later step"
                if scope.is_later(restores) else "not a step of this playbook")
        rules.add(path, f"restores {restores!r}, which is {what}; it must name an earlier step")
    elif scope.steps[scope.seen[restores]].get("rollback") in (None, "none"):
        rules.add(path, f"restores {restores!r}, which has no rollback to discharge")


def fan_out_amounts(rules: Rules, scope: StepScope) -> None:
    """serial and max_fail are counts or percentages."""
    for key in ("serial", "max_fail"):
        if isinstance(scope.step.get(key), (int, str)):
            from runbook.fanout import failure_budget

            try:
                failure_budget(scope.step[key], 100)
            except ValueError as exc:
                rules.add((*scope.path, key), str(exc).replace("max_fail", key))


def runtime_hosts(rules: Rules, scope: StepScope) -> None:
    """``hosts`` on a step needs a declared target whose settings the hosts inherit."""
    hosts = scope.step.get("hosts")
    if hosts is None:
        return
    target = scope.step.get("target")
    if target is None:
        target = (rules.data.get("defaults") or {}).get("target")
    if not isinstance(target, str) or target not in rules.targets:
        rules.add((*scope.path, "hosts"), "hosts needs a declared target whose settings "
                                          "the hosts inherit (set target on the step)")


def step_register(rules: Rules, scope: StepScope) -> None:
    """register names an identifier no param, reserved name or earlier step uses."""
    reg = scope.step.get("register")
    if not isinstance(reg, str):
        return
    path = (*scope.path, "register")
    if not IDENT_RE.match(reg):
        rules.add(path, f"register name {reg!r} must be an identifier (letters, digits, _)")
    elif reg in RESERVED or reg in scope.param_names:
        rules.add(path, f"register name {reg!r} clashes with a param or a reserved name")
    elif reg in scope.registers:
        rules.add(path, f"register name {reg!r} is used twice")
    scope.registers.add(reg)


def step_checks(rules: Rules, scope: StepScope) -> None:
    for j, check in enumerate(_list(scope.step.get("checks"))):
        rules.check((*scope.path, "checks", j), check)


# --- a check ---------------------------------------------------------------------------------

def check_probe(rules: Rules, path: FieldPath, check: dict[str, Any]) -> None:
    rules.action_args(path, check.get("probe"), check.get("with", {}), probe=True)


def check_target(rules: Rules, path: FieldPath, check: dict[str, Any]) -> None:
    if isinstance(check.get("target"), str):
        rules.target_ref((*path, "target"), check["target"])


def check_expressions(rules: Rules, path: FieldPath, check: dict[str, Any]) -> None:
    that = check.get("that")
    if isinstance(that, list):
        for i, expr in enumerate(that):
            rules.expression((*path, "that", i), expr)
    else:
        rules.expression((*path, "that"), that)


# --- an action's arguments -------------------------------------------------------------------

def argument_templates(rules: Rules, path: FieldPath, name: str,
                       cls: type[Action[Any]], args: dict[str, Any]) -> None:
    rules.templates_in(path, args)


def unknown_arguments(rules: Rules, path: FieldPath, name: str,
                      cls: type[Action[Any]], args: dict[str, Any]) -> None:
    if cls.Args.model_config.get("extra") == "allow":
        return
    allowed = {(f.alias or n) for n, f in cls.Args.model_fields.items()}
    for key in args:
        if key not in allowed:
            rules.add((*path, str(key)), f"{name} takes no argument {key!r}"
                      + _hint(str(key), allowed)
                      + f"; it takes: {', '.join(sorted(allowed)) or 'no arguments'}")


def missing_arguments(rules: Rules, path: FieldPath, name: str,
                      cls: type[Action[Any]], args: dict[str, Any]) -> None:
    for n, f in cls.Args.model_fields.items():
        if f.is_required() and (f.alias or n) not in args:
            rules.add(path, f"{name} requires argument {f.alias or n!r}")


def argument_values(rules: Rules, path: FieldPath, name: str,
                    cls: type[Action[Any]], args: dict[str, Any]) -> None:
    """Values without templates are validated now; unknown and missing ones are
    reported by the rules above, not again."""
    if any(is_template(v) for v in _walk(args)):
        return
    try:
        cls.Args.model_validate(args)
    except ValidationError as exc:
        reported = {(*path, str(k)) for k in args} | {path}
        for loc, message in pydantic_problems(exc, path):
            if message.startswith(("unknown key", "required field")) and (
                    loc in reported or loc[:-1] == path):
                continue
            rules.add(loc, message)


TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
SELECTOR_TAGS = ("all", "tagged", "untagged")


def step_tags(rules: Rules, scope: StepScope) -> None:
    """Tags are names; all/tagged/untagged select steps and cannot be a step's tag."""
    raw = scope.step.get("tags")
    tags = split_tags(raw)
    for i, tag in enumerate(tags if isinstance(tags, list) else []):
        path = (*scope.path, "tags", i) if isinstance(raw, list) else (*scope.path, "tags")
        if not isinstance(tag, str) or not TAG_RE.match(tag):
            rules.add(path, f"tag {tag!r} must be a name ([A-Za-z0-9_.-])")
        elif tag in SELECTOR_TAGS:
            rules.add(path, f"tag {tag!r} is reserved: --tags {tag} selects steps; "
                            "choose another name")


PlaybookRule = Callable[[Rules], None]
TargetRule = Callable[[Rules, Any, Any, set[str]], None]
StepRule = Callable[[Rules, StepScope], None]
CheckRule = Callable[[Rules, FieldPath, dict[str, Any]], None]
ArgumentRule = Callable[[Rules, FieldPath, str, type[Action[Any]], dict[str, Any]], None]

PLAYBOOK_RULES: tuple[PlaybookRule, ...] = (
    name_format, concurrency_slots, notify_channel_names, param_names_and_defaults,
    declared_targets, defaults_target, at_least_one_step, every_step,
    preconditions_and_verify, undefined_names,
)
TARGET_RULES: tuple[TargetRule, ...] = (
    target_name_is_string, target_references, target_connection,
)
STEP_RULES: tuple[StepRule, ...] = (
    step_id, step_action, step_target, step_expressions, step_background,
    background_reference, rollback_auto, rollback_explicit, step_restores, fan_out_amounts,
    runtime_hosts, step_register, step_checks, step_tags,
)
CHECK_RULES: tuple[CheckRule, ...] = (check_probe, check_target, check_expressions)
ARGUMENT_RULES: tuple[ArgumentRule, ...] = (
    argument_templates, unknown_arguments, missing_arguments, argument_values,
)
