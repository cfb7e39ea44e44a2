"""CFS actions: read and update the global options (auto rollback), list sessions.

``cfs.options_update`` reads the current options first: values already in
place are a no-op said out loud, and the old values are what
``rollback: auto`` puts back.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from runbook.actions import Action, ActionContext, Args, Invocation, NoOp, parse_or_fail
from runbook.executors.base import CommandResult
from runbook_cfs.parse import format_option_value, option_flag, parse_options, parse_sessions


class CrayArgs(Args):
    cray: str = Field(default="cray", description="the cray CLI binary")


class OptionsGet(Action[CrayArgs]):
    name = "cfs.options_get"
    summary = "the CFS global options (cray cfs v3 options list)"
    Args = CrayArgs

    def commands(self, args: CrayArgs) -> list[list[str]]:
        return [[args.cray, "cfs", "v3", "options", "list", "--format", "json"]]

    def parse(self, result: CommandResult) -> Any:
        return parse_or_fail(result, parse_options, result.stdout)


class OptionsUpdateArgs(CrayArgs):
    additional_inventory_url: str | None = None
    batch_size: int | None = None
    batch_window: int | None = None
    batcher_check_interval: int | None = None
    batcher_disable: bool | None = None
    batcher_max_backoff: int | None = Field(default=None, description="seconds; default 3600")
    batcher_pending_timeout: int | None = None
    debug_wait_time: int | None = None
    default_ansible_config: str | None = None
    default_batcher_retry_policy: int | None = None
    default_page_size: int | None = None
    hardware_sync_interval: int | None = None
    include_ara_links: bool | None = None
    logging_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] | None = None
    session_ttl: str | None = None

    @model_validator(mode="after")
    def _something(self) -> OptionsUpdateArgs:
        if not self.changes():
            raise ValueError("name at least one option to update")
        return self

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True, exclude={"cray"})


class OptionsUpdate(Action[OptionsUpdateArgs]):
    name = "cfs.options_update"
    summary = "update CFS global options; captures old values so rollback: auto restores them"
    Args = OptionsUpdateArgs
    mutating = True
    idempotent = True

    def commands(self, args: OptionsUpdateArgs) -> list[list[str]]:
        argv = [args.cray, "cfs", "v3", "options", "update"]
        for key, value in sorted(args.changes().items()):
            argv += [option_flag(key), format_option_value(value)]
        return [[*argv, "--format", "json"]]

    def _current(self, args: OptionsUpdateArgs, ctx: ActionContext) -> dict[str, Any]:
        current: dict[str, Any] = OptionsGet().run(CrayArgs(cray=args.cray), ctx)
        return current

    def run(self, args: OptionsUpdateArgs, ctx: ActionContext) -> Any:
        current = self._current(args, ctx)
        wanted = args.changes()
        if all(current.get(k) == v for k, v in wanted.items()):
            shown = ", ".join(f"{k}={format_option_value(v)}" for k, v in wanted.items())
            return NoOp(f"already set: {shown}", {k: current.get(k) for k in wanted})
        res = ctx.exec(self.commands(args)[0])
        after = parse_or_fail(res, parse_options, res.stdout) if res.stdout.strip() \
            else self._current(args, ctx)
        return {k: after.get(k) for k in wanted}

    def capture(self, args: OptionsUpdateArgs, ctx: ActionContext) -> Any:
        current = self._current(args, ctx)
        return {k: current.get(k) for k in args.changes()}

    def inverse(self, args: OptionsUpdateArgs, captured: Any) -> Invocation | None:
        if not captured:
            return None
        old = {k: v for k, v in captured.items() if v is not None and v != getattr(args, k)}
        if not old:
            return None
        if args.cray != "cray":
            old["cray"] = args.cray
        return Invocation(self.name, old)


class SessionsArgs(CrayArgs):
    status: Literal["pending", "running", "complete"] | None = None


class SessionsList(Action[SessionsArgs]):
    name = "cfs.sessions_list"
    summary = "CFS sessions, grouped by status ({sessions, by_status})"
    Args = SessionsArgs

    def commands(self, args: SessionsArgs) -> list[list[str]]:
        argv = [args.cray, "cfs", "v3", "sessions", "list", "--format", "json"]
        if args.status:
            argv += ["--status", args.status]
        return [argv]

    def parse(self, result: CommandResult) -> Any:
        parsed = parse_or_fail(result, parse_sessions, result.stdout)
        return {**parsed, "count": len(parsed["sessions"])}


ACTIONS = (OptionsGet, OptionsUpdate, SessionsList)
