"""The ``runbook`` command end to end: a real process, real files, real exit codes.

Each test runs ``python -m runbook ...`` in a subprocess (no terminal unless a
pseudo-terminal is set up on purpose), then asserts on the exit status, what
was printed, the files the playbook's commands touched and the audit log.
"""

from __future__ import annotations

import json
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from helpers import (
    APPEND,
    append,
    audit_events,
    cli_argv,
    event_names,
    fail,
    kill_if_alive,
    lines,
    probe,
    query,
    read_pid,
    run_cli,
    run_cli_pty,
    sh,
    shell,
    wait_gone,
    write_playbook,
)

Proc = subprocess.CompletedProcess[str]


def output(proc: Proc) -> str:
    return proc.stdout + proc.stderr


def no_traceback(proc: Proc) -> None:
    assert "Traceback" not in output(proc), output(proc)


def audit_path(home: Path) -> Path:
    return home / "audit.jsonl"


def last_run(home: Path) -> list[dict[str, Any]]:
    """The events of the last run in the audit log."""
    events = audit_events(audit_path(home))
    return [e for e in events if e["run_id"] == events[-1]["run_id"]]


def step_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines()]


# --- 10. every exit code ------------------------------------------------------------------------


def test_exit_0_when_every_step_succeeds(tmp_path: Path, runbook_home: Path) -> None:
    log = tmp_path / "log"
    pb = write_playbook(tmp_path / "pb.yaml", append("one", log, "do-1"),
                        append("two", log, "do-2"))
    proc = run_cli("run", pb)
    assert proc.returncode == 0, output(proc)
    assert lines(log) == ["do-1", "do-2"]
    assert "succeeded · exit 0 · steps: 2 ok" in proc.stdout
    assert last_run(runbook_home)[-1]["status"] == "succeeded"


def test_exit_1_when_a_step_fails_and_everything_is_rolled_back(
        tmp_path: Path, runbook_home: Path) -> None:
    log = tmp_path / "log"
    pb = write_playbook(
        tmp_path / "pb.yaml",
        append("one", log, "do-1", undo="undo-1"),
        append("two", log, "do-2", undo="undo-2"),
        append("three", log, "do-3", undo="undo-3"),
        fail("four"),
        append("five", log, "do-5"),
    )
    proc = run_cli("run", pb)
    assert proc.returncode == 1, output(proc)
    assert lines(log) == ["do-1", "do-2", "do-3", "undo-3", "undo-2", "undo-1"]
    shown = [line for line in step_lines(proc.stdout) if line.startswith("↶ rolling back")]
    assert [line.split(":")[0] for line in shown] == [
        "↶ rolling back three", "↶ rolling back two", "↶ rolling back one"]
    assert "rolled-back · exit 1" in proc.stdout
    assert "step 'four' failed" in proc.stdout
    assert "failing on purpose" in proc.stdout
    trail = last_run(runbook_home)
    assert event_names(trail, "rollback.started", "rollback.finished") == [
        ("rollback.started", "three"), ("rollback.finished", "three"),
        ("rollback.started", "two"), ("rollback.finished", "two"),
        ("rollback.started", "one"), ("rollback.finished", "one"),
    ]
    no_traceback(proc)


def _marker_playbook(tmp_path: Path, **kw: Any) -> tuple[Path, Path]:
    marker = tmp_path / "marker"
    return write_playbook(tmp_path / "pb.yaml", shell("touch", 'touch "$1"', marker),
                          **kw), marker


def test_exit_2_for_an_invalid_playbook_and_nothing_runs(tmp_path: Path,
                                                          runbook_home: Path) -> None:
    marker = tmp_path / "marker"
    pb = tmp_path / "pb.yaml"
    pb.write_text(
        "runbook: 1\n"
        "name: bad\n"
        "steps:\n"
        "  - id: touch\n"
        "    action: host.shell\n"
        f"    with: {{command: [touch, {json.dumps(str(marker))}]}}\n"
        "  - id: typo\n"
        "    action: host.shell\n"
        "    with: {command: [true]}\n"
        "    rolback: none\n")
    proc = run_cli("run", pb, "--yes")
    assert proc.returncode == 2, output(proc)
    assert f"{pb}:10: steps[1].rolback: unknown key 'rolback'" in proc.stderr
    assert "did you mean 'rollback'?" in proc.stderr
    assert not marker.exists()
    assert not audit_path(runbook_home).exists()
    no_traceback(proc)


