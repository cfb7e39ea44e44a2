"""``host.service`` drives systemd units through ``systemctl``; ``host.service_state`` reads one.

Start and stop capture the unit's ``is-active`` word first, so ``rollback:
auto`` puts the unit back the way it was (a stopped unit is started again, a
unit that was already stopped is left alone). ``service_state`` is the
read-only half, usable as a check's probe.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from runbook.actions import Action, ActionContext, Args, Invocation

_RUNNING = ("active", "activating", "reloading")
_RESULT = {
    "unit": "the unit",
    "command": "what ran: start, stop, restart, is-active, show",
    "active": "`systemctl is-active UNIT` afterwards: active, inactive, failed, activating, ...",
    "properties": "for `show`: the `Key=Value` lines as a mapping (else empty)",
}


class ServiceArgs(Args):
    unit: str = Field(description="the systemd unit, e.g. cassandra or cassandra.service")
    command: Literal["start", "stop", "restart", "is-active", "show"] = Field(
        default="is-active", description="start, stop, restart, is-active, show")
    properties: list[str] = Field(
        default_factory=lambda: ["ActiveState", "SubState", "MainPID"],
        description="for show: the --property= list")
    systemctl: str = Field(default="systemctl", description="the systemctl binary")

    def is_active(self) -> list[str]:
        return [self.systemctl, "is-active", self.unit]

    def main(self) -> list[str]:
        if self.command == "show":
            return [self.systemctl, "show", self.unit, "--property=" + ",".join(self.properties)]
        return [self.systemctl, self.command, self.unit]


def parse_show(text: str) -> dict[str, str]:
    """``Key=Value`` lines of ``systemctl show``."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            found[key.strip()] = value.strip()
    return found


def _state(args: ServiceArgs, ctx: ActionContext) -> dict[str, Any]:
    properties: dict[str, str] = {}
    if args.command == "show":
        properties = parse_show(ctx.exec(args.main()).stdout)
    elif args.command != "is-active":
        ctx.exec(args.main())
    word = ctx.exec(args.is_active(), check=False).stdout.strip() or "unknown"
    return {"unit": args.unit, "command": args.command, "active": word,
            "properties": properties}


class Service(Action[ServiceArgs]):
    """argv: `systemctl COMMAND UNIT`, then `systemctl is-active UNIT` (its word is
    `result.active`); `show` runs `systemctl show UNIT --property=A,B,C`.

    `rollback: auto` for `start` and `stop`: before acting it runs
    `systemctl is-active UNIT`; a stop of a running unit is undone by a start,
    a start of a stopped unit by a stop; nothing to undo when the unit already
    was in the asked state. `restart` has no inverse. A failing
    `systemctl start|stop|restart` fails the step.
    """

    name = "host.service"
    summary = "systemctl start/stop/restart/is-active/show a unit (rollback: auto for start/stop)"
    Args = ServiceArgs
    mutating = True
    idempotent = True
    result_fields = _RESULT

    def commands(self, args: ServiceArgs) -> list[list[str]]:
        if args.command in ("is-active", "show"):
            return [args.main()]
        return [args.main(), args.is_active()]

    def run(self, args: ServiceArgs, ctx: ActionContext) -> Any:
        return _state(args, ctx)

    def capture(self, args: ServiceArgs, ctx: ActionContext) -> Any:
        if args.command not in ("start", "stop"):
            return None
        return ctx.exec(args.is_active(), check=False).stdout.strip() or "unknown"

    def inverse(self, args: ServiceArgs, captured: Any) -> Invocation | None:
        if captured is None:
            return None
        running = captured in _RUNNING
        if args.command == "stop" and running:
            undo = "start"
        elif args.command == "start" and not running:
            undo = "stop"
        else:
            return None
        restored = args.model_dump(exclude_defaults=True)
        restored["command"] = undo
        return Invocation(self.name, restored)


class ServiceStateArgs(ServiceArgs):
    command: Literal["is-active", "show"] = Field(default="is-active",
                                                  description="is-active or show")


class ServiceState(Action[ServiceStateArgs]):
    """The read-only half of `host.service` (a probe): `systemctl is-active UNIT`, or
    `systemctl show UNIT --property=...` then `is-active`.

    ```yaml
      - probe: host.service_state
        with: {unit: cassandra}
        that: result.active == "active"
    ```
    """

    name = "host.service_state"
    summary = "whether a systemd unit is active (and its properties with command: show)"
    Args = ServiceStateArgs
    result_fields = _RESULT

    def commands(self, args: ServiceStateArgs) -> list[list[str]]:
        return [args.main()]

    def run(self, args: ServiceStateArgs, ctx: ActionContext) -> Any:
        return _state(args, ctx)
