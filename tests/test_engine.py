"""The engine through the Python API, against real subprocesses and real files.

Every test runs a playbook whose commands act on files under tmp_path and then
asserts on the world afterwards (which files exist, what they say, which
processes are left, what the audit log recorded), not merely that it ran.
"""

from __future__ import annotations

import json
import shlex
import time
from pathlib import Path
from typing import Any

import pytest
from helpers import (
    APPEND,
    append,
    audit_events,
    event_names,
    fail,
    kill_if_alive,
    lines,
    playbook,
    probe,
    query,
    read_pid,
    sh,
    shell,
    wait_gone,
)

import runbook
from runbook.result import RunResult


def run_pb(text: str, params: dict[str, Any] | None = None, **options: Any) -> RunResult:
    """Load YAML text and run it; no terminal unless the test says otherwise."""
    options.setdefault("interactive", False)
    return runbook.run(runbook.loads(text), params, **options)


def plan_pb(text: str, params: dict[str, Any] | None = None, **options: Any) -> RunResult:
    options.setdefault("interactive", False)
    return runbook.plan(runbook.loads(text), params, **options)


def events(res: RunResult) -> list[dict[str, Any]]:
    assert res.audit_log is not None
    return audit_events(Path(res.audit_log), res.run_id)


def finished(res: RunResult, step: str) -> dict[str, Any]:
    """The step.finished audit event of a step."""
    found = [e for e in events(res) if e["event"] == "step.finished" and e["step"] == step]
    assert len(found) == 1, found
    return found[0]


# --- 1. rollback order --------------------------------------------------------------------------


def test_failure_rolls_back_completed_steps_in_reverse_order(tmp_path: Path) -> None:
    log = tmp_path / "log"
    text = playbook(
        append("one", log, "do-1", undo="undo-1"),
        append("two", log, "do-2", undo="undo-2"),
        append("three", log, "do-3", undo="undo-3"),
        fail("four"),
        append("five", log, "do-5", undo="undo-5"),
    )
    res = run_pb(text)

    assert lines(log) == ["do-1", "do-2", "do-3", "undo-3", "undo-2", "undo-1"]
    assert (res.outcome, res.exit_code) == ("rolled-back", 1)
    assert [(s.id, s.status) for s in res.steps] == [
        ("one", "ok"), ("two", "ok"), ("three", "ok"), ("four", "failed")]
    assert [(r.step, r.status) for r in res.rollbacks] == [
        ("three", "ok"), ("two", "ok"), ("one", "ok")]
    assert res.manual == []
    assert "step 'four' failed" in (res.error or "")

    trail = events(res)
    assert event_names(trail, "rollback.started", "rollback.finished") == [
        ("rollback.started", "three"), ("rollback.finished", "three"),
        ("rollback.started", "two"), ("rollback.finished", "two"),
        ("rollback.started", "one"), ("rollback.finished", "one"),
    ]
    names = [(e["event"], e["step"]) for e in trail]
    assert names.index(("step.finished", "four")) < names.index(("rollback.started", "three"))
    assert all(e["status"] == "ok" for e in trail if e["event"] == "rollback.finished")
    assert trail[-1]["event"] == "run.finished"
    assert (trail[-1]["status"], trail[-1]["rc"]) == ("rolled-back", 1)


def test_rollback_events_carry_the_rollback_argv(tmp_path: Path) -> None:
    """Like step.started, rollback.started/finished audit the argv list of the command
    (the contract's ``argv``), not one shell-joined string."""
    log = tmp_path / "log"
    res = run_pb(playbook(append("one", log, "do-1", undo="undo-1"), fail("two")))
    assert lines(log) == ["do-1", "undo-1"]
    trail = events(res)
    started = [e for e in trail if e["event"] == "step.started"]
    assert started[0]["argv"] == sh(APPEND, "do-1", log)
    rollback = [e for e in trail if e["event"].startswith("rollback.")]
    assert [e["argv"] for e in rollback] == [sh(APPEND, "undo-1", log)] * 2