@pytest.mark.parametrize(("given", "expected"), [
    (["-p", "nope=1"], "params.nope: unknown param (this playbook takes: word)"),
    ([], "params.word: required param not given (use -p word=VALUE)"),
    (["-p", "word"], "expected NAME=VALUE, got 'word'"),
], ids=["unknown-param", "missing-required-param", "malformed-param"])
def test_exit_2_for_bad_params_and_nothing_runs(tmp_path: Path, runbook_home: Path,
                                                given: list[str], expected: str) -> None:
    pb, marker = _marker_playbook(tmp_path, params={"word": {"type": "string"}})
    proc = run_cli("run", pb, "--yes", *given)
    assert proc.returncode == 2, output(proc)
    assert expected in proc.stderr
    assert not marker.exists()
    assert not audit_path(runbook_home).exists()
    no_traceback(proc)


ROLLBACK_FAILS = 'echo "cannot undo $1" >&2; exit 1'


def test_exit_3_when_a_rollback_fails_with_the_command_left_to_do_by_hand(
        tmp_path: Path, runbook_home: Path) -> None:
    log = tmp_path / "log"
    stuck = tmp_path / "stuck"
    broken_rollback = sh(ROLLBACK_FAILS, stuck)
    pb = write_playbook(
        tmp_path / "pb.yaml",
        append("one", log, "do-1", undo="undo-1"),
        append("two", log, "do-2",
               rollback={"action": "host.shell", "with": {"command": broken_rollback}}),
        fail("three"),
    )
    proc = run_cli("run", pb)
    assert proc.returncode == 3, output(proc)
    assert lines(log) == ["do-1", "do-2", "undo-1"]
    text = step_lines(proc.stdout)
    manual_at = text.index("Left to do by hand (these rollbacks did not complete):")
    assert text[manual_at + 1] == f"$ {shlex.join(broken_rollback)}"
    assert "needs-attention · exit 3" in proc.stdout
    finished = [e for e in last_run(runbook_home) if e["event"] == "rollback.finished"]
    assert [(e["step"], e["status"]) for e in finished] == [("two", "failed"), ("one", "ok")]
    assert last_run(runbook_home)[-1]["data"]["manual"] == [shlex.join(broken_rollback)]
    no_traceback(proc)


def test_exit_6_when_a_precondition_does_not_hold_and_nothing_changes(
        tmp_path: Path, runbook_home: Path) -> None:
    pb, marker = _marker_playbook(
        tmp_path, preconditions=[probe("echo healthy", that="'broken' in result.stdout",
                                       message="the service is not broken")])
    proc = run_cli("run", pb, "--yes")
    assert proc.returncode == 6, output(proc)
    assert not marker.exists()
    assert "the service is not broken" in proc.stdout
    assert "precondition-failed · exit 6" in proc.stdout
    trail = last_run(runbook_home)
    assert [e["event"] for e in trail] == ["run.started", "check.finished", "run.finished"]
    assert trail[1]["status"] == "failed"
    assert trail[1]["data"]["observed"] == {"result.stdout": "healthy\n"}
    no_traceback(proc)


# Exit 5 (locked by another run) belongs to the locking issue and is not tested here.


# --- 6. gates -----------------------------------------------------------------------------------


def _gated(tmp_path: Path) -> tuple[Path, Path]:
    log = tmp_path / "log"
    pb = write_playbook(
        tmp_path / "pb.yaml",
        append("before", log, "before", undo="undo-before"),
        append("gated", log, "gated", confirm="Really write the gated line?"),
        append("after", log, "after"),
    )
    return pb, log


def _gate_answers(home: Path) -> list[tuple[str, str, str]]:
    return [(e["step"], e["status"], e["data"]["how"]) for e in last_run(home)
            if e["event"] == "gate.answered"]


