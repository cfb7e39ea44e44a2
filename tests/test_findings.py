"""Findings end to end: ``on_fail: warn`` checks and ``flow.finding`` steps.

A diagnostic runbook does not stop when a warn check fails: it records a
finding (severity, title, evidence, next step) and goes on. The findings are
printed as a report at the end of the run, listed in ``--json`` and written
to the audit log's ``run.finished`` event; secrets in them are masked.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers import audit_events, lines, plain, run_cli, sh, write_playbook

SECRET = "hunter2-token"


def diagnosis(tmp_path: Path, log: Path) -> Path:
    return write_playbook(
        tmp_path / "diagnose.yaml",
        {"id": "disk", "action": "host.query", "with": {"command": ["sh", "-c", "echo 97"]},
         "register": "used",
         "checks": [{"probe": "host.query", "with": {"command": ["sh", "-c", "echo 97"]},
                     "that": "result.stdout | int < 90", "on_fail": "warn"}]},
        {"id": "conclude", "when": "used.stdout | int > 90", "action": "flow.finding",
         "with": {"severity": "critical", "title": "disk almost full on {{ host_name }}",
                  "evidence": {"used": "{{ used.stdout | trim }}", "token": "{{ token }}"},
                  "next": "run the cleanup runbook"}},
        {"id": "healthy", "when": "used.stdout | int <= 90", "action": "flow.finding",
         "with": {"severity": "info", "title": "disk is fine"}},
        {"id": "after", "action": "host.shell", "with": {"command": sh('echo done >> "$1"', log)}},
        params={"host_name": {"type": "string", "default": "db1"},
                "token": {"type": "string", "secret": True}},
        preconditions=[{"id": "queue-empty", "probe": "host.query",
                        "with": {"command": ["sh", "-c", "echo 42"]},
                        "that": "result.stdout | int == 0", "message": "the queue is not empty",
                        "on_fail": "warn", "severity": "warning"}],
        name="diagnose")


EXPECTED: list[dict[str, Any]] = [
    {"severity": "warning", "title": "the queue is not empty",
     "evidence": {"probe": "host.query", "expected": ["result.stdout | int == 0"],
                  "observed": {"result.stdout": "42\n"}},
     "next_step": None, "step": None},
    {"severity": "warning",
     "title": "expected result.stdout | int < 90; observed result.stdout = '97\\n'",
     "evidence": {"probe": "host.query", "expected": ["result.stdout | int < 90"],
                  "observed": {"result.stdout": "97\n"}},
     "next_step": None, "step": "disk"},
    {"severity": "critical", "title": "disk almost full on db1",
     "evidence": {"used": "97", "token": "***"},
     "next_step": "run the cleanup runbook", "step": "conclude"},
]


@pytest.fixture
def playbook(tmp_path: Path) -> Path:
    return diagnosis(tmp_path, tmp_path / "log")


def test_findings_are_reported_and_the_run_goes_on(playbook: Path, tmp_path: Path,
                                                   runbook_home: Path) -> None:
    proc = run_cli("run", playbook, "-p", f"token={SECRET}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert lines(tmp_path / "log") == ["done"], "warn checks and findings do not stop the run"
    out = plain(proc.stdout)
    report = out[out.index("Findings\n"):].splitlines()
    assert report[:8] == [
        "Findings",
        "  WARNING the queue is not empty",
        "      evidence: {'probe': 'host.query', 'expected': ['result.stdout | int == 0'], "
        "'observed': {'result.stdout': '42\\n'}}",
        "  WARNING expected result.stdout | int < 90; observed result.stdout = '97\\n'",
        "      evidence: {'probe': 'host.query', 'expected': ['result.stdout | int < 90'], "
        "'observed': {'result.stdout': '97\\n'}}",
        "  CRITICAL disk almost full on db1",
        "      evidence: {'used': '97', 'token': '***'}",
        "      next: run the cleanup runbook",
    ]
    assert report[8].startswith("succeeded · exit 0 · steps: 3 ok, 1 skipped")
    assert SECRET not in proc.stdout + proc.stderr


def test_findings_in_json_and_in_the_audit_log(playbook: Path, runbook_home: Path) -> None:
    proc = run_cli("run", playbook, "-p", f"token={SECRET}", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["findings"] == EXPECTED
    assert result["outcome"] == "succeeded"
    assert [(c["id"], c["status"], c["ok"]) for c in result["checks"]] == [
        ("queue-empty", "warn", False), ("disk-check-1", "warn", False)]

    events = audit_events(runbook_home / "audit.jsonl")
    finished = [e for e in events if e["event"] == "run.finished"]
    assert len(finished) == 1
    assert finished[0]["data"]["findings"] == EXPECTED
    warned = [(e["data"]["check"], e["status"]) for e in events
              if e["event"] == "check.finished"]
    assert warned == [("queue-empty", "warn"), ("disk-check-1", "warn")]
    assert SECRET not in (runbook_home / "audit.jsonl").read_text()


def test_a_plan_records_no_finding_step(playbook: Path, runbook_home: Path) -> None:
    """In a dry-run the warn checks still run live, flow.finding is only planned."""
    proc = run_cli("plan", playbook, "-p", f"token={SECRET}", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert [f["title"] for f in result["findings"]] == [
        "the queue is not empty",
        "expected result.stdout | int < 90; observed result.stdout = '97\\n'"]
    conclude = next(s for s in result["steps"] if s["id"] == "conclude")
    assert conclude["status"] == "planned"
    assert conclude["commands"] == ["finding [critical] disk almost full on db1"]
