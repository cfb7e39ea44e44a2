"""``--json`` (issue 13): one document per command, a ``format`` version, the same names.

The examples in docs/cli.md ("JSON output") are parsed and their keys compared with
what the real commands print, at the top and one level down (a step, a run, an event),
so the documentation cannot drift from the output. ``resume`` prints a run document.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import append, kill_if_alive, read_pid, run_cli, write_playbook

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "cli.md"
EXAMPLE = re.compile(r"<!-- json-example: ([a-z ]+) -->\n```json\n(.*?)\n```", re.S)
NESTED = {"run": "steps", "runs": "runs", "runs show": "steps", "audit show": "events"}
SHARED = {"format", "kind", "run_id", "playbook", "actor", "reason", "status", "exit_code",
          "started", "duration_ms"}


def examples() -> dict[str, dict[str, Any]]:
    found = {name: json.loads(body) for name, body in EXAMPLE.findall(DOCS.read_text())}
    assert set(found) == {"run", "runs", "runs show", "runs resolve", "audit show"}
    return found


def keys(doc: dict[str, Any], nested: str | None) -> tuple[set[str], set[str]]:
    inner = doc[nested][0] if nested else {}
    return set(doc), set(inner)


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """One of each document, from real commands on one RUNBOOK_HOME."""
    import os

    tmp = tmp_path_factory.mktemp("json")
    home = tmp / "home"
    old = os.environ.get("RUNBOOK_HOME")
    os.environ["RUNBOOK_HOME"] = str(home)
    try:
        return _real(tmp)
    finally:
        if old is None:
            del os.environ["RUNBOOK_HOME"]
        else:
            os.environ["RUNBOOK_HOME"] = old


def _json(*args: object) -> dict[str, Any]:
    proc = run_cli(*args)
    doc: dict[str, Any] = json.loads(proc.stdout)
    return doc


def _real(tmp: Path) -> dict[str, dict[str, Any]]:
    log = tmp / "log"
    pb = write_playbook(tmp / "pb.yaml", append("one", log, "one", undo="undo one"),
                        {"id": "two", "action": "host.shell", "with": {"command": [
                            "sh", "-c", 'echo $$ > "$0.tmp"; mv "$0.tmp" "$0"; exec sleep 30',
                            str(tmp / "pid")]}})
    killed = subprocess.Popen([sys.executable, "-m", "runbook", "run", pb, "--yes"],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    pid = read_pid(tmp / "pid", timeout=30)
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=10)
    kill_if_alive(pid)
    run_id = _json("runs", "--json")["runs"][0]["run_id"]
    out = {"resume": _json("resume", run_id, "--rollback", "--json"),
           "run": _json("run", write_playbook(tmp / "ok.yaml", append("one", log, "x")),
                        "--yes", "--json"),
           "plan": _json("plan", pb, "--json"),
           "runs": _json("runs", "--json"),
           "runs show": _json("runs", "show", run_id, "--json"),
           "audit show": _json("audit", "show", run_id, "--json")}
    return out


@pytest.mark.parametrize("name", ["run", "runs", "runs show", "audit show"])
def test_each_documented_example_has_the_keys_of_the_real_output(
        real: dict[str, dict[str, Any]], name: str) -> None:
    documented = examples()[name]
    nested = NESTED[name]
    assert keys(documented, nested) == keys(real[name], nested)
    assert (documented["format"], documented["kind"]) == (1, real[name]["kind"])


@pytest.mark.parametrize(("name", "kind"), [("resume", "run"), ("plan", "plan")])
def test_resume_and_plan_print_a_run_document(real: dict[str, dict[str, Any]], name: str,
                                              kind: str) -> None:
    assert real[name]["format"] == 1 and real[name]["kind"] == kind
    assert set(real[name]) == set(examples()["run"])
    if real[name]["steps"]:  # a resume that only rolls back has run no step
        assert keys(real[name], "steps") == keys(examples()["run"], "steps")


def test_the_same_things_have_the_same_names_everywhere(
        real: dict[str, dict[str, Any]]) -> None:
    for name in ("run", "resume", "runs show"):
        assert set(real[name]) >= SHARED, (name, SHARED - set(real[name]))
    assert SHARED - {"format", "kind"} <= set(real["runs"]["runs"][0])
    assert {"format", "kind", "run_id"} <= set(real["audit show"])
    for name in ("run", "plan", "runs show"):
        assert {"id", "status"} <= set(real[name]["steps"][0]), name
    resumed, record = real["resume"], real["runs show"]
    assert resumed["run_id"] == record["run_id"] == real["audit show"]["run_id"]
    assert (resumed["status"], resumed["exit_code"]) == (record["status"], record["exit_code"])
    assert [s["status"] for s in record["steps"]] == ["ok", "running"]


def test_the_resolve_example_names_what_resolve_returns() -> None:
    from runbook.jsonout import resolved_document

    doc = examples()["runs resolve"]
    made = resolved_document({"run_id": "r", "status": "resolved", "commands": [],
                              "audit_log": None})
    assert set(doc) == set(made)
