"""Durable runs: SIGKILL at several points then resume or roll back; locks; interrupts.

The runner is a real ``python -m runbook`` process killed with SIGKILL; the
tests then look at the files the playbook touches, the journal (through
``runbook runs show --json``) and the audit log, and check that they agree.
The tests that take the ``backend`` fixture run twice: with the local SQLite
journal and JSONL audit log, and with a real PostgreSQL as the shared state
(``RUNBOOK_STATE``; see tests/test_state_pg.py for what only it can do).
"""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from helpers import start_cli as start
from helpers import wait_for

ROOT = Path(__file__).resolve().parent.parent


STEP_ONE = """
  - id: one
    action: host.shell
    with: {{command: [touch, {tmp}/a]}}
    rollback: {{action: host.shell, with: {{command: [rm, -f, {tmp}/a]}}}}"""
"""The first step of most playbooks here: creates ``a``; its rollback removes it."""


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test against the local state, then against a shared PostgreSQL."""
    if request.param == "postgresql":
        monkeypatch.setenv("RUNBOOK_STATE", request.getfixturevalue("pg_url"))
        monkeypatch.setenv("RUNBOOK_HEARTBEAT", "0.2")  # a killed runner is gone in 0.6s
    return str(request.param)


def shared() -> bool:
    return bool(os.environ.get("RUNBOOK_STATE"))


def write(tmp: Path, body: str, name: str = "pb.yaml") -> Path:
    path = tmp / name
    path.write_text("runbook: 1\nname: durable\nsteps:\n" + body)
    return path


def cli(*args: str | Path, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "runbook", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, check=False)




def kill9(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)


def run_and_kill(pb: Path, marker: Path, cwd: Path, home: Path) -> str:
    """``runbook run PB --yes``, killed with SIGKILL once ``marker`` exists; its run id."""
    proc = start("run", pb, "--yes", cwd=cwd)
    wait_for(marker)
    kill9(proc)
    return run_id_of(home)


def run_id_of(home: Path) -> str:
    if shared():  # the oldest run, once the server has seen its runner go
        deadline = time.monotonic() + 10
        while True:
            proc = cli("runs", "--json", cwd=home.parent)
            runs = json.loads(proc.stdout)["runs"]
            if runs[-1]["resumable"] or time.monotonic() > deadline:
                return str(runs[-1]["run_id"])
            time.sleep(0.05)
    runs = [json.loads(line) for line in (home / "audit.jsonl").read_text().splitlines()]
    return str(runs[0]["run_id"])


def journal(run_id: str, cwd: Path) -> dict[str, Any]:
    proc = cli("runs", "show", run_id, "--json", cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    detail: dict[str, Any] = json.loads(proc.stdout)
    return detail


def audit(home: Path, run_id: str) -> list[dict[str, Any]]:
    if shared():
        proc = cli("audit", "show", run_id, "--json", cwd=home.parent)
        assert proc.returncode == 0, proc.stderr
        shown: list[dict[str, Any]] = json.loads(proc.stdout)["events"]
        return shown
    events = [json.loads(line) for line in (home / "audit.jsonl").read_text().splitlines()]
    return [e for e in events if e["run_id"] == run_id]


def assert_agree(home: Path, run_id: str, cwd: Path) -> dict[str, Any]:
    """The journal's final status and step states match the audit trail."""
    detail = journal(run_id, cwd)
    events = audit(home, run_id)
    finished = [e for e in events if e["event"] == "run.finished"]
    assert finished, "no run.finished in the audit log"
    assert detail["status"] == finished[-1]["status"]
    assert detail["exit_code"] == finished[-1]["rc"]
    ok_in_audit = {e["step"] for e in events if e["event"] == "step.finished"
                   and e["status"] == "ok"}
    done_in_journal = {s["step"] for s in detail["steps"] if s["state"] == "done"}
    assert ok_in_audit <= done_in_journal
    rolled_audit = [e["step"] for e in events if e["event"] == "rollback.finished"
                    and e["status"] == "ok"]
    rolled_journal = [r["step"] for r in detail["rollbacks"] if r["state"] == "done"]
    assert sorted(rolled_audit) == sorted(rolled_journal)
    return detail


