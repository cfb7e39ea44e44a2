"""A third-party state backend through ``runbook_state_backend``, and the default path.

No database here: the plugin's backend is the local one at paths of its choosing,
which is enough to show that the URL reaches the hook, the run's journal and
audit trail go where the backend says, and an unknown scheme is refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from helpers import fresh_python

import runbook
from runbook.state import LocalState, StateError, open_state

if TYPE_CHECKING:
    from runbook.state import AuditSink


class Backend(LocalState):
    """A 'vault://' backend that keeps runs in a folder it picks from the URL."""

    def __init__(self, url: str, root: Path) -> None:
        super().__init__(root / "journal.db")
        self.root = root
        self.shown = url.split("@")[-1]

    def audit_log(self, path: Path | None) -> AuditSink:
        return super().audit_log(self.root / "audit.jsonl")


def test_a_plugin_backend_receives_the_url_and_keeps_the_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, runbook_home: Path) -> None:
    from runbook import hookimpl, plugins

    asked: list[str] = []

    class Plugin:
        @hookimpl
        def runbook_state_backend(self, url: str) -> Backend | None:
            asked.append(url)
            return Backend(url, tmp_path / "vault") if url.startswith("vault://") else None

    monkeypatch.setattr(plugins, "_DEFAULT",
                        plugins.build_registry(plugins.make_plugin_manager([Plugin()])))
    pb = runbook.loads("runbook: 1\nname: hooked\nsteps:\n  - id: one\n    action: "
                       f"host.shell\n    with: {{command: [touch, {tmp_path}/done]}}\n")
    result = runbook.run(pb, interactive=False, state_url="vault://ops:pw@vault/runs")
    assert result.exit_code == 0, result.error
    assert asked == ["vault://ops:pw@vault/runs"]
    assert result.audit_log == "vault/runs"
    events = [json.loads(x) for x in (tmp_path / "vault" / "audit.jsonl").read_text()
              .splitlines()]
    assert [e["event"] for e in events][-1] == "run.finished"
    assert (tmp_path / "vault" / "journal.db").exists()
    assert not (runbook_home / "audit.jsonl").exists()
    with pytest.raises(StateError, match=r"no state backend for 'nope://x:\*\*\*@h/db'"):
        open_state("nope://x:secret@h/db")


def test_the_default_path_never_imports_psycopg(tmp_path: Path) -> None:
    code = ("import sys, runbook\n"
            "pb = runbook.loads('runbook: 1\\nname: plain\\nsteps:\\n  - id: one\\n"
            "    action: host.shell\\n    with: {command: [\"true\"]}\\n')\n"
            "assert runbook.run(pb, interactive=False).exit_code == 0\n"
            "print(sorted(m for m in sys.modules if m.startswith(('psycopg', 'runbook.state'))))")
    out = fresh_python(code, cwd=tmp_path)
    assert "psycopg" not in out and "runbook.state.pg" not in out
    assert out.strip() == "['runbook.state', 'runbook.state.errors']"


def test_a_run_of_another_machine_is_refused_when_it_acted_on_that_machine(
        tmp_path: Path) -> None:
    """Resuming from a shared database on another host: refused, with the reason, for a
    sandbox folder of that host or a local target; a remote (ssh) target is fine."""
    from runbook.durable import ResumeState, local_only, same_shape
    from runbook.errors import PlaybookError
    from runbook.models import Target
    from runbook.options import RunOptions

    pb = runbook.loads("runbook: 1\nname: remote\ntargets:\n  db: {connection: ssh, host: "
                       "db1}\n  here: {connection: local}\nsteps:\n  - id: one\n    target: db\n"
                       "    action: host.shell\n    with: {command: ['true']}\n")

    def state(targets: list[str], sandbox: str | None = None) -> ResumeState:
        return ResumeState("r1", {"host": "bastion-9", "targets": targets,
                                  "options": {"sandbox": sandbox, "targets": {}}})

    local_only(state(["db"]), pb, RunOptions(from_cli=True))  # ssh: any machine may
    with pytest.raises(PlaybookError, match=r"local target.s. here, which act on that "
                                            r"machine itself; resume it on bastion-9"):
        local_only(state(["db", "here"]), pb, RunOptions(from_cli=True))
    with pytest.raises(PlaybookError, match=r"local target.s. extra"):
        local_only(state(["extra"]), pb, RunOptions(
            targets={"extra": Target(connection="local")}))
    kube = runbook.loads("runbook: 1\nname: purge\ntargets:\n  cluster: {connection: local, "
                         "shared: true}\n  here: {connection: local}\nsteps:\n  - id: one\n"
                         "    target: cluster\n    action: host.shell\n"
                         "    with: {command: ['true']}\n")
    local_only(state(["cluster"]), kube, RunOptions(from_cli=True))  # kubectl: any bastion
    with pytest.raises(PlaybookError, match=r"local target.s. here, .*says shared: true"):
        local_only(state(["cluster", "here"]), kube, RunOptions(from_cli=True))
    local_only(state(["extra"]), pb, RunOptions(  # an inventory's target may say so too
        targets={"extra": Target(connection="local", shared=True)}))
    sandboxed = state(["db"], sandbox=str(tmp_path / "sbx"))
    with pytest.raises(PlaybookError, match="sbx on bastion-9, a folder of that machine"):
        same_shape(sandboxed, RunOptions(from_cli=True))
