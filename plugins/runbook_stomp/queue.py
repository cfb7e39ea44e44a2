"""``stomp.queue_progress``: whether stompclt's on-disk queue is moving.

stompclt's queues are Directory::Queue folders: elements live one level down,
``PATH/<8 hex>/<14 hex>`` (a file in the Simple flavour, a folder in the
Normal one; ``.tmp`` ones are still being written). The action counts them
and the age of the oldest with ``find`` and the target's clock, a few times
over an interval: a liveness check says the process is there, this says the
data moves (draining), does not (flat) or piles up (growing).
"""

from __future__ import annotations

import re
import time
from typing import Any

from pydantic import Field

from runbook.actions import Action, ActionContext, Args
from runbook.errors import CommandError
from runbook.models import Duration

_ELEMENT = re.compile(r"^[0-9a-f]{8}/[0-9a-f]{14}(?:\.lck)?$")


class QueueArgs(Args):
    path: str = Field(description="the queue's folder (stomp.config's incoming_queue_path)")
    interval: Duration = Field(default=60.0, description="between the first and last sample")
    samples: int = Field(default=3, ge=2, le=60, description="how many samples")


def find_argv(path: str) -> list[str]:
    return ["find", path, "-mindepth", "2", "-maxdepth", "2", "-printf", "%P %T@\\n"]


def parse_find(text: str, now: float) -> dict[str, Any]:
    """Count the queue's elements in ``find -printf '%P %T@\\n'`` output; the oldest's age."""
    times = []
    for line in text.splitlines():
        name, _, stamp = line.rpartition(" ")
        if _ELEMENT.match(name):
            try:
                times.append(float(stamp))
            except ValueError:
                continue
    oldest = round(max(0.0, now - min(times)), 1) if times else None
    return {"count": len(times), "oldest_age_seconds": oldest}


def trend(counts: list[int]) -> str:
    if counts[-1] < counts[0]:
        return "draining"
    if counts[-1] > counts[0]:
        return "growing"
    return "flat"


class QueueProgress(Action[QueueArgs]):
    """argv, per sample: `date +%s.%N` then `find PATH -mindepth 2 -maxdepth 2 -printf
    '%P %T@\\n'`; `samples` samples spread over `interval`.

    `trend` compares the first and last counts: `draining` (fewer), `flat`
    (the same, including an empty queue) or `growing`. A missing folder fails
    the step.
    """

    name = "stomp.queue_progress"
    summary = "a Directory::Queue's size and oldest message over time: draining, flat, growing"
    Args = QueueArgs
    result_fields = {
        "path": "the queue's folder",
        "samples": "[{count, oldest_age_seconds}] in time order",
        "count": "the number of messages at the last sample",
        "oldest_age_seconds": "the age of the oldest message at the last sample (null: empty)",
        "trend": "draining, flat or growing",
    }

    def commands(self, args: QueueArgs) -> list[list[str]]:
        return [["date", "+%s.%N"], find_argv(args.path)]

    def run(self, args: QueueArgs, ctx: ActionContext) -> Any:
        samples = []
        pause = float(args.interval) / (args.samples - 1)
        for i in range(args.samples):
            if i:
                time.sleep(pause)
            now = float(ctx.exec(["date", "+%s.%N"]).stdout.strip())
            res = ctx.exec(find_argv(args.path), check=False)
            if res.rc != 0:
                raise CommandError(f"cannot list the queue {args.path}: "
                                   f"{res.stderr.strip() or res.stdout.strip()}",
                                   argv=res.argv, rc=res.rc, stdout=res.stdout,
                                   stderr=res.stderr, target=res.target)
            samples.append(parse_find(res.stdout, now))
        return {"path": args.path, "samples": samples, "count": samples[-1]["count"],
                "oldest_age_seconds": samples[-1]["oldest_age_seconds"],
                "trend": trend([s["count"] for s in samples])}
