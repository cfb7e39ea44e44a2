"""Polling a target until something holds: the loop behind host.reboot and host.wait_port.

A poll that cannot reach the target (connection refused, timed out, a
non-zero exit) is "not yet", never an error: a rebooting host is expected
not to answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from runbook.actions import ActionContext
from runbook.errors import RunbookError
from runbook.executors.base import CommandResult


@dataclass
class Poll:
    """How a wait went: the polls made, the seconds waited, the last answer."""

    polls: int = 0
    waited: float = 0.0
    last: str = "no answer yet"


def try_exec(ctx: ActionContext, argv: Sequence[str]) -> CommandResult | str:
    """The command's result, or why the target did not answer."""
    try:
        return ctx.exec(argv, check=False)
    except RunbookError as exc:
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def poll_until(ctx: ActionContext, argv: Sequence[str], done: Callable[[CommandResult], bool],
               *, interval: float, timeout: float, first_delay: float = 0.0) -> tuple[bool, Poll]:
    """Run ``argv`` every ``interval`` until ``done`` holds or ``timeout`` passes."""
    started = time.monotonic()
    deadline = started + timeout
    state = Poll()
    if first_delay:
        time.sleep(min(first_delay, timeout))
    while True:
        answer = try_exec(ctx, argv)
        state.polls += 1
        state.waited = time.monotonic() - started
        if isinstance(answer, str):
            state.last = answer
        else:
            state.last = (answer.stdout or answer.stderr).strip().splitlines()[-1:][0] \
                if (answer.stdout or answer.stderr).strip() else f"exit {answer.rc}"
            if done(answer):
                return True, state
        if time.monotonic() >= deadline:
            return False, state
        time.sleep(max(0.0, min(interval, deadline - time.monotonic())))


def where(ctx: ActionContext) -> str:
    """The host an action runs on, for messages: the target's ``host`` setting, else its name."""
    return str(ctx.executor.settings.get("host") or ctx.executor.name)
