"""``flow.manual`` end to end: a person is shown what to do and must say it is done.

With ``--yes`` the run goes on (the answer is audited); without a terminal it
is declined and the steps before it roll back (exit 4); on a terminal the
instructions and commands are shown and a "y" lets the run continue.
"""

from __future__ import annotations

from pathlib import Path

from helpers import APPEND, audit_events, lines, run_cli, run_cli_pty, sh, write_playbook

INSTRUCTIONS = "Power-cycle the switch in rack 12"
COMMANDS = ["ipmitool -H sw12 chassis power cycle", "ping -c1 sw12"]


def manual_playbook(tmp_path: Path, log: Path) -> Path:
    return write_playbook(
        tmp_path / "manual.yaml",
        {"id": "before", "action": "host.shell", "with": {"command": sh(APPEND, "before", log)},
         "rollback": {"action": "host.shell", "with": {"command": sh(APPEND, "undo", log)}}},
        {"id": "power-cycle", "action": "flow.manual",
         "with": {"instructions": INSTRUCTIONS, "commands": COMMANDS}},
        {"id": "after", "action": "host.shell", "with": {"command": sh(APPEND, "after", log)}},
        name="manual")


def gates(home: Path) -> list[tuple[str | None, str, str]]:
    return [(e["step"], e["status"], e["data"]["how"])
            for e in audit_events(home / "audit.jsonl") if e["event"] == "gate.answered"]


def test_manual_step_with_yes_is_answered_done_and_audited(tmp_path: Path,
                                                          runbook_home: Path) -> None:
    log = tmp_path / "log"
    proc = run_cli("run", manual_playbook(tmp_path, log), "--yes")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert lines(log) == ["before", "after"]
    assert gates(runbook_home) == [("power-cycle", "approved", "--yes")]
    asked = next(e for e in audit_events(runbook_home / "audit.jsonl")
                 if e["event"] == "gate.answered")
    assert asked["message"] == (f"{INSTRUCTIONS}\n    $ {COMMANDS[0]}\n    $ {COMMANDS[1]}"
                                "\nDone?")


def test_manual_step_without_a_terminal_is_declined_and_rolls_back(tmp_path: Path,
                                                                  runbook_home: Path) -> None:
    log = tmp_path / "log"
    proc = run_cli("run", manual_playbook(tmp_path, log))
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert lines(log) == ["before", "undo"]
    assert "manual step 'power-cycle' was not confirmed as done" in proc.stdout
    assert gates(runbook_home) == [("power-cycle", "declined",
                                    "no terminal (use --yes to approve)")]
    finished = [e for e in audit_events(runbook_home / "audit.jsonl")
                if e["event"] == "run.finished"]
    assert [(e["status"], e["rc"]) for e in finished] == [("declined", 4)]


def test_manual_step_on_a_terminal_shows_the_instructions(tmp_path: Path,
                                                         runbook_home: Path) -> None:
    log = tmp_path / "log"
    rc, screen = run_cli_pty("run", manual_playbook(tmp_path, log), answer="y",
                             prompt="Done?")
    assert rc == 0, screen
    assert INSTRUCTIONS in screen
    assert all(f"$ {c}" in screen for c in COMMANDS)
    assert lines(log) == ["before", "after"]
    assert gates(runbook_home) == [("power-cycle", "approved", "terminal")]


def test_manual_step_is_planned_with_its_gate(tmp_path: Path) -> None:
    log = tmp_path / "log"
    proc = run_cli("plan", manual_playbook(tmp_path, log))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"manual: {INSTRUCTIONS}" in proc.stdout
    assert "gate: asks:" in proc.stdout
    assert lines(log) == []
