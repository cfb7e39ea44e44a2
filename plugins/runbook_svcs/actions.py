"""SMF actions: read service states, explanations and logs (``svcs``); change them (``svcadm``).

Every command is an argv list. ``svcadm`` prints nothing on success, so its
actions report ``{ok: true}`` and a failure says what svcadm said and what
its exit status means (3 and 4: an administrator is needed, see ``svcs -xv``).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from runbook.actions import Action, ActionContext, Args, Invocation, NoOp, parse_or_fail
from runbook.errors import StepError
from runbook.executors.base import CommandResult
from runbook_svcs.explain import parse_explain
from runbook_svcs.logs import parse_log
from runbook_svcs.parse import (
    missing_patterns,
    parse_listing,
    parse_log_paths,
    parse_states,
    parse_svcadm,
)


class StateArgs(Args):
    patterns: list[str] = Field(min_length=1, description="FMRIs or patterns (`vminfod`, "
                                                          "`svc:/system/*`)")


class State(Action[StateArgs]):
    """argv: `svcs -H -o state,nstate,fmri PATTERN...`

    A pattern that matches nothing is listed in `missing_patterns` (svcs exits
    1 and says `svcs: Pattern 'x' doesn't match any instances`); it is not a
    failure. Any other error fails the step with svcs's message.

    ```yaml
    that: result.states['svc:/system/smartdc/vminfod:default'] == 'online'
    ```
    """

    name = "svcs.state"
    summary = "the SMF state of instances ({states, transitioning, missing_patterns})"
    Args = StateArgs
    result_fields = {
        "states": "FMRI -> state (`online`, `maintenance`, ...; a `*` is removed)",
        "transitioning": "FMRIs changing state (a `*` or an NSTATE other than `-`)",
        "missing_patterns": "patterns that matched no instance",
    }

    def commands(self, args: StateArgs) -> list[list[str]]:
        return [["svcs", "-H", "-o", "state,nstate,fmri", *args.patterns]]

    def run(self, args: StateArgs, ctx: ActionContext) -> Any:
        res = ctx.exec(self.commands(args)[0], check=False)
        return parse_or_fail(res, parse_states, res.stdout, res.stderr, res.rc)


class List(Action[Args]):
    """argv: `svcs -a`

    Every instance with its state and STIME (`13:05:51`, `Mar_28` or a year).
    """

    name = "svcs.list"
    summary = "every SMF instance ({instances, states, transitioning})"
    result_fields = {
        "instances": "`[{state, stime, fmri}]` in svcs's order",
        "states": "FMRI -> state",
        "transitioning": "FMRIs whose state has a `*`",
    }

    def commands(self, args: Args) -> list[list[str]]:
        return [["svcs", "-a"]]

    def parse(self, result: CommandResult) -> Any:
        return parse_or_fail(result, parse_listing, result.stdout)


class ExplainArgs(Args):
    patterns: list[str] = Field(default_factory=list,
                                description="instances to explain (none: every problem)")
    verbose: bool = Field(default=False, description="-v: dependency path and the "
                                                     "dependents that are not running")


class Explain(Action[ExplainArgs]):
    """argv: `svcs -x [-v] [PATTERN...]`

    One entry per service that is enabled but not running (or per named
    instance). `description` is null when svcs shows `(?)`; `path` and
    `dependents_not_running` are filled only with `verbose: true`. A pattern
    that matches nothing is listed in `missing_patterns`.
    """

    name = "svcs.explain"
    summary = "why services are not running (svcs -x): state, reason, log, impact"
    Args = ExplainArgs
    result_fields = {
        "services": "`[{fmri, description, zone, state, since, reason, see, log, path, "
                    "dependents_not_running, dependents_not_running_count}]`",
        "missing_patterns": "patterns that matched no instance",
    }

    def commands(self, args: ExplainArgs) -> list[list[str]]:
        return [["svcs", "-x", *(["-v"] if args.verbose else []), *args.patterns]]

    def run(self, args: ExplainArgs, ctx: ActionContext) -> Any:
        res = ctx.exec(self.commands(args)[0], check=False)
        missing = missing_patterns(res.stderr)
        if res.rc != 0 and not missing:
            res.check()
        explained = parse_or_fail(res, parse_explain, res.stdout)
        return {**explained, "missing_patterns": missing}


class LogArgs(Args):
    pattern: str = Field(description="the service (`vminfod`)")
    lines: int = Field(default=50, ge=0, description="lines of each log to read from its end "
                                                     "(0: only list the files)")


class Log(Action[LogArgs]):
    """argv: `svcs -L PATTERN`, then `tail -n LINES FILE` for each log file it
    names (a bounded read, however large the log; nothing with `lines: 0`).

    Each line becomes an entry: bunyan JSON (with `level_name`: `info`,
    `error`, `fatal`, ...) or an SMF line (`source: smf`, e.g.
    `Restarting too quickly, changing state to maintenance.`). `problems` are
    the messages of error/fatal records and SMF failure lines; lines that are
    neither are listed in `not_understood`, never silently dropped.
    """

    name = "svcs.log"
    summary = "a service's SMF log: files, last lines, parsed bunyan entries, problems"
    Args = LogArgs
    result_fields = {
        "log_files": "the paths `svcs -L` printed",
        "lines": "the last `lines` lines of the logs, as read",
        "entries": "parsed lines: bunyan records with `level_name`, SMF lines "
                   "(`source: smf`, `time`, `msg`)",
        "problems": "error/fatal messages (with `err.message`) and SMF failure lines",
        "cause": "the service's own last error/fatal message, else the last SMF failure line "
                 "(null: none)",
        "not_understood": "lines that are neither bunyan JSON nor SMF lines",
    }

    def commands(self, args: LogArgs) -> list[list[str]]:
        return [["svcs", "-L", args.pattern]]

    def run(self, args: LogArgs, ctx: ActionContext) -> Any:
        res = ctx.exec(self.commands(args)[0], check=False)
        missing = missing_patterns(res.stderr)
        if missing:
            raise StepError(f"no SMF instance matches {missing[0]!r} (svcs -L)", step=ctx.step)
        paths = parse_or_fail(res.check(), parse_log_paths, res.stdout)
        text = "".join(ctx.exec(["tail", "-n", str(args.lines), path]).stdout
                       for path in paths) if args.lines else ""
        return {"log_files": paths, "lines": text.splitlines(), **parse_log(text)}


class SvcadmArgs(Args):
    pattern: str = Field(description="the instance (`vminfod`, `svc:/site/app:default`)")


class WaitArgs(SvcadmArgs):
    wait: bool = Field(default=False, description="-s: wait until the state is reached")


class _Svcadm(Action[Any]):
    """Shared run: svcadm is silent on success; anything else is explained."""

    verb: str = ""
    mutating = True
    result_fields = {"ok": "true (a failure fails the step with svcadm's message)",
                     "rc": "svcadm's exit status"}

    def flags(self, args: Any) -> list[str]:
        return []

    def commands(self, args: Any) -> list[list[str]]:
        return [["svcadm", self.verb, *self.flags(args), args.pattern]]

    acts_on: tuple[str, ...] = ()
    """States SMF acts on for this verb (empty: any); otherwise the action is a no-op."""

    def run(self, args: Any, ctx: ActionContext) -> Any:
        if self.acts_on:
            states = State().run(StateArgs(patterns=[args.pattern]), ctx)["states"]
            if states and not any(s in self.acts_on for s in states.values()):
                found = ", ".join(f"{f} is {s}" for f, s in states.items())
                return NoOp(f"svcadm {self.verb} acts only on {' or '.join(self.acts_on)} "
                            f"instances: {found}", {"ok": True, "rc": None})
        res = ctx.exec(self.commands(args)[0], check=False)
        outcome = parse_svcadm(res.stdout, res.stderr, res.rc)
        if not outcome["ok"]:
            raise StepError(f"svcadm {self.verb} {args.pattern} failed: {outcome['error']}",
                            step=ctx.step)
        return {"ok": True, "rc": res.rc}


class _Toggle(_Svcadm):
    """enable/disable: `-s` waits; rollback: auto is the other one."""

    Args = WaitArgs
    idempotent = True
    undo: str = ""
    undone_by: tuple[str, ...] = ()

    def flags(self, args: Any) -> list[str]:
        return ["-s"] if args.wait else []

    def capture(self, args: Any, ctx: ActionContext) -> Any:
        return State().run(StateArgs(patterns=[args.pattern]), ctx)["states"]

    def inverse(self, args: Any, captured: Any) -> Invocation | None:
        if not captured or not any(s in self.undone_by for s in captured.values()):
            return None
        return Invocation(self.undo, args.model_dump(exclude_defaults=True))


class Enable(_Toggle):
    """argv: `svcadm enable [-s] PATTERN`

    `rollback: auto` captures the states first (`svcs -H -o state,nstate,fmri
    PATTERN`) and disables again only if an instance was disabled.
    """

    name = "svcadm.enable"
    summary = "enable an SMF instance (-s waits); rollback: auto disables it again"
    verb = "enable"
    undo = "svcadm.disable"
    undone_by = ("disabled",)


class Disable(_Toggle):
    """argv: `svcadm disable [-s] PATTERN`

    `rollback: auto` enables again only if an instance was not disabled before.
    """

    name = "svcadm.disable"
    summary = "disable an SMF instance (-s waits); rollback: auto enables it again"
    verb = "disable"
    undo = "svcadm.enable"
    undone_by = ("online", "offline", "degraded", "maintenance", "uninitialized")


class Restart(_Svcadm):
    """argv: `svcadm restart PATTERN`

    SMF restarts only an `online` or `degraded` instance: the action reads the
    state first (`svcs -H -o state,nstate,fmri PATTERN`) and is a no-op with
    the reason otherwise. Check the state afterwards with `svcs.state` (a step
    check with `retry`).
    """

    name = "svcadm.restart"
    summary = "restart an SMF instance (stop and start methods)"
    Args = SvcadmArgs
    verb = "restart"
    acts_on = ("online", "degraded")


class Clear(_Svcadm):
    """argv: `svcadm clear PATTERN`

    Takes an instance out of `maintenance` (or `degraded`): SMF starts it
    again. It helps only once the cause (see `svcs.log`) is fixed; otherwise
    the instance goes back to maintenance. The state is read first; an
    instance in neither state makes the action a no-op with the reason.
    """

    name = "svcadm.clear"
    summary = "clear maintenance: SMF tries to start the instance again"
    Args = SvcadmArgs
    verb = "clear"
    acts_on = ("maintenance", "degraded")
    idempotent = True


ACTIONS = (State, List, Explain, Log, Enable, Disable, Restart, Clear)