def test_a_failed_step_has_no_rollback_of_its_own_pushed(tmp_path: Path) -> None:
    """Only completed steps are undone: the failing step's explicit rollback does not run."""
    log = tmp_path / "log"
    text = playbook(
        append("one", log, "do-1", undo="undo-1"),
        shell("two", 'printf "%s\\n" do-2 >> "$1"; exit 1', log,
              rollback={"action": "host.shell", "with": {"command": sh(APPEND, "undo-2", log)}}),
    )
    res = run_pb(text)
    assert lines(log) == ["do-1", "do-2", "undo-1"]
    assert [r.step for r in res.rollbacks] == ["one"]


def test_failing_post_condition_rolls_back_the_step_itself(tmp_path: Path) -> None:
    log = tmp_path / "log"
    text = playbook(
        append("one", log, "do-1", undo="undo-1",
               checks=[probe('cat "$1"', log, that="'never-there' in result.stdout")]),
        append("two", log, "do-2"),
    )
    res = run_pb(text)
    assert lines(log) == ["do-1", "undo-1"]
    assert (res.outcome, res.exit_code) == ("rolled-back", 1)
    assert res.step("one").status == "failed"
    check = res.checks[0]
    assert (check.kind, check.ok, check.step) == ("check", False, "one")
    assert check.observed == {"result.stdout": "do-1\n"}


# --- 2. restores --------------------------------------------------------------------------------


def test_restores_discharges_the_earlier_rollback(tmp_path: Path) -> None:
    log = tmp_path / "log"
    text = playbook(
        append("disable", log, "disable", undo="undo-disable"),
        append("enable", log, "enable", restores="disable"),
        append("other", log, "other", undo="undo-other"),
        fail("boom"),
    )
    res = run_pb(text)
    assert lines(log) == ["disable", "enable", "other", "undo-other"]
    assert [r.step for r in res.rollbacks] == ["other"]
    assert (res.outcome, res.exit_code) == ("rolled-back", 1)
    assert event_names(events(res), "rollback.started") == [("rollback.started", "other")]


def test_a_failed_restoring_step_discharges_nothing(tmp_path: Path) -> None:
    log = tmp_path / "log"
    text = playbook(
        append("disable", log, "disable", undo="undo-disable"),
        fail("enable", restores="disable"),
    )
    res = run_pb(text)
    assert lines(log) == ["disable", "undo-disable"]
    assert [r.step for r in res.rollbacks] == ["disable"]


# --- 3. retries and until -----------------------------------------------------------------------

COUNT = 'n=$(cat "$1" 2>/dev/null || echo 0); n=$((n + 1)); echo "$n" > "$1"'
"""sh script: count the attempts in file $1."""


def test_retry_until_the_command_succeeds_on_the_third_attempt(tmp_path: Path) -> None:
    counter = tmp_path / "attempts"
    log = tmp_path / "log"
    text = playbook(
        shell("flaky", COUNT + '; [ "$n" -ge 3 ]', counter,
              retry={"attempts": 5, "delay": "10ms"}),
        append("after", log, "after"),
    )
    started = time.monotonic()
    res = run_pb(text)
    assert time.monotonic() - started < 3
    assert counter.read_text().strip() == "3"
    assert (res.outcome, res.exit_code) == ("succeeded", 0)
    assert (res.step("flaky").status, res.step("flaky").attempts) == ("ok", 3)
    assert finished(res, "flaky")["data"]["attempts"] == 3
    assert lines(log) == ["after"]


