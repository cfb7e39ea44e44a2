"""Operator safety (issue 13): everyday accidents never cost a rollback, a secret or
the wrong system. Each test reproduces one accident and asserts what the operator
and the records see afterwards: exit codes, the audit log, the journal, files."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from helpers import (
    append,
    audit_events,
    cli_argv,
    fail,
    kill_if_alive,
    lines,
    probe,
    query,
    read_pid,
    run_cli,
    shell,
    write_playbook,
)

import runbook
from runbook.journal import Journal

Proc = subprocess.CompletedProcess[str]


def journal_status(home: Path, run_id: str) -> str:
    journal = Journal(home / "journal.db")
    try:
        run = journal.run(run_id)
        assert run is not None
        return str(run["status"])
    finally:
        journal.close()


def many_steps(tmp_path: Path, count: int = 8) -> tuple[Path, Path]:
    log = tmp_path / "log"
    steps = [append(f"s{i}", log, f"step {i}", undo=f"undo {i}") for i in range(1, count + 1)]
    return write_playbook(tmp_path / "pb.yaml", *steps), log


# --- 2. a closed stdout never decides a run's fate ----------------------------------------


@pytest.mark.parametrize("as_json", [False, True])
def test_closed_stdout_lets_the_run_finish_and_release_its_lock(
        tmp_path: Path, runbook_home: Path, as_json: bool) -> None:
    pb, log = many_steps(tmp_path)
    argv = cli_argv("run", pb, "--yes", *(["--json"] if as_json else []))
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.read(1)  # like `| head -c1`: read a little, then close the pipe
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0, err
    assert "Traceback" not in err
    assert lines(log) == [f"step {i}" for i in range(1, 9)]
    events = audit_events(runbook_home / "audit.jsonl")
    assert events[-1]["event"] == "run.finished" and events[-1]["status"] == "succeeded"
    assert journal_status(runbook_home, events[-1]["run_id"]) == "succeeded"
    again = run_cli("run", pb, "--yes")  # the lock was released
    assert again.returncode == 0, again.stderr


# --- runs never left open ---------------------------------------------------------------------


class Exploding:
    """An observer that raises on the second step's end (a bug, a refused write)."""

    def runbook_step_finished(self, run: Any, event: Any) -> None:
        if event.step == "s2":
            raise OSError(28, "No space left on device")


def test_an_error_mid_run_rolls_back_records_the_end_and_releases_the_lock(
        tmp_path: Path, runbook_home: Path) -> None:
    pb, log = many_steps(tmp_path, 4)
    result = runbook.run(pb, observers=[Exploding()], audit_log=tmp_path / "audit.jsonl")
    assert result.outcome == "rolled-back" and result.exit_code == 1
    assert "No space left on device" in (result.error or "")
    assert lines(log) == ["step 1", "step 2", "undo 2", "undo 1"]
    assert journal_status(runbook_home, result.run_id) == "rolled-back"
    events = audit_events(tmp_path / "audit.jsonl", result.run_id)
    assert events[-1]["event"] == "run.finished" and events[-1]["status"] == "rolled-back"
    assert runbook.run(pb, audit_log=tmp_path / "audit.jsonl").exit_code == 0  # not locked


# --- 4. a probe that fails is not a precondition that does not hold --------------------------


@pytest.mark.parametrize("pre, cause", [
    ({"probe": "host.query", "with": {"command": ["/nonexistent/kubectl", "get", "x"]},
      "that": "result.rc == 0", "message": "this runbook does not apply"}, "nonexistent"),
    ({"probe": "host.query", "with": {"command": ["echo", "50"]},
      "that": "result.stdout | int > result.treshold_pct",
      "message": "this runbook does not apply"}, "treshold_pct"),
])
def test_a_precondition_that_could_not_be_checked_exits_7(
        tmp_path: Path, pre: dict[str, Any], cause: str) -> None:
    log = tmp_path / "log"
    pb = write_playbook(tmp_path / "pb.yaml", append("change", log, "changed"),
                        preconditions=[pre])
    proc = run_cli("run", pb, "--yes")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 7, out
    assert "could not check" in out and cause in out
    assert "does not apply" not in out
    assert "could-not-check · exit 7" in out
    assert not log.exists()
    plan = run_cli("plan", pb)
    assert plan.returncode == 7 and "could not check" in plan.stdout + plan.stderr