@pytest.mark.usefixtures("backend")
def test_killed_during_a_step_with_checks_resumes_to_the_end(tmp_path: Path,
                                                             runbook_home: Path) -> None:
    pb = write(tmp_path, STEP_ONE.format(tmp=tmp_path) + f"""
  - id: two
    action: host.shell
    with: {{command: [sh, -c, 'touch {tmp_path}/b; touch {tmp_path}/in-two; sleep 30']}}
    timeout: 60s
    checks:
      - probe: host.query
        with: {{command: [test, -f, {tmp_path}/b]}}
        that: result.rc == 0
  - id: three
    action: host.shell
    with: {{command: [touch, {tmp_path}/c]}}
""")
    run_id = run_and_kill(pb, tmp_path / "in-two", tmp_path, runbook_home)
    subprocess.run(["pkill", "-f", f"touch {tmp_path}/in-two"], check=False)
    assert journal(run_id, tmp_path)["status"] == "running"  # readable after SIGKILL

    resumed = cli("resume", run_id, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert (tmp_path / "a").exists() and (tmp_path / "b").exists()
    assert (tmp_path / "c").exists()
    detail = assert_agree(runbook_home, run_id, tmp_path)
    assert detail["status"] == "succeeded"
    assert [s["state"] for s in detail["steps"]] == ["done", "done", "done"]
    # step two was not run again: only one step.started for it in the whole trail
    starts = [e for e in audit(runbook_home, run_id)
              if e["event"] == "step.started" and e["step"] == "two"]
    assert len(starts) == 1


@pytest.mark.usefixtures("backend")
def test_in_flight_step_without_checks_stops_then_rolls_back(tmp_path: Path,
                                                             runbook_home: Path) -> None:
    pb = write(tmp_path, STEP_ONE.format(tmp=tmp_path) + f"""
  - id: two
    action: host.shell
    with: {{command: [sh, -c, 'touch {tmp_path}/in-two; sleep 30']}}
    timeout: 60s
  - id: three
    action: host.shell
    with: {{command: [touch, {tmp_path}/c]}}
""")
    run_id = run_and_kill(pb, tmp_path / "in-two", tmp_path, runbook_home)

    stopped = cli("resume", run_id, "--yes", cwd=tmp_path)
    assert stopped.returncode == 3, stopped.stdout + stopped.stderr
    assert "check by hand whether this ran" in stopped.stdout
    assert "touch " in stopped.stdout and "in-two" in stopped.stdout
    assert not (tmp_path / "c").exists()

    assert journal(run_id, tmp_path)["status"] == "paused"   # still resumable
    undone = cli("resume", run_id, "--rollback", cwd=tmp_path)
    assert undone.returncode == 1, undone.stdout + undone.stderr
    assert not (tmp_path / "a").exists()
    assert assert_agree(runbook_home, run_id, tmp_path)["status"] == "rolled-back"


@pytest.mark.usefixtures("backend")
def test_resume_rollback_undoes_an_interrupted_run(tmp_path: Path,
                                                   runbook_home: Path) -> None:
    pb = write(tmp_path, STEP_ONE.format(tmp=tmp_path) + f"""
  - id: two
    action: host.query
    with: {{command: [sh, -c, 'touch {tmp_path}/in-two; sleep 30']}}
    timeout: 60s
""")
    run_id = run_and_kill(pb, tmp_path / "in-two", tmp_path, runbook_home)
    undone = cli("resume", run_id, "--rollback", cwd=tmp_path)
    assert undone.returncode == 1, undone.stdout + undone.stderr
    assert not (tmp_path / "a").exists()
    detail = assert_agree(runbook_home, run_id, tmp_path)
    assert detail["status"] == "rolled-back"


@pytest.mark.usefixtures("backend")
def test_killed_between_a_step_and_its_checks(tmp_path: Path, runbook_home: Path) -> None:
    pb = write(tmp_path, f"""
  - id: one
    action: host.shell
    with: {{command: [touch, {tmp_path}/a]}}
    checks:
      - probe: host.query
        with: {{command: [sh, -c, 'test -e {tmp_path}/probed || {{ touch {tmp_path}/probed;
                                    sleep 30; }}; test -f {tmp_path}/a']}}
        that: result.rc == 0
  - id: two
    action: host.shell
    with: {{command: [touch, {tmp_path}/c]}}
""")
    run_id = run_and_kill(pb, tmp_path / "probed", tmp_path, runbook_home)
    resumed = cli("resume", run_id, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert (tmp_path / "c").exists()
    assert_agree(runbook_home, run_id, tmp_path)
    starts = [e["step"] for e in audit(runbook_home, run_id) if e["event"] == "step.started"]
    assert starts == ["one", "two"]  # one was not re-run: its checks held


@pytest.mark.usefixtures("backend")
def test_killed_during_rollback_resume_finishes_it(tmp_path: Path,
                                                   runbook_home: Path) -> None:
    undo = (f"if [ -e {tmp_path}/rolling ]; then rm -f {tmp_path}/a; "
            f"else touch {tmp_path}/rolling; sleep 30; fi")
    pb = write(tmp_path, f"""
  - id: one
    action: host.shell
    with: {{command: [touch, {tmp_path}/a]}}
    rollback: {{action: host.shell, with: {{command: [sh, -c, '{undo}']}}}}
  - id: two
    action: host.shell
    with: {{command: [touch, {tmp_path}/b]}}
    rollback: {{action: host.shell, with: {{command: [rm, -f, {tmp_path}/b]}}}}
  - id: boom
    action: flow.fail
    with: {{message: planned failure}}
""")
    run_id = run_and_kill(pb, tmp_path / "rolling", tmp_path, runbook_home)
    assert not (tmp_path / "b").exists()   # two's rollback ran before one's started
    assert (tmp_path / "a").exists()
    resumed = cli("resume", run_id, cwd=tmp_path)
    assert resumed.returncode == 1, resumed.stdout + resumed.stderr
    assert not (tmp_path / "a").exists()
    detail = assert_agree(runbook_home, run_id, tmp_path)
    assert detail["status"] == "rolled-back"
    assert {r["step"]: r["state"] for r in detail["rollbacks"]} == {"one": "done",
                                                                   "two": "done"}


@pytest.mark.usefixtures("backend")
def test_two_runs_race_for_one_lock(tmp_path: Path) -> None:
    pb = write(tmp_path, """
  - id: hold
    action: host.shell
    with: {command: [sleep, "1.5"]}
""")
    procs = [start("run", pb, "--yes", cwd=tmp_path) for _ in range(2)]
    codes = sorted(p.wait(timeout=30) for p in procs)
    assert codes == [0, 5]
    refused = next(p for p in procs if p.returncode == 5)
    err = refused.stderr.read() if refused.stderr else ""
    assert "locked by run" in err and "actor tester" in err and "started" in err


def test_a_stale_lock_is_detected_and_can_be_taken_over(tmp_path: Path,
                                                        runbook_home: Path) -> None:
    pb = write(tmp_path, f"""
  - id: hold
    action: host.shell
    with: {{command: [sh, -c, 'touch {tmp_path}/holding; sleep 30']}}
    timeout: 60s
""")
    dead_run = run_and_kill(pb, tmp_path / "holding", tmp_path, runbook_home)
    (tmp_path / "holding").unlink()
    refused = cli("run", pb, "--yes", cwd=tmp_path)
    assert refused.returncode == 5
    assert dead_run in refused.stderr and "stale" in refused.stderr
    pb.write_text(pb.read_text().replace("sleep 30", "true"))
    taken = cli("run", pb, "--yes", "--force-unlock", cwd=tmp_path)
    assert taken.returncode == 0, taken.stdout + taken.stderr
    events = [json.loads(x) for x in (runbook_home / "audit.jsonl").read_text().splitlines()]
    forced = [e for e in events if e["event"] == "gate.answered" and e["step"] == "force-unlock"]
    assert forced and forced[0]["data"]["holder"]["run_id"] == dead_run


def test_ctrl_c_without_a_terminal_rolls_back(tmp_path: Path, runbook_home: Path) -> None:
    pb = write(tmp_path, STEP_ONE.format(tmp=tmp_path) + f"""
  - id: two
    action: host.shell
    with: {{command: [sh, -c, 'touch {tmp_path}/in-two; sleep 30']}}
    timeout: 60s
""")
    proc = start("run", pb, "--yes", cwd=tmp_path)
    wait_for(tmp_path / "in-two")
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=20) == 4
    assert not (tmp_path / "a").exists()
    run_id = run_id_of(runbook_home)
    decision = [e for e in audit(runbook_home, run_id)
                if e["event"] == "gate.answered" and e["step"] == "interrupt"]
    assert decision and decision[0]["status"] == "rollback"
    assert subprocess.run(["pgrep", "-f", f"touch {tmp_path}/in-two"],
                          check=False).returncode == 1   # the command is gone too
    assert_agree(runbook_home, run_id, tmp_path)



def roll_playbook(tmp: Path, run: str) -> Path:
    """One fan-out step over FLEET: each host runs ``run`` (sh, $0 = the host), and its
    rollback removes the host's line from ``out``."""
    undo = f"sed -i \"/^$0$/d\" {tmp}/out"
    path = tmp / "fleet.yaml"
    path.write_text(f"""runbook: 1
name: fleet
{FLEET}steps:
  - id: roll
    target: fleet
    action: host.shell
    with: {{command: [sh, -c, '{run}', "{{{{ target.name }}}}"]}}
    rollback: {{action: host.shell, with: {{command: [sh, -c, '{undo}', "{{{{ target.name }}}}"]}}}}
    timeout: 60s
""")
    return path

def test_ctrl_c_during_a_fan_out_starts_no_more_hosts_and_undoes_those_done(
        tmp_path: Path, runbook_home: Path) -> None:
    """Hosts already queued for the workers are not started after Ctrl-C: the one in
    flight finishes, it and those before it are rolled back, the rest never run (and
    are journaled and audited as cancelled)."""
    run = (f'touch {tmp_path}/started-$0; if [ "$0" = web2 ]; then sleep 2; fi; '
           f'echo "$0" >> {tmp_path}/out')
    pb = roll_playbook(tmp_path, run)
    proc = start("run", pb, "--yes", "--forks", "1", cwd=tmp_path)
    wait_for(tmp_path / "started-web2")
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=20) == 4
    assert (tmp_path / "started-web1").exists()
    assert not (tmp_path / "started-web3").exists() and not (tmp_path / "started-web4").exists()
    assert (tmp_path / "out").read_text().split() == []   # web1 and web2 undone
    run_id = run_id_of(runbook_home)
    detail = assert_agree(runbook_home, run_id, tmp_path)
    hosts = {s["host"]: s["state"] for s in detail["steps"] if s["host"]}
    assert hosts == {"web1": "done", "web2": "done", "web3": "cancelled",
                     "web4": "cancelled"}
    cancelled = {e["host"] for e in audit(runbook_home, run_id)
                 if e["event"] == "step.finished" and e["status"] == "cancelled"}
    assert cancelled == {"web3", "web4"}

