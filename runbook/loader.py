"""Loading playbooks: YAML -> typed Playbook, with every problem located.

One pass collects every problem (shape and types from the models, then the
rules that need the whole playbook) and reports them all with file, line and
field path. A playbook with any problem is never returned, so nothing runs.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import typing
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from runbook.errors import PlaybookError, Problem, ValidationErrors
from runbook.executors.validation import target_problems
from runbook.models import NAME_RE, Playbook
from runbook.params import coerce
from runbook.plugins import Registry, default_registry
from runbook.templating import Templates, is_template
from runbook.yamlsrc import Path as FieldPath
from runbook.yamlsrc import Source, dotted, load_yaml, read_text

IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
RESERVED = {"params", "result", "steps", "checks", "targets", "target", "run"}
BACKGROUND_ACTIONS = {"flow.stop", "flow.wait_quiet"}


def load(path: str | Path, *, registry: Registry | None = None,
         targets: Iterable[str] = ()) -> Playbook:
    """Load and validate a playbook file; ValidationErrors lists every problem.

    ``targets`` names targets defined outside the playbook (an inventory,
    ``--target``), so steps may use them."""
    file = str(path)
    raw, text = read_text(path)
    playbook = loads(text, file=file, registry=registry, targets=targets)
    playbook._sha256 = hashlib.sha256(raw).hexdigest()
    return playbook


def loads(text: str, *, file: str = "<string>", registry: Registry | None = None,
          targets: Iterable[str] = ()) -> Playbook:
    """Load a playbook from YAML text."""
    source = load_yaml(text, file)
    playbook = from_source(source, registry=registry, targets=targets)
    playbook._origin = file
    playbook._sha256 = hashlib.sha256(text.encode()).hexdigest()
    return playbook


def from_source(source: Source, *, registry: Registry | None = None,
                targets: Iterable[str] = ()) -> Playbook:
    data = source.data
    if not isinstance(data, dict):
        raise PlaybookError("expected a mapping with runbook:, name: and steps:",
                            file=source.file, line=source.line_of(()))
    problems = list(_shape_problems(source))
    problems += Rules(source, registry or default_registry(), targets).problems()
    if problems:
        problems.sort(key=lambda p: (p.line or 0, p.field))
        raise ValidationErrors(problems)
    return Playbook.model_validate(data)


def validate(playbook: Playbook, *, registry: Registry | None = None) -> None:
    """Check a playbook built in Python with the same rules as a loaded one."""
    data = playbook.model_dump(by_alias=True, exclude_unset=True)
    problems = Rules(Source("<python>", data), registry or default_registry()).problems()
    if problems:
        raise ValidationErrors(problems)




# --- shape and types, from the pydantic models -------------------------------------------

def _shape_problems(source: Source) -> Iterator[Problem]:
    try:
        Playbook.model_validate(source.data)
    except ValidationError as exc:
        for loc, message in pydantic_problems(exc):
            yield Problem(source.file, source.line_of(loc), dotted(loc), message)


def pydantic_problems(exc: ValidationError, base: FieldPath = ()) -> list[tuple[FieldPath, str]]:
    """One readable problem per field from pydantic's errors.

    pydantic reports each branch of a union separately (``serial.int`` and
    ``serial.str``; ``rollback`` as a literal and as a mapping): the branch
    tags are dropped from the path, a literal branch is dropped when the user
    wrote a mapping, and what is left is one message per field.
    """
    found: dict[FieldPath, list[str]] = {}
    for err in exc.errors(include_url=False):
        raw = tuple(err["loc"])
        if "[key]" in raw:
            continue  # a non-string mapping key: the rules report it by name
        loc = (*base, *(p for p in raw if not (isinstance(p, str) and _is_union_tag(p))))
        branch = [p for p in raw if isinstance(p, str) and p.startswith("literal[")]
        if branch and isinstance(err.get("input"), dict):
            continue
        message = _message(err, loc)
        messages = found.setdefault(loc, [])
        if message not in messages:
            messages.append(message)
    out: list[tuple[FieldPath, str]] = []
    for loc, messages in found.items():
        out.append((loc, messages[0] if len(messages) == 1 else " or ".join(
            m.split(" (got ")[0] for m in messages) + _got_suffix(messages[0])))
    return out


def _got_suffix(message: str) -> str:
    _, sep, got = message.partition(" (got ")
    return f" (got {got}" if sep else ""


def _is_union_tag(part: str) -> bool:
    return "[" in part or part in _MODEL_NAMES or part in _SCALAR_TAGS


_MODEL_NAMES = {"Rollback", "Retry", "Check", "Param", "Target", "Step"}
_SCALAR_TAGS = {"int", "str", "float", "bool", "list", "dict", "none"}


def _message(err: Any, loc: FieldPath) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        name = str(loc[-1])
        known = _fields_at(loc[:-1])
        hint = difflib.get_close_matches(name, known, n=1)
        suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
        return f"unknown key {name!r}{suggestion}; expected one of: {', '.join(sorted(known))}"
    if kind == "missing":
        if loc == ("runbook",):
            return "required: the format version, runbook: 1"
        return "required field is missing"
    msg = str(err["msg"])
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    got = err.get("input")
    if kind not in ("value_error",) and not isinstance(got, (dict, list)):
        msg += f" (got {got!r})"
    return msg


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _fields_at(loc: FieldPath) -> list[str]:
    """The keys allowed at a location, for did-you-mean hints."""
    model: type[BaseModel] | None = Playbook
    annotation: Any = Playbook
    for part in loc:
        if model is None:
            return []
        if isinstance(part, int):
            continue
        fields = {(f.alias or n): f for n, f in model.model_fields.items()}
        if part in fields:
            annotation = fields[part].annotation
            origin = typing.get_origin(annotation)
            if origin is dict or (isinstance(origin, type) and issubclass(origin, dict)):
                annotation = typing.get_args(annotation)[1]
                # The next part is a free-form key (a param or target name).
                model = _model_in(annotation)
                loc_rest = loc[loc.index(part) + 1:]
                return _fields_in(model, loc_rest[1:]) if loc_rest else []
            model = _model_in(annotation)
        else:
            return []
    return list(_field_names(model)) if model else []


def _fields_in(model: type[BaseModel] | None, rest: FieldPath) -> list[str]:
    if model is None:
        return []
    for part in rest:
        if isinstance(part, int):
            continue
        fields = {(f.alias or n): f for n, f in model.model_fields.items()}
        if part not in fields:
            return []
        model = _model_in(fields[part].annotation)
        if model is None:
            return []
    return list(_field_names(model))


def _field_names(model: type[BaseModel]) -> Iterator[str]:
    for name, f in model.model_fields.items():
        yield f.alias or name


# --- rules that need the whole playbook --------------------------------------------------

class Rules:
    """Cross-field rules, checked on the raw data so they run even when shapes are off."""

    def __init__(self, source: Source, registry: Registry,
                 extra_targets: Iterable[str] = ()) -> None:
        self.extra_targets = set(extra_targets)
        self.source = source
        self.data: dict[str, Any] = source.data if isinstance(source.data, dict) else {}
        self.registry = registry
        self.templates = Templates(registry.filters)
        self.out: list[Problem] = []

    def add(self, path: FieldPath, message: str) -> None:
        self.out.append(Problem(self.source.file, self.source.line_of(path), dotted(path),
                                message))

    def problems(self) -> list[Problem]:
        name = self.data.get("name")
        if isinstance(name, str) and not NAME_RE.match(name):
            self.add(("name",), f"name {name!r} must match [a-z0-9-]+ (lower case, digits, -)")
        self.params()
        self.targets = self.target_names()
        defaults = self.data.get("defaults")
        if isinstance(defaults, dict) and isinstance(defaults.get("target"), str):
            self.target_ref(("defaults", "target"), defaults["target"])
        self.steps()
        for section in ("preconditions", "verify"):
            for i, check in enumerate(_list(self.data.get(section))):
                self.check((section, i), check)
        return self.out

    def params(self) -> None:
        params = self.data.get("params")
        if not isinstance(params, dict):
            return
        for pname, spec in params.items():
            path = ("params", str(pname))
            if not isinstance(pname, str) or not IDENT_RE.match(pname):
                self.add(path, f"param name {pname!r} must be an identifier "
                               "(letters, digits, _), as templates use it by name")
            elif pname in RESERVED:
                self.add(path, f"param name {pname!r} is reserved in templates")
            if not isinstance(spec, dict):
                continue
            try:
                from runbook.models import Param

                param = Param.model_validate(spec)
            except ValidationError:
                continue  # reported by the shape pass
            if param.default is not None:
                try:
                    coerce(param, param.default)
                except ValueError as exc:
                    self.add((*path, "default"), f"default does not fit type {param.type}: "
                                                  f"{exc}")

    def target_names(self) -> set[str]:
        targets = self.data.get("targets")
        names = {"local", *self.extra_targets}
        if isinstance(targets, dict):
            names |= {str(t) for t in targets}
            for tname, spec in targets.items():
                if not isinstance(tname, str):
                    self.add(("targets", str(tname)), f"target name {tname!r} must be a string")
                if not isinstance(spec, dict):
                    continue
                for key in ("via", "jump"):
                    if isinstance(spec.get(key), str):
                        self.target_ref(("targets", str(tname), key), spec[key], names)
                for where, message in target_problems(self.registry, spec):
                    self.add(("targets", str(tname), *where), message)
        return names

    def target_ref(self, path: FieldPath, name: str, names: set[str] | None = None) -> None:
        known = names if names is not None else self.targets
        if is_template(name) or name in known:
            return
        hint = difflib.get_close_matches(name, sorted(known), n=1)
        self.add(path, f"undeclared target {name!r}"
                       + (f" (did you mean {hint[0]!r}?)" if hint else "")
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
        field = "probe" if probe else "action"
        if not isinstance(action_name, str):
            return
        cls = self.registry.actions.get(action_name)
        if cls is None:
            hint = difflib.get_close_matches(action_name, sorted(self.registry.actions), n=1)
            self.add((*path, field), f"unknown action {action_name!r}"
                     + (f" (did you mean {hint[0]!r}?)" if hint else "")
                     + "; see `runbook plugins`")
            return
        if probe and cls.mutating:
            self.add((*path, field), f"{action_name!r} changes the system; a check's probe "
                                     "must be a read-only action")
        if not isinstance(args, dict):
            return
        self.templates_in((*path, "with"), args)
        fields = cls.Args.model_fields
        allowed = {(f.alias or n) for n, f in fields.items()}
        extra = cls.Args.model_config.get("extra")
        for key in args:
            if extra != "allow" and key not in allowed:
                hint = difflib.get_close_matches(str(key), sorted(allowed), n=1)
                self.add((*path, "with", str(key)),
                         f"{action_name} takes no argument {key!r}"
                         + (f" (did you mean {hint[0]!r}?)" if hint else "")
                         + f"; it takes: {', '.join(sorted(allowed)) or 'no arguments'}")
        for n, f in fields.items():
            if f.is_required() and (f.alias or n) not in args:
                self.add((*path, "with"), f"{action_name} requires argument {f.alias or n!r}")
        if not any(is_template(v) for v in _walk(args)):
            try:
                cls.Args.model_validate(args)
            except ValidationError as exc:
                reported = {(*path, "with", str(k)) for k in args} | {(*path, "with")}
                for loc, message in pydantic_problems(exc, (*path, "with")):
                    if message.startswith(("unknown key", "required field")) and (
                            loc in reported or loc[:-1] == (*path, "with")):
                        continue  # unknown and missing arguments are reported above
                    self.add(loc, message)

    def check(self, path: FieldPath, check: Any) -> None:
        if not isinstance(check, dict):
            return
        self.action_args(path, check.get("probe"), check.get("with", {}), probe=True)
        if isinstance(check.get("target"), str):
            self.target_ref((*path, "target"), check["target"])
        that = check.get("that")
        for i, expr in enumerate(that if isinstance(that, list) else [that]):
            self.expression((*path, "that", i) if isinstance(that, list) else (*path, "that"),
                            expr)

    def steps(self) -> None:
        seen: dict[str, int] = {}
        background: set[str] = set()
        registers: set[str] = set()
        params = self.data.get("params")
        param_names = set(params) if isinstance(params, dict) else set()
        steps = _list(self.data.get("steps"))
        if not steps and isinstance(self.data.get("steps", []), list):
            self.add(("steps",), "a playbook needs at least one step")
        for i, step in enumerate(steps):
            path: FieldPath = ("steps", i)
            if not isinstance(step, dict):
                continue
            sid = step.get("id")
            if isinstance(sid, str):
                if not NAME_RE.match(sid):
                    self.add((*path, "id"), f"step id {sid!r} must match [a-z0-9-]+")
                if sid in seen:
                    self.add((*path, "id"), f"duplicate step id {sid!r} (first used by "
                                            f"steps[{seen[sid]}])")
                else:
                    seen[sid] = i
            action = step.get("action")
            self.action_args(path, action, step.get("with", {}))
            cls = self.registry.actions.get(action) if isinstance(action, str) else None
            if isinstance(step.get("target"), str):
                self.target_ref((*path, "target"), step["target"])
            for key in ("when", "until"):
                self.expression((*path, key), step.get(key))
            if step.get("background") is True:
                if cls is not None and not cls.can_background:
                    self.add((*path, "background"), f"{action} cannot run in the background")
                if isinstance(sid, str):
                    background.add(sid)
            if action in BACKGROUND_ACTIONS and isinstance(step.get("with"), dict):
                ref = step["with"].get("step")
                if isinstance(ref, str) and ref not in background:
                    what = ("itself" if ref == sid else
                            "a later step" if any(isinstance(s, dict) and s.get("id") == ref
                                                  for s in steps[i + 1:]) else
                            "not a background step" if ref in seen else "an unknown step")
                    self.add((*path, "with", "step"),
                             f"{action} names {ref!r}, which is {what}; it must name an "
                             "earlier step with background: true")
            rollback = step.get("rollback")
            if rollback == "auto" and cls is not None and not cls.has_inverse():
                self.add((*path, "rollback"), f"{action} has no automatic inverse; write "
                                              "rollback: {action: ..., with: ...} instead")
            if isinstance(rollback, dict):
                self.action_args((*path, "rollback"), rollback.get("action"),
                                 rollback.get("with", {}))
                if isinstance(rollback.get("target"), str):
                    self.target_ref((*path, "rollback", "target"), rollback["target"])
            restores = step.get("restores")
            if isinstance(restores, str):
                if restores not in seen or seen.get(restores) == i:
                    later = any(isinstance(s, dict) and s.get("id") == restores
                                for s in steps[i + 1:])
                    self.add((*path, "restores"),
                             f"restores {restores!r}, which is "
                             + ("itself" if restores == sid else "a later step" if later
                                else "not a step of this playbook")
                             + "; it must name an earlier step")
                else:
                    earlier = steps[seen[restores]]
                    if earlier.get("rollback") in (None, "none"):
                        self.add((*path, "restores"),
                                 f"restores {restores!r}, which has no rollback to discharge")
            for key in ("serial", "max_fail"):
                if isinstance(step.get(key), (int, str)):
                    from runbook.fanout import failure_budget

                    try:
                        failure_budget(step[key], 100)
                    except ValueError as exc:
                        self.add((*path, key), str(exc).replace("max_fail", key))
            reg = step.get("register")
            if isinstance(reg, str):
                if not IDENT_RE.match(reg):
                    self.add((*path, "register"), f"register name {reg!r} must be an "
                                                  "identifier (letters, digits, _)")
                elif reg in RESERVED or reg in param_names:
                    self.add((*path, "register"), f"register name {reg!r} clashes with a "
                                                  "param or a reserved name")
                elif reg in registers:
                    self.add((*path, "register"), f"register name {reg!r} is used twice")
                registers.add(reg)
            for j, check in enumerate(_list(step.get("checks"))):
                self.check((*path, "checks", j), check)


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


def find_playbooks(paths: list[str]) -> Iterator[Path]:
    """Files as given; folders searched for *.yaml and *.yml."""
    for p in paths:
        path = Path(p)
        if path.is_dir():
            yield from sorted(q for q in path.rglob("*") if q.suffix in (".yaml", ".yml")
                              and q.is_file())
        else:
            yield path


def validate_paths(paths: list[str], *, registry: Registry | None = None,
                   targets: Iterable[str] = ()) -> list[Problem]:
    """Every problem in every playbook under paths (for ``runbook validate``)."""
    problems: list[Problem] = []
    for path in find_playbooks(paths):
        try:
            load(path, registry=registry, targets=targets)
        except ValidationErrors as exc:
            problems.extend(exc.problems)
        except PlaybookError as exc:
            problems.append(exc.problem)
    return problems