def test_until_waits_for_a_file_written_by_a_background_step(tmp_path: Path) -> None:
    flag = tmp_path / "flag"
    text = playbook(
        shell("writer", 'sleep 0.3; printf ready > "$1.tmp"; mv "$1.tmp" "$1"', flag,
              background=True),
        query("wait", 'cat "$1" 2>/dev/null || echo missing', flag,
              until="result.stdout.strip() == 'ready'",
              retry={"attempts": 200, "delay": "20ms"}, register="seen"),
        shell("record", 'printf "%s" "$1" > "$2"', "{{ seen.stdout }}", tmp_path / "seen"),
    )
    res = run_pb(text)
    assert (res.outcome, res.exit_code) == ("succeeded", 0)
    wait = res.step("wait")
    assert wait.status == "ok"
    assert wait.attempts > 1, "the file existed at once: the test proves nothing"
    assert wait.result["stdout"] == "ready"
    assert (tmp_path / "seen").read_text() == "ready"


def test_exhausted_retries_fail_the_step_with_the_attempt_count(tmp_path: Path) -> None:
    counter = tmp_path / "attempts"
    log = tmp_path / "log"
    text = playbook(
        append("one", log, "do-1", undo="undo-1"),
        shell("never", COUNT + "; exit 7", counter, retry={"attempts": 4, "delay": "10ms"}),
    )
    res = run_pb(text)
    assert counter.read_text().strip() == "4"
    never = res.step("never")
    assert (never.status, never.attempts, never.rc) == ("failed", 4, 7)
    assert "exited 7" in (never.error or "")
    assert finished(res, "never")["data"]["attempts"] == 4
    assert lines(log) == ["do-1", "undo-1"]
    assert (res.outcome, res.exit_code) == ("rolled-back", 1)


def test_until_that_never_holds_names_the_attempts(tmp_path: Path) -> None:
    counter = tmp_path / "attempts"
    text = playbook(
        query("poll", COUNT + "; echo not-yet", counter, until="'done' in result.stdout",
              retry={"attempts": 3, "delay": "10ms"}),
    )
    res = run_pb(text)
    poll = res.step("poll")
    assert counter.read_text().strip() == "3"
    assert (poll.status, poll.attempts) == ("failed", 3)
    assert "did not hold after 3 attempt(s)" in (poll.error or "")
    assert poll.result["stdout"] == "not-yet\n"
    assert res.exit_code == 1


# --- 4. timeouts --------------------------------------------------------------------------------


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    shell_pid, child_pid = tmp_path / "shell.pid", tmp_path / "child.pid"
    log = tmp_path / "log"
    text = playbook(
        append("one", log, "do-1", undo="undo-1"),
        shell("slow", 'echo $$ > "$1"; sleep 60 & echo $! > "$2"; sleep 60', shell_pid,
              child_pid, timeout="500ms"),
    )
    started = time.monotonic()
    res = run_pb(text)
    took = time.monotonic() - started
    pids = [read_pid(shell_pid), read_pid(child_pid)]
    try:
        assert took < 4, f"a 500ms timeout took {took:.1f}s"
        assert all(wait_gone(pid) for pid in pids), "a process of the timed-out step survived"
    finally:
        kill_if_alive(*pids)
    slow = res.step("slow")
    assert slow.status == "failed"
    assert "timed out after 0.5s" in (slow.error or "")
    assert lines(log) == ["do-1", "undo-1"]
    assert (res.outcome, res.exit_code) == ("rolled-back", 1)


def test_timeout_escalates_to_sigkill_when_sigterm_is_ignored(tmp_path: Path) -> None:
    shell_pid, child_pid = tmp_path / "shell.pid", tmp_path / "child.pid"
    text = playbook(
        shell("stubborn", 'trap "" TERM; echo $$ > "$1"; sh -c \'trap "" TERM; sleep 60\' & '
                          'echo $! > "$2"; sleep 60', shell_pid, child_pid, timeout="300ms"),
    )
    started = time.monotonic()
    res = run_pb(text)
    took = time.monotonic() - started
    pids = [read_pid(shell_pid), read_pid(child_pid)]
    try:
        assert all(wait_gone(pid) for pid in pids)
    finally:
        kill_if_alive(*pids)
    assert res.step("stubborn").status == "failed"
    assert took < 6


# --- 5. background steps ------------------------------------------------------------------------

