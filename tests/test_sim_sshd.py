"""Simulated hosts reached through the real loopback sshd.

One sshd listens on two loopback addresses (db1 at 127.0.1.11, db2 at
127.0.1.12) with the sandbox's ``bin/`` on the sessions' PATH. Nothing tells
the stand-in which host it is except the address the connection came in on
(``SSH_CONNECTION``), exactly as on a real estate where each host has its
own sshd. The test part is the fixture plugin's ``hostinfo``, so this does
not depend on any built-in plugin's part.
"""

from __future__ import annotations

import contextlib
import getpass
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

PLUGINS = Path(__file__).resolve().parent / "plugins"
if str(PLUGINS) not in sys.path:
    sys.path.insert(0, str(PLUGINS))

from runbook_simhosts.testing import registered  # noqa: E402

import runbook  # noqa: E402
from benchmarks import _sshd  # noqa: E402
from runbook import sim  # noqa: E402
from runbook.executors.ssh import SSHExecutor  # noqa: E402

ADDRESSES = {"db1": "127.0.1.11", "db2": "127.0.1.12"}


@dataclass(frozen=True)
class Estate:
    box: Path
    port: int
    user: str
    key_file: str
    known_hosts: str

    def settings(self, host: str) -> dict[str, Any]:
        return {"host": ADDRESSES[host], "port": self.port, "user": self.user,
                "key_file": self.key_file, "known_hosts": self.known_hosts, "connect_timeout": 5}


def _config(workdir: Path, box: Path, host_key: Path, authorized: Path, home: Path) -> str:
    """The benchmark sshd's config, listening on the hosts' addresses too, with the sandbox's
    stand-ins on the sessions' PATH (sshd honours only the first SetEnv line: extend it)."""
    base = _sshd._config(workdir, host_key, authorized, home)
    setenv = f"SetEnv HOME={home}"
    assert setenv in base
    extra = "\n".join(f"ListenAddress {a}" for a in ADDRESSES.values())
    return base.replace(setenv, f"{setenv} PATH={box / 'bin'}:/usr/bin:/bin "
                                f"RUNBOOK_SIM_DIR={box}\n{extra}")


@contextlib.contextmanager
def multi_host_sshd(workdir: Path, box: Path) -> Iterator[Estate]:
    host_key, user_key = workdir / "ssh_host_ed25519_key", workdir / "id_ed25519"
    _sshd._keygen(host_key)
    _sshd._keygen(user_key)
    authorized = workdir / "authorized_keys"
    authorized.write_text(Path(f"{user_key}.pub").read_text())
    home = workdir / "home"
    home.mkdir()
    config = workdir / "sshd_config"
    config.write_text(_config(workdir, box, host_key, authorized, home))
    port = _sshd._free_port()
    log = (workdir / "sshd.log").open("ab")
    proc = subprocess.Popen([_sshd.SSHD, "-D", "-e", "-f", str(config), "-p", str(port)],
                            stdout=log, stderr=log, start_new_session=True)
    try:
        deadline = time.monotonic() + _sshd.START_TIMEOUT
        while time.monotonic() < deadline and proc.poll() is None and not _sshd._answers(port):
            time.sleep(0.05)
        if proc.poll() is not None or not _sshd._answers(port):
            pytest.fail("sshd did not start: " + (workdir / "sshd.log").read_text()[-2000:])
        key = " ".join(Path(f"{host_key}.pub").read_text().split()[:2])
        known = workdir / "known_hosts"
        known.write_text("".join(f"[{a}]:{port} {key}\n" for a in ADDRESSES.values()))
        yield Estate(box, port, getpass.getuser(), str(user_key), str(known))
    finally:
        _sshd._stop(proc)
        log.close()


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Estate]:
    with registered():
        box = sim.init_sandbox("two-hosts", tmp_path_factory.mktemp("estate") / "box")
    with multi_host_sshd(tmp_path_factory.mktemp("sshd"), box) as found:
        yield found


def test_each_host_learns_its_identity_from_the_address_it_was_reached_on(
        estate: Estate) -> None:
    for host, role in (("db1", "primary"), ("db2", "replica")):
        ssh = SSHExecutor(host, estate.settings(host))
        try:
            res = ssh.run(["hostinfo"])
            assert (res.rc, res.stdout) == (0, f"{host} {ADDRESSES[host]} {role}\n"), res.stderr
            env = ssh.run(["sh", "-c", 'echo "$SSH_CONNECTION|${RUNBOOK_SIM_HOST:-unset}"'])
            assert env.stdout.split()[2] == ADDRESSES[host]
            assert env.stdout.strip().endswith("|unset")  # nothing but the address says who
        finally:
            ssh.close()


def test_a_playbook_fans_out_over_both_hosts_and_each_keeps_its_own_state(
        estate: Estate, tmp_path: Path) -> None:
    def target(host: str) -> str:
        s = estate.settings(host)
        return (f"  {host}: {{connection: ssh, host: {s['host']}, port: {s['port']}, "
                f"user: {s['user']}, key_file: {s['key_file']}, known_hosts: {s['known_hosts']}}}")

    pb = runbook.loads("\n".join([
        "runbook: 1", "name: sim-hosts", "targets:", target("db1"), target("db2"),
        "  dbs: {hosts: [db1, db2]}",
        "steps:",
        "  - id: bump", "    target: dbs", "    action: host.shell",
        "    with: {command: [hostinfo, bump]}",
        "  - id: bump-primary", "    target: db1", "    action: host.shell",
        "    with: {command: [hostinfo, bump]}",
        "verify:",
        "  - probe: host.query", "    target: db2", "    with: {command: [hostinfo]}",
        "    that: \"result.stdout == 'db2 127.0.1.12 replica\\n'\"",
    ]) + "\n")
    result = runbook.run(pb, yes=True)
    assert result.exit_code == 0, result.error
    assert set(result.step("bump").hosts) == {"db1", "db2"}
    assert sim.load_state(estate.box)["hostinfo"]["calls"] == {"db1": 2, "db2": 1, "db3": 0}


def test_the_default_file_methods_work_over_ssh(estate: Estate, tmp_path: Path) -> None:
    """On a real host ``write_file``/``read_file`` are commands over the connection (the same
    calls a simulated host answers from its root)."""
    import stat

    ssh = SSHExecutor("db1", estate.settings("db1"))
    try:
        target = tmp_path / "app.conf"
        ssh.write_file(str(target), "password = s3cret ü\n".encode(), mode=0o600)
        assert target.read_text() == "password = s3cret ü\n"
        assert stat.S_IMODE(target.stat().st_mode) == 0o600
        assert ssh.read_file(str(target)) == "password = s3cret ü\n".encode()
    finally:
        ssh.close()
