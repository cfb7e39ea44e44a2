"""A fan-out over hosts named at run time (``hosts`` on a step): an earlier read-only
step's result picks the hosts, ``serial`` + ``pause`` space the batches, an empty
list skips the step, and a plan says what the hosts wait on."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

import runbook
from runbook.errors import PlaybookError


def playbook(out: Path, names: str, *, scan: str = "host.query", extra: str = "") -> str:
    return f"""runbook: 1
name: subset
targets:
  kask: {{connection: local}}
steps:
  - id: scan
    target: kask
    action: {scan}
    with: {{command: [printf, '{names}']}}
  - id: restart-affected
    target: kask
    hosts: "{{{{ steps.scan.result.lines }}}}"
{extra}    action: host.shell
    with: {{command: [sh, -c, 'echo "$0 $(date +%s.%N)" >> {out}', "{{{{ target.name }}}}"]}}
"""


def audit(result: Any) -> list[dict[str, Any]]:
    return [json.loads(x) for x in Path(result.audit_log or "").read_text().splitlines()]


def test_the_step_fans_out_over_exactly_the_hosts_the_probe_named(tmp_path: Path) -> None:
    out = tmp_path / "hosts.log"
    result = runbook.run(runbook.loads(playbook(out, r"alpha\ngamma\n")), yes=True, forks=4)
    assert result.exit_code == 0, result.error
    assert sorted(line.split()[0] for line in out.read_text().splitlines()) == [
        "alpha", "gamma"]
    step = result.step("restart-affected")
    assert set(step.hosts) == {"alpha", "gamma"}
    started = {e.get("host") for e in audit(result)
               if e["event"] == "step.started" and e["step"] == "restart-affected"}
    assert started == {"alpha", "gamma"}


def test_serial_and_pause_space_the_batches(tmp_path: Path) -> None:
    out = tmp_path / "order.log"
    text = playbook(out, r"h1\nh2\nh3\n", extra="    serial: 1\n    pause: 300ms\n")
    result = runbook.run(runbook.loads(text), yes=True, forks=4)
    assert result.exit_code == 0, result.error
    rows = [line.split() for line in out.read_text().splitlines()]
    assert [r[0] for r in rows] == ["h1", "h2", "h3"]
    stamps = [float(r[1]) for r in rows]
    assert all(b - a >= 0.3 for a, b in itertools.pairwise(stamps))


def test_an_empty_list_runs_nothing_and_skips_the_step(tmp_path: Path) -> None:
    out = tmp_path / "none.log"
    result = runbook.run(runbook.loads(playbook(out, "")), yes=True)
    assert result.exit_code == 0, result.error
    assert not out.exists()
    step = result.step("restart-affected")
    assert step.status == "skipped"
    assert "empty" in (step.when or "")
    assert not [e for e in audit(result)
                if e["event"] == "step.started" and e["step"] == "restart-affected"]


def test_a_plan_shows_what_the_hosts_wait_on(tmp_path: Path) -> None:
    out = tmp_path / "plan.log"
    text = playbook(out, r"alpha\n", scan="host.shell")
    plan = runbook.plan(runbook.loads(text))
    step = plan.step("restart-affected")
    assert step.status == "planned"
    assert step.commands == [
        "hosts: from steps.scan.result.lines (waits on scan)"]
    assert not out.exists()


def test_a_plan_shows_the_hosts_a_read_only_step_named(tmp_path: Path) -> None:
    out = tmp_path / "plan.log"
    plan = runbook.plan(runbook.loads(playbook(out, r"alpha\nbeta\n")))
    step = plan.step("restart-affected")
    assert step.status == "planned"
    assert [c.split("]")[0] for c in step.commands] == ["[alpha", "[beta"]
    assert not out.exists()


def test_hosts_without_a_declared_target_is_refused() -> None:
    text = """runbook: 1
name: subset
steps:
  - id: go
    hosts: [a, b]
    action: host.shell
    with: {command: [true]}
"""
    with pytest.raises(PlaybookError) as err:
        runbook.loads(text)
    assert "hosts needs a declared target" in str(err.value)
