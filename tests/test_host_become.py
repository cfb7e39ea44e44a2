"""``become: true`` on an SSH target: every command goes through sudo, shown in the plan.

Run through the real loopback sshd on a simulated Cassandra host. The host's
``sudo`` is a small script on the sessions' PATH that records how it was
called (and the password line it read from stdin) and runs the command, so
the test sees exactly what a real sudo would be given.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import audit_events, run_cli
from runbook_cassandra.sim.part import ADDRESSES
from test_sessionstore_sshd import cassandra_sshd

from runbook import sim

SUDO = """#!/bin/sh
log="$RUNBOOK_SIM_DIR/sudo.log"
printf '%s\\n' "$*" >> "$log"
if [ "$1" = "-S" ]; then IFS= read -r pw; printf 'password:%s\\n' "$pw" >> "$log"; shift 3
else shift 1; fi
[ "$1" = "--" ] && shift
exec "$@"
"""


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, Any]]]:
    box = sim.init_sandbox("sessionstore-healthy", tmp_path_factory.mktemp("estate") / "box")
    (box / "bin" / "sudo").write_text(SUDO)
    (box / "bin" / "sudo").chmod(0o755)
    with cassandra_sshd(tmp_path_factory.mktemp("sshd"), box) as (port, key, known):
        yield box, {"connection": "ssh", "host": ADDRESSES["sessionstore1002"], "port": port,
                    "user": getpass.getuser(), "key_file": key, "known_hosts": known}


def playbook(tmp_path: Path, target: dict[str, Any]) -> Path:
    doc = {"runbook": 1, "name": "become", "title": "stop cassandra as root",
           "params": {"sudo_password": {"type": "string", "secret": True}},
           "targets": {"db": target}, "defaults": {"target": "db"},
           "steps": [{"id": "stop", "action": "host.service",
                      "with": {"unit": "cassandra", "command": "stop"}}]}
    path = tmp_path / "become.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_become_with_a_password_runs_sudo_s_and_keeps_the_secret(
        estate: tuple[Path, dict[str, Any]], tmp_path: Path, runbook_home: Path) -> None:
    box, ssh = estate
    path = playbook(tmp_path, {**ssh, "become": True,
                               "become_password": "{{ sudo_password }}"})
    plan = run_cli("plan", path, "-p", "sudo_password=s3cret-pw")
    assert plan.returncode == 0, plan.stderr
    stop = next(line for line in plan.stdout.splitlines() if "systemctl stop" in line)
    assert " -- sudo -S -p " in stop and stop.endswith(" -- systemctl stop cassandra")
    proc = run_cli("run", path, "-p", "sudo_password=s3cret-pw", "--yes", "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    step = json.loads(proc.stdout)["steps"][0]
    assert step["result"]["active"] == "inactive"
    assert sim.load_state(box)["cassandra"]["nodes"]["sessionstore1002"]["running"] is False
    log = (box / "sudo.log").read_text().splitlines()
    assert log[:4] == ["-S -p  -- systemctl stop cassandra", "password:s3cret-pw",
                       "-S -p  -- systemctl is-active cassandra", "password:s3cret-pw"]
    audit = (runbook_home / "audit.jsonl").read_text()
    assert "s3cret-pw" not in audit + plan.stdout + proc.stdout
    started = [e["argv"] for e in audit_events(runbook_home / "audit.jsonl")
               if e["event"] == "step.started"]
    assert started == [["sudo", "-S", "-p", "", "--", "systemctl", "stop", "cassandra"]]


def test_become_without_a_password_is_sudo_n(estate: tuple[Path, dict[str, Any]],
                                             tmp_path: Path) -> None:
    box, ssh = estate
    path = playbook(tmp_path, {**ssh, "become": True})
    proc = run_cli("run", path, "-p", "sudo_password=unused", "--yes")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "-n -- systemctl stop cassandra" in (box / "sudo.log").read_text().splitlines()
