"""The lighthouse actions: read a lamp, switch it (``rollback: auto`` switches it back)."""

from __future__ import annotations

import json
from typing import Any, Literal

from runbook.actions import Action, ActionContext, Args, Invocation, NoOp
from runbook.executors.base import CommandResult


class LampStatus(Action[Args]):
    """argv: `lampctl status`; the result is the JSON it prints."""

    name = "lamp.status"
    summary = "the state of the tower's lamp (lampctl status)"
    result_fields = {"tower": "the tower asked", "lamp": "`on` or `off`"}

    def commands(self, args: Args) -> list[list[str]]:
        return [["lampctl", "status"]]

    def parse(self, result: CommandResult) -> Any:
        return json.loads(result.stdout)


class SwitchArgs(Args):
    state: Literal["on", "off"]


class LampSwitch(Action[SwitchArgs]):
    """argv: `lampctl switch on|off`; a lamp already in that state is a no-op."""

    name = "lamp.switch"
    summary = "switch the tower's lamp on or off"
    Args = SwitchArgs
    mutating = True
    idempotent = True
    result_fields = {"tower": "the tower switched", "lamp": "its lamp afterwards"}

    def commands(self, args: SwitchArgs) -> list[list[str]]:
        return [["lampctl", "switch", args.state]]

    def capture(self, args: SwitchArgs, ctx: ActionContext) -> Any:
        return LampStatus().parse(ctx.exec(["lampctl", "status"]))["lamp"]

    def run(self, args: SwitchArgs, ctx: ActionContext) -> Any:
        before = LampStatus().parse(ctx.exec(["lampctl", "status"]))
        if before["lamp"] == args.state:
            return NoOp(f"the lamp is already {args.state}", before)
        return json.loads(ctx.exec(self.commands(args)[0]).stdout)

    def inverse(self, args: SwitchArgs, captured: Any) -> Invocation | None:
        return Invocation(self.name, {"state": captured})
