"""CFS actions: read and update the global options (auto rollback), list sessions.

HPE Cray CFS through the `cray` CLI; every action takes `cray`, the binary.
`cfs.options_update` reads the current options first: values already in
place are a no-op said out loud, and the old values are what
`rollback: auto` puts back.
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
    """argv: `cray cfs v3 options list --format json`

    The result is the options object as the API returns it
    (`{batcher_disable: false, batcher_max_backoff: 3600, ...}`), known keys
    type-checked.
    """

    name = "cfs.options_get"
    summary = "the CFS global options (cray cfs v3 options list)"
    Args = CrayArgs
    result_fields = {"OPTION": "each option by name, as the API returns it"}

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
    """All options are optional; at least one must be given (`name at least one
    option to update`).

    argv: options sorted by name, `_` → `-`, booleans as `true`/`false`:

    ```
    cray cfs v3 options update --batcher-disable true --format json
    cray cfs v3 options update --batcher-max-backoff 3600 --format json
    ```

    Before updating it always reads `cray cfs v3 options list --format json`.
    If every option already has the wanted value, it runs nothing and says so
    (a no-op: the step's result is `{noop: "already set: batcher_disable=true",
    result: {...}}`; templates and `register` see the inner `result`).

    `rollback: auto`: the values read before the update are restored for the
    options that changed, e.g. plan line
    `rollback: auto: cray cfs v3 options update --batcher-disable false --format json`.
    """

    name = "cfs.options_update"
    summary = "update CFS global options; captures old values so rollback: auto restores them"
    Args = OptionsUpdateArgs
    mutating = True
    idempotent = True
    result_fields = {"OPTION": "each updated option with its value after the update"}

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
    status: Literal["pending", "running", "complete"] | None = Field(
        default=None, description="only sessions in this status (default: all)")


class SessionsList(Action[SessionsArgs]):
    """argv: `cray cfs v3 sessions list --format json [--status STATUS]`

    ```yaml
    that: "result.by_status.running | length + result.by_status.complete | length > 0"
    ```
    """

    name = "cfs.sessions_list"
    summary = "CFS sessions, grouped by status ({sessions, by_status})"
    Args = SessionsArgs
    result_fields = {
        "count": "the number of sessions",
        "next": "the paging cursor (null on the last page)",
        "sessions": "[{name, status, succeeded, start_time, completion_time, job, "
                    "configuration}]",
        "by_status": "{pending: [names], running: [names], complete: [names], ...}; always "
                     "has the three keys",
    }

    def commands(self, args: SessionsArgs) -> list[list[str]]:
        argv = [args.cray, "cfs", "v3", "sessions", "list", "--format", "json"]
        if args.status:
            argv += ["--status", args.status]
        return [argv]

    def parse(self, result: CommandResult) -> Any:
        parsed = parse_or_fail(result, parse_sessions, result.stdout)
        return {**parsed, "count": len(parsed["sessions"])}


ACTIONS = (OptionsGet, OptionsUpdate, SessionsList)
