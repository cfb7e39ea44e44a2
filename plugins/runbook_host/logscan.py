"""``host.log_scan`` counts the lines of a log that match a pattern, since a moment.

One action for the three places logs live: a file on the target (read with
``Executor.read_file``, so a simulated host's file is its own), the journal
(``journalctl -u UNIT``) and a pod (``kubectl logs``, argv built by the
kubectl plugin). JSON-lines logs are understood: ``field: msg`` matches the
pattern against that field only, and a line's ``time`` field lets a file be
cut at ``since`` like the other two sources are.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from typing import Any

from pydantic import Field, field_validator, model_validator

from runbook.actions import Action, ActionContext, Args
from runbook.durations import parse_duration

_TIME_FIELDS = ("time", "ts", "timestamp", "@timestamp")


def parse_time(text: str) -> float | None:
    """An ISO 8601 time (``2023-01-24T21:10:27Z``) as a UTC timestamp, None if it is not one."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


class LogScanArgs(Args):
    path: str | None = Field(default=None, description="a log file on the target")
    unit: str | None = Field(default=None, description="a systemd unit (journalctl -u)")
    pod: str | None = Field(default=None, description="a pod (kubectl logs)")
    deployment: str | None = Field(default=None, description="a deployment (kubectl logs)")
    namespace: str | None = Field(default=None, description="kubectl -n")
    container: str | None = Field(default=None, description="kubectl -c")
    since: str | float | None = Field(
        default=None, description="a duration (10m: that long ago) or a time "
                                  "(2023-01-24T21:10:27Z)")
    pattern: str = Field(default="", description="a regular expression (Python re)")
    field: str | None = Field(default=None, description="match only this field of JSON lines "
                                                        "(e.g. msg); other lines never match")
    max_lines: int = Field(default=50, ge=0, description="matching lines kept in the result")

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"pattern is not a regular expression: {exc}") from None
        return value

    @field_validator("since")
    @classmethod
    def _since(cls, value: str | float | None) -> str | float | None:
        if value is not None and _since_kind(value) is None:
            raise ValueError(f"since: expected a duration (10m) or a time "
                             f"(2023-01-24T21:10:27Z), got {value!r}")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> LogScanArgs:
        sources = [s for s in (self.path, self.unit, self.pod or self.deployment) if s]
        if len(sources) != 1 or (self.pod and self.deployment):
            raise ValueError("give exactly one of path, unit, pod, deployment")
        return self


def _since_kind(value: str | float) -> tuple[str, float] | None:
    """("ago", seconds) or ("at", timestamp)."""
    try:
        return "ago", parse_duration(value)
    except ValueError:
        pass
    at = parse_time(value) if isinstance(value, str) else None
    return None if at is None else ("at", at)


def scan_command(args: LogScanArgs) -> list[str]:
    """The argv that reads the log (for a file: what a person would type)."""
    since = _since_kind(args.since) if args.since is not None else None
    if args.path:
        return ["cat", "--", args.path]
    if args.unit:
        argv = ["journalctl", "-u", args.unit, "--no-pager", "-o", "cat"]
        if since:
            argv.append(f"--since=-{since[1]:g}s" if since[0] == "ago"
                        else f"--since=@{since[1]:.0f}")
        return argv
    from runbook_kubectl.actions import Logs, LogsArgs

    argv = Logs().commands(LogsArgs(namespace=args.namespace, pod=args.pod,
                                    deployment=args.deployment, container=args.container))[0]
    if since:
        argv.append(f"--since={since[1]:g}s" if since[0] == "ago" else
                    "--since-time=" + datetime.fromtimestamp(since[1], timezone.utc)
                    .strftime("%Y-%m-%dT%H:%M:%SZ"))
    return argv


def _json(line: str) -> dict[str, Any] | None:
    if not line.lstrip().startswith("{"):
        return None
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


def _line_time(obj: dict[str, Any] | None) -> float | None:
    for key in _TIME_FIELDS if obj else ():
        value = obj.get(key) if obj else None
        if isinstance(value, str) and (at := parse_time(value)) is not None:
            return at
    return None


def _matches(line: str, obj: dict[str, Any] | None, args: LogScanArgs,
             regex: re.Pattern[str]) -> bool:
    if args.field is None:
        return regex.search(line) is not None
    value = obj.get(args.field) if obj else None
    return value is not None and regex.search(str(value)) is not None


def _stamp(at: float | None) -> str | None:
    return None if at is None else datetime.fromtimestamp(at, timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def scan(text: str, args: LogScanArgs, floor: float | None) -> dict[str, Any]:
    """The matching lines of ``text``: ``{count, first, last, lines, first_time, last_time}``."""
    regex = re.compile(args.pattern)
    hits: list[tuple[str, float | None]] = []
    for line in text.splitlines():
        obj = _json(line)
        at = _line_time(obj)
        if (floor is None or at is None or at >= floor) and _matches(line, obj, args, regex):
            hits.append((line, at))
    first, last = (hits[0], hits[-1]) if hits else ((None, None), (None, None))
    return {"count": len(hits), "first": first[0], "last": last[0],
            "first_time": _stamp(first[1]), "last_time": _stamp(last[1]),
            "lines": [line for line, _ in hits[-args.max_lines:]] if args.max_lines else []}


class LogScan(Action[LogScanArgs]):
    """argv: `cat -- PATH` (read through the executor's `read_file`),
    `journalctl -u UNIT --no-pager -o cat [--since=-600s | --since=@EPOCH]`, or
    `kubectl [-n NS] logs POD|deployment/D [-c C] [--since=600s | --since-time=TIME]`.

    With `field`, lines are read as JSON and the pattern is searched in that field
    (`field: msg, pattern: "Cannot achieve consistency level LOCAL_QUORUM"` on Kask's
    log); lines that are not JSON never match. A JSON line with a `time` field
    older than `since` is skipped (for files; the journal and kubectl cut it
    themselves). A log that cannot be read fails the step.

    ```yaml
      - probe: host.log_scan
        with: {namespace: sessionstore, pod: "{{ pod }}", since: 10m, field: msg,
               pattern: "Cannot achieve consistency level LOCAL_QUORUM"}
        that: result.count == 0
    ```
    """

    name = "host.log_scan"
    summary = "count log lines matching a pattern since a moment (file, journal or pod; JSON-aware)"
    Args = LogScanArgs
    result_fields = {
        "count": "matching lines",
        "first": "the first matching line (null when none)",
        "last": "the last matching line",
        "first_time": "its `time` field as RFC 3339 for JSON lines, else null",
        "last_time": "likewise for the last",
        "lines": "the last `max_lines` matching lines",
    }

    def commands(self, args: LogScanArgs) -> list[list[str]]:
        return [scan_command(args)]

    def run(self, args: LogScanArgs, ctx: ActionContext) -> Any:
        import time

        since = _since_kind(args.since) if args.since is not None else None
        floor = None if since is None else (time.time() - since[1] if since[0] == "ago"
                                             else since[1])
        text = ctx.read_text(args.path) if args.path else ctx.exec(scan_command(args)).stdout
        return scan(text, args, floor)
