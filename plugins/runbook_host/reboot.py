"""``host.reboot`` reboots a host and waits until it has really rebooted.

"Really" is Wikimedia's rule: the host answers again *and* it booted after
the reboot was issued (``uptime -s`` is later than that moment), so a host
that ignored the reboot, or one that never went down, is not mistaken for a
rebooted one. The reboot command itself may lose its connection: that is
expected, not a failure.
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import Field

from runbook.actions import Action, ActionContext, Args
from runbook.errors import StepError
from runbook.executors.base import CommandResult
from runbook.models import Duration
from runbook_host.polling import poll_until, try_exec
from runbook_host.polling import where as _where


class RebootArgs(Args):
    interval: Duration = Field(default=10.0, description="pause between polls of `uptime -s`")
    timeout: Duration = Field(default=2400.0, description="give up after this (default 40m)")
    command: list[str] = Field(default_factory=lambda: ["reboot"],
                               description="the reboot command (argv)")
    uptime: str = Field(default="uptime", description="the uptime binary")


def boot_time(text: str) -> float | None:
    """``uptime -s`` (``2026-12-03 03:20:10``, local time) as a timestamp, None if unreadable."""
    try:
        return time.mktime(time.strptime(text.strip(), "%Y-%m-%d %H:%M:%S"))
    except ValueError:
        return None


class Reboot(Action[RebootArgs]):
    """argv: `reboot`, then every `interval`: `uptime -s` until the host answers and its
    boot time is later than the moment the reboot was issued.

    After `timeout` the step fails with what the last poll saw:
    `db1 did not come back from the reboot within 2400s (last: cannot connect ...)`.
    No inverse: a reboot cannot be undone (the plan says so).
    """

    name = "host.reboot"
    summary = "reboot a host and wait until it answers with a boot time after the reboot"
    Args = RebootArgs
    mutating = True
    waits = True
    result_fields = {
        "rebooted": "true (a host that does not come back fails the step)",
        "boot_time": "`uptime -s` after the reboot",
        "waited_seconds": "from issuing the reboot to the first good answer",
        "polls": "how many times `uptime -s` ran",
    }

    def commands(self, args: RebootArgs) -> list[list[str]]:
        return [list(args.command), [args.uptime, "-s"]]

    def run(self, args: RebootArgs, ctx: ActionContext) -> Any:
        issued = time.time()
        try_exec(ctx, args.command)

        def booted(res: CommandResult) -> bool:
            when = boot_time(res.stdout) if res.rc == 0 else None
            return when is not None and when > issued - 1.0

        ok, poll = poll_until(ctx, [args.uptime, "-s"], booted, interval=args.interval,
                              timeout=args.timeout, first_delay=args.interval)
        if not ok:
            raise StepError(f"{_where(ctx)} did not come back from the reboot within "
                            f"{args.timeout:g}s (last: {poll.last})", step=ctx.step,
                            target=ctx.executor.name)
        return {"rebooted": True, "boot_time": poll.last, "waited_seconds": round(poll.waited, 3),
                "polls": poll.polls}
