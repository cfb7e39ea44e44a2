"""The action API: what a plugin declares so the engine can plan and run it.

An action declares a typed argument model, whether it mutates, and how it
renders into commands. The plan is built from ``commands``; the run executes
``run`` (which by default runs those same commands and parses the output), so
nothing is described twice. Read-only actions double as check probes.

Optional ``capture`` reads the prior state before a mutating run, and
``inverse`` turns that captured state into the invocation that undoes the
action: that is what ``rollback: auto`` runs. Optional ``preview`` reads, at
plan time, what a mutating action would change (a diff) for the plan to show.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from runbook.commandline import OptionGuard
    from runbook.executors.base import CommandResult, Executor, Process
    from runbook.runtime import Runtime


class Args(BaseModel):
    """Base of every action's argument model: unknown arguments are errors."""

    model_config = ConfigDict(extra="forbid", defer_build=True)


class NoArgs(Args):
    """For actions that take no arguments."""


ArgsT = TypeVar("ArgsT", bound=BaseModel)
T = TypeVar("T")


@dataclass(frozen=True)
class Invocation:
    """An action with arguments, e.g. the inverse of a step: what a rollback runs."""

    action: str
    args: Mapping[str, Any]
    target: str | None = None


@dataclass
class NoOp:
    """An action that had nothing to do says so, with the reason, instead of acting."""

    reason: str
    result: Any = None


@dataclass
class ActionContext:
    """What an action may use while it runs: its executor and the run around it.

    ``exec`` runs one command to its end (raising CommandError on a non-zero
    exit unless ``check=False``); ``start`` begins a background command.
    ``background`` finds the process of an earlier background step (for the
    flow actions), and ``confirm`` asks a human (for ``flow.manual``): each
    through ``runtime``, the small protocol of the run around the action
    (``runbook.runtime.Runtime``), never the engine itself.
    """

    executor: Executor
    step: str
    timeout: float | None = None
    runtime: Runtime | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    guard: OptionGuard | None = None
    """Values of this step that may not become options of any command it runs."""

    def exec(self, argv: Sequence[str], *, check: bool = True, stdin: str | None = None,
             env: Mapping[str, str] | None = None, cwd: str | None = None) -> CommandResult:
        self._guarded(argv)
        tap = getattr(self.runtime, "output_tap", None)
        if tap is None:
            res = self.executor.run(argv, timeout=self.timeout, stdin=stdin, env=env, cwd=cwd)
        else:  # -vv: each line to the console as it is printed
            res = self._streamed(argv, stdin, env, cwd, tap)
        return res.check() if check else res

    def _streamed(self, argv: Sequence[str], stdin: str | None, env: Mapping[str, str] | None,
                  cwd: str | None, tap: Callable[[str, str, str, str], None]) -> CommandResult:
        step, target = self.step, self.executor.name
        proc = self.executor.start(argv, env=env, cwd=cwd, stdin=stdin,
                                   on_line=lambda stream, line: tap(step, target, stream, line))
        try:
            proc.wait(self.timeout)
        except BaseException:
            proc.kill()  # interrupted: the command must not outlive the step
            raise
        return proc.result()

    def start(self, argv: Sequence[str], *, stdin: str | None = None,
              env: Mapping[str, str] | None = None, cwd: str | None = None) -> Process:
        self._guarded(argv)
        tap = getattr(self.runtime, "output_tap", None)
        if tap is None:
            return self.executor.start(argv, stdin=stdin, env=env, cwd=cwd)
        step, target = self.step, self.executor.name  # -vv: a background step's lines too
        return self.executor.start(argv, stdin=stdin, env=env, cwd=cwd,
                                   on_line=lambda stream, line: tap(step, target, stream, line))

    def _guarded(self, argv: Sequence[str]) -> None:
        if self.guard is not None:
            self.guard.check([list(argv)])

    def read_text(self, path: str) -> str:
        """A text file on this target (``Executor.read_file``), as text: bytes that are not
        UTF-8 are replaced rather than failing the step."""
        return self.executor.read_file(path).decode("utf-8", "replace")

    def background(self, step: str) -> Process:
        if self.runtime is None:
            raise LookupError("no run around this action")
        return self.runtime.background_process(step)

    def finding(self, severity: str, title: str, evidence: Any = None,
                next_step: str | None = None) -> None:
        if self.runtime is not None:
            self.runtime.add_finding(severity=severity, title=title, evidence=evidence,
                                     next_step=next_step, step=self.step)

    def stop_background(self, step: str, grace: float) -> Any:
        if self.runtime is None:
            raise LookupError("no run around this action")
        return self.runtime.stop_background(step, grace)

    def confirm(self, message: str) -> bool:
        if self.runtime is None:
            return False
        return self.runtime.ask(self.step, message)