def test_without_a_terminal_a_gate_is_declined_exit_4(tmp_path: Path,
                                                      runbook_home: Path) -> None:
    pb, log = _gated(tmp_path)
    proc = run_cli("run", pb)
    assert proc.returncode == 4, output(proc)
    assert lines(log) == ["before", "undo-before"]
    assert "gate at gated: declined (no terminal (use --yes to approve))" in proc.stdout
    assert "declined · exit 4" in proc.stdout
    assert _gate_answers(runbook_home) == [
        ("gated", "declined", "no terminal (use --yes to approve)")]
    assert last_run(runbook_home)[-1]["status"] == "declined"


def test_yes_approves_every_gate(tmp_path: Path, runbook_home: Path) -> None:
    pb, log = _gated(tmp_path)
    proc = run_cli("run", pb, "--yes")
    assert proc.returncode == 0, output(proc)
    assert lines(log) == ["before", "gated", "after"]
    assert _gate_answers(runbook_home) == [("gated", "approved", "--yes")]


def test_a_person_at_a_terminal_approves_with_y(tmp_path: Path, runbook_home: Path) -> None:
    pb, log = _gated(tmp_path)
    rc, shown = run_cli_pty("run", pb, answer="y")
    assert rc == 0, shown
    assert lines(log) == ["before", "gated", "after"]
    assert "? [gated] Really write the gated line?" in shown
    assert f"will run: {shlex.join(sh(APPEND, 'gated', log))}" in shown
    assert _gate_answers(runbook_home) == [("gated", "approved", "terminal")]


def test_a_person_at_a_terminal_declines_with_n(tmp_path: Path, runbook_home: Path) -> None:
    pb, log = _gated(tmp_path)
    rc, shown = run_cli_pty("run", pb, answer="n")
    assert rc == 4, shown
    assert lines(log) == ["before", "undo-before"]
    assert _gate_answers(runbook_home) == [("gated", "declined", "terminal")]
    assert "declined · exit 4" in shown


def test_input_typed_before_a_gate_asks_does_not_answer_it(tmp_path: Path,
                                                            runbook_home: Path) -> None:
    """A stray "y" typed while an earlier step ran is discarded: only an answer given
    after the question was shown counts."""
    import os
    import select

    log = tmp_path / "log"
    pb = write_playbook(tmp_path / "pb.yaml",
                        shell("slow", 'sleep 1; printf "%s\\n" slow >> "$1"', log),
                        append("gated", log, "gated", confirm="Really write the gated line?"))
    master, slave = os.openpty()
    proc = subprocess.Popen(cli_argv("run", pb), stdin=slave, stdout=slave, stderr=slave,
                            close_fds=True, env={**os.environ, "TERM": "dumb"})
    os.close(slave)
    os.write(master, b"y\n")  # typed ahead, before the question exists
    seen, answered, deadline = b"", False, time.monotonic() + 30
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if select.select([master], [], [], 0.05)[0]:
                try:
                    seen += os.read(master, 4096)
                except OSError:
                    break
            if not answered and b"Proceed? [y/N]" in seen:
                os.write(master, b"n\n")
                answered = True
        rc = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    assert answered, seen.decode(errors="replace")
    assert rc == 4
    assert lines(log) == ["slow"]
    assert _gate_answers(runbook_home) == [("gated", "declined", "terminal")]


# --- 7. dry-run ---------------------------------------------------------------------------------


def _plannable(tmp_path: Path) -> tuple[Path, dict[str, Path]]:
    files = {name: tmp_path / name for name in
             ("created", "gated", "skipped", "unless", "probe-marker", "query-marker")}
    pb = write_playbook(
        tmp_path / "pb.yaml",
        shell("create", 'echo made > "$1"', files["created"],
              rollback={"action": "host.shell", "with": {"command": ["rm", "-f",
                                                                     str(files["created"])]}}),
        shell("gated", 'touch "$1"', files["gated"], confirm="Touch the gated file"),
        query("look", 'touch "$1"; echo looked-at-it', files["query-marker"]),
        shell("skip-me", 'touch "$1"', files["skipped"], when="flag"),
        shell("unless", 'touch "$1"', files["unless"], when="not flag"),
        params={"flag": {"type": "bool", "default": False}},
        preconditions=[probe('touch "$1"; echo probe-saw-42', files["probe-marker"],
                             that="'probe-saw-42' in result.stdout", id="probed")],
    )
    return pb, files