def _pty_run(args: list[str], cwd: Path) -> tuple[int, int]:
    pid, fd = pty.fork()
    if pid == 0:  # child
        os.chdir(cwd)
        os.execv(sys.executable, [sys.executable, "-m", "runbook", *args])
    return pid, fd


def _read_until(fd: int, needle: str, timeout: float = 20) -> str:
    seen = ""
    deadline = time.monotonic() + timeout
    while needle not in seen:
        assert time.monotonic() < deadline, f"{needle!r} not seen in {seen!r}"
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                seen += os.read(fd, 4096).decode(errors="replace")
            except OSError:
                break
    return seen


def test_ctrl_c_on_a_terminal_asks_and_pause_keeps_the_run_resumable(
        tmp_path: Path, runbook_home: Path) -> None:
    pb = write(tmp_path, STEP_ONE.format(tmp=tmp_path) + f"""
  - id: two
    action: host.shell
    with: {{command: [sh, -c, 'test -e {tmp_path}/in-two && exit 0; touch {tmp_path}/in-two;
                      sleep 30']}}
    timeout: 60s
""")
    pid, fd = _pty_run(["run", str(pb), "--yes"], tmp_path)
    wait_for(tmp_path / "in-two")
    os.write(fd, b"\x03")  # Ctrl-C typed on the terminal
    _read_until(fd, "[r/p/l]")
    os.write(fd, b"p\n")
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 4
    assert (tmp_path / "a").exists()   # paused: nothing rolled back
    run_id = run_id_of(runbook_home)
    assert journal(run_id, tmp_path)["status"] == "paused"
    resumed = cli("resume", run_id, "--yes", cwd=tmp_path)
    # two has no checks and is not idempotent: the operator must decide
    assert resumed.returncode == 3



