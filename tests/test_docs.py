"""The documentation keeps up with the code: every hook and every action is documented."""

from __future__ import annotations

import inspect
from pathlib import Path

import runbook
from runbook import hookspecs

ROOT = Path(__file__).resolve().parent.parent


def test_every_hook_is_documented() -> None:
    text = (ROOT / "docs" / "hooks.md").read_text()
    hooks = [name for name, obj in inspect.getmembers(hookspecs, inspect.isfunction)
             if name.startswith("runbook_")]
    assert len(hooks) >= 10
    missing = [h for h in hooks if f"`{h}(" not in text]
    assert missing == []


def test_every_hook_has_a_docstring() -> None:
    for name, obj in inspect.getmembers(hookspecs, inspect.isfunction):
        if name.startswith("runbook_"):
            assert (obj.__doc__ or "").strip(), name


def test_public_api_is_sorted_and_resolves() -> None:
    assert runbook.__all__ == sorted(runbook.__all__)
    for name in runbook.__all__:
        assert getattr(runbook, name) is not None, name


def test_generated_playbook_pages_are_up_to_date() -> None:
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "runbook", "docs", "--check"], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


def test_graph_shows_every_step_gate_and_rollback() -> None:
    from runbook.graph import dot, mermaid

    pb = runbook.load(ROOT / "playbooks" / "cfs-purge.yaml")
    chart = mermaid(pb)
    for step in pb.steps:
        assert f"{step.id}<br/>{step.action}" in chart
    assert chart.count("confirm:") == 2
    assert chart.count("-. rollback .->") == 2
    assert "s_scale_up -. restores .-> s_scale_down" in chart
    assert dot(pb).count("shape=box") == len(pb.steps)