def test_a_precondition_that_does_not_hold_still_exits_6(tmp_path: Path) -> None:
    pb = write_playbook(tmp_path / "pb.yaml", append("change", tmp_path / "log", "x"),
                        preconditions=[{"probe": "host.query", "with": {"command": ["false"]},
                                        "that": "result.rc == 0"}])
    assert run_cli("run", pb, "--yes").returncode == 6


def test_exit_7_is_documented_wherever_exit_codes_are() -> None:
    root = Path(__file__).resolve().parent.parent
    from runbook.result import OUTCOME_EXIT

    assert OUTCOME_EXIT["could-not-check"] == 7
    for doc in ("README.md", "docs/cli.md", "docs/guide.md"):
        text = (root / doc).read_text(encoding="utf-8")
        assert "could not be checked" in text or "could-not-check" in text, doc


# --- 1. resume remembers the sandbox and the targets -------------------------------------------

SIM_DIR = 'printf "%s\\n" "${RUNBOOK_SIM_DIR:-real}" >> "$1"'


def killed_run(tmp_path: Path, *args: object, target: str | None = None) -> tuple[Path, str]:
    """A run whose first step records where it ran, then kills its runner (SIGKILL):
    the journal keeps it resumable; the step's check tells a resume that it happened."""
    log = tmp_path / "log"
    first = shell("first", SIM_DIR + '; kill -9 "$PPID"; sleep 5', log,
                  checks=[probe("test -s \"$1\"", log, that="result.rc == 0")])
    pb = write_playbook(tmp_path / "pb.yaml", first, shell("second", SIM_DIR, log),
                        defaults={"target": target} if target else None)
    proc = run_cli("run", pb, "--yes", *args)
    assert proc.returncode == -9, proc.stdout + proc.stderr
    runs = json.loads(run_cli("runs", "--json").stdout)["runs"]
    return log, runs[0]["run_id"]


def test_resume_goes_on_in_the_sandbox_the_run_used(tmp_path: Path,
                                                    runbook_home: Path) -> None:
    sandbox = tmp_path / "sandbox"
    assert run_cli("sim", "init", "cfs-healthy", "--dir", sandbox).returncode == 0
    log, run_id = killed_run(tmp_path, "--sandbox", sandbox)
    started = [e for e in audit_events(runbook_home / "audit.jsonl", run_id)
               if e["event"] == "run.started"]
    assert started[0]["data"]["sandbox"] == str(sandbox.resolve())
    proc = run_cli("resume", run_id, "--yes")  # as printed: no --sandbox
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert lines(log) == [str(sandbox.resolve())] * 2
    resumed = [e for e in audit_events(runbook_home / "audit.jsonl", run_id)
               if e["event"] == "run.started"]
    assert [e["data"]["sandbox"] for e in resumed] == [str(sandbox.resolve())] * 2


def test_resume_refuses_another_sandbox_or_none_with_the_command(tmp_path: Path) -> None:
    sandbox, other = tmp_path / "sandbox", tmp_path / "other"
    for d in (sandbox, other):
        assert run_cli("sim", "init", "cfs-healthy", "--dir", d).returncode == 0
    log, run_id = killed_run(tmp_path, "--sandbox", sandbox)
    proc = run_cli("resume", run_id, "--yes", "--sandbox", other)
    assert proc.returncode == 2
    assert f"ran in the sandbox {sandbox.resolve()}" in proc.stderr
    assert f"runbook resume {run_id}" in proc.stderr
    assert lines(log) == [str(sandbox.resolve())]  # nothing ran