@pytest.mark.parametrize("command", [["plan"], ["run", "--dry-run"]], ids=["plan", "dry-run"])
def test_a_dry_run_changes_nothing_and_shows_the_plan(tmp_path: Path, runbook_home: Path,
                                                      command: list[str]) -> None:
    pb, files = _plannable(tmp_path)
    proc = run_cli(*command, pb)
    assert proc.returncode == 0, output(proc)
    assert not files["created"].exists()
    assert not files["gated"].exists()
    assert not files["skipped"].exists() and not files["unless"].exists()
    # Read-only probes ran live: the precondition's answer is in the output.
    assert files["probe-marker"].exists() and files["query-marker"].exists()
    assert "✓ probed: 'probe-saw-42' in result.stdout" in proc.stdout
    assert "(observed result.stdout = 'probe-saw-42\\n')" in proc.stdout
    text = step_lines(proc.stdout)
    assert "1. create  host.shell on local  MUTATES" in text
    create_argv = sh('echo made > "$1"', files["created"])
    assert "$ " + shlex.join(create_argv) in text
    assert any(line.startswith("rollback: ") and str(files["created"]) in line
               for line in text)
    assert "2. gated  host.shell on local  MUTATES" in text
    assert "gate: asks: Touch the gated file" in text
    assert "3. look  host.query on local  read-only" in text
    assert "result: {'rc': 0, 'stdout': 'looked-at-it\\n'," in proc.stdout
    assert "4. skip-me  host.shell on local  MUTATES" in text
    assert text[text.index("4. skip-me  host.shell on local  MUTATES") + 1:][:2] == [
        "when: flag -> false", "skipped"]
    assert text[text.index("5. unless  host.shell on local  MUTATES") + 1:][:3] == [
        "when: not flag -> true", "$ " + shlex.join(sh('touch "$1"', files["unless"])),
        "rollback: none"]
    assert "planned · exit 0" in proc.stdout
    trail = last_run(runbook_home)
    assert {e["dry_run"] for e in trail} == {True}
    assert not [e for e in trail if e["event"] == "gate.answered"]
    assert [e["step"] for e in trail if e["event"] == "step.started"] == ["look"]


def test_offline_runs_not_even_the_read_only_probes(tmp_path: Path) -> None:
    pb, files = _plannable(tmp_path)
    proc = run_cli("plan", pb, "--offline")
    assert proc.returncode == 0, output(proc)
    assert not any(path.exists() for path in files.values()), sorted(
        p.name for p in tmp_path.iterdir())
    assert "(observed result.stdout" not in proc.stdout
    assert "not evaluated (offline)" in proc.stdout
    assert "$ " + shlex.join(sh('touch "$1"; echo looked-at-it', files["query-marker"])) \
        in step_lines(proc.stdout)


def test_plan_shows_the_exact_rollback_command(tmp_path: Path) -> None:
    """A templated rollback is rendered in the plan, as the run would execute it."""
    work = tmp_path / "work"
    pb = write_playbook(
        tmp_path / "pb.yaml",
        shell("create", 'echo made > "$1/created"', "{{ dir }}",
              rollback={"action": "host.shell",
                        "with": {"command": ["rm", "-f", "{{ dir }}/created"]}}),
        params={"dir": {"type": "string"}},
    )
    proc = run_cli("plan", pb, "-p", f"dir={work}")
    assert proc.returncode == 0, output(proc)
    assert f"rollback: {shlex.join(['rm', '-f', f'{work}/created'])}" in step_lines(proc.stdout)


# --- 8. secrets ---------------------------------------------------------------------------------

SECRET_VALUES = ["s3cr3t-VALUE", "s3cr3t 'VALUE"]


def _secret_playbook(tmp_path: Path) -> tuple[Path, Path]:
    received = tmp_path / "received"
    pb = write_playbook(
        tmp_path / "pb.yaml",
        shell("use", 'printf "%s" "$1" > "$2"; echo "out $1"; echo "err $1" >&2',
              "{{ token }}", received,
              rollback={"action": "host.shell",
                        "with": {"command": sh(ROLLBACK_FAILS, "{{ token }}")}},
              confirm="Use the token"),
        shell("leak", 'echo "bad $1" >&2; exit 3', "{{ token }}"),
        params={"token": {"type": "string", "secret": True}},
    )
    return pb, received


