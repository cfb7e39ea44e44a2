"""The sandbox's one state file, shared by every stand-in process.

A background console consumer, the engine's probes and a person's shell all
touch ``state.json`` at once, so every read-modify-write happens under an
exclusive ``fcntl`` lock on ``state.lock``, and writes go to a temporary file
that replaces the old one atomically: a reader never sees half a document.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from runbook.errors import RunbookError
from runbook.sim.model import State
from runbook.sim.world import advance as advance_world

STATE_FILE = "state.json"
LOCK_FILE = "state.lock"


class SandboxError(RunbookError):
    """The directory is not a sandbox, or its state file is unusable."""


def state_path(directory: Path) -> Path:
    return Path(directory) / STATE_FILE


@contextmanager
def locked(directory: Path) -> Iterator[None]:
    """Hold the sandbox's exclusive lock for the duration of the block."""
    directory = Path(directory)
    if not state_path(directory).exists():
        raise SandboxError(f"{directory} is not a simulated estate (no {STATE_FILE})")
    fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def read(directory: Path) -> State:
    """Read the state as it is on disk (callers hold the lock to act on it)."""
    try:
        with state_path(directory).open(encoding="utf-8") as fh:
            state: State = json.load(fh)
    except (OSError, ValueError) as exc:
        raise SandboxError(f"cannot read {state_path(directory)}: {exc}") from exc
    return state


def write(directory: Path, state: State) -> None:
    """Replace the state file atomically (temporary file + os.replace)."""
    directory = Path(directory)
    fd, tmp = tempfile.mkstemp(prefix=".state.", suffix=".json", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            # dumps, not dump: json.dump streams through the pure-Python encoder, dumps
            # uses the C one (the same text, several times faster: every stand-in call).
            fh.write(json.dumps(state, separators=(",", ":")))
        os.replace(tmp, state_path(directory))
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def transaction(directory: Path, *, advance: bool = True) -> Iterator[State]:
    """Lock, load, bring the world up to now, hand it over, then save it.

    Every stand-in invocation runs inside one of these: the world evolves
    lazily, by the wall time elapsed since the last look.
    """
    with locked(directory):
        state = read(directory)
        if advance:
            advance_world(state, time.time())
        yield state
        write(directory, state)