def test_resume_of_a_real_run_refuses_a_sandbox(tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    assert run_cli("sim", "init", "cfs-healthy", "--dir", sandbox).returncode == 0
    log, run_id = killed_run(tmp_path)
    proc = run_cli("resume", run_id, "--yes", "--sandbox", sandbox)
    assert proc.returncode == 2 and "against the real systems" in proc.stderr
    assert lines(log) == ["real"]


def test_resume_uses_the_targets_the_run_was_given(tmp_path: Path) -> None:
    log, run_id = killed_run(tmp_path, "--target", "box=local://", target="box")
    proc = run_cli("resume", run_id, "--yes")  # without --target box=...
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert lines(log) == ["real", "real"]


# --- 6. prompts: an invalid answer asks again; every prompt shows its default --------------


def pty_run(args: list[object], cwd: Path) -> tuple[int, int]:
    pid, fd = pty.fork()
    if pid == 0:  # the child: the CLI on a terminal
        os.chdir(cwd)
        os.execv(sys.executable, [sys.executable, "-m", "runbook", *(str(a) for a in args)])
    return pid, fd


def read_until(fd: int, needle: str, timeout: float = 30) -> str:
    seen = ""
    deadline = time.monotonic() + timeout
    while needle not in seen:
        assert time.monotonic() < deadline, f"{needle!r} not seen in {seen!r}"
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                seen += os.read(fd, 4096).decode(errors="replace")
            except OSError:  # the CLI has gone
                raise AssertionError(f"{needle!r} not seen in {seen!r}") from None
    return seen


def exit_code(pid: int) -> int:
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def gate_answers(runbook_home: Path) -> list[tuple[str, str]]:
    return [(e["status"], e["data"]["how"]) for e in audit_events(runbook_home / "audit.jsonl")
            if e["event"] == "gate.answered"]


def test_an_invalid_gate_answer_asks_again(tmp_path: Path, runbook_home: Path) -> None:
    log = tmp_path / "log"
    pb = write_playbook(tmp_path / "pb.yaml", append("one", log, "ran", confirm="go on?"))
    pid, fd = pty_run(["run", pb], tmp_path)
    read_until(fd, "Proceed? [y/N]")
    os.write(fd, b"ye\n")  # a typo is not a no
    assert "neither yes nor no" in read_until(fd, "Proceed? [y/N]")
    os.write(fd, b"y\n")
    assert exit_code(pid) == 0
    os.close(fd)
    assert lines(log) == ["ran"]
    assert gate_answers(runbook_home) == [("approved", "terminal")]


def test_enter_at_a_gate_takes_the_default_shown_no(tmp_path: Path,
                                                    runbook_home: Path) -> None:
    log = tmp_path / "log"
    pb = write_playbook(tmp_path / "pb.yaml", append("one", log, "ran", confirm="go on?"))
    pid, fd = pty_run(["run", pb], tmp_path)
    read_until(fd, "Proceed? [y/N]")
    os.write(fd, b"\n")
    assert exit_code(pid) == 4
    os.close(fd)
    assert not log.exists()


def test_an_invalid_interrupt_answer_asks_again_and_enter_rolls_back(
        tmp_path: Path, runbook_home: Path) -> None:
    log, flag = tmp_path / "log", tmp_path / "in-two"
    pb = write_playbook(tmp_path / "pb.yaml", append("one", log, "one", undo="undo one"),
                        shell("two", 'touch "$1"; sleep 30', flag, timeout="60s"))
    pid, fd = pty_run(["run", pb, "--yes"], tmp_path)
    deadline = time.monotonic() + 30
    while not flag.exists():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.write(fd, b"\x03")
    assert "(Enter: roll back)" in read_until(fd, "[r/p/l]")
    os.write(fd, b"x\n")
    assert "is not an answer" in read_until(fd, "[r/p/l]")
    os.write(fd, b"\n")
    assert exit_code(pid) == 4
    os.close(fd)
    assert lines(log) == ["one", "undo one"]


# --- 8. a needs-attention run can be finished with the tool ---------------------------------

UNDO_WHEN_FIXED = 'test -e "$2" && printf "%s\\n" undone >> "$1"'


def run_with_failed_rollback(tmp_path: Path) -> tuple[Path, Path, str]:
    log, fixed = tmp_path / "log", tmp_path / "fixed"
    step = append("change", log, "changed")
    step["rollback"] = {"action": "host.shell", "with": {"command": [
        "sh", "-c", UNDO_WHEN_FIXED, "sh", str(log), str(fixed)]}}
    pb = write_playbook(tmp_path / "pb.yaml", step, fail("boom"))
    proc = run_cli("run", pb, "--yes", "--json")
    assert proc.returncode == 3, proc.stderr
    return pb, fixed, json.loads(proc.stdout)["run_id"]


def test_resume_rollback_retries_the_failed_rollbacks(tmp_path: Path,
                                                      runbook_home: Path) -> None:
    _, fixed, run_id = run_with_failed_rollback(tmp_path)
    fixed.touch()  # the cause of the failure was fixed
    proc = run_cli("resume", run_id, "--rollback", "--yes")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert lines(tmp_path / "log") == ["changed", "undone"]
    assert journal_status(runbook_home, run_id) == "rolled-back"
    finished = [e for e in audit_events(runbook_home / "audit.jsonl", run_id)
                if e["event"] == "rollback.finished"]
    assert [e["status"] for e in finished] == ["failed", "ok"]


def test_runs_resolve_closes_a_run_done_by_hand_audited(tmp_path: Path,
                                                        runbook_home: Path) -> None:
    _, fixed, run_id = run_with_failed_rollback(tmp_path)
    proc = run_cli("runs", "resolve", run_id, "--reason", "undid it by hand, INC-42")
    assert proc.returncode == 0, proc.stderr
    assert "done by hand: $ sh -c" in proc.stdout
    assert journal_status(runbook_home, run_id) == "resolved"
    events = audit_events(runbook_home / "audit.jsonl", run_id)
    gate, end = events[-2], events[-1]
    assert (gate["event"], gate["status"], gate["reason"]) == (
        "gate.answered", "resolved", "undid it by hand, INC-42")
    assert gate["data"]["commands"] and UNDO_WHEN_FIXED in gate["data"]["commands"][0]
    assert (end["event"], end["status"]) == ("run.finished", "resolved")
    assert run_cli("audit", "verify", runbook_home / "audit.jsonl").returncode == 0
    again = run_cli("resume", run_id, "--rollback", "--yes")
    assert again.returncode == 2 and "resolved" in again.stderr
    assert not fixed.exists() and lines(tmp_path / "log") == ["changed"]
    assert run_cli("runs", "resolve", run_id, "--reason", "x").returncode == 2


# --- 7. pause only when a resume could work; resume confirms on a terminal ---------------


def wait_exists(path: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


@pytest.mark.parametrize("on_resume, offered", [("stop", False), ("restart", True)])
def test_pause_is_offered_only_when_the_run_could_be_resumed(
        tmp_path: Path, on_resume: str, offered: bool) -> None:
    log, flag = tmp_path / "log", tmp_path / "in-two"
    pb = write_playbook(
        tmp_path / "pb.yaml", append("one", log, "one", undo="undo one"),
        shell("watch", "sleep 60", background=True, on_resume=on_resume),
        shell("two", 'touch "$1"; sleep 30', flag, timeout="60s"))
    pid, fd = pty_run(["run", pb, "--yes"], tmp_path)
    wait_exists(flag)
    os.write(fd, b"\x03")
    shown = read_until(fd, "(Enter: roll back)")
    assert ("[p]ause" in shown) is offered
    if not offered:
        os.write(fd, b"p\n")
        assert "is not an answer" in read_until(fd, "(Enter: roll back)")
    os.write(fd, b"r\n")
    assert exit_code(pid) == 4
    os.close(fd)
    assert lines(log) == ["one", "undo one"]


def test_cfs_purge_restarts_its_consumer_on_resume() -> None:
    from runbook.loader import load

    root = Path(__file__).resolve().parent.parent
    consume = load(root / "playbooks" / "cfs-purge.yaml").step("consume")
    assert consume.background and consume.on_resume == "restart"


def test_resume_asks_on_a_terminal_and_a_no_leaves_the_run_resumable(
        tmp_path: Path, runbook_home: Path) -> None:
    log, run_id = killed_run(tmp_path)
    pid, fd = pty_run(["resume", run_id], tmp_path)
    assert f"resume run {run_id}" in read_until(fd, "Proceed? [y/N]")
    os.write(fd, b"\n")
    assert exit_code(pid) == 4
    os.close(fd)
    assert lines(log) == ["real"]  # nothing ran
    assert journal_status(runbook_home, run_id) == "paused"
    proc = run_cli("resume", run_id, "--yes")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert lines(log) == ["real", "real"]


# --- 3. secrets hidden where they were put ------------------------------------------------

SECRET = "hunter2-xyz"


def everything_shown(proc: Proc, home: Path) -> str:
    """Console, --json and every record a run leaves behind."""
    records = [home / "audit.jsonl", *sorted(home.glob("journal.db*"))]
    return proc.stdout + proc.stderr + "".join(
        p.read_bytes().decode("utf-8", "replace") for p in records if p.exists())


@pytest.mark.parametrize("value", ["t", "ot", "abcde"])
def test_a_short_secret_is_refused_with_the_reason(tmp_path: Path, value: str) -> None:
    pb = write_playbook(tmp_path / "pb.yaml", append("one", tmp_path / "log", "{{ token }}"),
                        params={"token": {"type": "string", "secret": True}})
    proc = run_cli("run", pb, "--yes", "-p", f"token={value}")
    assert proc.returncode == 2
    assert "params.token: a secret shorter than 6 characters is refused" in proc.stderr
    assert not (tmp_path / "log").exists()


def test_an_argv_element_from_a_secret_is_masked_whole_and_nothing_else(
        tmp_path: Path, runbook_home: Path) -> None:
    # "hunter" also occurs in an innocent path: it must stay as it is
    innocent = tmp_path / "hunter2-xy"
    innocent.mkdir()
    pb = write_playbook(
        tmp_path / "pb.yaml",
        shell("use", 'echo "got $1 in $2" >&2; exit 3', "--token={{ token }}", innocent),
        params={"token": {"type": "string", "secret": True}})
    proc = run_cli("run", pb, "--yes", "--json", "-p", f"token={SECRET}")
    assert proc.returncode == 1
    assert SECRET not in everything_shown(proc, runbook_home)
    started = next(e for e in audit_events(runbook_home / "audit.jsonl")
               if e["event"] == "step.started")
    assert started["argv"][-2:] == ["***", str(innocent)]
    assert str(innocent) in json.loads(proc.stdout)["steps"][0]["commands"][0]


def test_list_secrets_findings_and_when_observations_stay_hidden(
        tmp_path: Path, runbook_home: Path) -> None:
    keys = ["first-key-1", "second-key-2"]
    pb = write_playbook(
        tmp_path / "pb.yaml",
        shell("use", 'echo "$@" >&2', "{{ tokens[0] }}", "{{ tokens[1] }}"),
        {"id": "warn", "action": "flow.finding", "when": "params.tokens[1] != 'x'",
         "with": {"title": "rotate", "next": "rotate {{ tokens[0] }} now"}},
        params={"tokens": {"type": "list", "secret": True}})
    given = ["-p", "tokens=" + json.dumps(keys)]
    proc = run_cli("run", pb, "--yes", "--json", *given)
    assert proc.returncode == 0, proc.stderr
    shown = everything_shown(proc, runbook_home)
    assert not any(k in shown for k in keys)
    assert json.loads(proc.stdout)["findings"][0]["next_step"] == "rotate *** now"
    plan = run_cli("plan", pb, *given)
    assert plan.returncode == 0, plan.stderr
    assert "observed params.tokens[1] = '***'" in plan.stdout
    assert not any(k in plan.stdout + plan.stderr for k in keys)


# --- 9. the plan shows what a reviewer needs ------------------------------------------------


def test_the_plan_shows_params_timeouts_retries_checks_and_command_settings(
        tmp_path: Path) -> None:
    log = tmp_path / "log"
    first = append("first", log, "one", undo="undo one", timeout="45s",
                   retry={"attempts": 4, "delay": "2s"},
                   checks=[probe('test -s "$1"', log, that="result.rc == 0")])
    second = shell("second", 'cat >> "$1"', log, restores="first")
    second["with"].update(env={"MODE": "careful"}, cwd=str(tmp_path), stdin="{{ token }}")
    pb = write_playbook(tmp_path / "pb.yaml", first, second,
                        params={"token": {"type": "string", "secret": True},
                                "level": {"type": "int", "default": 3}})
    proc = run_cli("plan", pb)  # no secret needed for a plan
    out = proc.stdout
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Params token=<secret>, level=3" in out
    for line in ("timeout: 45s", "retry: up to 4 attempts, 2s apart",
                 "check: host.query -> result.rc == 0",
                 "restores: first (its rollback is no longer needed)",
                 "env: {'MODE': 'careful'}", f"cwd: '{tmp_path}'", "stdin: '***'"):
        assert line in out, line
    assert not log.exists()


def test_a_polling_step_is_probed_once_in_a_plan(tmp_path: Path) -> None:
    counter = tmp_path / "probes"
    poll = shell("wait-ready", 'echo x >> "$1"; echo not-yet', counter,
                 until="result.stdout.strip() == 'ready'",
                 retry={"attempts": 30, "delay": "1s"})
    poll["action"] = "host.query"
    pb = write_playbook(tmp_path / "pb.yaml", poll)
    started = time.monotonic()
    proc = run_cli("plan", pb)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert time.monotonic() - started < 15
    assert "would wait until result.stdout.strip() == 'ready'" in proc.stdout
    assert lines(counter) == ["x"]


# --- hostile: a timeout bounds the step whatever its descendants do ------------------------


def test_a_timeout_bounds_a_step_whose_grandchild_left_the_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "grandchild.pid"
    hang = shell("hang", 'setsid sh -c \'echo $$ > "$1"; exec sleep 60\' sh "$1" & sleep 60',
                 pidfile, timeout="2s")
    pb = write_playbook(tmp_path / "pb.yaml", hang)
    started = time.monotonic()
    try:
        proc = run_cli("run", pb, "--yes", timeout=40)
        took = time.monotonic() - started
    finally:
        if pidfile.exists():
            kill_if_alive(read_pid(pidfile))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "timed out after 2s" in proc.stdout
    assert took < 15, took


# --- hostile: tracebacks become exit 2 with the file --------------------------------------


@pytest.mark.parametrize("case", ["latin1-params", "binary-plan", "validate-dev-zero",
                                  "plan-dev-zero", "deep-json-plan"])
def test_hostile_files_are_refused_with_the_file_not_a_traceback(tmp_path: Path,
                                                                  case: str) -> None:
    log = tmp_path / "log"
    pb = write_playbook(tmp_path / "pb.yaml", append("one", log, "{{ word }}"),
                        params={"word": {"type": "string", "default": "hi"}})
    bad = tmp_path / "bad"
    if case == "latin1-params":
        bad.write_bytes(b"word: caf\xe9\n")
        args: list[object] = ["run", pb, "--yes", "--params-file", bad]
    elif case == "binary-plan":
        bad.write_bytes(b"{\xff\xfe")
        args = ["run", pb, "--yes", "--plan", bad]
    elif case == "deep-json-plan":
        bad.write_text("[" * 50000 + "]" * 50000)
        args = ["run", pb, "--yes", "--plan", bad]
    elif case == "validate-dev-zero":
        args, bad = ["validate", "/dev/zero"], Path("/dev/zero")
    else:
        args, bad = ["run", pb, "--yes", "--plan", "/dev/zero"], Path("/dev/zero")
    proc = run_cli(*args, timeout=30)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert str(bad) in proc.stderr
    assert not log.exists()


# --- hostile: templates that would exhaust the machine --------------------------------------


@pytest.mark.parametrize("expr", [
    "'a' * 10**9", "10 ** (10 ** 8)", "[0] * 10**8", "'%1500000000d' % 1",
    "'{:1500000000}'.format(1)", "'{0:{1}}'.format(1, 10**9)",
])
def test_a_template_over_budget_fails_its_step_quickly(tmp_path: Path, expr: str) -> None:
    log = tmp_path / "log"
    pb = write_playbook(tmp_path / "pb.yaml", append("one", log, "one", undo="undo one"),
                        append("greedy", log, "{{ " + expr + " }}"))
    started = time.monotonic()
    valid = run_cli("validate", pb)
    proc = run_cli("run", pb, "--yes")
    assert valid.returncode == 0 and time.monotonic() - started < 20
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "not allowed in a template" in proc.stdout
    assert lines(log) == ["one", "undo one"]


def test_nested_loops_are_bounded_per_render() -> None:
    from runbook.errors import TemplateError
    from runbook.templating import Templates

    loops = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    started = time.monotonic()
    with pytest.raises(TemplateError, match="loop iterations"):
        Templates().render(loops, {}, step="s", field="with")
    assert time.monotonic() - started < 10
    assert Templates().render("{{ range(3) | list }}-{{ 'x' * 3 }}-{{ 2 ** 10 }}", {}) == \
        "[0, 1, 2]-xxx-1024"


# --- hostile: YAML merge keys as YAML 1.1 defines them --------------------------------------


def test_a_merge_followed_by_overriding_keys_is_supported(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    pb = tmp_path / "pb.yaml"
    pb.write_text(f"""runbook: 1
name: merged
steps:
  - &base
    id: one
    action: host.shell
    timeout: 30s
    with: {{command: [touch, "{one}"]}}
  - <<: *base
    id: two
    with: {{command: [touch, "{two}"]}}
""", encoding="utf-8")
    proc = run_cli("run", pb, "--yes", "--json")
    assert proc.returncode == 0, proc.stderr
    assert one.exists() and two.exists()
    steps = json.loads(proc.stdout)["steps"]
    assert [s["id"] for s in steps] == ["one", "two"]


@pytest.mark.parametrize("body, line, message", [
    ("  - id: one\n    <<: 5\n    action: host.shell\n    with: {command: ['true']}\n", 5,
     "a merge (<<) takes a mapping"),
    ("  - &b {id: one, action: host.shell, with: {command: ['true']}}\n"
     "  - <<: *b\n    id: two\n    id: three\n", 7, "duplicate key 'id'"),
])
def test_an_invalid_merge_is_refused_with_its_line(tmp_path: Path, body: str, line: int,
                                                   message: str) -> None:
    pb = tmp_path / "pb.yaml"
    pb.write_text("runbook: 1\nname: merged\nsteps:\n" + body, encoding="utf-8")
    proc = run_cli("validate", pb)
    assert proc.returncode == 2
    assert f"{pb}:{line}:" in proc.stderr and message in proc.stderr, proc.stderr


# --- hostile: output is bounded in memory, in the journal and in --json -------------------

MEASURE = """
import resource, subprocess, sys
proc = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, len(proc.stdout),
      proc.returncode)
"""


def test_a_step_printing_hundreds_of_megabytes_stays_bounded(tmp_path: Path,
                                                             runbook_home: Path) -> None:
    pb = write_playbook(tmp_path / "pb.yaml", shell(
        "loud", "head -c 200000000 /dev/zero | tr '\\0' a; echo; echo the-end"))
    proc = subprocess.run([sys.executable, "-c", MEASURE, *cli_argv("run", pb, "--yes",
                                                                     "--json")],
                          capture_output=True, text=True, timeout=120, check=False)
    max_rss_kb, printed, rc = map(int, proc.stdout.split())
    assert rc == 0, proc.stderr
    assert max_rss_kb < 600_000, max_rss_kb  # not the 3 GB it used to take
    assert printed < 1_000_000
    journal = runbook_home / "journal.db"
    assert journal.stat().st_size < 5_000_000
    run = json.loads(run_cli("runs", "--json").stdout)["runs"][0]
    assert run["status"] == "succeeded"


# --- also: retries visible, plurals right -----------------------------------------------------


def test_retries_show_on_the_console_and_counts_are_plural_only_when_more(
        tmp_path: Path) -> None:
    flag, log = tmp_path / "flag", tmp_path / "log"
    flaky = shell("flaky", 'test -e "$1" && exit 0; touch "$1"; exit 1', flag,
                  retry={"attempts": 3, "delay": "10ms"})
    pb = write_playbook(tmp_path / "pb.yaml", append("one", log, "one", undo="undo"), flaky,
                        fail("boom"))
    proc = run_cli("run", pb, "--yes")
    assert proc.returncode == 1
    assert "✓ flaky ok after 2 attempts" in proc.stdout
    assert "· 1 rollback ·" in proc.stdout
    broken = tmp_path / "broken.yaml"
    broken.write_text("runbook: 1\nname: x\nsteps: []\n", encoding="utf-8")
    assert "0/1 playbooks valid, 1 problem\n" in run_cli("validate", broken).stderr


# --- hostile: a reviewed plan cannot be forged ---------------------------------------------


def test_a_plan_edited_with_a_recomputed_sha256_is_refused(tmp_path: Path) -> None:
    import hashlib

    log = tmp_path / "log"
    pb = write_playbook(tmp_path / "pb.yaml", append("one", log, "reviewed"))
    plan = tmp_path / "plan.json"
    assert run_cli("plan", pb, "-o", plan).returncode == 0
    doc = json.loads(plan.read_text())
    doc.pop("sha256")
    doc.pop("signature")
    doc["steps"]["one"]["commands"] = ["touch /tmp/owned"]
    doc["steps"]["one"]["mutating"] = False
    doc["sha256"] = hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":"))
                                   .encode()).hexdigest()
    plan.write_text(json.dumps(doc))
    proc = run_cli("run", pb, "--yes", "--plan", plan)
    assert proc.returncode == 2
    assert "signature: plan file was not signed by this runbook home" in proc.stderr
    assert not log.exists()


