"""A real sshd on 127.0.0.1 for the SSH executor tests.

Why a real server: host-key checking, process groups, dropped connections and
reuse are behaviours of OpenSSH itself, and a stub would only test our guesses.
The server runs unprivileged-port, as the current user (root in CI), with
generated keys in a temp folder, and logs to a file the tests read.

conftest.py exposes the fixture with ``pytest_plugins = ["tests.sshd"]``. Starting
and stopping the server is benchmarks/_sshd.py's job (shared with the benchmarks).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from benchmarks._sshd import SSHDError
from benchmarks._sshd import running_sshd as _launch

INSTALL_HINT = ("install openssh-server (apt-get install -y openssh-server): "
                "the SSH executor tests need a real sshd and are never skipped")


@dataclass
class SSHServer:
    """Where the test sshd listens and what a client needs to reach it."""

    host: str
    port: int
    user: str
    key_file: str
    known_hosts: str
    host_key_fingerprint: str
    host_key_line: str = ""  # "ssh-ed25519 AAAA...", as it appears in known_hosts
    log_file: str = ""
    pid: int = 0
    dir: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def known_hosts_name(self) -> str:
        return f"[{self.host}]:{self.port}"

    def settings(self, **overrides: Any) -> dict[str, Any]:
        """SSHExecutor settings for this server (strict host key checking)."""
        base: dict[str, Any] = {"host": self.host, "port": self.port, "user": self.user,
                                "key_file": self.key_file, "known_hosts": self.known_hosts,
                                "connect_timeout": 5}
        base.update(overrides)
        return base

    def log(self) -> str:
        return Path(self.log_file).read_text(errors="replace")

    def accepted_logins(self) -> int:
        """How many logins the server accepted so far (one per connection)."""
        return self.log().count("Accepted publickey")

    def serving_pids(self, client_port: int) -> list[int]:
        """The sshd processes that hold the server end of the client's TCP connection."""
        inodes: set[str] = set()
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with contextlib.suppress(FileNotFoundError):
                for row in Path(table).read_text().splitlines()[1:]:
                    cols = row.split()
                    local, remote, inode = cols[1], cols[2], cols[9]
                    if (int(local.rsplit(":", 1)[1], 16) == self.port
                            and int(remote.rsplit(":", 1)[1], 16) == client_port):
                        inodes.add(f"socket:[{inode}]")
        pids: list[int] = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit() or int(proc.name) == self.pid:
                continue
            try:
                links = {os.readlink(fd) for fd in (proc / "fd").iterdir()}
            except OSError:
                continue
            if links & inodes:
                pids.append(int(proc.name))
        return pids


@contextlib.contextmanager
def running_sshd(workdir: Path) -> Iterator[SSHServer]:
    """Start sshd in ``workdir`` (benchmarks/_sshd.py does the work), stop it on exit."""
    try:
        launched = _launch(workdir)
        srv = launched.__enter__()
    except SSHDError as exc:
        pytest.fail(f"{exc}; {INSTALL_HINT}", pytrace=False)
    try:
        yield SSHServer(host=srv.host, port=srv.port, user=srv.user, key_file=srv.key_file,
                        known_hosts=srv.known_hosts,
                        host_key_fingerprint=srv.host_key_fingerprint,
                        host_key_line=srv.host_key_line, log_file=srv.log_file, pid=srv.pid,
                        dir=srv.dir)
    finally:
        launched.__exit__(None, None, None)


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SSHServer]:
    """A loopback sshd shared by the whole session; its known_hosts lists its host key."""
    with running_sshd(tmp_path_factory.mktemp("sshd")) as server:
        yield server