@pytest.mark.parametrize("secret", SECRET_VALUES, ids=["plain", "with-quote"])
def test_a_secret_param_is_never_shown_but_reaches_the_command(
        tmp_path: Path, runbook_home: Path, secret: str) -> None:
    pb, received = _secret_playbook(tmp_path)
    proc = run_cli("run", pb, "-p", f"token={secret}", "--yes", "--reason", "INC-7")
    assert proc.returncode == 3, output(proc)  # the step fails, then its rollback does too
    assert received.read_text() == secret
    shown = output(proc)
    assert "***" in shown and "Left to do by hand" in shown
    assert "s3cr3t" not in shown, shown
    assert "s3cr3t" not in audit_path(runbook_home).read_text()

    received.unlink()
    proc = run_cli("run", pb, "-p", f"token={secret}", "--yes", "--json")
    assert proc.returncode == 3, output(proc)
    assert received.read_text() == secret
    assert "s3cr3t" not in output(proc), output(proc)
    result = json.loads(proc.stdout)
    assert result["params"] == {"token": "***"}
    assert result["steps"][0]["result"]["stdout"] == "out ***\n"
    assert "s3cr3t" not in audit_path(runbook_home).read_text()


@pytest.mark.parametrize("secret", SECRET_VALUES, ids=["plain", "with-quote"])
def test_a_secret_param_is_never_shown_in_a_plan(tmp_path: Path, runbook_home: Path,
                                                 secret: str) -> None:
    pb, received = _secret_playbook(tmp_path)
    for extra in ([], ["--json"]):
        proc = run_cli("plan", pb, "-p", f"token={secret}", *extra)
        assert proc.returncode == 0, output(proc)
        assert "s3cr3t" not in output(proc), output(proc)
        assert "***" in proc.stdout
    assert not received.exists()
    assert "s3cr3t" not in audit_path(runbook_home).read_text()


# --- 9. shell metacharacters --------------------------------------------------------------------

NASTY = {"semicolon": "x; touch PWNED", "dollar_paren": "$(touch PWNED2)",
         "backticks": "`touch PWNED3` && touch PWNED4 | cat >PWNED5"}
WRITE_ARG1_TO_ARG2 = "import sys; open(sys.argv[2], 'w').write(sys.argv[1])"