def test_a_step_the_plan_skipped_does_not_run_when_its_condition_changed(
        tmp_path: Path) -> None:
    state, log = tmp_path / "state", tmp_path / "log"
    state.write_text("no\n")
    look = query("look", 'cat "$1"', state)
    risky = append("risky", log, "risky ran",
                   when="steps.look.result.stdout.strip() == 'yes'")
    pb = write_playbook(tmp_path / "pb.yaml", look, risky)
    plan = tmp_path / "plan.json"
    assert run_cli("plan", pb, "-o", plan).returncode == 0
    state.write_text("yes\n")
    proc = run_cli("run", pb, "--yes", "--plan", plan)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "not run in the reviewed plan" in proc.stdout
    assert not log.exists()


# --- hostile: the audit log's disk fills up mid-run ---------------------------------------


def test_a_full_audit_disk_stops_before_the_next_command_and_rolls_back(
        tmp_path: Path, runbook_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from runbook import audit

    append_event = audit.AuditLog.append
    full = {"now": False}

    def filling(self: audit.AuditLog, fields: Any, *, durable: bool) -> dict[str, Any]:
        if fields.get("event") == "step.started" and fields.get("step") == "s3":
            full["now"] = True
        if full["now"]:  # the disk is full from here on
            raise audit.AuditError(f"cannot write audit log {self.path}: "
                                   "[Errno 28] No space left on device")
        return append_event(self, fields, durable=durable)

    monkeypatch.setattr(audit.AuditLog, "append", filling)
    pb, log = many_steps(tmp_path, 4)
    result = runbook.run(pb)
    assert lines(log) == ["step 1", "step 2", "undo 2", "undo 1"]  # s3 never ran
    assert (result.outcome, result.exit_code) == ("rolled-back", 1)
    assert "audit log could not be written" in (result.error or "")
    assert journal_status(runbook_home, result.run_id) == "rolled-back"
    journal = Journal(runbook_home / "journal.db")
    try:
        assert [r.state for r in journal.rollbacks(result.run_id)] == ["done", "done"]
    finally:
        journal.close()
    events = audit_events(runbook_home / "audit.jsonl", result.run_id)
    assert [e["step"] for e in events if e["event"] == "step.finished"] == ["s1", "s2"]


def test_a_huge_timeout_is_refused_at_load_with_its_line(tmp_path: Path) -> None:
    step = append("one", tmp_path / "log", "x", timeout="99999999999999999d")
    pb = write_playbook(tmp_path / "pb.yaml", step)
    proc = run_cli("run", pb, "--yes")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert re.search(r"pb\.yaml:\d+: steps\[0\]\.timeout: a duration cannot be longer than "
                     r"a year", proc.stderr), proc.stderr


def test_a_nul_byte_in_a_param_fails_its_step_cleanly(tmp_path: Path) -> None:
    log = tmp_path / "log"
    params = tmp_path / "params.json"
    params.write_text(json.dumps({"word": "a\x00b"}))
    pb = write_playbook(tmp_path / "pb.yaml", append("one", log, "one", undo="undo one"),
                        append("two", log, "{{ word }}"),
                        params={"word": {"type": "string"}})
    proc = run_cli("run", pb, "--yes", "--params-file", params)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "embedded null byte" in proc.stdout and "unexpected error" not in proc.stdout
    assert lines(log) == ["one", "undo one"]


def test_a_corrupt_journal_is_a_message_not_a_traceback(tmp_path: Path,
                                                        runbook_home: Path) -> None:
    runbook_home.mkdir(parents=True, exist_ok=True)
    (runbook_home / "journal.db").write_bytes(bytes(range(256)) * 32)
    log = tmp_path / "log"
    pb = write_playbook(tmp_path / "pb.yaml", append("one", log, "one"))
    for args in (("run", pb, "--yes"), ("runs",)):
        proc = run_cli(*args)
        assert proc.returncode == 2, proc.stderr
        assert "journal.db: the journal cannot be read" in proc.stderr
        assert "Traceback" not in proc.stderr
    assert not log.exists()


# --- also: a sandbox made for a scenario name is removed unless kept ----------------------


@pytest.mark.parametrize("keep", [False, True])
def test_a_scenario_sandbox_is_removed_at_the_end_unless_kept(tmp_path: Path,
                                                              keep: bool) -> None:
    pb = write_playbook(tmp_path / "pb.yaml", append("one", tmp_path / "log", "one"))
    proc = run_cli("run", pb, "--yes", "--sandbox", "cfs-healthy",
                   *(["--keep-sandbox"] if keep else []))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = re.search(r"sandbox: (\S+) \(scenario cfs-healthy\)", proc.stdout)
    assert found, proc.stdout
    made = Path(found.group(1))
    assert made.exists() is keep
    if keep:
        assert f"sandbox kept (--keep-sandbox): {made}" in proc.stdout
        import shutil

        shutil.rmtree(made)


# --- 5. validate refuses undefined names ------------------------------------------------------


def test_validate_refuses_undefined_names_with_line_and_suggestion(tmp_path: Path) -> None:
    step = append("pack", tmp_path / "log", "{{ log_dri }}", when="compres")
    pb = write_playbook(tmp_path / "pb.yaml", step,
                        params={"log_dir": {"type": "string", "default": "/tmp"},
                                "compress": {"type": "bool", "default": False}})
    proc = run_cli("validate", pb)
    assert proc.returncode == 2
    assert re.search(rf"{re.escape(str(pb))}:\d+: steps\[0\]\.with\.command\[\d\]: undefined "
                     r"name 'log_dri' .*\(did you mean 'log_dir'\?\)", proc.stderr), proc.stderr
    assert re.search(rf"{re.escape(str(pb))}:\d+: steps\[0\]\.when: undefined name 'compres'"
                     r" .*\(did you mean 'compress'\?\)", proc.stderr), proc.stderr