TICKER = 'echo $$ > "$1"; for i in 1 2 3; do echo "tick $i"; sleep 0.05; done; sleep 60'


def test_wait_quiet_then_stop_a_background_ticker(tmp_path: Path) -> None:
    pid_file = tmp_path / "ticker.pid"
    log = tmp_path / "log"
    text = playbook(
        shell("ticker", TICKER, pid_file, background=True),
        {"id": "settle", "action": "flow.wait_quiet",
         "with": {"step": "ticker", "quiet_for": "300ms"}, "timeout": "5s"},
        {"id": "stop", "action": "flow.stop", "with": {"step": "ticker", "grace": "1s"}},
        # Runs after the stop: the ticker must already be gone, and its output is known.
        shell("after", 'if kill -0 "$(cat "$1")" 2>/dev/null; then s=alive; else s=gone; fi; '
                       'printf "%s %s %s\\n" "$s" "$2" "$3" >> "$4"',
              pid_file, "n={{ steps.ticker.result.lines | length }}",
              "{{ steps.ticker.result.lines[-1] }}", log),
    )
    res = run_pb(text)
    pid = read_pid(pid_file)
    try:
        assert wait_gone(pid, 0.5)
    finally:
        kill_if_alive(pid)
    assert (res.outcome, res.exit_code) == ("succeeded", 0), res.error
    settle = res.step("settle")
    assert settle.result["quiet_for"] >= 0.3
    assert settle.result["lines"] == 3 and settle.result["ended"] is False
    assert 0.3 <= settle.duration_ms / 1000 < 3
    ticker = res.step("ticker")
    assert ticker.status == "ok"
    assert ticker.result["stdout"] == "tick 1\ntick 2\ntick 3\n"
    assert res.step("stop").result["lines"] == ["tick 1", "tick 2", "tick 3"]
    assert lines(log) == ["gone n=3 tick 3"]


def test_a_ticker_that_never_goes_quiet_fails_at_the_step_timeout(tmp_path: Path) -> None:
    pid_file = tmp_path / "ticker.pid"
    log = tmp_path / "log"
    text = playbook(
        append("one", log, "do-1", undo="undo-1"),
        shell("ticker", 'echo $$ > "$1"; while :; do echo tick; sleep 0.03; done', pid_file,
              background=True),
        {"id": "settle", "action": "flow.wait_quiet",
         "with": {"step": "ticker", "quiet_for": "300ms"}, "timeout": "700ms"},
        append("never", log, "never"),
    )
    started = time.monotonic()
    res = run_pb(text)
    took = time.monotonic() - started
    pid = read_pid(pid_file)
    try:
        assert wait_gone(pid, 0.5), "the background ticker outlived the failed run"
    finally:
        kill_if_alive(pid)
    settle = res.step("settle")
    assert settle.status == "failed"
    assert "was still printing after 700ms" in (settle.error or "")
    assert 0.6 <= settle.duration_ms / 1000 < 2
    assert took < 5
    assert lines(log) == ["do-1", "undo-1"]
    assert (res.outcome, res.exit_code) == ("rolled-back", 1)


def test_a_background_step_still_running_at_the_end_is_stopped(tmp_path: Path) -> None:
    shell_pid, child_pid = tmp_path / "shell.pid", tmp_path / "child.pid"
    text = playbook(
        shell("forever", 'echo $$ > "$1"; sleep 60 & echo $! > "$2"; echo started; wait',
              shell_pid, child_pid, background=True),
        query("meanwhile", 'cat "$1"', child_pid, until="result.stdout.strip() != ''",
              retry={"attempts": 100, "delay": "20ms"}),
    )
    res = run_pb(text)
    pids = [read_pid(shell_pid), read_pid(child_pid)]
    try:
        assert all(wait_gone(pid, 1.0) for pid in pids), "a background process outlived the run"
    finally:
        kill_if_alive(*pids)
    assert (res.outcome, res.exit_code) == ("succeeded", 0)
    assert res.step("forever").status == "ok"
    assert res.step("forever").result["stdout"] == "started\n"


