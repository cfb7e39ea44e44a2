"""A throwaway unprivileged sshd on 127.0.0.1, for the benchmarks and the tests.

Generated ed25519 keys in a temp folder, strict host key checking through a
known_hosts file, HOME pointed at an empty folder so the login shell sources
no rc files. No pytest here: tests/sshd.py wraps it as a fixture.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SSHD = "/usr/sbin/sshd"
START_TIMEOUT = 10.0


class SSHDError(RuntimeError):
    """sshd is missing or did not start."""


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    user: str
    key_file: str
    known_hosts: str
    pid: int
    host_key_fingerprint: str = ""
    host_key_line: str = ""  # "ssh-ed25519 AAAA...", as it appears in known_hosts
    log_file: str = ""
    dir: str = ""

    def settings(self, **overrides: Any) -> dict[str, Any]:
        """SSH executor settings for this server (strict host key checking)."""
        return {"host": self.host, "port": self.port, "user": self.user,
                "key_file": self.key_file, "known_hosts": self.known_hosts,
                "connect_timeout": 5, **overrides}


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", path.name,
                    "-f", str(path)], check=True, capture_output=True, timeout=30)


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


def _config(workdir: Path, host_key: Path, authorized: Path, home: Path) -> str:
    return "\n".join([
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
        f"SetEnv HOME={home}",
        "",
    ])


@contextlib.contextmanager
def running_sshd(workdir: Path) -> Iterator[Server]:
    """Start sshd in ``workdir`` on a free loopback port; stop it (and every session it
    serves) on exit, including on KeyboardInterrupt."""
    if not os.path.exists(SSHD):
        raise SSHDError(f"{SSHD} not found: apt-get install -y openssh-server")
    with contextlib.suppress(PermissionError):
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    host_key, user_key = workdir / "ssh_host_ed25519_key", workdir / "id_ed25519"
    _keygen(host_key)
    _keygen(user_key)
    authorized = workdir / "authorized_keys"
    authorized.write_text(Path(f"{user_key}.pub").read_text())
    host_pub = " ".join(Path(f"{host_key}.pub").read_text().split()[:2])
    fingerprint = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", f"{host_key}.pub"],
                                 check=True, capture_output=True, text=True,
                                 timeout=30).stdout.split()[1]
    home = workdir / "home"
    home.mkdir(exist_ok=True)
    config = workdir / "sshd_config"
    config.write_text(_config(workdir, host_key, authorized, home))
    log_file = workdir / "sshd.log"
    proc: subprocess.Popen[bytes] | None = None
    try:
        for _ in range(3):  # the free port can be taken between probing and binding
            port = _free_port()
            with open(log_file, "ab") as log:
                proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config), "-p", str(port)],
                                        stdout=log, stderr=log, start_new_session=True)
            deadline = time.monotonic() + START_TIMEOUT
            while time.monotonic() < deadline and proc.poll() is None and not _answers(port):
                time.sleep(0.05)
            if proc.poll() is None and _answers(port):
                break
            _stop(proc)
            proc = None
        if proc is None:
            raise SSHDError("sshd did not start; its log:\n"
                            + log_file.read_text(errors="replace")[-2000:])
        known_hosts = workdir / "known_hosts"
        known_hosts.write_text(f"[127.0.0.1]:{port} {host_pub}\n")
        yield Server(host="127.0.0.1", port=port, user=getpass.getuser(),
                     key_file=str(user_key), known_hosts=str(known_hosts), pid=proc.pid,
                     host_key_fingerprint=fingerprint, host_key_line=host_pub,
                     log_file=str(log_file), dir=str(workdir))
    finally:
        if proc is not None:
            _stop(proc)


def descendants(pid: int) -> list[int]:
    """Every process below pid (sshd's per-connection children start sessions of their own,
    so they are not in the listener's process group)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    out: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the listener, its process group and every connection it serves; then SIGKILL."""
    sessions = descendants(proc.pid)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    for pid in sessions:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)