def parse_or_fail(result: CommandResult, parser: Callable[..., T], *args: Any) -> T:
    """Parse a command's output; a ParseError becomes a CommandError that names the
    command, its exit status and the first lines of output (never a traceback)."""
    from runbook.errors import CommandError
    from runbook.parsing import ParseError, head

    try:
        return parser(*args)
    except ParseError as exc:
        raise CommandError(
            f"cannot read the output of {shlex.join(result.argv)} (exit {result.rc}): "
            f"{exc.reason}\n{head(result.stdout or result.stderr)}",
            argv=result.argv, rc=result.rc, stdout=result.stdout, stderr=result.stderr,
            target=result.target) from exc


class Action(Generic[ArgsT]):
    """Base class of every action a plugin contributes.

    Class attributes declare the action: ``name`` (``plugin.verb``),
    ``summary``, ``Args`` (the pydantic argument model), ``mutating``,
    ``idempotent`` (safe to re-run after a crash), ``can_background``
    (may run as a background step), ``result_fields``. The class docstring is
    the action's reference text in docs/actions.md.
    """

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    Args: ClassVar[type[BaseModel]] = NoArgs
    mutating: ClassVar[bool] = False
    idempotent: ClassVar[bool] = False
    can_background: ClassVar[bool] = False
    always_gated: ClassVar[bool] = False
    waits: ClassVar[bool] = False
    """Waits for a change (replicas, rollouts): in a dry-run it is planned, not run."""
    in_engine: ClassVar[bool] = False
    """Engine-side actions (flow.*): they run no command and are only planned in a dry-run."""
    result_fields: ClassVar[Mapping[str, str]] = {}
    """The fields of the result, each with a one-line description (for docs/actions.md)."""
    command_field: ClassVar[str | None] = None
    """An argument holding a command (argv list or one string): a string is split into
    words before its templates are rendered, so a value is always one argument."""
    shell_field: ClassVar[str | None] = None
    """The boolean argument that runs ``command_field`` through a shell (values quoted)."""

    def commands(self, args: ArgsT) -> list[list[str]]:
        """The exact argv list(s) this action runs, for the plan and for ``run``."""
        return []

    def parse(self, result: CommandResult) -> Any:
        """Turn the last command's output into the action's result."""
        return result.as_dict()

    def run(self, args: ArgsT, ctx: ActionContext) -> Any:
        """Run the commands in order and parse the last one's output."""
        result = None
        for argv in self.commands(args):
            result = ctx.exec(argv)
        return None if result is None else self.parse(result)

    def start(self, args: ArgsT, ctx: ActionContext) -> Process:
        """Begin the action as a background step (only if ``can_background``)."""
        argvs = self.commands(args)
        return ctx.start(argvs[0])

    def finish(self, args: ArgsT, result: CommandResult) -> Any:
        """The result of a background step once it has ended."""
        return self.parse(result)

    def capture(self, args: ArgsT, ctx: ActionContext) -> Any:
        """Read the state this action is about to change (for ``rollback: auto``)."""
        return None

    def inverse(self, args: ArgsT, captured: Any) -> Invocation | None:
        """The invocation that restores ``captured``; None if there is no inverse."""
        return None

    def preview(self, args: ArgsT, ctx: ActionContext) -> str | None:
        """What the step would change, read live without changing anything (a diff):
        a plan of a mutating step shows it. None when there is nothing to show."""
        return None

    @classmethod
    def has_preview(cls) -> bool:
        return cls.preview is not Action.preview

    def describe(self, args: ArgsT) -> str:
        """One line for plans when the action runs no command (flow actions)."""
        cmds = self.commands(args)
        return "; ".join(shlex.join(c) for c in cmds) if cmds else self.summary

    @classmethod
    def has_inverse(cls) -> bool:
        return cls.inverse is not Action.inverse

    @classmethod
    def validate_args(cls, raw: Mapping[str, Any]) -> BaseModel:
        """The typed arguments; ArgumentsInvalid (never pydantic's error) if they do not fit."""
        from pydantic import ValidationError

        try:
            return cls.Args.model_validate(dict(raw))
        except ValidationError as exc:
            from runbook.errors import ArgumentsInvalid

            problems = [(".".join(str(p) for p in e["loc"]),
                         str(e["msg"]).removeprefix("Value error, "))
                        for e in exc.errors(include_url=False)]
            text = "; ".join(f"{loc or 'with'}: {msg}" for loc, msg in problems)
            raise ArgumentsInvalid(f"invalid arguments for {cls.name}: {text}", action=cls.name,
                                   problems=problems) from None