def test_a_background_step_that_died_fails_the_stop(tmp_path: Path) -> None:
    log = tmp_path / "log"
    text = playbook(
        append("one", log, "do-1", undo="undo-1"),
        shell("crashes", "echo bye; exit 3", background=True),
        {"id": "pause", "action": "flow.sleep", "with": {"duration": "200ms"}},
        {"id": "stop", "action": "flow.stop", "with": {"step": "crashes"}},
    )
    res = run_pb(text)
    assert res.step("stop").status == "failed"
    assert "exited with status 3" in (res.step("stop").error or "")
    assert res.step("crashes").status == "failed"
    assert lines(log) == ["do-1", "undo-1"]
    assert res.exit_code == 1


# --- 6. gates -----------------------------------------------------------------------------------


def _gated(tmp_path: Path) -> tuple[str, Path]:
    log = tmp_path / "log"
    return playbook(
        append("before", log, "before", undo="undo-before"),
        append("gated", log, "gated", confirm="Really write?"),
        append("after", log, "after"),
    ), log


def test_a_gate_declined_by_the_prompt_stops_and_rolls_back(tmp_path: Path) -> None:
    text, log = _gated(tmp_path)
    asked: list[tuple[str, str]] = []

    def no(step: str, message: str) -> bool:
        asked.append((step, message))
        return False

    res = run_pb(text, interactive=True, prompt=no)
    assert lines(log) == ["before", "undo-before"]
    assert (res.outcome, res.exit_code) == ("declined", 4)
    assert res.step("gated").status == "declined"
    assert len(asked) == 1 and asked[0][0] == "gated"
    assert "Really write?" in asked[0][1]
    assert f"will run: {shlex.join(sh(APPEND, 'gated', log))}" in asked[0][1]
    gate = [e for e in events(res) if e["event"] == "gate.answered"]
    assert [(g["step"], g["status"], g["data"]["how"]) for g in gate] == [
        ("gated", "declined", "terminal")]


def test_a_gate_approved_by_the_prompt_runs_the_step(tmp_path: Path) -> None:
    text, log = _gated(tmp_path)
    res = run_pb(text, interactive=True, prompt=lambda step, message: True)
    assert lines(log) == ["before", "gated", "after"]
    assert res.exit_code == 0
    gate = [e for e in events(res) if e["event"] == "gate.answered"]
    assert [(g["status"], g["data"]["how"]) for g in gate] == [("approved", "terminal")]


def test_without_a_terminal_a_gate_is_declined_and_yes_approves(tmp_path: Path) -> None:
    text, log = _gated(tmp_path)
    res = run_pb(text, interactive=False)
    assert lines(log) == ["before", "undo-before"]
    assert res.exit_code == 4
    log.unlink()
    res = run_pb(text, interactive=False, yes=True)
    assert lines(log) == ["before", "gated", "after"]
    gate = [e for e in events(res) if e["event"] == "gate.answered"]
    assert [(g["status"], g["data"]["how"]) for g in gate] == [("approved", "--yes")]


# --- 7. dry-run ---------------------------------------------------------------------------------


def _plannable(tmp_path: Path) -> tuple[str, dict[str, Path]]:
    files = {name: tmp_path / name for name in
             ("created", "probe-marker", "query-marker", "skipped")}
    text = playbook(
        shell("create", 'echo made > "$1"', files["created"],
              rollback={"action": "host.shell", "with": {"command": ["rm", "-f",
                                                                     str(files["created"])]}}),
        query("look", 'touch "$1"; echo looked', files["query-marker"]),
        shell("never", 'touch "$1"', files["skipped"], when="flag"),
        shell("later", 'echo "$1"', "rc={{ steps.create.rc }}"),
        params={"flag": {"type": "bool", "default": False}},
        preconditions=[probe('touch "$1"; echo probe-saw-42', files["probe-marker"],
                             that="'probe-saw-42' in result.stdout", id="probed")],
    )
    return text, files


