"""A real sshd on 127.0.0.1 for the SSH executor tests.

Why a real server: host-key checking, process groups, dropped connections and
reuse are behaviours of OpenSSH itself, and a stub would only test our guesses.
The server runs unprivileged-port, as the current user (root in CI), with
generated keys in a temp folder, and logs to a file the tests read.

conftest.py exposes the fixture with ``from tests.sshd import sshd  # noqa: F401``.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

SSHD = "/usr/sbin/sshd"
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


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", path.name,
                    "-f", str(path)], check=True, capture_output=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.settimeout(2)
            return s.recv(4).startswith(b"SSH-")
    except OSError:
        return False


@contextlib.contextmanager
def running_sshd(workdir: Path) -> Iterator[SSHServer]:
    """Start sshd in ``workdir``, wait until it speaks SSH, stop it on exit."""
    if not os.path.exists(SSHD):
        pytest.fail(f"{SSHD} not found: {INSTALL_HINT}", pytrace=False)
    with contextlib.suppress(PermissionError):
        # OpenSSH refuses to start without its privilege-separation directory.
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    host_key, user_key = workdir / "ssh_host_ed25519_key", workdir / "id_ed25519"
    _keygen(host_key)
    _keygen(user_key)
    authorized = workdir / "authorized_keys"
    authorized.write_text(Path(f"{user_key}.pub").read_text())
    host_pub = " ".join(Path(f"{host_key}.pub").read_text().split()[:2])
    fp = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", f"{host_key}.pub"],
                        check=True, capture_output=True, text=True).stdout.split()[1]
    log_file = workdir / "sshd.log"
    home = workdir / "home"
    home.mkdir(exist_ok=True)
    config = workdir / "sshd_config"
    config.write_text("\n".join([
        "ListenAddress 127.0.0.1",
        f"HostKey {host_key}",
        f"AuthorizedKeysFile {authorized}",
        f"PidFile {workdir / 'sshd.pid'}",
        "StrictModes no",
        "UsePAM no",
        "PermitRootLogin prohibit-password",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "MaxSessions 64",
        "MaxStartups 64",
        "UseDNS no",
        "PrintMotd no",
        "LogLevel INFO",
        # The login shell (bash) sources ~/.bashrc for ssh commands; pointing HOME at an
        # empty folder keeps the developer's rc files (pyenv init: ~120 ms) out of every
        # command, so timings and output are the server's, not the workstation's.
        f"SetEnv HOME={home}",
        "",
    ]))
    last_error = ""
    for _ in range(3):  # the free port can be taken between probing and binding
        port = _free_port()
        with open(log_file, "ab") as log:
            proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config), "-p", str(port)],
                                    stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and proc.poll() is None and not _answers(port):
            time.sleep(0.05)
        if proc.poll() is None and _answers(port):
            break
        proc.kill()
        proc.wait()
        last_error = log_file.read_text(errors="replace")[-2000:]
    else:
        pytest.fail(f"sshd did not start; its log:\n{last_error}", pytrace=False)
    known_hosts = workdir / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{port} {host_pub}\n")
    server = SSHServer(host="127.0.0.1", port=port, user=getpass.getuser(),
                       key_file=str(user_key), known_hosts=str(known_hosts),
                       host_key_fingerprint=fp, host_key_line=host_pub, log_file=str(log_file),
                       pid=proc.pid, dir=str(workdir))
    try:
        yield server
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SSHServer]:
    """A loopback sshd shared by the whole session; its known_hosts lists its host key."""
    with running_sshd(tmp_path_factory.mktemp("sshd")) as server:
        yield server