def test_a_paused_fan_out_resumes_with_the_hosts_it_never_started(
        tmp_path: Path, runbook_home: Path) -> None:
    """Ctrl-C, then pause: the hosts that were queued are cancelled, not in flight, so
    the resume runs them (and does not run again the ones that finished)."""
    run = (f'touch {tmp_path}/started-$0; if [ "$0" = web2 ] && [ ! -e {tmp_path}/once ]; '
           f'then touch {tmp_path}/once; sleep 2; fi; echo "$0" >> {tmp_path}/out')
    pb = roll_playbook(tmp_path, run)
    pid, fd = _pty_run(["run", str(pb), "--yes", "--forks", "1"], tmp_path)
    wait_for(tmp_path / "once")
    os.write(fd, b"\x03")  # Ctrl-C typed on the terminal
    _read_until(fd, "[r/p/l]")
    os.write(fd, b"p\n")
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 4
    assert (tmp_path / "out").read_text().split() == ["web1", "web2"]
    run_id = run_id_of(runbook_home)
    resumed = cli("resume", run_id, "--yes", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert sorted((tmp_path / "out").read_text().split()) == ["web1", "web2", "web3", "web4"]
    hosts = {s["host"]: s["state"] for s in journal(run_id, tmp_path)["steps"] if s["host"]}
    assert hosts == dict.fromkeys(["web1", "web2", "web3", "web4"], "done")

def test_a_second_ctrl_c_during_rollback_is_refused(tmp_path: Path,
                                                    runbook_home: Path) -> None:
    pb = write(tmp_path, f"""
  - id: one
    action: host.shell
    with: {{command: [touch, {tmp_path}/a]}}
    rollback: {{action: host.shell, with: {{command: [sh, -c, 'touch {tmp_path}/rolling;
                                                       sleep 1; rm -f {tmp_path}/a']}}}}
  - id: boom
    action: flow.fail
    with: {{message: planned failure}}
""")
    proc = start("run", pb, "--yes", cwd=tmp_path)
    wait_for(tmp_path / "rolling")
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=20) == 1
    err = proc.stderr.read() if proc.stderr else ""
    assert "rollback in progress" in err
    assert not (tmp_path / "a").exists()   # the rollback completed


