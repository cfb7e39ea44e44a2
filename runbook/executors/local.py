"""The local executor: argv lists in a subprocess of our own, never a shell.

Each command runs in a new session (its own process group), so a timeout or
an interrupt ends it together with every child it started: no orphans.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO

from runbook.errors import CommandError
from runbook.executors.base import CommandResult, Executor, LineCallback, Process


def _kill_group(popen: subprocess.Popen[str], grace: float) -> None:
    """SIGTERM the process group, then SIGKILL whatever is left after grace."""
    try:
        pgid = os.getpgid(popen.pid)
    except ProcessLookupError:
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        try:
            popen.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        # The leader is gone; children may still hold the group: finish them too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        return


def _rest(popen: subprocess.Popen[str], wait: float = 2.0) -> tuple[str, str]:
    """The output after the group was killed. A descendant that left the group
    (``setsid``) may still hold the pipes open: stop reading after ``wait`` rather than
    wait for it, so the timeout bounds the step whatever its descendants do."""
    try:
        return popen.communicate(timeout=wait)
    except subprocess.TimeoutExpired as exc:
        def text(raw: bytes | str | None) -> str:
            return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else (raw or "")

        for stream in (popen.stdout, popen.stderr):
            with contextlib.suppress(OSError, ValueError):
                if stream is not None:
                    stream.close()
        return text(exc.stdout), text(exc.stderr)


@dataclass
class LocalProcess(Process):
    popen: subprocess.Popen[str] | None = None
    _readers: list[threading.Thread] = field(default_factory=list, repr=False)

    def attach(self, popen: subprocess.Popen[str]) -> None:
        self.popen = popen
        for name, stream in (("stdout", popen.stdout), ("stderr", popen.stderr)):
            if stream is None:
                continue
            t = threading.Thread(target=self._read, args=(name, stream), daemon=True)
            t.start()
            self._readers.append(t)

    def _read(self, name: str, stream: IO[str]) -> None:
        for line in iter(stream.readline, ""):
            self.feed(name, line)
        stream.close()

    def poll(self) -> int | None:
        assert self.popen is not None
        return self.popen.poll()

    def wait(self, timeout: float | None = None) -> int:
        assert self.popen is not None
        try:
            rc = self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            self._join()
            raise self.timeout_error(timeout or 0.0) from None
        self._join()
        return rc

    def _join(self) -> None:
        for t in self._readers:
            t.join(timeout=2.0)

    def kill(self, grace: float = 2.0) -> None:
        if self.popen is not None and self.popen.poll() is None:
            _kill_group(self.popen, grace)
        elif self.popen is not None:
            # The leader exited; make sure nothing it left in its group lingers.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.popen.pid, signal.SIGKILL)
        self._join()


class LocalExecutor(Executor):
    """Runs commands on this machine."""

    kind = "local"

    def _env(self, env: Mapping[str, str] | None) -> dict[str, str] | None:
        extra = {**self.settings.get("env", {}), **(env or {})}
        if not extra:
            return None
        return {**os.environ, **{k: str(v) for k, v in extra.items()}}

    def _popen(self, argv: Sequence[str], env: Mapping[str, str] | None, cwd: str | None,
               stdin: str | None) -> subprocess.Popen[str]:
        try:
            return subprocess.Popen(
                list(argv), stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self._env(env),
                cwd=cwd, start_new_session=True, bufsize=1 if stdin is None else -1,
            )
        except OSError as exc:
            raise CommandError(f"cannot start {shlex.join(argv)}: {exc.strerror or exc}",
                               argv=argv, rc=127, stderr=str(exc), target=self.name) from exc

    def start(self, argv: Sequence[str], *, env: Mapping[str, str] | None = None,
              cwd: str | None = None, stdin: str | None = None,
              on_line: LineCallback | None = None) -> Process:
        popen = self._popen(argv, env, cwd, stdin)
        proc = LocalProcess(argv=list(argv), target=self.name, on_line=on_line)
        if stdin is not None and popen.stdin is not None:
            popen.stdin.write(stdin)
            popen.stdin.close()
        proc.attach(popen)
        return proc

    def run(self, argv: Sequence[str], *, timeout: float | None = None,
            env: Mapping[str, str] | None = None, cwd: str | None = None,
            stdin: str | None = None) -> CommandResult:
        started = time.monotonic()
        popen = self._popen(argv, env, cwd, stdin)
        try:
            out, err = popen.communicate(input=stdin, timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(popen, 2.0)
            out, err = _rest(popen)
            proc = LocalProcess(argv=list(argv), target=self.name, popen=popen)
            proc.feed("stdout", out or "")
            proc.feed("stderr", err or "")
            raise proc.timeout_error(timeout or 0.0) from None
        except BaseException:
            # Interrupted (Ctrl-C, SIGTERM): the command must not outlive us.
            _kill_group(popen, 2.0)
            raise
        return CommandResult(argv=list(argv), rc=popen.returncode, stdout=out, stderr=err,
                             duration_ms=(time.monotonic() - started) * 1000, target=self.name)
