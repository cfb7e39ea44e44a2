"""An action reaches another target of the run only read-only: ``runtime.executor_for``
runs that target's probes and reads its files; a mutating action through it is
refused, and a bare command or a file write is not offered. host.package_drift
reads the reference host's packages that way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from helpers import playbook, sh

import runbook
from runbook import Action, ActionContext, hookimpl
from runbook.actions import Args
from runbook.plugins import Registry, build_registry, make_plugin_manager
from runbook.runtime import ReadOnlyExecutor


class PeekArgs(Args):
    target: str
    action: str
    args: dict[str, Any] = {}
    read: str | None = None


class Peek(Action[PeekArgs]):
    """Runs an action on another target through the runtime (what a plugin may do)."""

    name = "demo.peek"
    summary = "uses another target through runtime.executor_for"
    Args = PeekArgs

    def run(self, args: PeekArgs, ctx: ActionContext) -> Any:
        assert ctx.runtime is not None
        there = ctx.runtime.executor_for(args.target, ctx.step)
        offered = sorted(n for n in ("run", "start", "write_file", "exec")
                         if hasattr(there, n))
        value = there.probe(args.action, args.args)
        text = there.read_file(args.read).decode() if args.read else None
        return {"value": value, "file": text, "offered": offered}


class Plugin:
    @hookimpl
    def runbook_actions(self) -> list[type[Action[Any]]]:
        return [Peek]


@pytest.fixture(scope="module")
def registry() -> Registry:
    return build_registry(make_plugin_manager([Plugin()]))


def run(registry: Registry, tmp_path: Path, **with_: Any) -> Any:
    doc = playbook({"id": "peek", "action": "demo.peek", "target": "here", "with": with_})
    doc = doc.replace("steps:", "targets:\n  here: {connection: local}\n"
                      "  there: {connection: local}\n  both: {connection: local, "
                      "hosts: [a, b]}\nsteps:", 1)
    return runbook.run(runbook.loads(doc, registry=registry), registry=registry, yes=True,
                       audit_log=tmp_path / "audit.jsonl", interactive=False)


def test_a_probe_and_a_file_read_on_another_target(registry: Registry, tmp_path: Path) -> None:
    note = tmp_path / "note.txt"
    note.write_text("hello from there\n")
    res = run(registry, tmp_path, target="there", action="host.query",
              args={"command": sh("echo probed")}, read=str(note))
    assert res.exit_code == 0, res.error
    got = res.step("peek").result
    assert got["value"]["stdout"] == "probed\n" and got["file"] == "hello from there\n"
    assert got["offered"] == []          # no run/start/write_file: probes and reads only


def test_a_mutating_action_on_another_target_is_refused(registry: Registry,
                                                        tmp_path: Path) -> None:
    flag = tmp_path / "changed"
    res = run(registry, tmp_path, target="there", action="host.shell",
              args={"command": sh('touch "$1"', flag)})
    assert res.exit_code == 1
    assert "host.shell would change there: another target is read-only to an action" in (
        res.step("peek").error or "")
    assert not flag.exists()


@pytest.mark.parametrize(("target", "action", "message"), [
    ("nowhere", "host.query",
     "no target 'nowhere' in this run (targets: both, here, local, there)"),
    ("both", "host.query", "target 'both' is a group; name one of its hosts"),
    ("there", "flow.sleep", "flow.sleep would change there"),
])
def test_what_executor_for_refuses(registry: Registry, tmp_path: Path, target: str,
                                   action: str, message: str) -> None:
    res = run(registry, tmp_path, target=target, action=action, args={})
    assert res.exit_code == 1 and message in (res.step("peek").error or ""), res.error


def test_the_read_only_view_has_no_way_to_run_a_command() -> None:
    assert {n for n in ("run", "start", "write_file", "exec")
            if hasattr(ReadOnlyExecutor, n)} == set()


def test_package_drift_takes_exactly_one_reference() -> None:
    from runbook_host.packages import PackageDrift

    from runbook.errors import ArgumentsInvalid

    assert PackageDrift.validate_args({"reference_target": "itb"})
    for bad in ({}, {"reference": {"a": "1"}, "reference_target": "itb"}):
        with pytest.raises(ArgumentsInvalid, match="exactly one of reference and "
                                                   "reference_target"):
            PackageDrift.validate_args(bad)
