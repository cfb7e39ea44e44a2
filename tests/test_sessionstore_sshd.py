"""The safe reboot with the Cassandra hosts reached through the real loopback sshd.

One sshd listens on the six Cassandra hosts' loopback addresses with the
sandbox's ``bin/`` on the sessions' PATH; the stand-ins learn which host
they run on only from the address the connection came in on
(``SSH_CONNECTION``). The cumin side (confctl, kubectl) is a local target
with the sandbox's tools on its PATH. No ``--sandbox`` transport is
involved: every Cassandra command goes over paramiko.
"""

from __future__ import annotations

import contextlib
import getpass
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from runbook_cassandra.parse import parse_status
from runbook_cassandra.sim.part import ADDRESSES

import runbook
from benchmarks import _sshd
from runbook import sim
from runbook.models import Target

ROOT = Path(__file__).resolve().parent.parent
SAFE_REBOOT = ROOT / "playbooks" / "sessionstore-safe-reboot.yaml"


@contextlib.contextmanager
def cassandra_sshd(workdir: Path, box: Path) -> Iterator[tuple[int, str, str]]:
    """(port, key file, known_hosts) of an sshd answering on every Cassandra host's address."""
    workdir.mkdir(parents=True, exist_ok=True)
    host_key, user_key = workdir / "ssh_host_ed25519_key", workdir / "id_ed25519"
    _sshd._keygen(host_key)
    _sshd._keygen(user_key)
    authorized = workdir / "authorized_keys"
    authorized.write_text(Path(f"{user_key}.pub").read_text())
    home = workdir / "home"
    home.mkdir()
    base = _sshd._config(workdir, host_key, authorized, home)
    setenv = f"SetEnv HOME={home}"
    listen = "\n".join(f"ListenAddress {a}" for a in ADDRESSES.values())
    (workdir / "sshd_config").write_text(base.replace(
        setenv, f"{setenv} PATH={box / 'bin'}:/usr/bin:/bin RUNBOOK_SIM_DIR={box}\n{listen}"))
    port = _sshd._free_port()
    log = (workdir / "sshd.log").open("ab")
    proc = subprocess.Popen([_sshd.SSHD, "-D", "-e", "-f", str(workdir / "sshd_config"), "-p",
                             str(port)], stdout=log, stderr=log, start_new_session=True)
    try:
        deadline = time.monotonic() + _sshd.START_TIMEOUT
        while time.monotonic() < deadline and proc.poll() is None and not _sshd._answers(port):
            time.sleep(0.05)
        if proc.poll() is not None or not _sshd._answers(port):
            pytest.fail("sshd did not start: " + (workdir / "sshd.log").read_text()[-2000:])
        key = " ".join(Path(f"{host_key}.pub").read_text().split()[:2])
        known = workdir / "known_hosts"
        known.write_text("".join(f"[{a}]:{port} {key}\n" for a in ADDRESSES.values()))
        yield port, str(user_key), str(known)
    finally:
        _sshd._stop(proc)
        log.close()


def test_safe_reboot_over_the_real_sshd(tmp_path: Path) -> None:
    box = sim.init_sandbox("sessionstore-healthy", tmp_path / "box")
    with cassandra_sshd(tmp_path / "sshd", box) as (port, key_file, known_hosts):
        env = sim.sandbox_env(box)
        targets = {
            "cumin": Target(connection="local", env=env),
            "cassandra": Target(connection="ssh", host=ADDRESSES["sessionstore2003"], port=port,
                                user=getpass.getuser(), key_file=key_file,
                                known_hosts=known_hosts),
        }
        result = runbook.run(SAFE_REBOOT, {"host": "sessionstore2003", "poll_interval": "0.3s",
                                           "observe": "1s", "stable_polls": 2},
                             targets=targets, yes=True)
        assert result.exit_code == 0, (result.error, [(s.id, s.status, s.error)
                                                      for s in result.steps])
        reboot = result.step("reboot")
        assert reboot.result["rebooted"] is True and reboot.result["polls"] >= 2
        assert reboot.target == "cassandra"
        status = parse_status(subprocess.run(
            ["nodetool", "status"], env={**env, "RUNBOOK_SIM_HOST": "sessionstore1001"},
            capture_output=True, text=True, check=True).stdout)
        assert status["all_normal"] is True and len(status["nodes"]) == 6
        state = sim.load_state(box)
        assert state["cassandra"]["pooled"] == {"eqiad": True, "codfw": True}
        assert state["cassandra"]["nodes"]["sessionstore2003"]["booted"] > time.time() - 60
