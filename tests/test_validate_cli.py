"""``runbook validate`` and ``runbook run`` on broken playbooks: located errors, exit 2, no
traceback, nothing run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from runbook.cli import main

REPO = Path(__file__).resolve().parent.parent
BROKEN = REPO / "tests" / "playbooks" / "broken"
CASES = sorted(BROKEN.glob("*.yaml"))


def expected_lines(case: Path, shown: str) -> list[tuple[str, str]]:
    """(prefix, substring) of each problem line the CLI must print for case, named shown.

    A problem prints as ``file:line: field: message``; without a line the
    ``:line`` is left out, without a field the ``field:`` part.
    """
    out = []
    for raw in case.with_suffix(".expect").read_text(encoding="utf-8").splitlines():
        if not raw.strip():
            continue
        line, field, text = raw.split("\t")
        where = shown + ("" if line == "-" else f":{line}")
        prefix = f"{where}:" + ("" if field == "-" else f" {field}:") + " "
        out.append((prefix, text))
    return out


def runbook_cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "runbook", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=60, check=False)


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=True)


def clean_exit_2(result: Result) -> str | None:
    """Why result is not a clean exit 2 (through sys.exit, no traceback), or None."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return f"escaped {type(result.exception).__name__}: {str(result.exception)[:300]}"
    if result.exit_code != 2:
        return f"exit {result.exit_code}, not 2:\n{result.output[-2000:]}"
    if "Traceback" in result.stderr or "Traceback" in result.stdout:
        return f"traceback printed:\n{result.output[-2000:]}"
    return None


def test_validate_folder_prints_every_problem_and_exits_2() -> None:
    proc = runbook_cli("validate", "tests/playbooks/broken/")
    assert "Traceback" not in proc.stderr, "\n".join(proc.stderr.splitlines()[-5:])
    assert proc.returncode == 2, proc.stderr
    printed = [line for line in proc.stderr.splitlines()
               if line.startswith("tests/playbooks/broken/")]
    wanted = [want for case in CASES
              for want in expected_lines(case, str(case.relative_to(REPO)))]
    free = list(printed)
    for prefix, text in wanted:
        hit = next((line for line in free if line.startswith(prefix)
                    and text in line[len(prefix):]), None)
        assert hit is not None, f"not printed: {prefix}...{text}\nstderr:\n{proc.stderr}"
        free.remove(hit)
    assert not free, "printed problems nobody expected:\n" + "\n".join(free)
    assert f"0/{len(CASES)} playbooks valid, {len(wanted)} problems" in proc.stderr


def test_validate_good_playbooks_exits_0() -> None:
    proc = runbook_cli("validate", "playbooks/")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    count = len(list((REPO / "playbooks").rglob("*.yaml")))
    assert f"{count}/{count} playbooks valid" in proc.stdout


def test_validate_mixed_paths_reports_only_the_broken_one() -> None:
    proc = runbook_cli("validate", "playbooks/", "tests/playbooks/broken/17-unknown-action.yaml")
    assert proc.returncode == 2
    problems = [line for line in proc.stderr.splitlines() if ".yaml:" in line]
    assert problems == ["tests/playbooks/broken/17-unknown-action.yaml:5: steps[0].action: "
                        "unknown action 'host.shel' (did you mean 'host.shell'?); "
                        "see `runbook plugins`"]


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_validate_each_broken_file_exits_2_without_traceback(case: Path) -> None:
    result = invoke("validate", str(case))
    failure = clean_exit_2(result)
    assert failure is None, failure
    printed = [line for line in result.stderr.splitlines() if line.startswith(f"{case}")]
    assert printed, f"no problem names the file:\n{result.stderr}"


def test_run_refuses_every_broken_file_without_traceback() -> None:
    """``run`` loads like ``validate``: exit 2 and a located error for every broken file.

    (``--dry-run --offline`` so that nothing would execute should a file wrongly load.)
    """
    failures = []
    for case in CASES:
        result = invoke("run", str(case), "--dry-run", "--offline")
        failure = clean_exit_2(result)
        if failure is None and not result.stderr.startswith(f"error: {case}"):
            failure = f"error does not name the file first: {result.stderr[:300]}"
        if failure is not None:
            failures.append(f"{case.name}: {failure}")
    assert not failures, "\n".join(failures)


HALF_BROKEN = """\
runbook: 1
name: half-broken
params:
  marker: {type: string}
steps:
  - id: make-marker
    action: host.shell
    with: {command: [touch, "{{ marker }}"]}
  - id: later
    action: host.shel
    with: {command: [echo, never]}
"""


@pytest.mark.parametrize("command", [["run", "--yes"], ["run", "--yes", "--dry-run"], ["plan"]],
                         ids=["run", "dry-run", "plan"])
def test_broken_playbook_runs_nothing(tmp_path: Path, runbook_home: Path,
                                      command: list[str]) -> None:
    playbook = tmp_path / "half-broken.yaml"
    playbook.write_text(HALF_BROKEN, encoding="utf-8")
    marker = tmp_path / "marker"
    proc = runbook_cli(command[0], str(playbook), *command[1:], "-p", f"marker={marker}",
                       cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"{playbook}:10: steps[1].action: unknown action 'host.shel'" in proc.stderr
    assert not marker.exists(), "a step ran although the playbook is invalid"
    assert not (runbook_home / "audit.jsonl").exists(), "a run was started"


def test_the_half_broken_playbook_would_create_the_marker(tmp_path: Path) -> None:
    """Control for the test above: once fixed, the first step does create the file."""
    playbook = tmp_path / "fixed.yaml"
    playbook.write_text(HALF_BROKEN.replace("host.shel\n", "host.shell\n"), encoding="utf-8")
    marker = tmp_path / "marker"
    proc = runbook_cli("run", str(playbook), "--yes", "-p", f"marker={marker}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert marker.exists()


def test_validate_missing_path_is_a_usage_error() -> None:
    result = invoke("validate", "no/such/playbook.yaml")
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def test_validate_checks_a_limit_against_each_playbook(tmp_path: Path) -> None:
    """``validate --inventory --limit``: the limit is checked as run and plan would check
    it, per playbook: a term that selects nothing, a group a step needs left empty."""
    inv = tmp_path / "hosts.ini"
    inv.write_text("[web]\nweb1 ansible_connection=local\nweb2 ansible_connection=local\n"
                   "[db]\ndb1 ansible_connection=local\n")
    for name, group in (("on-web", "web"), ("on-db", "db")):
        (tmp_path / f"{name}.yaml").write_text(
            f"runbook: 1\nname: {name}\nsteps:\n  - id: touch\n    target: {group}\n"
            "    action: host.shell\n    with: {command: ['true']}\n")
    ok = runbook_cli("validate", str(tmp_path / "on-web.yaml"), "--inventory", str(inv),
                     "--limit", "web1")
    assert ok.returncode == 0, ok.stderr
    assert "1/1 playbooks valid" in ok.stdout
    both = runbook_cli("validate", str(tmp_path), "--inventory", str(inv), "-l", "web1")
    assert both.returncode == 2
    assert f"{tmp_path / 'on-db.yaml'}: --limit: --limit 'web1' leaves no host in group " \
           "'db' (used by step touch)" in both.stderr
    assert "on-web.yaml" not in both.stderr
    assert "1/2 playbooks valid, 1 problem" in both.stderr
    typo = runbook_cli("validate", str(tmp_path / "on-web.yaml"), "--inventory", str(inv),
                       "--limit", "web1,!wbe2")
    assert typo.returncode == 2 and "wbe2" in typo.stderr, typo.stderr
