"""Saved plans: ``plan -o`` then ``run --plan`` executes exactly what was reviewed.

The plan file stores typed planned steps (a step waiting on an earlier result
says so in ``waits_on``, never in its text); running it refuses an edited
plan, a changed playbook, differing params, and a mutating command that would
differ from the reviewed one, before that command runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers import APPEND, append, lines, query, run_cli, shell, write_playbook

import runbook
from runbook.errors import PlaybookError


def _playbook(tmp_path: Path, *, secret: bool = False) -> tuple[Path, Path, Path]:
    """Reads a word from a file, writes it to a log, then a step that waits on the write."""
    source, log = tmp_path / "source", tmp_path / "log"
    source.write_text("alpha\n")
    pb = write_playbook(
        tmp_path / "pb.yaml",
        query("read", 'cat "$1"', source, register="word"),
        shell("write", APPEND, "{{ word.stdout | trim }}-{{ suffix }}", log,
              register="written"),
        shell("after", APPEND, "rc={{ written.rc }}", log),
        params={"suffix": {"type": "string", "default": "x"},
                **({"token": {"type": "string", "default": "t0", "secret": True}}
                   if secret else {})})
    return pb, source, log


def _plan(pb: Path, out: Path, *extra: str) -> dict[str, Any]:
    proc = run_cli("plan", pb, "-o", out, *extra)
    assert proc.returncode == 0, proc.stderr
    assert f"plan saved to {out}" in proc.stdout
    doc: dict[str, Any] = json.loads(out.read_text())
    return doc


def test_a_plan_file_stores_typed_steps_and_runs_as_reviewed(tmp_path: Path) -> None:
    pb, _, log = _playbook(tmp_path)
    doc = _plan(pb, tmp_path / "plan.json", "-p", "suffix=y")
    steps = doc["steps"]
    assert doc["format"] == 2
    assert steps["read"]["mutating"] is False and steps["read"]["execute"] is True
    assert steps["write"] == {
        "action": "host.shell", "target": "local", "group": False, "mutating": True,
        "execute": False, "commands": [f"sh -c '{APPEND}' sh alpha-y {log}"],
        "gate": None, "rollback": "none", "waits_on": None}
    assert steps["after"]["waits_on"]["steps"] == ["write"]
    assert steps["after"]["waits_on"]["expression"].startswith("host.shell ")
    assert lines(log) == []  # a plan changes nothing

    proc = run_cli("run", pb, "--plan", tmp_path / "plan.json", "-p", "suffix=y")
    assert proc.returncode == 0, proc.stderr
    assert lines(log) == ["alpha-y", "rc=0"]


def test_a_mutating_command_that_would_differ_is_refused_before_it_runs(
        tmp_path: Path) -> None:
    pb, source, log = _playbook(tmp_path)
    _plan(pb, tmp_path / "plan.json")
    source.write_text("beta\n")  # the read-only step now reads something else
    proc = run_cli("run", pb, "--plan", tmp_path / "plan.json")
    assert proc.returncode == 1
    assert "step 'write' would run" in proc.stdout + proc.stderr
    assert "make a new plan" in proc.stdout + proc.stderr
    assert lines(log) == []


@pytest.mark.parametrize("change", ["edited plan", "changed playbook", "other param",
                                    "secret missing"])
def test_a_plan_that_no_longer_fits_is_refused_with_exit_2(tmp_path: Path,
                                                          change: str) -> None:
    pb, _, log = _playbook(tmp_path, secret=True)
    out = tmp_path / "plan.json"
    doc = _plan(pb, out, "-p", "token=s3cret")
    assert doc["secret_params"] == ["token"] and "token" not in doc["params"]
    assert "s3cret" not in out.read_text()
    args: list[Any] = ["-p", "token=s3cret"]
    expected = ""
    if change == "edited plan":
        doc["steps"]["write"]["commands"] = ["rm -rf /"]
        out.write_text(json.dumps(doc))
        expected = "plan file was modified after it was written (sha256 mismatch)"
    elif change == "changed playbook":
        pb.write_text(pb.read_text() + "\n# a comment\n")
        expected = "the playbook changed since this plan was made"
    elif change == "other param":
        args += ["-p", "suffix=z"]
        expected = "param suffix='z' differs from the reviewed plan ('x')"
    else:
        args = []
        expected = "secret params are not stored in plans; give them again: -p token=..."
    proc = run_cli("run", pb, "--plan", out, *args)
    assert proc.returncode == 2, proc.stderr
    assert expected in proc.stderr
    assert lines(log) == []


def test_the_library_saves_and_runs_a_plan(tmp_path: Path) -> None:
    pb, _, log = _playbook(tmp_path, secret=True)
    out = tmp_path / "plan.json"
    planned = runbook.plan(pb, {"suffix": "lib"}, output=out, interactive=False)
    assert planned.outcome == "planned" and lines(log) == []
    with pytest.raises(PlaybookError) as caught:
        runbook.run(pb, {"suffix": "other", "token": "t0-token"}, plan_file=out,
                    interactive=False)
    assert caught.value.problem.field == "params.suffix"
    runbook.plan(pb, {"suffix": "lib", "token": "s-token"}, output=out, interactive=False)
    with pytest.raises(PlaybookError, match=r"give them again: params token$"):
        runbook.run(pb, {"suffix": "lib"}, plan_file=out, interactive=False)
    result = runbook.run(pb, {"suffix": "lib", "token": "s-token"}, plan_file=out,
                         interactive=False)
    assert result.outcome == "succeeded", result.error
    assert lines(log) == ["alpha-lib", "rc=0"]


def test_a_fan_out_step_is_held_to_its_reviewed_commands(tmp_path: Path) -> None:
    log = tmp_path / "log"
    pb = write_playbook(tmp_path / "pb.yaml",
                        append("each", log, "{{ target.name }}-{{ n }}", target="pair"),
                        params={"n": {"type": "int", "default": 1}})
    text = pb.read_text().replace("steps:", "targets:\n  a: {connection: local}\n"
                                  "  b: {connection: local}\n  pair: {hosts: [a, b]}\nsteps:", 1)
    pb.write_text(text)
    out = tmp_path / "plan.json"
    _plan(pb, out)
    doc = json.loads(out.read_text())
    assert doc["steps"]["each"]["group"] is True
    assert [c.split()[0] for c in doc["steps"]["each"]["commands"]] == ["[a]", "[b]"]
    proc = run_cli("run", pb, "--plan", out)
    assert proc.returncode == 0, proc.stderr
    assert sorted(lines(log)) == ["a-1", "b-1"]
