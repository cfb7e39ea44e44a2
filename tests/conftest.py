"""Shared fixtures: an isolated RUNBOOK_HOME for every test, and the loopback sshd."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["tests.sshd", "tests.pgcluster"]


@pytest.fixture(autouse=True)
def runbook_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own state folder: audit log and journal never leak between tests."""
    home = tmp_path / "runbook-home"
    monkeypatch.setenv("RUNBOOK_HOME", str(home))
    monkeypatch.setenv("RUNBOOK_ACTOR", "tester")
    return home
