"""Fan-out over a group of SSH targets on the loopback sshd: serial, max_fail, forks,
per-host outcomes and per-host rollback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import runbook
from runbook.fanout import batches, failure_budget

NAMES = [f"node{i:02d}" for i in range(12)]


def inventory_yaml(sshd: Any, names: list[str]) -> str:
    s = sshd.settings()
    common = (f"connection: ssh, host: {s['host']}, port: {s['port']}, user: {s['user']}, "
              f"key_file: {s['key_file']}, known_hosts: {s['known_hosts']}")
    lines = ["targets:"]
    lines += [f"  {n}: {{{common}, vars: {{rack: r{i % 3}}}}}" for i, n in enumerate(names)]
    lines.append(f"  fleet: {{hosts: [{', '.join(names)}]}}")
    return "\n".join(lines) + "\n"


def playbook(sshd: Any, body: str, names: list[str] = NAMES) -> runbook.Playbook:
    text = "runbook: 1\nname: fan\n" + inventory_yaml(sshd, names) + body
    return runbook.loads(text)


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_a_group_step_runs_on_every_host_with_vars(sshd: Any, tmp_path: Path) -> None:
    out = tmp_path / "hosts.log"
    pb = playbook(sshd, f"""steps:
  - id: mark
    target: fleet
    action: host.shell
    with: {{command: [sh, -c, 'echo "$0 $1" >> {out}', "{{{{ target.name }}}}",
                      "{{{{ target.vars.rack }}}}"]}}
""")
    result = runbook.run(pb, yes=True, forks=4)
    assert result.exit_code == 0, result.error
    assert sorted(lines(out)) == sorted(f"{n} r{i % 3}" for i, n in enumerate(NAMES))
    step = result.step("mark")
    assert set(step.hosts) == set(NAMES)
    assert all(h["status"] == "ok" and h["rc"] == 0 for h in step.hosts.values())
    audit = [json.loads(x) for x in Path(result.audit_log or "").read_text().splitlines()]
    started_hosts = {e["host"] for e in audit if e["event"] == "step.started"}
    assert started_hosts == set(NAMES)


def test_serial_runs_batches_in_order(sshd: Any, tmp_path: Path) -> None:
    out = tmp_path / "order.log"
    pb = playbook(sshd, f"""steps:
  - id: mark
    target: fleet
    serial: 4
    action: host.shell
    with: {{command: [sh, -c, 'echo "$0" >> {out}', "{{{{ target.name }}}}"]}}
""")
    result = runbook.run(pb, yes=True, forks=10)
    assert result.exit_code == 0
    seen = lines(out)
    for i in range(0, 12, 4):  # each batch completes before the next starts
        assert sorted(seen[i:i + 4]) == NAMES[i:i + 4]


def test_max_fail_stops_later_batches_and_rolls_back_each_completed_host(
        sshd: Any, tmp_path: Path) -> None:
    out = tmp_path / "done.log"
    undo = tmp_path / "undo.log"
    pb = playbook(sshd, f"""steps:
  - id: change
    target: fleet
    serial: 3
    max_fail: 1
    action: host.shell
    with: {{command: [sh, -c, 'case "$0" in node0[45]) exit 3;; esac; echo "$0" >> {out}',
                      "{{{{ target.name }}}}"]}}
    rollback: {{action: host.shell, with: {{command: [sh, -c, 'echo "$0" >> {undo}',
                                                      "{{{{ target.name }}}}"]}}}}
""")
    result = runbook.run(pb, yes=True)
    assert result.exit_code == 1
    step = result.step("change")
    assert step.hosts["node04"]["status"] == "failed" and step.hosts["node04"]["rc"] == 3
    assert step.hosts["node05"]["status"] == "failed"
    assert all(step.hosts[n]["status"] == "skipped" for n in NAMES[6:])
    done = ["node00", "node01", "node02", "node03"]
    assert sorted(lines(out)) == done
    assert sorted(lines(undo)) == done  # rollback only where the change happened


def test_failures_within_max_fail_let_the_run_go_on(sshd: Any, tmp_path: Path) -> None:
    out = tmp_path / "done.log"
    pb = playbook(sshd, f"""steps:
  - id: change
    target: fleet
    max_fail: 25%
    action: host.shell
    with: {{command: [sh, -c, 'test "$0" != node07 && echo "$0" >> {out}',
                      "{{{{ target.name }}}}"]}}
  - id: after
    action: host.shell
    with: {{command: [touch, {tmp_path / "after"}]}}
""")
    result = runbook.run(pb, yes=True)
    assert result.exit_code == 0, result.error
    assert len(lines(out)) == 11
    assert (tmp_path / "after").exists()
    assert result.step("change").hosts["node07"]["status"] == "failed"


def test_plan_lists_every_host_and_runs_nothing(sshd: Any, tmp_path: Path) -> None:
    marker = tmp_path / "m"
    pb = playbook(sshd, f"""steps:
  - id: change
    target: fleet
    action: host.shell
    with: {{command: [touch, "{marker}-{{{{ target.name }}}}"]}}