def test_bad_resume_requests_are_refused(tmp_path: Path, runbook_home: Path) -> None:
    unknown = cli("resume", "nope-123", cwd=tmp_path)
    assert unknown.returncode == 2 and "no run 'nope-123'" in unknown.stderr
    pb = write(tmp_path, f"""
  - id: one
    action: host.shell
    with: {{command: [sh, -c, 'touch {tmp_path}/in-one; sleep 30']}}
    timeout: 60s
  - id: two
    action: host.shell
    with: {{command: [touch, {tmp_path}/two]}}
""")
    run_id = run_and_kill(pb, tmp_path / "in-one", tmp_path, runbook_home)
    pb.write_text(pb.read_text().replace("/two]", "/two-changed]"))
    changed = cli("resume", run_id, "--yes", cwd=tmp_path)
    assert changed.returncode == 2
    assert "changed since run" in changed.stderr and "two-changed" in changed.stderr
    accepted = cli("resume", run_id, "--accept-changed-playbook", "--rollback", cwd=tmp_path)
    assert accepted.returncode in (0, 1), accepted.stdout + accepted.stderr
    again = cli("resume", run_id, cwd=tmp_path)
    assert again.returncode == 2 and "already finished" in again.stderr


def test_runs_lists_history_with_filters(tmp_path: Path) -> None:
    ok = write(tmp_path, "  - id: a\n    action: host.shell\n    with: {command: [true]}\n")
    bad = write(tmp_path, "  - id: a\n    action: host.shell\n    with: {command: [false]}\n",
                name="bad.yaml")
    assert cli("run", ok, cwd=tmp_path).returncode == 0
    assert cli("run", bad, cwd=tmp_path).returncode == 1
    listing = cli("runs", "--json", cwd=tmp_path)
    runs = json.loads(listing.stdout)["runs"]
    assert [r["status"] for r in runs] == ["rolled-back", "succeeded"]
    only_ok = json.loads(cli("runs", "--json", "--status", "succeeded",
                             cwd=tmp_path).stdout)["runs"]
    assert len(only_ok) == 1 and only_ok[0]["exit_code"] == 0
    shown = cli("runs", "show", runs[0]["run_id"], cwd=tmp_path)
    assert shown.returncode == 0 and "a: failed rc=1" in shown.stdout
    assert "audit trail: runbook audit show" in shown.stdout