def test_shell_metacharacters_in_params_stay_literal(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    steps: list[dict[str, Any]] = []
    for name in NASTY:
        steps += [
            # An argv list: the whole value is one argument.
            {"id": f"{name}-list".replace("_", "-"), "action": "host.shell",
             "with": {"command": [sys.executable, "-c", WRITE_ARG1_TO_ARG2,
                                  f"{{{{ {name} }}}}", f"{name}.list"], "cwd": str(work)}},
            # Inside a longer argument: the file is named after it.
            {"id": f"{name}-text".replace("_", "-"), "action": "host.shell",
             "with": {"command": ["touch", f"<{{{{ {name} }}}}>"], "cwd": str(work)}},
            # A string command, split with shlex, never given to a shell.
            {"id": f"{name}-string".replace("_", "-"), "action": "host.shell",
             "with": {"command": f"touch 's-{{{{ {name} }}}}'", "cwd": str(work)}},
        ]
    pb = write_playbook(tmp_path / "pb.yaml", *steps,
                        params={name: {"type": "string"} for name in NASTY})
    proc = run_cli("run", pb, *[f"-p{name}={value}" for name, value in NASTY.items()],
                   cwd=tmp_path)
    assert proc.returncode == 0, output(proc)
    expected: set[str] = set()
    for name, value in NASTY.items():
        assert (work / f"{name}.list").read_text() == value
        expected |= {f"{name}.list", f"<{value}>", f"s-{value}"}
    assert sorted(p.name for p in work.iterdir()) == sorted(expected)
    assert not list(tmp_path.rglob("PWNED*"))
    assert not list(Path.cwd().glob("PWNED*"))


# --- 11. the audit log --------------------------------------------------------------------------


def test_audit_verify_show_and_reason(tmp_path: Path, runbook_home: Path) -> None:
    log = tmp_path / "log"
    pb = write_playbook(tmp_path / "pb.yaml", append("one", log, "do-1", undo="undo-1"),
                        fail("two"))
    proc = run_cli("run", pb, "--reason", "INC-42", "--json")
    assert proc.returncode == 1, output(proc)
    run_id = json.loads(proc.stdout)["run_id"]
    assert lines(log) == ["do-1", "undo-1"]

    trail = audit_events(audit_path(runbook_home), run_id)
    assert [e["event"] for e in trail] == [
        "run.started", "step.started", "step.finished", "step.started", "step.finished",
        "rollback.started", "rollback.finished", "run.finished"]
    assert {e["reason"] for e in trail} == {"INC-42"}
    assert {e["actor"] for e in trail} == {"tester"}

    verified = run_cli("audit", "verify")
    assert verified.returncode == 0, output(verified)
    assert f"{audit_path(runbook_home)}: ok, {len(trail)} events, chain intact" in \
        verified.stdout

    shown = run_cli("audit", "show", run_id)
    assert shown.returncode == 0, output(shown)
    assert f"run {run_id}  t  by tester" in shown.stdout
    assert "reason: INC-42" in shown.stdout
    rows = [line.split() for line in shown.stdout.splitlines()
            if re.match(r"^\s+\d\d:\d\d:\d\d\.\d{3}\s", line)]
    assert [(r[1], r[2]) for r in rows] == [(e["event"], e["step"] or "-") for e in trail]
    assert shlex.join(sh(APPEND, "do-1", log)) in shown.stdout

    # Edit one line (the third event): verify names that very line, and exits 1.
    raw = audit_path(runbook_home).read_text().splitlines(keepends=True)
    assert '"status":"ok"' in raw[2]
    raw[2] = raw[2].replace('"status":"ok"', '"status":"failed"')
    audit_path(runbook_home).write_text("".join(raw))
    broken = run_cli("audit", "verify")
    assert broken.returncode == 1, output(broken)
    assert f"{audit_path(runbook_home)}:3: chain broken at seq 3" in broken.stderr
    assert "line edited" in broken.stderr


def test_reason_is_in_every_event_even_of_a_declined_run(tmp_path: Path,
                                                         runbook_home: Path) -> None:
    pb, _ = _gated(tmp_path)
    proc = run_cli("run", pb, "--reason", "INC-42 disk full on db1")
    assert proc.returncode == 4, output(proc)
    assert "reason: INC-42 disk full on db1" in proc.stdout
    trail = last_run(runbook_home)
    assert {e["event"] for e in trail} >= {"gate.answered", "rollback.started", "run.finished"}
    assert {e["reason"] for e in trail} == {"INC-42 disk full on db1"}


def test_step_started_is_written_before_the_command_starts(tmp_path: Path,
                                                           runbook_home: Path) -> None:
    seen = tmp_path / "seen"
    log = tmp_path / "log"
    pb = write_playbook(tmp_path / "pb.yaml", append("first", log, "do-1"),
                        shell("peek", 'cat "$1" > "$2"', audit_path(runbook_home), seen))
    proc = run_cli("run", pb)
    assert proc.returncode == 0, output(proc)
    during = [json.loads(line) for line in seen.read_text().splitlines()]
    assert [(e["event"], e["step"]) for e in during] == [
        ("run.started", None), ("step.started", "first"), ("step.finished", "first"),
        ("step.started", "peek")]
    assert during[-1]["argv"] == sh('cat "$1" > "$2"', audit_path(runbook_home), seen)
    after = audit_events(audit_path(runbook_home))
    assert after[:4] == during  # the lines the command saw are the final ones, unchanged


def test_audit_log_option_writes_where_asked(tmp_path: Path, runbook_home: Path) -> None:
    elsewhere = tmp_path / "elsewhere" / "trail.jsonl"
    pb = write_playbook(tmp_path / "pb.yaml", append("one", tmp_path / "log", "do-1"))
    proc = run_cli("run", pb, "--audit-log", elsewhere)
    assert proc.returncode == 0, output(proc)
    assert not audit_path(runbook_home).exists()
    assert [e["event"] for e in audit_events(elsewhere)][-1] == "run.finished"
    verified = run_cli("audit", "verify", elsewhere)
    assert verified.returncode == 0, output(verified)


# --- 12. --json ---------------------------------------------------------------------------------


def test_json_prints_a_parseable_run_result(tmp_path: Path) -> None:
    log = tmp_path / "log"
    pb = write_playbook(
        tmp_path / "pb.yaml",
        append("one", log, "do-1", undo="undo-1"),
        query("look", "echo seen", register="looked"),
        shell("skip", "true", when="looked.stdout == 'other'"),
        fail("boom", rc=9),
    )
    proc = run_cli("run", pb, "--json")
    assert proc.returncode == 1, output(proc)
    result = json.loads(proc.stdout)
    assert (result["outcome"], result["exit_code"], result["dry_run"]) == (
        "rolled-back", 1, False)
    assert [(s["id"], s["status"]) for s in result["steps"]] == [
        ("one", "ok"), ("look", "ok"), ("skip", "skipped"), ("boom", "failed")]
    assert result["steps"][1]["result"]["stdout"] == "seen\n"
    assert result["steps"][3]["rc"] == 9
    assert [(r["step"], r["status"]) for r in result["rollbacks"]] == [("one", "ok")]
    assert result["audit_log"] and result["run_id"]
    assert lines(log) == ["do-1", "undo-1"]


# --- 14. template errors ------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["with", "with-whole-value", "when"])
def test_an_undefined_name_is_refused_before_anything_runs(
        tmp_path: Path, runbook_home: Path, where: str) -> None:
    """Names are known at load time (issue 13): a typo no longer fails mid-run."""
    log = tmp_path / "log"
    typo = append("typo", log, "typo")
    if where == "with":
        typo["with"]["command"][-2] = "line {{ no_such_name }}"
    elif where == "with-whole-value":
        typo["with"]["command"][-2] = "{{ no_such_name }}"
    else:
        typo["when"] = "no_such_name"
    pb = write_playbook(tmp_path / "pb.yaml", append("one", log, "do-1", undo="undo-1"), typo,
                        append("two", log, "do-2"))
    proc = run_cli("run", pb)
    no_traceback(proc)
    assert proc.returncode == 2, output(proc)
    assert not log.exists()
    assert re.search(rf"{re.escape(str(pb))}:\d+: steps\[1\]\.(with|when).*undefined name "
                     r"'no_such_name'", proc.stderr), proc.stderr


# --- interrupts ---------------------------------------------------------------------------------


def test_an_interrupt_rolls_back_and_leaves_no_process_behind(tmp_path: Path,
                                                              runbook_home: Path) -> None:
    log = tmp_path / "log"
    pid_file = tmp_path / "long.pid"
    pb = write_playbook(
        tmp_path / "pb.yaml",
        append("one", log, "do-1", undo="undo-1"),
        shell("long", 'echo $$ > "$1"; sleep 30', pid_file),
    )
    proc = subprocess.Popen(
        cli_argv("run", pb), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
        # Our own parent may ignore SIGINT (a background job); the CLI must not.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    pid = read_pid(pid_file, timeout=20)
    try:
        proc.send_signal(signal.SIGINT)
        started = time.monotonic()
        out, err = proc.communicate(timeout=20)
        assert time.monotonic() - started < 5
        assert proc.returncode == 4, out + err
        assert "Traceback" not in out + err
        assert lines(log) == ["do-1", "undo-1"]
        assert "interrupted · exit 4" in out
        assert last_run(runbook_home)[-1]["status"] == "interrupted"
        assert wait_gone(pid, 3.0), "the interrupted step's command is still running"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        kill_if_alive(pid)


def test_a_fan_out_names_each_host_and_counts_the_groups_hosts(tmp_path: Path) -> None:
    """Each host's line says which host; the group's line counts hosts (it is not a
    step that needed several attempts)."""
    pb = tmp_path / "fo.yaml"
    pb.write_text("""runbook: 1
name: fo
targets:
  web1: {connection: local}
  web2: {connection: local}
  fleet: {hosts: [web1, web2]}
steps:
  - id: roll
    target: fleet
    action: host.shell
    with: {command: ["true"]}
""")
    res = run_cli("run", pb, "--yes", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    lines = [line.strip() for line in res.stdout.splitlines()]
    for host in ("web1", "web2"):
        assert any(line.startswith(f"✓ roll on {host} ok") for line in lines), res.stdout
    group = [line for line in lines if line.startswith("✓ roll ok")]
    assert len(group) == 1 and "· 2 hosts" in group[0] and "attempts" not in group[0]
