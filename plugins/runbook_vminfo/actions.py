"""vminfod actions: ping, status, the VM list against vmadm's, and what clients logged.

All read-only. ``vminfo``'s output is not a stable interface: the results
name what they could not understand (``not_understood``) instead of failing
or pretending all is well.
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import Field, field_validator

from runbook.actions import Action, ActionContext, Args, parse_or_fail
from runbook.executors.base import CommandResult
from runbook.models import Duration
from runbook_vminfo.events import parse_client_log
from runbook_vminfo.parse import parse_lookup, parse_ping, parse_status_json, parse_vms


class Ping(Action[Args]):
    """argv: `vminfo ping`

    A non-zero exit is a result (`alive: false` with vminfo's message, e.g.
    `bad statusCode: 503`), not a failure.
    """

    name = "vminfo.ping"
    summary = "whether vminfod answers ({alive, error})"
    result_fields = {"alive": "true when vminfo printed `pong` and exited 0",
                     "error": "what vminfo said otherwise (null when alive)"}

    def commands(self, args: Args) -> list[list[str]]:
        return [["vminfo", "ping"]]

    def run(self, args: Args, ctx: ActionContext) -> Any:
        res = ctx.exec(self.commands(args)[0], check=False)
        return parse_ping(res.stdout, res.stderr, res.rc)


class StatusArgs(Args):
    full: bool = Field(default=False, description="-f: also the fswatcher and refresh log")
    json_layout: bool = Field(default=True, alias="json",
                              description="-j; when it fails, the text layout is read instead")


class Status(Action[StatusArgs]):
    """argv: `vminfo status -j [-f]` (when that fails: `vminfo status [-f]`, the text layout)

    Sizes in bytes and MiB, durations in seconds. Anything missing, of an
    unexpected type or unknown (a newer platform) is listed in
    `not_understood` and its value is null.

    ```yaml
    that: result.npending == 0 and result.nqueued == 0
    ```
    """

    name = "vminfo.status"
    summary = "vminfod's state, memory, queue, refresh and listeners, read defensively"
    Args = StatusArgs
    result_fields = {
        "layout": "`json` or `text`",
        "state, status": "`running`/`working`, `paused`/..., `booting`/...",
        "pid": "vminfod's process id",
        "num_vms": "`numVms`",
        "rss_bytes, rss_mb": "`memory.rss` in bytes (null in the text layout) and MiB",
        "uptime_seconds": "`uptime`",
        "queue_paused, queue_idle": "the event queue's flags",
        "npending, nqueued": "tasks running and waiting",
        "oldest_pending_age_seconds": "`created_ago` of the oldest pending task (null: none)",
        "last_refresh_age_seconds": "`lastRefresh` (null when there was none yet)",
        "refresh_errors": "the messages of `refreshErrors`",
        "listeners": "`[{uuid, user_agent, age_seconds}]`",
        "fswatcher": "`{running, pending_actions}` with `full: true`, else null",
        "not_understood": "fields missing, unexpected or unknown (empty when all was read)",
    }

    def commands(self, args: StatusArgs) -> list[list[str]]:
        return [["vminfo", "status", *(["-j"] if args.json_layout else []),
                 *(["-f"] if args.full else [])]]

    def run(self, args: StatusArgs, ctx: ActionContext) -> Any:
        res = ctx.exec(self.commands(args)[0], check=False)
        if res.rc != 0 and args.json_layout:
            res = ctx.exec(["vminfo", "status", *(["-f"] if args.full else [])], check=False)
            return self.parse(res.check())
        return self.parse(res.check())

    def parse(self, result: CommandResult) -> Any:
        from runbook_vminfo.status_text import parse_status_text

        if result.stdout.lstrip().startswith("{"):
            return parse_or_fail(result, parse_status_json, result.stdout)
        return parse_or_fail(result, parse_status_text, result.stdout)


class SyncArgs(Args):
    samples: int = Field(default=3, ge=1, le=100, description="how many times to compare")
    interval: Duration = Field(default=2.0, description="pause between samples")


class VmsVsVmadm(Action[SyncArgs]):
    """argv (each sample): `vminfo vms`, then `vmadm lookup`

    A VM created or deleted between the two commands differs for a moment (a
    race, not a bug): only a difference present in every sample counts; the
    others are `transient`.
    """

    name = "vminfo.vms_vs_vmadm"
    summary = "VM UUIDs vminfod and vmadm disagree on, sampled to rule out races"
    Args = SyncArgs
    result_fields = {
        "only_vminfo": "UUIDs vminfo lists and vmadm does not, in every sample",
        "only_vmadm": "UUIDs vmadm lists and vminfo does not, in every sample",
        "transient": "UUIDs that differed in some samples only",
        "samples": "how many samples were compared",
        "vminfo_count, vmadm_count": "VMs each listed in the last sample",
    }

    def commands(self, args: SyncArgs) -> list[list[str]]:
        return [["vminfo", "vms"], ["vmadm", "lookup"]]

    def run(self, args: SyncArgs, ctx: ActionContext) -> Any:
        diffs: list[tuple[set[str], set[str]]] = []
        vminfo: list[str] = []
        vmadm: list[str] = []
        for index in range(args.samples):
            if index:
                time.sleep(args.interval)
            first, second = (ctx.exec(argv) for argv in self.commands(args))
            vminfo = parse_or_fail(first, parse_vms, first.stdout)
            vmadm = parse_or_fail(second, parse_lookup, second.stdout)
            diffs.append((set(vminfo) - set(vmadm), set(vmadm) - set(vminfo)))
        only_vminfo = set.intersection(*(d[0] for d in diffs))
        only_vmadm = set.intersection(*(d[1] for d in diffs))
        seen = set().union(*(d[0] | d[1] for d in diffs))
        return {"only_vminfo": sorted(only_vminfo), "only_vmadm": sorted(only_vmadm),
                "transient": sorted(seen - only_vminfo - only_vmadm), "samples": args.samples,
                "vminfo_count": len(vminfo), "vmadm_count": len(vmadm)}


class EventsArgs(Args):
    path: str = Field(description="the client's log file on the target (an absolute path)")
    lines: int = Field(default=5000, ge=1, description="read at most this many lines from its "
                                                       "end")

    @field_validator("path")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(f"expected an absolute path, got {value!r}")
        return value


class EventsFor(Action[EventsArgs]):
    """argv: `tail -n LINES PATH` (a bounded read of the log's end)

    Each watchForChanges timeout is compared with the change vminfod emitted
    for the same VM and property (`vminfod event` lines): `"1024"` expected
    against `1024` emitted is `type_mismatch: true`, a bug in the caller.
    A file that cannot be read fails the step with tail's message.
    """

    name = "vminfo.events_for"
    summary = "watchForChanges timeouts (with type mismatches) and premature stream ends"
    Args = EventsArgs
    result_fields = {
        "timeouts": "`[{time, vm_uuid, path, expected, expected_type, emitted, emitted_type, "
                    "type_mismatch, note}]`",
        "type_mismatches": "the timeouts with `type_mismatch: true`",
        "premature_ends": "`[{time, msg}]` of `VminfodEventStream ended prematurely`",
        "not_understood": "lines that are not bunyan JSON",
        "lines": "how many lines were read",
    }

    def commands(self, args: EventsArgs) -> list[list[str]]:
        return [["tail", "-n", str(args.lines), args.path]]

    def parse(self, result: CommandResult) -> Any:
        found = parse_client_log(result.stdout)
        mismatches = [t for t in found["timeouts"] if t["type_mismatch"]]
        return {**found, "type_mismatches": mismatches, "lines": len(result.lines)}


ACTIONS = (Ping, Status, VmsVsVmadm, EventsFor)
