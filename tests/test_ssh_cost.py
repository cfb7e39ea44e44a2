"""What makes an SSH connection cheaper in a fan-out, checked on a real loopback sshd:
AES-GCM negotiated, idle transport threads that sleep long and still end at once on
close, and the known_hosts and key files parsed once per version of the file."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from helpers import new_ssh_key

from runbook.errors import ConnectionError_
from runbook.executors import ssh as ssh_mod
from runbook.executors.ssh import SSHExecutor

if TYPE_CHECKING:
    from tests.sshd import SSHServer

pytest_plugins = ["tests.sshd"]


def _transport(ex: SSHExecutor) -> object:
    ex.connect()
    assert ex._client is not None
    t = ex._client.get_transport()
    assert t is not None
    return t


def test_aes_gcm_is_negotiated_and_idle_threads_sleep_long(sshd: SSHServer) -> None:
    ex = SSHExecutor("box", sshd.settings())
    try:
        t = _transport(ex)
        assert t.remote_cipher == "aes128-gcm@openssh.com"  # type: ignore[attr-defined]
        assert t.local_cipher == "aes128-gcm@openssh.com"  # type: ignore[attr-defined]
        assert t.sock.gettimeout() == ssh_mod._IDLE_WAKE  # type: ignore[attr-defined]
        assert ex.run(["echo", "hi"]).stdout == "hi\n"
    finally:
        ex.close()


def test_close_ends_the_transport_thread_at_once(sshd: SSHServer) -> None:
    ex = SSHExecutor("box", sshd.settings())
    t = _transport(ex)
    ex.run(["true"])
    time.sleep(0.05)  # the thread is now asleep in recv, for up to _IDLE_WAKE
    started = time.monotonic()
    ex.close()
    t.join(ssh_mod._IDLE_WAKE * 3)  # type: ignore[attr-defined]
    assert not t.is_alive()  # type: ignore[attr-defined]
    assert time.monotonic() - started < ssh_mod._IDLE_WAKE / 2


def test_a_key_file_is_parsed_once_and_reread_when_it_changes(sshd: SSHServer,
                                                             tmp_path: Path) -> None:
    key = tmp_path / "id"
    shutil.copy(sshd.key_file, key)
    settings = sshd.settings(key_file=str(key))
    for name in ("a", "b"):
        ex = SSHExecutor(name, settings)
        try:
            assert ex.run(["true"]).rc == 0
        finally:
            ex.close()
    assert sum(1 for k in ssh_mod._KEYS if k[0] == str(key)) == 1
    # Another key in the same file: the next connection uses it (and is refused).
    key.unlink()
    new_ssh_key(key)
    ex = SSHExecutor("c", settings)
    try:
        with pytest.raises(ConnectionError_, match="authentication"):
            ex.run(["true"])
    finally:
        ex.close()


def test_known_hosts_is_reread_when_it_changes(sshd: SSHServer, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    shutil.copy(sshd.known_hosts, known)
    settings = sshd.settings(known_hosts=str(known))
    ex = SSHExecutor("a", settings)
    try:
        assert ex.run(["true"]).rc == 0
    finally:
        ex.close()
    # The host's entry now holds another key: a changed host key must be refused,
    # not accepted from the parsed copy of the old file.
    other = tmp_path / "other"
    new_ssh_key(other)
    hosts = known.read_text().split()[0]
    known.write_text(f"{hosts} {other.with_suffix('.pub').read_text().split()[0]} "
                     f"{other.with_suffix('.pub').read_text().split()[1]}\n")
    ex = SSHExecutor("b", settings)
    try:
        with pytest.raises(ConnectionError_, match="HAS CHANGED"):
            ex.run(["true"])
    finally:
        ex.close()


def test_packets_that_arrive_together_are_read_with_one_recv(
        sshd: SSHServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """paramiko reads each packet in two recv calls; the read-ahead socket serves the
    packets of a command (exit status, EOF, close arrive together) from one."""
    import socket

    import paramiko.packet

    counts = {"recv": 0, "packets": 0}
    real_recv, real_read = socket.socket.recv, paramiko.packet.Packetizer.read_message

    def recv(self: socket.socket, *args: int) -> bytes:
        counts["recv"] += 1
        return real_recv(self, *args)

    def read_message(self: paramiko.packet.Packetizer) -> object:
        counts["packets"] += 1
        return real_read(self)

    ex = SSHExecutor("box", sshd.settings())
    try:
        ex.connect()
        monkeypatch.setattr(socket.socket, "recv", recv)
        monkeypatch.setattr(paramiko.packet.Packetizer, "read_message", read_message)
        outputs = [ex.run(["sh", "-c", f"echo out{i}; echo err{i} >&2; exit {i % 3}"])
                   for i in range(10)]
    finally:
        monkeypatch.undo()
        ex.close()
    assert [(r.stdout, r.stderr, r.rc) for r in outputs] == \
        [(f"out{i}\n", f"err{i}\n", i % 3) for i in range(10)]
    assert counts["packets"] >= 10 * 6  # open, data, stderr, exit status, EOF, close ...
    assert counts["recv"] < counts["packets"]  # paramiko alone: two per packet


def test_a_command_is_exec_pipelined_with_its_stdin(sshd: SSHServer) -> None:
    """stdin and EOF follow the exec request before its reply: the command still gets
    all of its input, and a large input (past the channel window) as well."""
    ex = SSHExecutor("box", sshd.settings())
    try:
        small = ex.run(["cat"], stdin="one\ntwo\n")
        big = "x" * (3 * 1024 * 1024) + "\n"
        large = ex.run(["wc", "-c"], stdin=big)
    finally:
        ex.close()
    assert (small.stdout, small.rc) == ("one\ntwo\n", 0)
    assert (large.stdout.strip(), large.rc) == (str(len(big)), 0)


def test_is_open_says_whether_the_connection_is_up_without_connecting(
        sshd: SSHServer) -> None:
    """A fan-out hands only hosts whose connection is not open to its workers."""
    before = sshd.accepted_logins()
    ex = SSHExecutor("box", sshd.settings())
    try:
        assert ex.is_open is False and ex.connections_opened == 0
        ex.connect()
        assert ex.is_open is True
        ex.close()
        assert ex.is_open is False and ex.connections_opened == 1
    finally:
        ex.close()
    assert sshd.accepted_logins() - before <= 1
