"""The local executor: argv lists in a subprocess of our own, never a shell.

Each command runs in a new session (its own process group), so a timeout or
an interrupt ends it together with every child it started: no orphans.
"""

from __future__ import annotations

import collections
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


MAX_OUTPUT = 16_000_000
"""Characters of one stream a command's result keeps (the first and last halves):
memory stays bounded whatever a command prints."""


class _Capped:
    """The head and tail of a stream, and how much of its middle was dropped."""

    def __init__(self, limit: int = MAX_OUTPUT) -> None:
        self.half = limit // 2
        self.head: list[str] = []
        self.head_len = 0
        self.tail: collections.deque[str] = collections.deque()
        self.tail_len = 0
        self.dropped = 0

    def add(self, chunk: str) -> None:
        if self.head_len < self.half:
            take = chunk[:self.half - self.head_len]
            self.head.append(take)
            self.head_len += len(take)
            chunk = chunk[len(take):]
        if not chunk:
            return
        self.tail.append(chunk)
        self.tail_len += len(chunk)
        while self.tail_len > self.half:
            extra = self.tail_len - self.half
            first = self.tail[0]
            if len(first) <= extra:
                self.tail.popleft()
                cut = len(first)
            else:
                self.tail[0] = first[extra:]
                cut = extra
            self.tail_len -= cut
            self.dropped += cut

    def text(self) -> str:
        head, tail = "".join(self.head), "".join(self.tail)
        if not self.dropped:
            return head + tail
        return (f"{head}\n[... {self.dropped} characters not kept: output is capped at "
                f"{2 * self.half} characters, the first and last halves ...]\n{tail}")


class _Output:
    """Reads a command's stdout and stderr as they come, each capped (``_Capped``);
    writes its stdin. Replaces ``communicate``, which keeps everything."""

    def __init__(self, popen: subprocess.Popen[str], stdin: str | None) -> None:
        self.popen = popen
        self.stdout, self.stderr = _Capped(), _Capped()
        self.threads = [threading.Thread(target=self._read, args=(stream, cap), daemon=True)
                        for stream, cap in ((popen.stdout, self.stdout),
                                            (popen.stderr, self.stderr))
                        if stream is not None]
        if stdin is not None and popen.stdin is not None:
            self.threads.append(threading.Thread(target=self._write, args=(stdin,),
                                                 daemon=True))
        for t in self.threads:
            t.start()

    @staticmethod
    def _read(stream: IO[str], cap: _Capped) -> None:
        with contextlib.suppress(OSError, ValueError):
            for chunk in iter(lambda: stream.read(65536), ""):
                cap.add(chunk)

    def _write(self, text: str) -> None:
        assert self.popen.stdin is not None
        with contextlib.suppress(OSError, ValueError):
            self.popen.stdin.write(text)
            self.popen.stdin.close()

    def wait(self, timeout: float | None) -> bool:
        """True when the command ended and its output was read within timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        for t in self.threads:
            t.join(None if deadline is None else max(deadline - time.monotonic(), 0.0))
            if t.is_alive():  # a descendant holds the output open past the timeout
                return False
        return True

    def finish(self, wait: float) -> None:
        """After the group was killed: read what is left for ``wait`` at most. A
        descendant that left the group (``setsid``) may hold the pipes open for ever;
        the timeout bounds the step whatever its descendants do."""
        end = time.monotonic() + wait
        for t in self.threads:
            t.join(max(end - time.monotonic(), 0.0))


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
        except (OSError, ValueError) as exc:  # ValueError: a NUL byte in argv or env
            raise CommandError(f"cannot start {shlex.join(argv)}: "
                               f"{getattr(exc, 'strerror', None) or exc}",
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
            output = _Output(popen, stdin)
            if not output.wait(timeout):
                _kill_group(popen, 2.0)
                output.finish(2.0)
                proc = LocalProcess(argv=list(argv), target=self.name, popen=popen)
                proc.feed("stdout", output.stdout.text())
                proc.feed("stderr", output.stderr.text())
                raise proc.timeout_error(timeout or 0.0)
        except BaseException:
            # Interrupted (Ctrl-C, SIGTERM) or timed out: the command must not outlive us.
            _kill_group(popen, 2.0)
            raise
        return CommandResult(argv=list(argv), rc=popen.returncode,
                             stdout=output.stdout.text(), stderr=output.stderr.text(),
                             duration_ms=(time.monotonic() - started) * 1000, target=self.name)
