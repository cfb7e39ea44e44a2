"""Operator safety (issue 13): everyday accidents never cost a rollback, a secret or
the wrong system. Each test reproduces one accident and asserts what the operator
and the records see afterwards: exit codes, the audit log, the journal, files."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from helpers import (
    append,
    audit_events,
    cli_argv,
    lines,
    run_cli,
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