""", names=NAMES[:3])
    result = runbook.plan(pb)
    assert result.exit_code == 0
    assert len(result.step("change").commands) == 3
    assert all(c.startswith(f"[{n}] ") for c, n in zip(result.step("change").commands,
                                                        NAMES[:3], strict=True))
    assert not list(tmp_path.glob("m-*"))


@pytest.mark.parametrize(("serial", "expected"), [
    (None, [12]), (5, [5, 5, 2]), ("50%", [6, 6]), ("10%", [1] * 12), (0, [1] * 12)])
def test_batches(serial: int | str | None, expected: list[int]) -> None:
    assert [len(b) for b in batches(NAMES, serial)] == expected


@pytest.mark.parametrize(("max_fail", "total", "expected"), [
    (None, 10, 0), (2, 10, 2), ("30%", 10, 3), ("25%", 10, 2)])
def test_failure_budget(max_fail: int | str | None, total: int, expected: int) -> None:
    assert failure_budget(max_fail, total) == expected


def test_bad_serial_is_a_validation_error() -> None:
    with pytest.raises(runbook.ValidationErrors) as err:
        runbook.loads("runbook: 1\nname: x\nsteps:\n  - id: a\n    action: host.shell\n"
                      "    serial: lots\n    with: {command: [true]}\n")
    assert "serial" in str(err.value) and ":6:" in str(err.value)


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_host_fails_before_any_host_changes(sshd: Any, tmp_path: Path) -> None:
    s = sshd.settings()
    out = tmp_path / "done.log"
    text = ("runbook: 1\nname: fan\n" + inventory_yaml(sshd, NAMES[:4])
            + f"  dead: {{connection: ssh, host: 127.0.0.1, port: {_closed_port()}, "
              f"user: {s['user']}, key_file: {s['key_file']}, known_hosts: {s['known_hosts']},"
              " connect_timeout: 2}\n"
            + "  all: {hosts: [fleet, dead]}\n"
            + f"""steps:
  - id: change
    target: all
    action: host.shell
    with: {{command: [sh, -c, 'echo "$0" >> {out}', "{{{{ target.name }}}}"]}}
""")
    result = runbook.run(runbook.loads(text), yes=True)
    assert result.exit_code == 1
    step = result.step("change")
    assert step.hosts["dead"]["status"] == "failed"
    assert "dead" in (step.hosts["dead"]["error"] or "")
    assert not out.exists()  # max_fail 0: no host ran once one was known unreachable


def test_the_first_steps_target_is_connected_before_anything_runs(sshd: Any,
                                                                 tmp_path: Path) -> None:
    s = sshd.settings()
    marker = tmp_path / "pre"
    text = f"""runbook: 1
name: early
targets:
  box: {{connection: ssh, host: 127.0.0.1, port: {_closed_port()}, user: {s['user']},
         key_file: {s['key_file']}, known_hosts: {s['known_hosts']}, connect_timeout: 2}}
preconditions:
  - probe: host.query
    target: local
    with: {{command: [touch, {marker}]}}
    that: result.rc == 0
steps:
  - id: change
    target: box
    action: host.shell
    with: {{command: [true]}}
"""
    result = runbook.run(runbook.loads(text), yes=True)
    assert result.exit_code == 1
    assert "box" in (result.error or "")
    assert not marker.exists()   # not even the preconditions ran
    assert result.steps == []


_ON_DISK = """\
import json, os, sqlite3, sys
step, host = sys.argv[1], sys.argv[2]
home = os.environ["RUNBOOK_HOME_SEEN"]
db = sqlite3.connect(os.path.join(home, "journal.db"))
row = db.execute("SELECT state FROM steps WHERE step_id=? AND host=?", (step, host)).fetchone()
audit = [json.loads(x) for x in open(sys.argv[3])]
seen = any(e["event"] == "step.started" and e.get("host") == host for e in audit)
sys.exit(0 if row and row[0] == "running" and seen else 3)
"""


def test_each_hosts_command_starts_after_its_journal_row_and_audit_event_are_written(
        sshd: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """More hosts than forks: the first wave runs while the rest are being recorded, and
    still no host's command starts before its own records are committed and written
    (read from outside the runner, by the command itself)."""
    import os
    import sys
    import time

    from runbook.journal import Journal

    real_flush = Journal.flush

    def slow_disk(self: Journal) -> None:  # a slow commit: a command started early would win
        time.sleep(0.3)
        real_flush(self)

    monkeypatch.setattr(Journal, "flush", slow_disk)
    script = tmp_path / "on_disk.py"
    script.write_text(_ON_DISK)
    log = tmp_path / "audit.jsonl"
    home = os.environ["RUNBOOK_HOME"]
    pb = playbook(sshd, f"""steps:
  - id: change
    target: fleet
    action: host.shell
    with: {{command: [env, "RUNBOOK_HOME_SEEN={home}", {sys.executable}, {script}, change,
                      "{{{{ target.name }}}}", {log}]}}
""")
    result = runbook.run(pb, yes=True, forks=3, audit_log=log)
    assert result.exit_code == 0, result.error
    assert {h: v["rc"] for h, v in result.step("change").hosts.items()} == \
        dict.fromkeys(NAMES, 0)
