"""A reviewable change: the Markdown plan for a ticket, and a four-eyes approval.

``plan --format markdown`` prints the dry-run for a change ticket;
``plan approve`` records an approval by someone other than the plan's author,
bound to the plan's sha256, in the plan file and the audit log; ``run --plan``
of an approved plan does not ask again at the gates the approver saw (so it
runs without a terminal) and audits both identities; ``approval: required``
refuses a run without one.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from helpers import APPEND, audit_events, lines, query, run_cli, shell, write_playbook

import runbook
from runbook.approval import approve
from runbook.errors import PlaybookError

SECRET = "hunter2-very-secret"


def _playbook(tmp_path: Path, **top: Any) -> tuple[Path, Path]:
    log = tmp_path / "log"
    source = tmp_path / "source"
    source.write_text("alpha\n")
    pb = write_playbook(
        tmp_path / "pb.yaml",
        query("read", 'cat "$1"', source),
        {**shell("write", APPEND, "{{ word }}-{{ token }}", log,
                 confirm="Appends the word to the log"),
         "rollback": {"action": "host.shell",
                      "with": {"command": ["sh", "-c", APPEND, "sh", "undo", str(log)]}}},
        params={"word": {"type": "string", "default": "hello"},
                "token": {"type": "string", "default": SECRET, "secret": True}})
    if top:
        import yaml

        data = yaml.safe_load(pb.read_text())
        data.update(top)
        pb.write_text(yaml.safe_dump(data, sort_keys=False))
    return pb, log


def _events(home: Path, run_id: str) -> list[dict[str, Any]]:
    return audit_events(home / "audit.jsonl", run_id)


def _plan(pb: Path, out: Path, **params: Any) -> dict[str, Any]:
    result = runbook.plan(pb, params, output=out)
    assert result.exit_code == 0, result.error
    doc: dict[str, Any] = json.loads(out.read_text())
    return doc


def test_markdown_plan_for_a_change_ticket(tmp_path: Path) -> None:
    pb, log = _playbook(tmp_path)
    out = tmp_path / "plan.json"
    proc = run_cli("plan", pb, "-o", out, "--format", "markdown", "-p", "word=hi",
                   "--reason", "CHG-42")
    assert proc.returncode == 0, proc.stderr
    md = proc.stdout
    doc = json.loads(out.read_text())
    assert md.startswith("# Plan: ")
    assert f"| plan file | `{out}` (sha256 `{doc['sha256']}`) |" in md
    assert "| planned by | tester at " in md and "| reason | CHG-42 |" in md
    assert "| `word` | `'hi'` |" in md and "| `token` | *secret* |" in md
    assert "| `local` | local | - |" in md
    # each step: action and target, mutating or not, gate, rollback, exact commands
    assert "### 2. `write`" in md and "`host.shell` on `local` · **mutates**" in md
    assert "- **gate**: Appends the word to the log" in md
    assert "- rollback: `sh -c" in md and "sh undo" in md
    assert f"```console\n$ sh -c '{APPEND}' sh '***' {log}\n```" in md
    # the live answer of the read-only probe
    assert "- live answer: `{'rc': 0, 'stdout': 'alpha\\n'" in md
    assert f"runbook plan approve {out} --reason" in md
    assert SECRET not in md + proc.stderr + out.read_text()
    assert doc["actor"] == "tester"
    assert lines(log) == []  # a plan changes nothing
    assert "# Plan" not in proc.stderr  # stdout is the document alone


def test_an_approval_by_another_person_answers_the_gates_it_saw(
        tmp_path: Path, runbook_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pb, log = _playbook(tmp_path)
    out = tmp_path / "plan.json"
    monkeypatch.setenv("RUNBOOK_ACTOR", "alice")
    doc = _plan(pb, out)
    refused = run_cli("plan", "approve", out, "--reason", "CHG-1")
    assert refused.returncode == 2
    assert "alice made this plan and cannot approve it too" in refused.stderr

    monkeypatch.setenv("RUNBOOK_ACTOR", "bob")
    proc = run_cli("plan", "approve", out, "--reason", "CHG-1 reviewed")
    assert proc.returncode == 0, proc.stderr
    assert "approved by bob" in proc.stdout
    saved = json.loads(out.read_text())
    assert saved["actor"] == "alice"
    assert saved["approval"] == {"required": False, "self_approval": False}
    record = saved["approvals"][0]
    assert record["approver"] == "bob" and record["plan_sha256"] == doc["sha256"]
    approval_event = [e for e in _events(runbook_home, doc["run_id"])
                      if e["step"] == "plan-approval"]
    assert [(e["event"], e["actor"], e["reason"], e["data"]["plan_sha256"])
            for e in approval_event] == [("gate.answered", "bob", "CHG-1 reviewed",
                                          doc["sha256"])]
    assert approval_event[0]["hash"] == record["audit_hash"]

    monkeypatch.setenv("RUNBOOK_ACTOR", "alice")
    run = run_cli("run", pb, "--plan", out, "-p", f"token={SECRET}", "--json")
    assert run.returncode == 0, run.stderr  # no terminal, no --yes: the approval answered
    assert lines(log) == [f"hello-{SECRET}"]
    run_id = json.loads(run.stdout)["run_id"]
    gates = [e for e in _events(runbook_home, run_id) if e["event"] == "gate.answered"]
    assert [(e["step"], e["status"], e["actor"], e["data"]["approver"], e["data"]["how"])
            for e in gates] == [("plan-approval", "approved", "alice", "bob", "approved plan"),
                                ("write", "approved", "alice", "bob", "approved plan")]
    assert all(e["data"]["plan_sha256"] == doc["sha256"] for e in gates)
    assert run_cli("audit", "verify").returncode == 0


def test_without_an_approval_the_gate_still_asks(tmp_path: Path) -> None:
    pb, log = _playbook(tmp_path)
    out = tmp_path / "plan.json"
    _plan(pb, out)
    result = runbook.run(pb, {"token": SECRET}, plan_file=out, interactive=False)
    assert result.outcome == "declined" and result.exit_code == 4
    assert lines(log) == []


def test_an_edited_or_borrowed_approval_refuses_the_plan(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pb, log = _playbook(tmp_path)
    one, two = tmp_path / "one.json", tmp_path / "two.json"
    monkeypatch.setenv("RUNBOOK_ACTOR", "alice")
    _plan(pb, one)
    _plan(pb, two, word="other")
    approve(one, "CHG-1", actor="bob")

    edited = json.loads(one.read_text())
    edited["approvals"][0]["approver"] = "carol"
    (tmp_path / "edited.json").write_text(json.dumps(edited))
    borrowed = json.loads(two.read_text())
    borrowed["approvals"] = json.loads(one.read_text())["approvals"]
    (tmp_path / "borrowed.json").write_text(json.dumps(borrowed))
    for name, params in (("edited.json", {}), ("borrowed.json", {"word": "other"})):
        with pytest.raises(PlaybookError, match="approval 1 does not belong to this plan"):
            runbook.run(pb, {"token": SECRET, **params}, plan_file=tmp_path / name,
                        interactive=False)
    # an edit of the plan itself voids it (and so its approval) before anything runs
    body = json.loads(one.read_text())
    body["steps"]["write"]["gate"] = "something else"
    one.write_text(json.dumps(body))
    with pytest.raises(PlaybookError, match="sha256 mismatch"):
        runbook.run(pb, {"token": SECRET}, plan_file=one, interactive=False)
    assert lines(log) == []


def test_approval_required_refuses_a_run_without_an_approved_plan(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pb, log = _playbook(tmp_path, approval="required")
    proc = run_cli("run", pb, "--yes")
    assert proc.returncode == 2
    assert "requires an approved plan, and none was given" in proc.stderr
    assert f"runbook plan {pb} -o plan.json" in proc.stderr
    assert "runbook plan approve plan.json --reason" in proc.stderr
    out = tmp_path / "plan.json"
    monkeypatch.setenv("RUNBOOK_ACTOR", "alice")
    _plan(pb, out)  # planning is always allowed
    with pytest.raises(PlaybookError, match="the plan has no valid approval"):
        runbook.run(pb, {"token": SECRET}, plan_file=out, yes=True)
    assert lines(log) == []
    approve(out, "CHG-7", actor="bob")
    result = runbook.run(pb, {"token": SECRET}, plan_file=out, interactive=False)
    assert result.exit_code == 0, result.error
    assert lines(log) == [f"hello-{SECRET}"]


def test_self_approval_only_where_the_playbook_allows_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pb, log = _playbook(tmp_path, approval={"required": True, "self_approval": True})
    out = tmp_path / "plan.json"
    monkeypatch.setenv("RUNBOOK_ACTOR", "alice")
    _plan(pb, out)
    record = approve(out, "solo on-call, CHG-9", actor="alice")
    assert record["approver"] == record["author"] == "alice"
    with pytest.raises(PlaybookError, match="alice already approved this plan"):
        approve(out, "again", actor="alice")
    result = runbook.run(pb, {"token": SECRET}, plan_file=out, interactive=False)
    assert result.exit_code == 0, result.error
    assert lines(log) == [f"hello-{SECRET}"]


def test_plan_stays_a_command_with_approve_beside_it(tmp_path: Path) -> None:
    helped = run_cli("plan", "--help")
    assert helped.returncode == 0
    assert "--format [text|markdown]" in helped.stdout
    assert "runbook plan approve PLANFILE" in helped.stdout
    sub = run_cli("plan", "approve", "--help")
    assert sub.returncode == 0 and "Usage: python -m runbook plan approve" in sub.stdout
    missing = run_cli("plan", "approve", tmp_path / "nope.json", "--reason", "x")
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    pb, _ = _playbook(tmp_path)
    both = run_cli("plan", pb, "--format", "markdown", "--json")
    assert both.returncode == 2 and "choose one" in both.stderr


def test_a_resumed_run_keeps_its_plans_approval(
        tmp_path: Path, runbook_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Killed before the gate, resumed without a terminal or --yes: the gate the approver
    saw is answered by the approval again, and the audit names both people again."""
    import signal
    import subprocess

    from helpers import cli_argv

    log, armed, waiting = tmp_path / "log", tmp_path / "armed", tmp_path / "waiting"
    pb = write_playbook(  # the first step hangs once armed (not while planning)
        tmp_path / "pb.yaml",
        query("wait", 'if [ -f "$1" ]; then touch "$2"; sleep 30; fi', armed, waiting),
        shell("write", APPEND, "approved-line", log, confirm="Appends to the log"))
    out = tmp_path / "plan.json"
    monkeypatch.setenv("RUNBOOK_ACTOR", "alice")
    _plan(pb, out)
    monkeypatch.setenv("RUNBOOK_ACTOR", "bob")
    assert run_cli("plan", "approve", out, "--reason", "CHG-7").returncode == 0
    monkeypatch.setenv("RUNBOOK_ACTOR", "alice")
    armed.touch()
    proc = subprocess.Popen(cli_argv("run", pb, "--plan", out), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while not waiting.exists():
            assert time.monotonic() < deadline, "the run never started"
            time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=10)
    subprocess.run(["pkill", "-f", f"touch {waiting}; sleep 30"], check=False)
    armed.unlink()
    run_id = audit_events(runbook_home / "audit.jsonl")[-1]["run_id"]
    assert lines(log) == []

    resumed = run_cli("resume", run_id)  # no terminal, no --yes
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert lines(log) == ["approved-line"]
    gates = [e for e in _events(runbook_home, run_id) if e["event"] == "gate.answered"]
    assert [(e["step"], e["status"], e["actor"], e["data"]["approver"])
            for e in gates] == [("plan-approval", "approved", "alice", "bob"),
                                ("plan-approval", "approved", "alice", "bob"),
                                ("write", "approved", "alice", "bob")]
    assert run_cli("audit", "verify").returncode == 0


def test_a_journaled_approval_covers_only_the_gates_as_approved() -> None:
    """What the journal keeps of an approval reads back as the same approval: the same
    gates, before the same commands, and nothing else."""
    from runbook.approval import PlanApproval

    kept = PlanApproval(approver="bob", reason="CHG", at="t", plan_sha256="s", author="a",
                        gates={"write": ("Appends", ("echo hi",))}).journaled()
    again = PlanApproval.from_journal(json.loads(json.dumps(kept)))
    assert again is not None and again.covers("write", "Appends", ["echo hi"])
    assert not again.covers("write", "Appends", ["echo other"])
    assert PlanApproval.from_journal(None) is None