def test_a_succeeded_runs_rollbacks_show_as_not_needed(tmp_path: Path) -> None:
    """A rollback a succeeded run never had to run is not "pending": nothing is waiting;
    a rolled-back run's entries keep their real state."""
    step = ("  - id: a\n    action: host.shell\n    with: {command: [true]}\n"
            "    rollback: {action: host.shell, with: {command: [true]}}\n")
    ok = write(tmp_path, step)
    bad = write(tmp_path, step + "  - id: b\n    action: host.shell\n"
                "    with: {command: [false]}\n", name="bad.yaml")
    assert cli("run", ok, cwd=tmp_path).returncode == 0
    assert cli("run", bad, cwd=tmp_path).returncode == 1
    runs = json.loads(cli("runs", "--json", cwd=tmp_path).stdout)["runs"]
    by_status = {r["status"]: r["run_id"] for r in runs}
    shown = cli("runs", "show", by_status["succeeded"], cwd=tmp_path).stdout
    assert "a on local: not-needed: true" in shown and "pending" not in shown
    detail = json.loads(cli("runs", "show", by_status["succeeded"], "--json",
                            cwd=tmp_path).stdout)
    assert [r["state"] for r in detail["rollbacks"]] == ["not-needed"]
    undone = json.loads(cli("runs", "show", by_status["rolled-back"], "--json",
                            cwd=tmp_path).stdout)
    assert [r["state"] for r in undone["rollbacks"]] == ["done"]

FLEET = """targets:
  web1: {connection: local}
  web2: {connection: local}
  web3: {connection: local}
  web4: {connection: local}
  fleet: {hosts: [web1, web2, web3, web4]}
"""


def fleet_playbook(tmp: Path, checks: str = "") -> Path:
    """A fan-out, one host at a time: each host appends its name to ``out`` (and its
    rollback removes that line); web3's first attempt hangs, so the runner can be killed
    with web1 and web2 done and web3 in flight."""
    run = (f'if [ "$0" = web3 ] && [ ! -e {tmp}/hung ]; then touch {tmp}/hung; sleep 30; fi; '
           f'echo "$0" >> {tmp}/out')
    undo = f"sed -i \"/^$0$/d\" {tmp}/out"
    path = tmp / "fleet.yaml"
    path.write_text(f"""runbook: 1
name: fleet
{FLEET}steps:
  - id: roll
    target: fleet
    serial: 1
    action: host.shell
    with: {{command: [sh, -c, '{run}', "{{{{ target.name }}}}"]}}
    rollback: {{action: host.shell, with: {{command: [sh, -c, '{undo}', "{{{{ target.name }}}}"]}}}}
    timeout: 60s
{checks}  - id: after
    action: host.shell
    target: web1
    with: {{command: [touch, {tmp}/after]}}
""")
    return path


def kill_fleet_at_web3(tmp: Path, pb: Path, home: Path) -> str:
    run_id = run_and_kill(pb, tmp / "hung", tmp, home)
    subprocess.run(["pkill", "-f", f"touch {tmp}/hung"], check=False)
    assert (tmp / "out").read_text().split() == ["web1", "web2"]
    return run_id


