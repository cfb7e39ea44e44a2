"""``simplevisor.status`` and ``simplevisor.restart``: stompclt under its supervisor.

The children and their expected states come from simplevisor's own file
(``simplevisor.config``); each child's state is the exit status of
``simplevisor --conf FILE status SUP/CHILD`` (0: running). That is liveness,
not progress: a stuck stompclt is "running" (pair with stomp.queue_progress).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from runbook.actions import Action, ActionContext, Args
from runbook.errors import StepError
from runbook_stomp.config_actions import read_simplevisor


class SupervisorArgs(Args):
    conf: str = Field(description="simplevisor's configuration file on the target")
    child: str | None = Field(default=None, description="SUP/CHILD; all children when omitted")
    simplevisor: str = Field(default="simplevisor", description="the simplevisor binary")

    def argv(self, command: str, child: str | None) -> list[str]:
        return [self.simplevisor, "--conf", self.conf, command] + ([child] if child else [])


_RESULT = {
    "children": "{SUP/CHILD: running or stopped}",
    "expected": "{SUP/CHILD: the state the configuration expects}",
    "unexpected": "[SUP/CHILD whose state is not the expected one]",
}


def _status(args: SupervisorArgs, ctx: ActionContext) -> dict[str, Any]:
    config = read_simplevisor(ctx, args.conf)
    names = [args.child] if args.child else list(config["children"])
    unknown = [n for n in names if n not in config["expected"]]
    if unknown:
        raise StepError(f"{args.conf} has no child {unknown[0]} (it has "
                        f"{', '.join(config['children'])})", step=ctx.step)
    states = {n: "running" if ctx.exec(args.argv("status", n), check=False).rc == 0
              else "stopped" for n in names}
    expected = {n: config["expected"][n] for n in names}
    return {"children": states, "expected": expected,
            "unexpected": [n for n in names if states[n] != expected[n]]}


class SimplevisorStatus(Action[SupervisorArgs]):
    """argv: `cat -- CONF` (and its includes), then per child `SIMPLEVISOR --conf CONF
    status SUP/CHILD` (exit 0: running)."""

    name = "simplevisor.status"
    summary = "the supervisor's children: running or stopped, against their expected state"
    Args = SupervisorArgs
    result_fields = _RESULT

    def commands(self, args: SupervisorArgs) -> list[list[str]]:
        return [["cat", "--", args.conf], args.argv("status", args.child)]

    def run(self, args: SupervisorArgs, ctx: ActionContext) -> Any:
        return _status(args, ctx)


class SimplevisorRestart(Action[SupervisorArgs]):
    """argv: `SIMPLEVISOR --conf CONF restart [SUP/CHILD]`, then the status of the
    children. Fails when the restart fails or a child is then not in its
    expected state. No inverse: a restart undoes nothing.
    """

    name = "simplevisor.restart"
    summary = "restart a child (or the whole tree) under simplevisor, then check the children"
    Args = SupervisorArgs
    mutating = True
    idempotent = True
    result_fields = _RESULT

    def commands(self, args: SupervisorArgs) -> list[list[str]]:
        return [args.argv("restart", args.child), args.argv("status", args.child)]

    def run(self, args: SupervisorArgs, ctx: ActionContext) -> Any:
        ctx.exec(args.argv("restart", args.child))
        state = _status(args, ctx)
        if state["unexpected"]:
            raise StepError(f"after the restart {', '.join(state['unexpected'])} is not as "
                            "expected: " + ", ".join(f"{n} {state['children'][n]}"
                                                     for n in state["unexpected"]),
                            step=ctx.step)
        return state
