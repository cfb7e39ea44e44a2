"""Ansible's habits on run/plan: --limit, --list-hosts, --tags/--skip-tags, --start-at,
-v/-vv/-q. Runs are real: ``python -m runbook`` on an Ansible inventory of local hosts,
asserting on what the commands left on disk, the audit log and the exit code."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import audit_events, run_cli

from runbook.errors import PlaybookError
from runbook.inventory import load_inventory
from runbook.limit import Universe, select
from runbook.loader import loads
from runbook.plugins import default_registry
from runbook.tags import skipped_steps

DOCS_INI = Path(__file__).parent / "inventories" / "ansible-docs.ini"


@pytest.fixture(scope="module")
def universe() -> Universe:
    return Universe(load_inventory(DOCS_INI), default_registry())


@pytest.mark.parametrize(("pattern", "expected"), [
    ("atlanta", ["host1", "host2"]),
    ("host1,host3", ["host1", "host3"]),
    ("atlanta:raleigh", ["host1", "host2", "host3"]),
    ("southeast:!host2", ["host1", "host3"]),
    ("!host2:southeast", ["host1", "host3"]),  # order does not matter, as in Ansible
    ("southeast:&raleigh", ["host2", "host3"]),
    ("web*", [f"www{n:02d}.example.com" for n in range(1, 51)]
     + ["foo.example.com", "bar.example.com"]),
    ("www0[1-3].example.com", ["www01.example.com", "www02.example.com", "www03.example.com"]),
    ("~^db-[ab]", ["db-a.example.com", "db-b.example.com"]),
    ("dbservers,!one.example.com,!~^t", []),
    ("southeast[0]", ["host1"]),
    ("southeast[-1]", ["host3"]),
    ("webservers[1:]:southeast[:2]", ["bar.example.com", "host1", "host2"]),
])
def test_patterns(universe: Universe, pattern: str, expected: list[str]) -> None:
    if not expected:
        with pytest.raises(PlaybookError, match="selects no host"):
            select(pattern, universe)
        return
    assert sorted(select(pattern, universe)) == sorted(expected)


def test_limit_file_and_typos(universe: Universe, tmp_path: Path) -> None:
    retry = tmp_path / "retry"
    retry.write_text("host1\n# a comment\nhost3,jumper\n")
    assert select(f"@{retry}", universe) == ["host1", "host3", "jumper"]
    with pytest.raises(PlaybookError) as caught:
        select("southeast:!hots2", universe)  # a misspelt exclusion must not run on host2
    assert "'!hots2' matches no host or group" in str(caught.value)
    with pytest.raises(PlaybookError, match="'atlanta\\[5\\]' matches no host"):
        select("atlanta[5]", universe)  # past the end of the group
    assert caught.value.problem.field == "--limit"


# --- tags --------------------------------------------------------------------------------------

def playbook(*steps: dict[str, Any]) -> Any:
    return loads(yaml.safe_dump({"runbook": 1, "name": "t", "steps": list(steps)}),
                 file="t.yaml")


def shell(sid: str, *, tags: Any = None, **keys: Any) -> dict[str, Any]:
    step = {"id": sid, "action": "host.shell", "with": {"command": ["echo", sid]}, **keys}
    return {**step, "tags": tags} if tags is not None else step


def test_tag_selection_as_ansible() -> None:
    pb = playbook(shell("a", tags=["x"]), shell("b", tags="y"), shell("c"),
                  shell("d", tags=["always"]), shell("e", tags=["never", "debug"]))
    assert set(skipped_steps(pb, tags=("x",))) == {"b", "c", "e"}
    assert set(skipped_steps(pb, skip_tags=("x",))) == {"a", "e"}
    assert set(skipped_steps(pb, tags=("debug",))) == {"a", "b", "c"}
    assert set(skipped_steps(pb, tags=("untagged",))) == {"a", "b", "e"}
    assert set(skipped_steps(pb, skip_tags=("always",))) == {"d", "e"}
    assert skipped_steps(pb, start_at="c") == {"a": "before --start-at c",
                                               "b": "before --start-at c",
                                               "e": "--skip-tags "}


def test_tags_never_split_a_restores_pair_or_a_background_step() -> None:
    pb = playbook(
        shell("change", tags=["change"], rollback={"action": "host.shell",
                                                    "with": {"command": ["echo", "undo"]}}),
        {"id": "tail", "action": "host.shell", "background": True, "tags": ["watch"],
         "with": {"command": ["sleep", "5"]}},
        {"id": "stop", "action": "flow.stop", "with": {"step": "tail"}},
        shell("restore", restores="change", tags=["restore"]))
    with pytest.raises(PlaybookError) as caught:
        skipped_steps(pb, tags=("change",))
    message = str(caught.value)
    assert "'change' and 'restore' (restores): 'restore' would be left out" in message
    assert "tail" not in message  # tail and stop are both left out: nothing split
    assert caught.value.problem.field == "--tags"
    with pytest.raises(PlaybookError, match=re.escape(
            "'tail' and 'stop' (flow.stop): 'stop' would be left out but not the other")):
        skipped_steps(pb, tags=("change", "restore", "watch"))
    with pytest.raises(PlaybookError, match="'change' and 'restore'"):
        skipped_steps(pb, skip_tags=("restore",))
    # --start-at may leave out the change and run its restore (the change was made before)
    assert set(skipped_steps(pb, start_at="restore")) == {"change", "tail", "stop"}


# --- the CLI, for real ---------------------------------------------------------------------------

def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


@pytest.fixture
def estate(tmp_path: Path) -> tuple[Path, Path, Path]:
    """An Ansible inventory of three local hosts, a playbook that marks each host it
    runs on in a file, and that file."""
    inv = write(tmp_path / "hosts", """
        [cluster]
        node[1:3] ansible_connection=local
        [canary]
        node1
        """)
    marks = tmp_path / "marks"
    doc = {"runbook": 1, "name": "marks", "defaults": {"target": "ncn"},
           "targets": {"ncn": {"connection": "local"}, "cluster": {"connection": "local"}},
           "steps": [
               {"id": "prepare", "tags": ["prep"], "action": "host.shell",
                "with": {"command": ["sh", "-c", f'echo prepare >> "{marks}"']}},
               {"id": "mark", "target": "cluster", "tags": ["mark"], "action": "host.shell",
                "with": {"command": ["sh", "-c", f'echo "$1" >> "{marks}"; echo "out-$1"',
                                     "sh", "{{ target.name }}"]}},
               {"id": "finish", "action": "host.shell",
                "with": {"command": ["sh", "-c", f'echo finish >> "{marks}"']}}]}
    pb = tmp_path / "pb.yaml"
    pb.write_text(yaml.safe_dump(doc, sort_keys=False, width=1000))
    return pb, inv, marks


def test_limit_narrows_the_group_and_is_audited(estate: tuple[Path, Path, Path],
                                                tmp_path: Path) -> None:
    pb, inv, marks = estate
    audit = tmp_path / "audit.jsonl"
    proc = run_cli("run", pb, "--inventory", inv, "--limit", "cluster:!canary", "--yes",
                   "--audit-log", audit)
    assert proc.returncode == 0, proc.stderr
    assert sorted(marks.read_text().split()) == ["finish", "node2", "node3", "prepare"]
    assert "limit: cluster:!canary" in proc.stdout
    started = [e for e in audit_events(audit) if e["event"] == "run.started"]
    assert started[0]["data"]["limit"] == "cluster:!canary"
    hosts = {e["host"] for e in audit_events(audit) if e["event"] == "step.finished"
             and e["step"] == "mark" and e["host"]}
    assert hosts == {"node2", "node3"}


def test_limit_is_shown_in_the_plan_and_refused_when_it_empties_a_group(
        estate: tuple[Path, Path, Path]) -> None:
    pb, inv, marks = estate
    proc = run_cli("plan", pb, "--inventory", inv, "--limit", "node3")
    assert proc.returncode == 0, proc.stderr
    assert "[node3] sh -c" in proc.stdout and "[node1]" not in proc.stdout
    proc = run_cli("plan", pb, "--inventory", inv, "--limit", "nosuch*")
    assert proc.returncode == 2
    assert "'nosuch*' matches no host or group" in proc.stderr
    assert not marks.exists()


def test_list_hosts(estate: tuple[Path, Path, Path]) -> None:
    pb, inv, marks = estate
    proc = run_cli("run", pb, "--inventory", inv, "--limit", "node[2:3]", "--list-hosts")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "playbook marks (--limit node[2:3])", "  target ncn (1):", "    ncn",
        "  target cluster (2):", "    node2", "    node3"]
    assert not marks.exists()


def test_tags_and_skip_tags_run_only_the_chosen_steps(estate: tuple[Path, Path, Path]) -> None:
    pb, inv, marks = estate
    proc = run_cli("run", pb, "--inventory", inv, "--tags", "mark", "--yes", "--json")
    assert proc.returncode == 0, proc.stderr
    assert sorted(marks.read_text().split()) == ["node1", "node2", "node3"]
    steps = {s["id"]: s for s in json.loads(proc.stdout)["steps"]}
    assert (steps["prepare"]["status"], steps["finish"]["status"]) == ("skipped", "skipped")
    assert steps["prepare"]["when"] == "left out: --tags mark"
    marks.unlink()
    proc = run_cli("run", pb, "--inventory", inv, "--skip-tags", "mark,prep", "--yes")
    assert proc.returncode == 0, proc.stderr
    assert marks.read_text().split() == ["finish"]


def test_start_at_only_through_a_plan(estate: tuple[Path, Path, Path], tmp_path: Path) -> None:
    pb, inv, marks = estate
    proc = run_cli("run", pb, "--inventory", inv, "--start-at", "mark", "--yes")
    assert proc.returncode == 2
    assert "--start-at runs only through a reviewed plan" in proc.stderr
    plan = tmp_path / "plan.json"
    proc = run_cli("plan", pb, "--inventory", inv, "--start-at", "mark", "--limit", "node1",
                   "-o", plan)
    assert proc.returncode == 0, proc.stderr
    assert "left out: before --start-at mark" in proc.stdout
    proc = run_cli("run", pb, "--inventory", inv, "--plan", plan, "--limit", "node2", "--yes")
    assert proc.returncode == 2 and "differs from the reviewed plan" in proc.stderr
    proc = run_cli("run", pb, "--inventory", inv, "--plan", plan, "--yes")
    assert proc.returncode == 0, proc.stderr
    assert marks.read_text().split() == ["node1", "finish"]


def test_verbosity(estate: tuple[Path, Path, Path]) -> None:
    pb, inv, _ = estate
    quiet = run_cli("run", pb, "--inventory", inv, "--limit", "node1", "--yes", "-q")
    assert quiet.returncode == 0 and "→" not in quiet.stdout and "succeeded" in quiet.stdout
    one = run_cli("run", pb, "--inventory", inv, "--limit", "node1", "--yes", "-v")
    assert "[node1] $ sh -c" in one.stdout and "stdout: out-node1" not in one.stdout
    two = run_cli("run", pb, "--inventory", inv, "--limit", "node1", "--yes", "-vv")
    assert "[node1] $ sh -c" in two.stdout and "[node1] stdout: out-node1" in two.stdout


def test_vv_output_is_live_and_redacted(tmp_path: Path) -> None:
    """The command waits for a file the test writes only once it has seen the command's
    first line on the console: output that came only at the end would never arrive."""
    go = tmp_path / "go"
    script = ('echo "ready $1"; i=0; while [ ! -e "$2" ]; do i=$((i+1)); '
              '[ "$i" -gt 200 ] && exit 9; sleep 0.1; done; echo done')
    doc = {"runbook": 1, "name": "live", "params": {"token": {"type": "string",
                                                            "secret": True}},
           "steps": [{"id": "wait", "action": "host.shell", "with": {
               "command": ["sh", "-c", script, "sh", "{{ token }}", str(go)]}}]}
    text = _run_vv_until_ready(tmp_path, doc, go)
    assert "stdout: ready ***" in text and "hunter2" not in text
    assert text.index("stdout: ready") < text.index("stdout: done") < text.index("✓ wait")


def test_vv_streams_a_background_steps_output_live(tmp_path: Path) -> None:
    """A background step's lines reach the console while later steps run: the next step
    waits for a file the test writes only once it has seen the background line."""
    go = tmp_path / "go"
    waits = ('i=0; while [ ! -e "$1" ]; do i=$((i+1)); [ "$i" -gt 200 ] && exit 9; '
             'sleep 0.1; done')
    doc = {"runbook": 1, "name": "live-bg", "params": {"token": {"type": "string",
                                                               "secret": True}},
           "steps": [
               {"id": "bg", "action": "host.shell", "background": True, "with": {
                   "command": ["sh", "-c", 'echo "ready $1"; ' + waits.replace("$1", "$2")
                               + "; echo done", "sh", "{{ token }}", str(go)]}},
               {"id": "hold", "action": "host.shell",
                "with": {"command": ["sh", "-c", waits, "sh", str(go)]}},
               {"id": "stop", "action": "flow.stop", "with": {"step": "bg"}}]}
    text = _run_vv_until_ready(tmp_path, doc, go)
    assert "stdout: ready ***" in text and "hunter2" not in text
    assert text.index("stdout: ready") < text.index("✓ hold")
    assert text.count("stdout: ready") == 1  # not printed again when it ends


def test_resume_keeps_the_steps_left_out(tmp_path: Path) -> None:
    """The runner is killed (SIGKILL) during a tagged step; the resume finishes the run
    without the steps --tags left out."""
    marks, pid_file = tmp_path / "marks", tmp_path / "pid"
    doc = {"runbook": 1, "name": "resume-tags", "steps": [
        {"id": "a", "tags": ["x"], "action": "host.shell",
         "with": {"command": ["sh", "-c", f'echo a >> "{marks}"']}},
        {"id": "b", "action": "host.shell",
         "with": {"command": ["sh", "-c", f'echo b >> "{marks}"']}},
        {"id": "c", "tags": ["x"], "action": "host.shell", "timeout": "60s",
         "with": {"command": ["sh", "-c", f'echo c >> "{marks}"; echo $$ > "{pid_file}"; '
                                          "exec sleep 30"]},
         "checks": [{"probe": "host.query", "with": {"command": ["grep", "-q", "c", str(marks)]},
                     "that": "result.rc == 0"}]},
        {"id": "d", "action": "host.shell",
         "with": {"command": ["sh", "-c", f'echo d >> "{marks}"']}}]}
    pb = tmp_path / "pb.yaml"
    pb.write_text(yaml.safe_dump(doc, sort_keys=False, width=1000))
    from helpers import cli_argv

    runner = subprocess.Popen(cli_argv("run", pb, "--tags", "x", "--yes"),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not pid_file.exists() or not pid_file.read_text().strip():
        assert time.monotonic() < deadline and runner.poll() is None
        time.sleep(0.02)
    runner.send_signal(signal.SIGKILL)
    runner.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):
        os.kill(int(pid_file.read_text()), signal.SIGKILL)  # the step's own sleep
    run_id = audit_events(Path(os.environ["RUNBOOK_HOME"]) / "audit.jsonl")[0]["run_id"]
    again = run_cli("resume", run_id, "--yes")
    assert again.returncode == 0, again.stdout + again.stderr
    assert marks.read_text().split() == ["a", "c"]  # b and d stay left out
    assert "d skipped (left out: --tags x)" in again.stdout


def test_the_ansible_users_story(estate: tuple[Path, Path, Path], tmp_path: Path) -> None:
    """README's "Coming from Ansible": an Ansible inventory narrowed with --limit, a
    Markdown plan approved by a colleague, the run as approved and its HTML report."""
    pb, inv, marks = estate
    from helpers import cli_argv

    def as_actor(actor: str, *args: object) -> subprocess.CompletedProcess[str]:
        return subprocess.run(cli_argv(*args), env={**os.environ, "RUNBOOK_ACTOR": actor},
                              capture_output=True, text=True, timeout=120, check=False,
                              stdin=subprocess.DEVNULL)

    plan, report = tmp_path / "chg.json", tmp_path / "incident.html"
    made = as_actor("alice", "plan", pb, "-i", inv, "--limit", "node2", "-o", plan,
                    "--format", "markdown")
    assert made.returncode == 0, made.stderr
    assert "| node2 |" in made.stdout and "node1 --" not in made.stdout
    assert "[node2]" in made.stdout and "[node1]" not in made.stdout and not marks.exists()
    approved = as_actor("bob", "plan", "approve", plan, "--reason", "CHG-1234 reviewed")
    assert approved.returncode == 0, approved.stderr
    ran = as_actor("alice", "run", pb, "-i", inv, "--plan", plan, "--report", report, "--yes")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert sorted(marks.read_text().split()) == ["finish", "node2", "prepare"]
    assert "node2" in report.read_text() and "node1" not in report.read_text()
    started = [e for e in audit_events(Path(os.environ["RUNBOOK_HOME"]) / "audit.jsonl")
               if e["event"] == "run.started" and not e["dry_run"]]
    assert started[-1]["data"]["limit"] == "node2"


def _run_vv_until_ready(tmp_path: Path, doc: dict[str, Any], go: Path) -> str:
    """Run ``doc`` with ``-vv`` and a secret token; write ``go`` as soon as a live
    "stdout: ready" line is seen (proof that output streams); the whole output."""
    from helpers import cli_argv

    pb = tmp_path / "live.yaml"
    pb.write_text(yaml.safe_dump(doc, width=1000))
    proc = subprocess.Popen(cli_argv("run", pb, "-p", "token=hunter2", "--yes", "-vv"),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, text=True)
    seen: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        seen.append(line)
        if "stdout: ready" in line:
            go.touch()
    text = "".join(seen)
    assert proc.wait(timeout=60) == 0, text
    return text