@pytest.mark.usefixtures("backend")
def test_a_fan_out_resumes_host_by_host(tmp_path: Path, runbook_home: Path) -> None:
    checks = f"""    checks:
      - probe: host.query
        with: {{command: [grep, -qx, "{{{{ target.name }}}}", {tmp_path}/out]}}
        that: result.rc == 0
"""
    pb = fleet_playbook(tmp_path, checks)
    run_id = kill_fleet_at_web3(tmp_path, pb, runbook_home)

    resumed = cli("resume", run_id, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    # web1 and web2 were not run again; web3 (its check did not hold) and web4 ran once
    assert sorted((tmp_path / "out").read_text().split()) == ["web1", "web2", "web3", "web4"]
    assert (tmp_path / "after").exists()
    starts = [e.get("host") for e in audit(runbook_home, run_id)
              if e["event"] == "step.started" and e["step"] == "roll" and e.get("host")]
    assert starts == ["web1", "web2", "web3", "web3", "web4"]
    detail = assert_agree(runbook_home, run_id, tmp_path)
    assert detail["status"] == "succeeded"


@pytest.mark.usefixtures("backend")
def test_a_resumed_fan_out_rolls_back_every_host_it_changed(tmp_path: Path,
                                                            runbook_home: Path) -> None:
    pb = fleet_playbook(tmp_path)
    run_id = kill_fleet_at_web3(tmp_path, pb, runbook_home)

    # no checks on the step, host.shell is not idempotent: web3 needs a person
    stopped = cli("resume", run_id, "--yes", cwd=tmp_path)
    assert stopped.returncode == 3, stopped.stdout + stopped.stderr
    assert "in flight on web3" in stopped.stdout + stopped.stderr
    assert (tmp_path / "out").read_text().split() == ["web1", "web2"]   # nothing re-ran

    undone = cli("resume", run_id, "--rollback", cwd=tmp_path)
    assert undone.returncode == 1, undone.stdout + undone.stderr
    assert (tmp_path / "out").read_text().split() == []   # web1 and web2 undone
    detail = assert_agree(runbook_home, run_id, tmp_path)
    assert detail["status"] == "rolled-back"


def test_an_in_flight_host_whose_checks_hold_is_not_run_again_and_rolls_back_once(
        tmp_path: Path, runbook_home: Path) -> None:
    tmp = tmp_path
    run = (f'echo "$0" >> {tmp}/out; if [ "$0" = web3 ] && [ ! -e {tmp}/hung ]; then '
           f'touch {tmp}/hung; sleep 30; fi')
    pb = tmp / "fleet.yaml"
    pb.write_text(f"""runbook: 1
name: fleet
{FLEET}  ctl: {{connection: local}}
steps:
  - id: roll
    target: fleet
    serial: 1
    action: host.shell
    with: {{command: [sh, -c, '{run}', "{{{{ target.name }}}}"]}}
    rollback:
      action: host.shell
      target: ctl
      with: {{command: [sh, -c, 'echo "undo $0" >> {tmp}/undo', "{{{{ target.name }}}}"]}}
    timeout: 60s
    checks:
      - probe: host.query
        with: {{command: [grep, -qx, "{{{{ target.name }}}}", {tmp}/out]}}
        that: result.rc == 0
  - id: boom
    action: flow.fail
    with: {{message: planned failure}}
""")
    run_id = run_and_kill(pb, tmp / "hung", tmp, runbook_home)
    subprocess.run(["pkill", "-f", f"touch {tmp}/hung"], check=False)

    resumed = cli("resume", run_id, cwd=tmp)
    assert resumed.returncode == 1, resumed.stdout + resumed.stderr   # boom -> rolled back
    assert (tmp / "out").read_text().split() == ["web1", "web2", "web3", "web4"]  # once each
    assert (tmp / "undo").read_text().splitlines() == ["undo web4", "undo web3", "undo web2",
                                                       "undo web1"]
    detail = assert_agree(runbook_home, run_id, tmp)
    assert detail["status"] == "rolled-back"
