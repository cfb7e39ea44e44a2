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