def test_plan_runs_nothing_mutating_but_evaluates_read_only_probes(tmp_path: Path) -> None:
    text, files = _plannable(tmp_path)
    res = plan_pb(text)
    assert not files["created"].exists() and not files["skipped"].exists()
    assert files["probe-marker"].exists() and files["query-marker"].exists()
    assert (res.outcome, res.exit_code, res.dry_run) == ("planned", 0, True), res.error
    assert res.checks[0].ok is True
    assert res.checks[0].observed == {"result.stdout": "probe-saw-42\n"}
    create = res.step("create")
    assert create.status == "planned" and create.mutating
    assert create.commands == [shlex.join(sh('echo made > "$1"', files["created"]))]
    assert create.rollback is not None
    assert res.step("look").status == "ok"
    assert res.step("look").result["stdout"] == "looked\n"
    assert (res.step("never").status, res.step("never").when) == ("skipped", "flag -> false")
    later = res.step("later")
    assert later.status == "planned"
    assert later.commands[0].endswith("(waits on create)")
    assert all(not e["event"].startswith("rollback") for e in events(res))
    assert {e["dry_run"] for e in events(res)} == {True}
    # Only the read-only step started; no mutating step did.
    assert [e["step"] for e in events(res) if e["event"] == "step.started"] == ["look"]


def test_offline_plan_runs_no_probe_at_all(tmp_path: Path) -> None:
    text, files = _plannable(tmp_path)
    res = plan_pb(text, offline=True)
    assert not any(f.exists() for f in files.values())
    assert res.checks[0].status == "skipped" and res.checks[0].ok is None
    assert res.step("look").status == "planned"
    assert (res.outcome, res.exit_code) == ("planned", 0), res.error


@pytest.mark.parametrize("when", ["steps.create.rc == 0", "made.rc == 0"])
def test_plan_defers_a_when_that_depends_on_a_planned_step(tmp_path: Path, when: str) -> None:
    """A ``when`` on the result of a mutating step cannot be decided in a dry-run: the plan
    says what it waits on instead of failing."""
    text = playbook(
        shell("create", 'echo made > "$1"', tmp_path / "created", register="made"),
        shell("later", 'touch "$1"', tmp_path / "later", when=when),
    )
    res = plan_pb(text)
    assert not (tmp_path / "created").exists() and not (tmp_path / "later").exists()
    assert (res.outcome, res.exit_code) == ("planned", 0), res.error
    assert res.step("later").when == f"{when} (decided at run time: waits on create)"
    assert res.step("later").status == "planned"


def test_plan_defers_a_whole_value_template_on_a_planned_step(tmp_path: Path) -> None:
    text = playbook(
        shell("create", 'echo made > "$1"', tmp_path / "created"),
        shell("later", 'echo "$1" > "$2"', "{{ steps.create.stdout }}", tmp_path / "later"),
    )
    res = plan_pb(text)
    assert (res.outcome, res.exit_code) == ("planned", 0), res.error
    assert res.step("later").status == "planned"
    assert res.step("later").commands[0].endswith("(waits on create)")


# --- 11. the audit trail is written before the command runs -------------------------------------


def test_step_started_is_on_disk_before_the_command_runs(tmp_path: Path) -> None:
    seen = tmp_path / "seen"
    audit_file = tmp_path / "audit.jsonl"
    text = playbook(shell("peek", 'cat "$1" > "$2"', audit_file, seen))
    res = run_pb(text, audit_log=audit_file)
    assert res.exit_code == 0
    during = [json.loads(line) for line in seen.read_text().splitlines()]
    assert [e["event"] for e in during] == ["run.started", "step.started"]
    assert during[-1]["step"] == "peek" and during[-1]["run_id"] == res.run_id
    assert during[-1]["argv"] == sh('cat "$1" > "$2"', audit_file, seen)


# --- 13. on_fail --------------------------------------------------------------------------------


