"""Hostile input is an error with the file, the line and the field (exit 2), never a
traceback or a crash: target references that loop or name a group in a playbook's own
``targets``, and params nested 50,000 deep (on the command line and in a params file,
where libyaml's C parser used to crash the process)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import append, run_cli

TARGETS: dict[str, dict[str, Any]] = {
    "jump-loop": {"a": {"connection": "ssh", "host": "a.example", "jump": "b"},
                  "b": {"connection": "ssh", "host": "b.example", "jump": "a"}},
    "jump-self": {"a": {"connection": "ssh", "host": "a.example", "jump": "a"}},
    "via-group": {"a": {"connection": "ssh", "host": "a.example"},
                  "g": {"hosts": ["a"]},
                  "k": {"connection": "kubectl-exec", "namespace": "n", "pod": "p",
                        "via": "g"}},
}
EXPECTED = {
    "jump-loop": r"pb\.yaml:\d+: targets\.a\.jump: jump of 'a' leads back to 'a'",
    "jump-self": r"pb\.yaml:\d+: targets\.a\.jump: jump of 'a' leads back to 'a'",
    "via-group": r"pb\.yaml:\d+: targets\.k\.via: via names group 'g'; it must name one "
                 r"target",
}


def write(tmp_path: Path, targets: dict[str, Any], target: str) -> tuple[Path, Path]:
    log = tmp_path / "log"
    step = {**append("one", log, "one"), "target": target}
    doc = {"runbook": 1, "name": "t", "title": "t", "targets": targets, "steps": [step]}
    pb = tmp_path / "pb.yaml"
    pb.write_text(yaml.safe_dump(doc, sort_keys=False))
    return pb, log


@pytest.mark.parametrize("case", sorted(TARGETS))
def test_a_playbook_target_reference_loop_or_group_is_refused_with_its_line(
        tmp_path: Path, case: str) -> None:
    pb, log = write(tmp_path, TARGETS[case], "a" if case != "via-group" else "k")
    for args in (("validate", pb), ("run", pb, "--yes")):
        proc = run_cli(*args)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert re.search(EXPECTED[case], proc.stderr), proc.stderr
        assert "RecursionError" not in proc.stdout + proc.stderr
    assert not log.exists()


DEEP = "[" * 50_000 + "]" * 50_000


def deep_playbook(tmp_path: Path) -> tuple[Path, Path]:
    log = tmp_path / "log"
    doc = {"runbook": 1, "name": "t", "title": "t", "params": {"items": {"type": "list"}},
           "steps": [append("one", log, "{{ items | length }}")]}
    pb = tmp_path / "pb.yaml"
    pb.write_text(yaml.safe_dump(doc, sort_keys=False))
    return pb, log


def test_a_list_param_nested_50000_deep_on_the_command_line_names_the_param(
        tmp_path: Path) -> None:
    pb, log = deep_playbook(tmp_path)
    proc = run_cli("run", pb, "--yes", "-p", f"items={DEEP}")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "<command line>: params.items: a list nested too deeply" in proc.stderr
    assert not log.exists()


@pytest.mark.parametrize("suffix", ["json", "yaml"])
def test_a_params_file_nested_50000_deep_is_refused_not_a_crash(tmp_path: Path,
                                                               suffix: str) -> None:
    pb, log = deep_playbook(tmp_path)
    params = tmp_path / f"params.{suffix}"
    params.write_text('{"items": ' + DEEP + "}" if suffix == "json" else "items: " + DEEP)
    proc = run_cli("run", pb, "--yes", "--params-file", params)
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])  # was -11 (SIGSEGV)
    assert f"{params}:1: nested too deeply" in proc.stderr
    assert not log.exists()


def test_a_playbook_nested_50000_deep_is_refused_not_a_crash(tmp_path: Path) -> None:
    pb = tmp_path / "pb.yaml"
    pb.write_text("runbook: 1\nname: t\ntitle: t\nsteps: " + DEEP + "\n")
    proc = run_cli("validate", pb)
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert f"{pb}:4: nested too deeply" in proc.stderr
