"""Shell completion, driven the way the shells drive it: ``_RUNBOOK_COMPLETE`` and
``COMP_WORDS``/``COMP_CWORD`` in the environment of a real ``python -m runbook``."""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

import pytest
from helpers import cli_argv, run_cli

PLAYBOOK = """
runbook: 1
name: comp
params:
  replicas: {type: int, default: 1, choices: [1, 2, 3], description: how many}
  force: {type: bool, default: false}
  token: {type: string, secret: true}
targets:
  ncn: {connection: local}
  db: {connection: ssh}
defaults: {target: ncn}
steps:
  - id: drain
    title: Drain the node
    tags: [maint]
    action: host.shell
    with: {command: [echo, drain]}
  - id: undrain
    tags: maint,after
    action: host.shell
    with: {command: [echo, undrain]}
"""


def complete(shell: str, words: str, cwd: Path | None = None) -> list[str]:
    env = {**os.environ, "_RUNBOOK_COMPLETE": f"{shell}_complete", "COMP_WORDS": words,
           "COMP_CWORD": str(len(words.split(" ")) - 1)}
    proc = subprocess.run(cli_argv(), env=env, capture_output=True, text=True, timeout=60,
                          check=False, cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return [line for line in proc.stdout.splitlines() if line]


@pytest.fixture
def playbook(tmp_path: Path) -> Path:
    path = tmp_path / "comp.yaml"
    path.write_text(textwrap.dedent(PLAYBOOK).lstrip(), encoding="utf-8")
    return path


def test_params_names_then_choices(playbook: Path) -> None:
    assert complete("bash", f"runbook run {playbook} -p ") == [
        "plain,replicas=", "plain,force=", "plain,token="]
    assert complete("bash", f"runbook plan {playbook} -p replicas=") == [
        "plain,replicas=1", "plain,replicas=2", "plain,replicas=3"]
    assert complete("bash", f"runbook run {playbook} -p replicas=1 -p force=t") == [
        "plain,force=true"]
    # zsh shows each param's type, default and description
    assert complete("zsh", f"runbook run {playbook} -p re") == [
        "plain", "replicas=", "int default 1 how many"]


def test_steps_tags_targets_and_hosts(playbook: Path, tmp_path: Path) -> None:
    assert complete("bash", f"runbook plan {playbook} --start-at ") == [
        "plain,drain", "plain,undrain"]
    assert complete("bash", f"runbook run {playbook} --tags maint,") == [
        "plain,maint,maint", "plain,maint,after"]
    inventory = tmp_path / "hosts"
    inventory.write_text("[db]\ndb[1:2]\n", encoding="utf-8")
    assert complete("bash", f"runbook run {playbook} --inventory {inventory} --limit db1,!d") \
        == ["plain,db1,!db", "plain,db1,!db1", "plain,db1,!db2"]
    assert complete("bash", f"runbook run {playbook} --target n") == ["plain,ncn="]


def test_scenarios_and_run_ids(playbook: Path) -> None:
    scenarios = complete("bash", f"runbook plan {playbook} --sandbox kafka-")
    assert "plain,kafka-healthy" in scenarios and "dir,kafka-" in scenarios
    proc = run_cli("run", playbook, "-p", "token=s3cret", "--yes", "--json")
    assert proc.returncode == 0, proc.stderr
    import json

    run_id = json.loads(proc.stdout)["run_id"]
    for words in ("runbook resume ", "runbook runs show ", "runbook audit show "):
        assert complete("zsh", words)[:3] == ["plain", run_id, "comp succeeded"]
    assert complete("bash", f"runbook resume {run_id[:-3]}") == [f"plain,{run_id}"]


def test_nothing_offered_for_a_playbook_that_does_not_read(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("runbook: [\n", encoding="utf-8")
    assert complete("bash", f"runbook run {bad} -p ") == []


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_the_shell_scripts(shell: str) -> None:
    env = {**os.environ, "_RUNBOOK_COMPLETE": f"{shell}_source"}
    proc = subprocess.run(cli_argv(), env=env, capture_output=True, text=True, timeout=60,
                          check=False)
    assert proc.returncode == 0
    assert f"_RUNBOOK_COMPLETE={shell}_complete" in proc.stdout
