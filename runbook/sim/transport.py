"""The sandbox transport: SSH targets on simulated hosts run here, without an sshd.

Under ``--sandbox``, a target ``{connection: ssh, host: db1}`` (by name or by
address) whose host is a simulated host of the sandbox gets a
``SandboxHostExecutor`` instead of an SSH connection: the same ``Executor``
interface, commands run on this machine with the sandbox's stand-ins first on
PATH and the host's identity in the environment (``RUNBOOK_SIM_HOST``), and
files read and written in the host's own root. A host marked down refuses
like an unreachable SSH host (``ConnectionError_``, "cannot connect to ...").
Anything else gets ``None``: the normal executor is used.
"""

from __future__ import annotations

import os
import shlex
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from runbook.errors import CommandError, ConnectionError_
from runbook.executors.base import CommandResult, Executor, LineCallback, Process
from runbook.executors.local import LocalExecutor
from runbook.sim import hosts, sandbox, store

Transport = Callable[[str, str, dict[str, Any]], Executor | None]
"""Called as ``transport(target_name, connection_kind, rendered_settings)``."""


def for_sandbox(directory: Path) -> Transport:
    """The transport of the sandbox in ``directory``."""
    directory = Path(directory).resolve()

    def transport(name: str, kind: str, settings: dict[str, Any]) -> Executor | None:
        if kind != "ssh" or not settings.get("host"):
            return None
        state = store.read(directory)
        host = hosts.find(state, str(settings["host"]))
        if host is None:
            return None
        return SandboxHostExecutor(name, settings, directory=directory, host=host)

    return transport


class SandboxHostExecutor(LocalExecutor):
    """Runs commands as simulated host ``host`` of a sandbox (see the module docstring)."""

    kind = "ssh"

    def __init__(self, name: str, settings: Mapping[str, Any] | None = None, *,
                 directory: Path, host: str) -> None:
        super().__init__(name, settings)
        self.directory = Path(directory)
        self.host = host
        self.settings["env"] = {**self.settings.get("env", {}),
                                **sandbox.sandbox_env(self.directory, host)}

    @property
    def destination(self) -> str:
        user = self.settings.get("user")
        return f"{user + '@' if user else ''}{self.settings['host']}:{self.port}"

    @property
    def port(self) -> int:
        return int(self.settings.get("port") or 22)

    def connect(self) -> None:
        """Refuse as an unreachable SSH host would when the host is marked down."""
        state = store.read(self.directory)
        if not hosts.hosts(state)[self.host]["up"]:
            raise ConnectionError_(f"cannot connect to {self.settings['host']}:{self.port}: "
                                   "Connection refused", target=self.name)

    def start(self, argv: Sequence[str], *, env: Mapping[str, str] | None = None,
              cwd: str | None = None, stdin: str | None = None,
              on_line: LineCallback | None = None) -> Process:
        self.connect()
        return super().start(argv, env=env, cwd=cwd, stdin=stdin, on_line=on_line)

    def run(self, argv: Sequence[str], *, timeout: float | None = None,
            env: Mapping[str, str] | None = None, cwd: str | None = None,
            stdin: str | None = None) -> CommandResult:
        self.connect()
        return super().run(argv, timeout=timeout, env=env, cwd=cwd, stdin=stdin)

    def describe(self, argv: Sequence[str]) -> str:
        """The ssh command a person would type against the real host."""
        where = ["ssh"] + (["-p", str(self.port)] if self.port != 22 else [])
        user = self.settings.get("user")
        where.append(f"{user}@{self.settings['host']}" if user else str(self.settings["host"]))
        remote = " ".join(shlex.quote(shlex.quote(a)) for a in argv)
        return f"{shlex.join(where)} -- {remote}"

    # -- the host's own files ------------------------------------------------

    def _path(self, path: str, argv: list[str]) -> Path:
        try:
            return hosts.host_path(self.directory, self.host, path)
        except store.SandboxError as exc:
            raise CommandError(f"{argv[0]}: {exc}", argv=argv, rc=1, stderr=str(exc),
                               target=self.name) from exc

    def read_file(self, path: str) -> bytes:
        self.connect()
        argv = ["cat", "--", path]
        try:
            return self._path(path, argv).read_bytes()
        except OSError as exc:
            raise _failed(argv, path, exc, self.name) from exc

    def write_file(self, path: str, data: bytes, *, mode: int | None = None) -> None:
        self.connect()
        argv = ["tee", "--", path]
        target = self._path(path, argv)
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        except OSError as exc:
            raise _failed(argv, path, exc, self.name) from exc
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            if mode is not None:
                os.chmod(tmp, mode)
            elif target.exists():
                os.chmod(tmp, target.stat().st_mode & 0o7777)
            else:
                os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _failed(argv: list[str], path: str, exc: OSError, target: str) -> CommandError:
    message = f"{argv[0]}: {path}: {exc.strerror or exc}"
    return CommandError(f"command exited 1: {shlex.join(argv)}\n  {message}", argv=argv, rc=1,
                        stderr=message + "\n", target=target)
