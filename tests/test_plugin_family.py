"""A whole plugin family added without touching ``runbook/``: the lighthouse fixture.

``tests/plugins/runbook_lighthouse`` contributes actions, a connection kind
with its own setting, a stand-in tool, a world part, a fault and a scenario.
It is installed the way a user installs a plugin (a distribution with an
entry point in the ``runbook`` group, on PYTHONPATH), and a playbook runs
against its scenario with ``--sandbox``; the estate is then read back through
the stand-in itself (``runbook sim exec``), and the audit log through
``runbook audit show``. docs/hooks.md shows these files as its complete
example: the last test keeps the page and the files identical.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from helpers import run_cli

ROOT = Path(__file__).resolve().parent.parent
PLUGIN = ROOT / "tests" / "plugins" / "runbook_lighthouse"
HOOKS_DOC = ROOT / "docs" / "hooks.md"

PLAYBOOK = """\
runbook: 1
name: relight
title: Relight a tower's lamp
targets:
  tower: {connection: lamp-console, tower: north}
defaults: {target: tower}
preconditions:
  - id: dark
    probe: lamp.status
    that: "result.lamp == 'off'"
    message: the lamp is on; nothing to relight
steps:
  - id: switch-on
    action: lamp.switch
    with: {state: "on"}
    rollback: auto
  - id: report
    action: flow.finding
    with: {severity: info, title: "{{ target.name }} relit"}
verify:
  - probe: lamp.status
    that: "result.lamp == 'on'"
"""


@pytest.fixture(autouse=True)
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    info = tmp_path / "site" / "runbook_lighthouse-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: runbook-lighthouse\n"
                                   "Version: 0.1\n", encoding="utf-8")
    (info / "entry_points.txt").write_text("[runbook]\nlighthouse = runbook_lighthouse\n",
                                           encoding="utf-8")
    path = [str(tmp_path / "site"), str(PLUGIN.parent), os.environ.get("PYTHONPATH", "")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in path if p))


@pytest.fixture
def estate(tmp_path: Path) -> Path:
    directory = tmp_path / "estate"
    done = run_cli("sim", "init", "lighthouse-dark", "--dir", directory)
    assert done.returncode == 0, done.stderr
    return directory


def lamp(estate: Path, tower: str) -> str:
    done = run_cli("sim", "exec", estate, "--", "lampctl", "--tower", tower, "status")
    assert done.returncode == 0, done.stderr
    return str(json.loads(done.stdout)["lamp"])


def test_the_family_is_listed_like_a_builtin() -> None:
    plugins = run_cli("plugins")
    assert plugins.returncode == 0, plugins.stderr
    assert re.search(r"lamp\.switch\b.*mutat", plugins.stdout)
    assert "lamp.status" in plugins.stdout
    scenarios = run_cli("sim", "list")
    assert "lighthouse-dark" in scenarios.stdout and "bulb_broken" in scenarios.stdout


def test_a_playbook_runs_through_its_action_executor_and_stand_in(tmp_path: Path,
                                                                 estate: Path) -> None:
    pb = tmp_path / "relight.yaml"
    pb.write_text(PLAYBOOK, encoding="utf-8")
    audit = tmp_path / "audit.jsonl"
    done = run_cli("run", pb, "--sandbox", estate, "--yes", "--audit-log", audit, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (lamp(estate, "north"), lamp(estate, "south")) == ("on", "on")
    events = [json.loads(line) for line in audit.read_text().splitlines()]
    started = [e for e in events if e["event"] == "step.started" and e["step"] == "switch-on"]
    assert [e["argv"] for e in started] == [["lampctl", "switch", "on"]]
    assert started[0]["target"] == "tower"
    assert json.loads(done.stdout)["findings"][0]["title"] == "tower relit"


def test_a_fault_of_the_family_makes_the_run_fail_and_nothing_stays_changed(
        tmp_path: Path, estate: Path) -> None:
    assert run_cli("sim", "fault", estate, "bulb_broken").returncode == 0
    pb = tmp_path / "relight.yaml"
    pb.write_text(PLAYBOOK, encoding="utf-8")
    done = run_cli("run", pb, "--sandbox", estate, "--yes", "--audit-log", tmp_path / "a.jsonl")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "the bulb is broken" in done.stdout + done.stderr
    assert lamp(estate, "north") == "off"
    assert run_cli("sim", "fault", estate, "bulb_broken", "--off").returncode == 0
    again = run_cli("run", pb, "--sandbox", estate, "--yes", "--audit-log", tmp_path / "b.jsonl")
    assert again.returncode == 0, again.stdout + again.stderr
    assert lamp(estate, "north") == "on"


def test_the_kinds_own_setting_is_validated_with_file_line_and_field(tmp_path: Path) -> None:
    pb = tmp_path / "typo.yaml"
    pb.write_text(PLAYBOOK.replace("tower: north", "towr: north"), encoding="utf-8")
    done = run_cli("validate", pb)
    assert done.returncode == 2
    assert f"{pb}:5: targets.tower.towr: unknown key 'towr' (did you mean 'tower'?)" in (
        done.stdout + done.stderr)


def test_its_uri_scheme_makes_a_target_from_the_command_line(tmp_path: Path,
                                                             estate: Path) -> None:
    pb = tmp_path / "relight.yaml"
    pb.write_text(PLAYBOOK.replace("tower: north", "tower: south"), encoding="utf-8")
    done = run_cli("run", pb, "--sandbox", estate, "--yes", "--target", "tower=lamp://north",
                   "--audit-log", tmp_path / "a.jsonl")
    assert done.returncode == 0, done.stdout + done.stderr
    assert lamp(estate, "north") == "on"


def _code_blocks(markdown: str) -> dict[str, str]:
    """``<!-- file: PATH -->`` followed by a fenced block: the block's text by PATH."""
    pattern = re.compile(r"<!-- file: (\S+) -->\n```[a-z]*\n(.*?)```", re.S)
    return {m.group(1): m.group(2) for m in pattern.finditer(markdown)}


def test_docs_show_exactly_the_files_this_test_runs() -> None:
    blocks = _code_blocks(HOOKS_DOC.read_text(encoding="utf-8"))
    files = sorted(str(p.relative_to(PLUGIN)) for p in PLUGIN.rglob("*.py"))
    assert sorted(blocks) == files
    for name, text in blocks.items():
        assert text == (PLUGIN / name).read_text(encoding="utf-8"), name
