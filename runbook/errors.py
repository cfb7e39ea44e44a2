"""Every error runbook raises, in one tree.

    RunbookError
    ├── PlaybookError            a playbook or inventory is invalid (file, line, field)
    │   └── ValidationErrors     several PlaybookErrors found in one pass
    ├── TemplateError            a template or expression failed (step, field)
    ├── PluginError              a plugin or action is missing or misbehaves
    ├── ConnectionError_         a target cannot be reached (target)
    ├── CommandError             a command failed or timed out (argv, rc, output)
    │   └── CommandTimeout
    ├── StepError                a step failed (step id, target)
    │   ├── CheckFailed          an assertion did not hold (expected, observed)
    │   ├── GateDeclined         a human said no, or nobody could be asked
    │   └── ArgumentsInvalid     an action's arguments do not fit its model (problems)
    ├── RollbackError            a rollback did not complete (manual commands)
    ├── AuditError               the audit log cannot be written or is broken
    └── LockedError              another run holds the lock

Context is kept as keyword-only attributes so that the CLI and scripts can
render it without parsing messages. Third-party exceptions are translated at
the edge with ``raise ... from exc``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


class RunbookError(Exception):
    """Base of every error runbook raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file, located precisely."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.message}"


class PlaybookError(RunbookError):
    """A playbook, inventory or plan file is invalid; nothing was run."""

    def __init__(self, message: str, *, file: str = "<playbook>", line: int | None = None,
                 field: str = "") -> None:
        self.problem = Problem(file, line, field, message)
        super().__init__(str(self.problem))


class ValidationErrors(PlaybookError):
    """All the problems found in one pass over an input, not just the first."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        # The same problem found by two rules is reported once, in the order found.
        self.problems = list(dict.fromkeys(problems))
        first = self.problems[0] if self.problems else Problem("<playbook>", None, "", "invalid")
        RunbookError.__init__(self, "\n".join(str(p) for p in self.problems))
        self.problem = first


def from_pydantic(exc: Any, model: Any, *, file: str = "<python>") -> ValidationErrors:
    """pydantic's ValidationError as ours: one Problem per field, an unknown key with a
    did-you-mean among the keys allowed there (``Step(confrim=...)``)."""
    import difflib

    problems = []
    for err in exc.errors(include_url=False):
        raw = tuple(err["loc"])
        if isinstance(err.get("input"), dict) and any(
                isinstance(p, str) and p.startswith("literal[") for p in raw):
            continue  # the literal branch of a union, where a mapping was given
        # pydantic names union branches in the path (``Rollback``, ``literal[...]``).
        loc = tuple(p for p in raw if not (isinstance(p, str) and ("[" in p or p[:1].isupper())))
        field = ".".join(str(p) for p in loc)
        if err["type"] == "extra_forbidden":
            known = _known_keys(model, loc[:-1])
            hint = difflib.get_close_matches(str(loc[-1]), known, n=1)
            message = (f"unknown key {loc[-1]!r}"
                       + (f" (did you mean {hint[0]!r}?)" if hint else "")
                       + (f"; expected one of: {', '.join(sorted(known))}" if known else ""))
        else:
            message = str(err["msg"]).removeprefix("Value error, ")
        problems.append(Problem(file, None, field, message))
    return ValidationErrors(problems)


def _known_keys(model: Any, path: tuple[Any, ...]) -> list[str]:
    """The keys a pydantic model accepts at ``path`` (through lists, dicts, unions)."""
    import typing

    def model_in(annotation: Any) -> Any:
        if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
            return annotation
        return next((m for m in map(model_in, typing.get_args(annotation)) if m), None)

    for part in path:
        if model is None:
            return []
        if isinstance(part, int) or part not in _fields(model):
            continue
        model = model_in(_fields(model)[part].annotation)
    return sorted(_fields(model)) if model is not None else []


def _fields(model: Any) -> dict[str, Any]:
    return {(f.alias or n): f for n, f in model.model_fields.items()}


class TemplateError(RunbookError):
    """A template or expression could not be rendered or evaluated."""

    def __init__(self, message: str, *, step: str | None = None, field: str = "",
                 template: str = "") -> None:
        self.step = step
        self.field = field
        self.template = template
        where = " ".join(x for x in (f"step {step!r}" if step else "", field) if x)
        super().__init__(f"{where}: {message}" if where else message)


class PluginError(RunbookError):
    """A plugin could not be loaded, or an action is unknown or misbehaves."""


class ConnectionError_(RunbookError):
    """A target cannot be reached or refused us."""

    def __init__(self, message: str, *, target: str) -> None:
        self.target = target
        super().__init__(f"target {target!r}: {message}")


class CommandError(RunbookError):
    """A command exited non-zero (or could not start)."""

    def __init__(self, message: str, *, argv: Sequence[str] = (), rc: int | None = None,
                 stdout: str = "", stderr: str = "", target: str | None = None) -> None:
        self.argv = list(argv)
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.target = target
        super().__init__(message)


class CommandTimeout(CommandError):
    """A command ran past its timeout and was killed with its children."""


class StepError(RunbookError):
    """A step failed; the engine decides what happens next from ``on_fail``."""

    def __init__(self, message: str, *, step: str | None = None, target: str | None = None,
                 **context: Any) -> None:
        self.step = step
        self.target = target
        self.context = context
        super().__init__(message)


class CheckFailed(StepError):
    """A check's assertion did not hold."""

    def __init__(self, message: str, *, step: str | None = None, check: str | None = None,
                 expected: str = "", observed: Any = None) -> None:
        self.check = check
        self.expected = expected
        self.observed = observed
        super().__init__(message, step=step)


class GateDeclined(StepError):
    """A confirmation gate was declined (or no terminal was there to ask)."""


class ArgumentsInvalid(StepError):
    """An action's arguments do not fit its model; ``problems`` are (field, message) pairs,
    the field empty when the arguments as a whole are wrong."""

    def __init__(self, message: str, *, action: str, problems: Sequence[tuple[str, str]],
                 step: str | None = None) -> None:
        self.action = action
        self.problems = list(problems)
        super().__init__(message, step=step)


class RollbackError(RunbookError):
    """One or more rollbacks failed; ``manual`` lists what is left to do by hand."""

    def __init__(self, message: str, *, manual: Sequence[str] = ()) -> None:
        self.manual = list(manual)
        super().__init__(message)


class AuditError(RunbookError):
    """The audit log cannot be written, or its chain is broken."""


class LockedError(RunbookError):
    """Another run holds the lock for this playbook and target set."""

    def __init__(self, message: str, *, holder: dict[str, Any] | None = None) -> None:
        self.holder = holder or {}
        super().__init__(message)
