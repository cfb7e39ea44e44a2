"""``kafka.reset_offsets`` and its preview, built around what the real tool does.

The tool computes the new offsets itself (``--dry-run --export`` prints them
as ``topic,partition,offset``) and refuses a group that is not Empty/Dead.
So the preview is the tool's own dry run; the reset captures the current
commits as the same CSV (the rollback artifact, kept in the journal), runs
the dry run again until the group is empty (or the retry window ends, then
fails with the tool's message), executes with identical arguments and
confirms with a describe. Its inverse feeds the captured CSV back with
``--from-file``.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import Field, model_validator

from runbook.actions import Action, ActionContext, Invocation, NoOp, parse_or_fail
from runbook.errors import StepError
from runbook.models import Duration
from runbook_kafka.groups import GroupArgs, describe, describe_argv
from runbook_kafka.parse import GroupDescription, NewOffset, ResetPlan, parse_export

_MODES = {"earliest": "--to-earliest", "latest": "--to-latest", "current": "--to-current",
          "offset": "--to-offset", "datetime": "--to-datetime", "duration": "--by-duration",
          "shift-by": "--shift-by"}
_NEEDS_VALUE = ("offset", "datetime", "duration", "shift-by")
_INACTIVE = "Assignments can only be reset if the group"
RESULT = {
    "group": "the group",
    "estimated": "(preview) the group was active: offsets estimated from --describe",
    "partitions": "[{topic, partition, new_offset}]: what the tool set (or would set)",
    "dry_run": "true for the preview",
    "error": "the tool's `Error: ...` line, if any",
    "csv": "the new offsets as `topic,partition,offset` lines (`--export`)",
}


class ResetArgs(GroupArgs):
    topic: str | None = Field(default=None, description="TOPIC or TOPIC:PARTITION,... "
                                                        "(not with from_csv)")
    to: Literal["earliest", "latest", "current", "offset", "datetime", "duration",
                "shift-by"] = Field(default="latest", description="where to move the offsets "
                                    "(--to-*, --by-duration, --shift-by)")
    value: str | None = Field(default=None, description="the offset, datetime "
                              "(YYYY-MM-DDTHH:mm:SS.sss), duration (PnDTnHnMnS) or shift: "
                              "required for offset, datetime, duration, shift-by")
    from_csv: str | None = Field(default=None, description="`topic,partition,offset` lines to "
                                 "restore with --from-file (what rollback: auto uses)")
    file: str | None = Field(default=None, description="where from_csv is written on the "
                             "target (default /tmp/runbook-offsets-GROUP.csv)")
    wait_empty: Duration = Field(default=60.0, description="how long to retry while the group "
                                                           "still has members")
    retry_interval: Duration = Field(default=2.0, description="pause between those tries")

    @model_validator(mode="after")
    def _consistent(self) -> ResetArgs:
        if self.from_csv is not None:
            if self.topic is not None:
                raise ValueError("from_csv names its own partitions; give no topic")
            return self
        if self.topic is None:
            raise ValueError("topic is required (or from_csv)")
        needs = self.to in _NEEDS_VALUE
        if needs and self.value is None:
            raise ValueError(f"to: {self.to} needs a value")
        if not needs and self.value is not None:
            raise ValueError(f"to: {self.to} takes no value")
        return self

    def csv_path(self) -> str:
        return self.file or f"/tmp/runbook-offsets-{self.group}.csv"

    def argv(self, mode: str) -> list[str]:
        """The reset command; only ``mode`` (--dry-run / --execute) differs between runs."""
        if self.from_csv is not None:
            spec = ["--from-file", self.csv_path()]
        else:
            spec = [_MODES[self.to], *([self.value] if self.value is not None else []),
                    "--topic", str(self.topic)]
        return [self.tool, "--bootstrap-server", self.bootstrap_server, "--group", self.group,
                "--reset-offsets", *spec, mode, "--export"]


def _tool(args: ResetArgs, ctx: ActionContext, mode: str) -> ResetPlan:
    res = ctx.exec(args.argv(mode), check=False)
    plan = parse_or_fail(res, parse_export, res.stdout, res.stderr)
    if res.rc != 0 and plan["error"] is None:
        said = (res.stderr or res.stdout).strip().splitlines()
        plan["error"] = said[-1] if said else f"exit {res.rc}"
    return plan


def _with_csv(plan: ResetPlan, dry_run: bool) -> dict[str, Any]:
    """The plan with its CSV first (what a console plan line shows before it is cut)."""
    rows = "".join(f"{p['topic']},{p['partition']},{p['new_offset']}\n"
                   for p in plan["partitions"])
    return {"csv": rows, **plan, "dry_run": dry_run}


def _write_csv(args: ResetArgs, ctx: ActionContext) -> None:
    if args.from_csv is not None:
        ctx.executor.write_file(args.csv_path(), args.from_csv.encode(), mode=0o600)


class ResetOffsetsPreview(Action[ResetArgs]):
    """argv: `TOOL --bootstrap-server SERVER --group GROUP --reset-offsets --to-TO [VALUE]
    --topic TOPIC --dry-run --export`

    The tool's own plan: the offset it would set on each partition. The tool
    refuses to plan for a group that still has members (`error` is then its
    message); for `latest`, `current`, `offset` and `shift-by` the preview then
    runs `TOOL --bootstrap-server SERVER --describe --group GROUP` and
    estimates the offsets from the log-end and committed offsets
    (`estimated: true`), so a plan made before the consumer is stopped still
    shows what the reset will set. Changes nothing.
    """

    name = "kafka.reset_offsets_preview"
    summary = "the new offset per partition a reset would set (--dry-run --export); changes nothing"
    Args = ResetArgs
    result_fields = RESULT

    def commands(self, args: ResetArgs) -> list[list[str]]:
        return [args.argv("--dry-run")]

    def run(self, args: ResetArgs, ctx: ActionContext) -> Any:
        _write_csv(args, ctx)
        plan = _tool(args, ctx, "--dry-run")
        if plan["error"] and _INACTIVE in plan["error"] and args.from_csv is None:
            estimated = estimate(args, describe(args, ctx))
            if estimated is not None:
                return {**_with_csv({**plan, "partitions": estimated}, True), "estimated": True}
        return {**_with_csv(plan, True), "estimated": False}


class ResetOffsets(Action[ResetArgs]):
    """argv (all shown in plans):

    ```
    TOOL --bootstrap-server SERVER --group GROUP --reset-offsets MODE --topic TOPIC \\
         --dry-run --export
    TOOL --bootstrap-server SERVER --group GROUP --reset-offsets MODE --topic TOPIC \\
         --execute --export
    TOOL --bootstrap-server SERVER --describe --group GROUP
    ```

    MODE is `--to-earliest`, `--to-latest`, `--to-current`, `--to-offset N`,
    `--to-datetime T`, `--by-duration D` or `--shift-by N`. While the tool
    refuses because the group still has members, the dry run is retried every
    `retry_interval` for `wait_empty`, then the step fails with the tool's
    message (`reset refused: Error: Assignments can only be reset ...`). The
    execute has the dry run's arguments; the describe must then show the
    planned offsets (`reset not confirmed: ...` otherwise).

    `rollback: auto`: before the reset, one describe captures the committed
    offsets as `topic,partition,offset` CSV (in the journal); the rollback runs
    this action with `from_csv` (written to `file`, then `--from-file FILE`).
    A reset that fails midway is rolled back the same way; a restore finds
    nothing to do (and runs only the describe) when the offsets are already
    the captured ones, e.g. after the tool refused the reset.
    """

    name = "kafka.reset_offsets"
    summary = "reset a group's offsets: dry run, execute, confirm; rollback restores the CSV"
    Args = ResetArgs
    mutating = True
    result_fields = {**RESULT, "confirmed": "the describe after the reset showed the new offsets",
                     "tries": "dry runs until the group was empty"}

    def commands(self, args: ResetArgs) -> list[list[str]]:
        return [args.argv("--dry-run"), args.argv("--execute"), describe_argv(args)]

    def run(self, args: ResetArgs, ctx: ActionContext) -> Any:
        if args.from_csv is not None and _already(args.from_csv, describe(args, ctx)):
            return NoOp("the group's offsets are already the ones to restore")
        _write_csv(args, ctx)
        deadline = time.monotonic() + args.wait_empty
        plan, tries = _tool(args, ctx, "--dry-run"), 1
        while plan["error"] and _INACTIVE in plan["error"] and time.monotonic() < deadline:
            time.sleep(args.retry_interval)
            plan, tries = _tool(args, ctx, "--dry-run"), tries + 1
        if plan["error"]:
            raise StepError(f"reset refused: {plan['error']}", step=ctx.step)
        done = _tool(args, ctx, "--execute")
        if done["error"]:
            raise StepError(f"reset failed: {done['error']}", step=ctx.step)
        _confirm(done["partitions"], describe(args, ctx), ctx.step)
        return {**_with_csv(done, False), "confirmed": True, "tries": tries}

    def capture(self, args: ResetArgs, ctx: ActionContext) -> Any:
        if args.from_csv is not None:
            return None
        return current_csv(describe(args, ctx), args.topic or "") or None

    def inverse(self, args: ResetArgs, captured: Any) -> Invocation | None:
        if not captured:
            return None
        restored = args.model_dump(exclude_defaults=True, exclude={"topic", "to", "value"})
        restored["from_csv"] = captured
        return Invocation(self.name, restored)


def estimate(args: ResetArgs, state: GroupDescription) -> list[NewOffset] | None:
    """The offsets the tool would set, from a describe (None for modes it cannot tell)."""
    if args.to not in ("latest", "current", "offset", "shift-by"):
        return None
    name, _, parts = str(args.topic).partition(":")
    wanted = {int(p) for p in parts.split(",")} if parts else None
    found: list[NewOffset] = []
    for p in sorted(state["partitions"], key=lambda p: p["partition"]):
        end, current = p["log_end_offset"], p["current_offset"]
        if p["topic"] != name or end is None or (wanted and p["partition"] not in wanted):
            continue
        base = end if current is None else current
        new = {"latest": end, "current": base, "offset": int(args.value or 0),
               "shift-by": base + int(args.value or 0)}[args.to]
        found.append({"topic": name, "partition": p["partition"], "new_offset": min(new, end)})
    return found


def current_csv(state: GroupDescription, topic: str) -> str:
    """The committed offsets of ``topic`` (``TOPIC[:P,P]``) as ``--export`` CSV lines."""
    name, _, parts = topic.partition(":")
    wanted = {int(p) for p in parts.split(",")} if parts else None
    rows = sorted((p["topic"], p["partition"], p["current_offset"]) for p in state["partitions"]
                  if p["topic"] == name and p["current_offset"] is not None
                  and (wanted is None or p["partition"] in wanted))
    return "".join(f"{t},{p},{o}\n" for t, p, o in rows)


def _already(rows: str, state: GroupDescription) -> bool:
    """Whether every ``topic,partition,offset`` row is already the committed offset."""
    now = {(p["topic"], p["partition"]): p["current_offset"] for p in state["partitions"]}
    wanted = [line.split(",") for line in rows.splitlines() if line.strip()]
    return all(now.get((c[-3], int(c[-2]))) == int(c[-1]) for c in wanted)


def _confirm(planned: list[NewOffset], state: GroupDescription, step: str) -> None:
    now = {(p["topic"], p["partition"]): p["current_offset"] for p in state["partitions"]}
    wrong = [f"{p['topic']}-{p['partition']}: {now.get((p['topic'], p['partition']))} "
             f"(expected {p['new_offset']})" for p in planned
             if now.get((p["topic"], p["partition"])) != p["new_offset"]]
    if wrong:
        raise StepError("reset not confirmed: " + "; ".join(wrong), step=step)
