"""Ctrl-C and SIGTERM: what they mean while a run is going on.

During a step they stop the running command (the engine then asks whether to
roll back, pause for ``runbook resume``, or leave things as they are; without
a terminal it rolls back). During a rollback they are refused with a message:
a rollback is never abandoned silently. SIGKILL cannot be caught; the
journal makes it survivable through ``runbook resume``.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

REFUSED = ("\nrollback in progress: it will not be abandoned, wait for it to finish "
           "(if the runner is killed, `runbook resume RUN_ID --rollback` finishes it)\n")


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def sigterm_interrupts() -> None:
    """Make SIGTERM behave like Ctrl-C (the CLI calls this once at start)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_interrupt)


@contextmanager
def refuse_interrupts() -> Iterator[None]:
    """While rolling back, Ctrl-C and SIGTERM print a refusal instead of stopping us."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def refuse(signum: int, frame: FrameType | None) -> None:
        sys.stderr.write(REFUSED)
        sys.stderr.flush()

    old = {sig: signal.signal(sig, refuse) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


ANSWERS = {"": "rollback", "r": "rollback", "roll back": "rollback", "rollback": "rollback",
           "p": "pause", "pause": "pause", "l": "leave", "leave": "leave"}


def ask_interrupt(pause: bool = True) -> str:
    """On a terminal: ``rollback`` (the default, on Enter), ``pause`` (resume later;
    offered only when ``pause``) or ``leave``. Anything else asks again; a closed
    terminal or a second Ctrl-C rolls back."""
    offer = ("[r]oll back now, [p]ause and resume later with `runbook resume`, or [l]eave "
             "as is? [r/p/l] (Enter: roll back) ") if pause else (
             "[r]oll back now or [l]eave as is (this run cannot be paused: it could not be "
             "resumed)? [r/l] (Enter: roll back) ")
    sys.stderr.write("\nInterrupted. " + offer)
    while True:
        sys.stderr.flush()
        try:
            line = sys.stdin.readline()
        except (KeyboardInterrupt, OSError):
            return "rollback"
        if not line:
            return "rollback"
        decision = ANSWERS.get(line.strip().lower())
        if decision is not None and (pause or decision != "pause"):
            return decision
        sys.stderr.write(f"  {line.strip()!r} is not an answer. " + offer)