def test_on_fail_continue_goes_on_and_the_run_succeeds(tmp_path: Path) -> None:
    log = tmp_path / "log"
    text = playbook(
        append("one", log, "do-1", undo="undo-1"),
        fail("shaky", rc=5, on_fail="continue"),
        append("two", log, "do-2"),
        append("noticed", log, "saw-shaky-fail", when="steps.shaky.status == 'failed'"),
    )
    res = run_pb(text)
    assert lines(log) == ["do-1", "do-2", "saw-shaky-fail"]
    # The engine treats a continued failure as tolerated: the run succeeds, the step says failed.
    assert (res.outcome, res.exit_code) == ("succeeded", 0)
    assert (res.step("shaky").status, res.step("shaky").rc) == ("failed", 5)
    assert res.rollbacks == []


def test_on_fail_abort_stops_without_rolling_back(tmp_path: Path) -> None:
    log = tmp_path / "log"
    text = playbook(
        append("one", log, "do-1", undo="undo-1"),
        fail("fatal", on_fail="abort"),
        append("two", log, "do-2"),
    )
    res = run_pb(text)
    assert lines(log) == ["do-1"]
    assert (res.outcome, res.exit_code) == ("needs-attention", 3)
    assert res.rollbacks == []
    assert res.manual == [shlex.join(sh(APPEND, "undo-1", log))]
    assert not [e for e in events(res) if e["event"].startswith("rollback")]


# --- 14. template errors ------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["x-{{ steps.one.result.no_such_name }}",
                                   "{{ steps.one.result.no_such_name }}"],
                         ids=["inside-text", "whole-value"])
def test_an_undefined_name_fails_its_step_and_rolls_back(tmp_path: Path, value: str) -> None:
    log = tmp_path / "log"
    text = playbook(
        append("one", log, "do-1", undo="undo-1"),
        shell("typo", 'echo "$1" >> "$2"', value, log),
        append("two", log, "do-2"),
    )
    res = run_pb(text)
    typo = res.step("typo")
    assert typo.status == "failed"
    assert lines(log) == ["do-1", "undo-1"]
    assert (res.outcome, res.exit_code) == ("rolled-back", 1)
    assert "step 'typo'" in (res.error or "")
    assert "no_such_name" in (typo.error or ""), typo.error


@pytest.mark.parametrize("where", ["when", "until", "that"])
def test_an_undefined_name_in_an_expression_fails_the_step_not_the_engine(
        tmp_path: Path, where: str) -> None:
    """when/until/that with a typo: the step fails and is rolled back like any failure;
    no jinja2 exception escapes runbook.run."""
    log = tmp_path / "log"
    typo = append("typo", log, "typo")
    if where == "when":
        typo["when"] = "steps.one.result.no_such_name"
    elif where == "until":
        typo.update(until="steps.one.result.no_such_name",
                    retry={"attempts": 2, "delay": "10ms"})
    else:
        typo["checks"] = [probe("true", that="steps.one.result.no_such_name")]
    text = playbook(append("one", log, "do-1", undo="undo-1"), typo, append("two", log, "do-2"))
    res = run_pb(text)
    assert res.step("typo").status == "failed"
    assert (res.outcome, res.exit_code) == ("rolled-back", 1)
    assert "no_such_name" in (res.error or "")
    assert lines(log)[0] == "do-1" and lines(log)[-1] == "undo-1"
    assert "do-2" not in lines(log)


def test_an_int_param_is_a_valid_argv_element(tmp_path: Path) -> None:
    """``"{{ n }}"`` keeps its native type (int); host.shell's argv takes it as text."""
    out = tmp_path / "out"
    text = playbook(shell("count", 'printf "%s" "$1" > "$2"', "{{ n }}", out),
                    params={"n": {"type": "int", "default": 3}})
    res = run_pb(text)
    assert (res.outcome, res.exit_code) == ("succeeded", 0), res.error
    assert out.read_text() == "3"


# --- secrets in the typed result ----------------------------------------------------------------


