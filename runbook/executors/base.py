"""The executor interface: where a command runs, and its running handle.

An executor runs argv lists on one target (the local machine, a host over
SSH, a pod through kubectl exec). Foreground commands go through ``run``;
background steps and streaming go through ``start``, which returns a
``Process`` whose output is kept line by line with the time of the last
line, so ``flow.wait_quiet`` can tell when a consumer has gone silent.
"""

from __future__ import annotations

import shlex
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from runbook.errors import CommandError, CommandTimeout

LineCallback = Callable[[str, str], None]
"""Called with (stream, line) for every line a process prints; stream is 'stdout' or 'stderr'."""


@dataclass
class CommandResult:
    """What a finished command left behind."""

    argv: list[str]
    rc: int
    stdout: str
    stderr: str
    duration_ms: float = 0.0
    target: str = "local"

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()

    @property
    def ok(self) -> bool:
        return self.rc == 0

    def as_dict(self) -> dict[str, Any]:
        return {"rc": self.rc, "stdout": self.stdout, "stderr": self.stderr, "lines": self.lines}

    def check(self) -> CommandResult:
        """Raise CommandError unless the command exited 0."""
        if self.rc != 0:
            raise CommandError(
                f"command exited {self.rc}: {shlex.join(self.argv)}"
                + _tail(self.stderr or self.stdout),
                argv=self.argv, rc=self.rc, stdout=self.stdout, stderr=self.stderr,
                target=self.target,
            )
        return self


def _tail(text: str, lines: int = 5) -> str:
    kept = [line for line in text.strip().splitlines() if line.strip()][-lines:]
    return ("\n  " + "\n  ".join(kept)) if kept else ""


@dataclass
class Process(ABC):
    """A started command; its output is collected as it arrives."""

    argv: list[str]
    target: str
    on_line: LineCallback | None = None
    started: float = field(default_factory=time.monotonic)
    last_output: float = field(default_factory=time.monotonic)
    _out: list[str] = field(default_factory=list, repr=False)
    _err: list[str] = field(default_factory=list, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def feed(self, stream: str, line: str) -> None:
        """Record one line of output (called by reader threads)."""
        with self._lock:
            (self._out if stream == "stdout" else self._err).append(line)
            self.last_output = time.monotonic()
        if self.on_line is not None:
            self.on_line(stream, line)

    @property
    def quiet_for(self) -> float:
        """Seconds since the last line of output (or since start)."""
        return time.monotonic() - self.last_output

    @property
    def output_lines(self) -> int:
        with self._lock:
            return len(self._out)

    @abstractmethod
    def poll(self) -> int | None:
        """The exit status, or None while running."""

    @abstractmethod
    def wait(self, timeout: float | None = None) -> int:
        """Wait for the end; raise CommandTimeout (after killing) if it outlives timeout."""

    @abstractmethod
    def kill(self, grace: float = 2.0) -> None:
        """End the command and everything it started: terminate, then kill after grace."""

    def result(self) -> CommandResult:
        rc = self.poll()
        with self._lock:
            out, err = "".join(self._out), "".join(self._err)
        return CommandResult(
            argv=list(self.argv), rc=-1 if rc is None else rc, stdout=out, stderr=err,
            duration_ms=(time.monotonic() - self.started) * 1000, target=self.target,
        )

    def timeout_error(self, timeout: float) -> CommandTimeout:
        res = self.result()
        return CommandTimeout(
            f"command timed out after {timeout:g}s and was killed: {shlex.join(self.argv)}",
            argv=self.argv, rc=res.rc, stdout=res.stdout, stderr=res.stderr, target=self.target,
        )


class Executor(ABC):
    """Runs argv lists on one target. Subclasses are contributed by plugins."""

    kind: ClassVar[str] = ""

    def __init__(self, name: str, settings: Mapping[str, Any] | None = None) -> None:
        self.name = name
        self.settings: dict[str, Any] = dict(settings or {})

    @abstractmethod
    def start(self, argv: Sequence[str], *, env: Mapping[str, str] | None = None,
              cwd: str | None = None, stdin: str | None = None,
              on_line: LineCallback | None = None) -> Process:
        """Start a command and return at once; output is collected in the background."""

    def run(self, argv: Sequence[str], *, timeout: float | None = None,
            env: Mapping[str, str] | None = None, cwd: str | None = None,
            stdin: str | None = None) -> CommandResult:
        """Run a command to its end. A timeout kills it and raises CommandTimeout."""
        proc = self.start(argv, env=env, cwd=cwd, stdin=stdin)
        proc.wait(timeout)
        return proc.result()

    def describe(self, argv: Sequence[str]) -> str:
        """The command as a person would type it on this target, for plans and manual steps."""
        return shlex.join(argv)

    def wire_argv(self, argv: Sequence[str]) -> list[str]:
        """The argv as it is started on this machine (kubectl-exec wraps it), for the audit."""
        return list(argv)

    def connect(self) -> None:
        """Open the connection early, so an unreachable target fails before anything changes."""
        return None

    def close(self) -> None:
        """Release connections at the end of a run."""
        return None

    # -- files on the target: one code path for every executor ----------------

    def read_file(self, path: str) -> bytes:
        """The content of ``path`` on this target (``cat``); CommandError if unreadable.

        Text files: the content travels as the command's (UTF-8) output.
        """
        return self.run(["cat", "--", path]).check().stdout.encode()

    def write_file(self, path: str, data: bytes, *, mode: int | None = None) -> None:
        """Replace the content of ``path`` on this target (``tee`` fed on stdin).

        With ``mode`` the file is created and restricted *before* the data is
        written, so a secret is never readable under looser permissions. Text
        data (UTF-8) only; CommandError when a command fails.
        """
        text = data.decode()
        if mode is not None:
            self.run(["touch", "--", path]).check()
            self.run(["chmod", format(mode, "o"), "--", path]).check()
        self.run(["tee", "--", path], stdin=text).check()