@pytest.mark.parametrize("value", ["s3cr3t-VALUE", "s3cr3t 'VALUE"])
def test_secret_params_are_redacted_in_the_result_and_audit(tmp_path: Path, value: str) -> None:
    out = tmp_path / "received"
    text = playbook(
        shell("use", 'printf "%s" "$1" > "$2"; echo "out $1"; echo "err $1" >&2',
              "{{ token }}", out),
        shell("leak", 'echo "bad $1" >&2; exit 3', "{{ token }}"),
        params={"token": {"type": "string", "secret": True}},
    )
    res = run_pb(text, {"token": value})
    assert out.read_text() == value
    assert res.params == {"token": "***"}
    dumped = repr(res.to_dict())
    assert value not in dumped and "s3cr3t" not in dumped
    assert res.audit_log is not None
    assert "s3cr3t" not in Path(res.audit_log).read_text()


def test_run_accepts_a_path_and_validates_params(tmp_path: Path) -> None:
    path = tmp_path / "pb.yaml"
    path.write_text(playbook(append("one", tmp_path / "log", "{{ word }}"),
                             params={"word": {"type": "string"}}))
    with pytest.raises(runbook.ValidationErrors, match="required param"):
        runbook.run(path, {}, interactive=False)
    assert not (tmp_path / "log").exists()
    res = runbook.run(path, {"word": "hi"}, interactive=False)
    assert res.exit_code == 0 and lines(tmp_path / "log") == ["hi"]


# --- the runtime an action gets ------------------------------------------------------------


def test_actions_get_a_small_runtime_not_the_engine(tmp_path: Path) -> None:
    """Plugins reach background steps, people and findings through ``runbook.Runtime``;
    flow.finding and flow.manual go through it into the result and the audit log."""
    from runbook import Action, ActionContext, hookimpl
    from runbook.actions import NoArgs
    from runbook.plugins import build_registry, make_plugin_manager

    seen: dict[str, Any] = {}

    class Probe(Action[NoArgs]):
        name = "demo.probe_runtime"
        summary = "records what it was handed"

        def run(self, args: NoArgs, ctx: ActionContext) -> Any:
            seen["runtime"] = ctx.runtime
            ctx.finding("info", "probed", evidence={"n": 1}, next_step="none")
            return {"asked": ctx.confirm("may I?")}

    class Plugin:
        @hookimpl
        def runbook_actions(self) -> list[type[Action[Any]]]:
            return [Probe]

    registry = build_registry(make_plugin_manager([Plugin()]))
    text = playbook(
        {"id": "probe", "action": "demo.probe_runtime"},
        {"id": "note", "action": "flow.finding",
         "with": {"severity": "critical", "title": "queue stuck", "next": "purge it"}},
        {"id": "by-hand", "action": "flow.manual", "with": {"instructions": "restart x"}})
    audit = tmp_path / "audit.jsonl"
    res = runbook.run(runbook.loads(text, registry=registry), registry=registry, yes=True,
                      audit_log=audit, interactive=False)
    assert res.outcome == "succeeded", res.error
    from runbook.engine import Engine
    from runbook.runtime import RunRuntime

    assert isinstance(seen["runtime"], RunRuntime)
    assert not isinstance(seen["runtime"], Engine)
    assert not hasattr(seen["runtime"], "rollbacks")
    assert res.step("probe").result == {"asked": True}
    assert [(f.severity, f.title, f.next_step, f.step) for f in res.findings] == [
        ("info", "probed", "none", "probe"), ("critical", "queue stuck", "purge it", "note")]
    gates = [(e["step"], e["status"], e["data"]["how"]) for e in audit_events(audit)
             if e["event"] == "gate.answered"]
    assert gates == [("probe", "approved", "--yes"), ("by-hand", "approved", "--yes")]
    finished = next(e for e in audit_events(audit) if e["event"] == "run.finished")
    assert [f["title"] for f in finished["data"]["findings"]] == ["probed", "queue stuck"]
