"""The stomp plugin's actions run through the engine on the local machine.

The configuration files are real files in a temporary folder; the queue is a
real Directory::Queue layout; ``simplevisor`` is a small stand-in on PATH that
keeps its children's state in a file, so each test asserts what the actions
leave behind and what they return. Secrets must never surface.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from helpers import run_with_tools, step_result

from runbook.result import RunResult

SIMPLEVISOR = r'''
import json, pathlib, sys
state = pathlib.Path(__file__).with_name("children.json")
children = json.loads(state.read_text())
assert sys.argv[1] == "--conf", sys.argv
verb, names = sys.argv[3], sys.argv[4:] or sorted(children)
with open(pathlib.Path(__file__).with_name("calls"), "a") as log:
    log.write(" ".join(sys.argv[3:]) + "\n")
if verb == "status":
    sys.exit(0 if all(children[n] == "running" for n in names) else 1)
if verb == "restart":
    if children.get("fail_restart"):
        print("simplevisor: cannot start stompclt", file=sys.stderr); sys.exit(1)
    for n in names:
        children[n] = "running"
state.write_text(json.dumps(children))
'''

FLAT = """daemon = true
pidfile = /var/run/stompclt.pid
incoming-queue = path=/var/spool/rsv/stompclt
outgoing-broker-uri = stomp+ssl://broker.example:61612
outgoing-broker-auth = "x509 cert=/etc/grid-security/rsvcert.pem key=/etc/key.pem"
"""

FIXED = FLAT + "reliable = true\nwindow = 100\nheart-beat = true\n"

SUPERVISOR = """<simplevisor>
    store = /var/lib/simplevisor/rsv.json
    log = syslog
</simplevisor>
<entry>
    type = supervisor
    name = rsv
    window = 30
    adjustments = 5
    strategy = one_for_one
    <children>
        <<include stompclt.conf>>
    </children>
</entry>
"""

CHILD = """<entry>
    type = service
    name = stompclt
    start = /usr/bin/stompclt --conf /etc/rsv/stompclt/default.conf --daemon
</entry>
"""


@pytest.fixture
def tools(tmp_path: Path) -> Path:
    folder = tmp_path / "bin"
    folder.mkdir()
    path = folder / "simplevisor"
    path.write_text(f"#!{os.sys.executable}\n{SIMPLEVISOR}")  # type: ignore[attr-defined]
    path.chmod(0o755)
    (folder / "children.json").write_text(json.dumps({"rsv/stompclt": "stopped"}))
    (tmp_path / "sv").mkdir()
    (tmp_path / "sv" / "rsv.conf").write_text(SUPERVISOR)
    (tmp_path / "sv" / "stompclt.conf").write_text(CHILD)
    return folder





def test_stomp_config_reads_the_flat_style_and_masks_the_auth(tmp_path: Path,
                                                              tools: Path) -> None:
    conf = tmp_path / "default.conf"
    conf.write_text(FLAT)
    res = run(tmp_path, tools, {"id": "conf", "action": "stomp.config",
                                "with": {"path": str(conf)}})
    assert res.exit_code == 0
    got = result(res, "conf")
    assert got["incoming_queue_path"] == "/var/spool/rsv/stompclt"
    assert got["outgoing_broker_uri"] == "stomp+ssl://broker.example:61612"
    assert got["settings"]["outgoing-broker-auth"] == "***"
    assert got["subscriptions"] == [] and got["callback_code"] is None
    assert "rsvcert" not in json.dumps(got)
    assert "rsvcert" not in (tmp_path / "audit.jsonl").read_text()


def test_stomp_lint_fails_naming_each_missing_setting(tmp_path: Path, tools: Path) -> None:
    conf = tmp_path / "default.conf"
    conf.write_text(FLAT)
    res = run(tmp_path, tools, {"id": "lint", "action": "stomp.lint",
                                "with": {"path": str(conf)}})
    assert res.exit_code != 0
    step = next(s for s in res.steps if s.id == "lint")
    assert step.status == "failed"
    for key in ("reliable is not set", "window is not set", "heart-beat is not set"):
        assert key in str(step.error)
    assert "unbounded in-memory buffer" in str(step.error)
    assert sorted(f.title for f in res.findings) == [
        f"{conf}: heart-beat should be true", f"{conf}: reliable should be true",
        f"{conf}: window should be a positive integer"]


def test_stomp_lint_passes_on_the_fixed_file(tmp_path: Path, tools: Path) -> None:
    conf = tmp_path / "default.conf"
    conf.write_text(FIXED)
    res = run(tmp_path, tools, {"id": "lint", "action": "stomp.lint",
                                "with": {"path": str(conf)}})
    assert res.exit_code == 0
    assert result(res, "lint") == {"ok": True, "problems": []}


def test_simplevisor_config_follows_includes(tmp_path: Path, tools: Path) -> None:
    res = run(tmp_path, tools, {"id": "sv", "action": "simplevisor.config",
                                "with": {"path": str(tmp_path / "sv" / "rsv.conf")}})
    assert res.exit_code == 0
    assert result(res, "sv") == {
        "store": "/var/lib/simplevisor/rsv.json", "log": "syslog",
        "supervisor": {"name": "rsv", "window": "30", "adjustments": "5",
                       "strategy": "one_for_one"},
        "children": ["rsv/stompclt"], "expected": {"rsv/stompclt": "running"}}


def test_simplevisor_restart_brings_the_child_back(tmp_path: Path, tools: Path) -> None:
    conf = str(tmp_path / "sv" / "rsv.conf")
    res = run(tmp_path, tools,
              {"id": "before", "action": "simplevisor.status", "with": {"conf": conf}},
              {"id": "restart", "action": "simplevisor.restart",
               "with": {"conf": conf, "child": "rsv/stompclt"}})
    assert res.exit_code == 0
    assert result(res, "before")["unexpected"] == ["rsv/stompclt"]
    assert result(res, "restart") == {"children": {"rsv/stompclt": "running"},
                                      "expected": {"rsv/stompclt": "running"},
                                      "unexpected": []}
    assert json.loads((tools / "children.json").read_text()) == {"rsv/stompclt": "running"}
    assert (tools / "calls").read_text() == ("status rsv/stompclt\nrestart rsv/stompclt\n"
                                             "status rsv/stompclt\n")


def test_simplevisor_restart_that_fails_fails_the_step(tmp_path: Path, tools: Path) -> None:
    (tools / "children.json").write_text(json.dumps({"rsv/stompclt": "stopped",
                                                     "fail_restart": True}))
    res = run(tmp_path, tools, {"id": "restart", "action": "simplevisor.restart",
                                "with": {"conf": str(tmp_path / "sv" / "rsv.conf"),
                                         "child": "rsv/stompclt"}})
    assert res.exit_code != 0
    assert "cannot start stompclt" in str(next(s for s in res.steps).error)


def _enqueue(queue: Path, n: int, age: float = 0.0) -> list[Path]:
    made = []
    for i in range(n):
        folder = queue / f"{int(time.time()) // 60:08x}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{i:014x}"
        path.write_text("message")
        stamp = time.time() - age
        os.utime(path, (stamp, stamp))
        made.append(path)
    return made


def test_queue_progress_sees_a_queue_drain(tmp_path: Path, tools: Path) -> None:
    queue = tmp_path / "queue"
    made = _enqueue(queue, 5, age=120)
    (queue / "0000abcd").mkdir()
    (queue / "0000abcd" / "0123456789abcd.tmp").write_text("half written")
    drainer = tools / "date"  # a `date` that consumes one message per call, then the real one
    drainer.write_text(f"#!/bin/sh\nrm -f \"$(ls -d {queue}/*/* | grep -v '[.]tmp$' "
                       '| head -n 1)"\nexec /bin/date "$@"\n')
    drainer.chmod(0o755)
    res = run(tmp_path, tools, {"id": "q", "action": "stomp.queue_progress",
                                "with": {"path": str(queue), "interval": 0.2, "samples": 3}})
    assert res.exit_code == 0, res.steps
    got = result(res, "q")
    assert [s["count"] for s in got["samples"]] == [4, 3, 2]
    assert got["trend"] == "draining" and got["count"] == 2
    assert 119 <= got["oldest_age_seconds"] <= 200
    assert sum(p.exists() for p in made) == 2


def test_queue_progress_of_an_untouched_queue_is_flat(tmp_path: Path, tools: Path) -> None:
    queue = tmp_path / "queue"
    _enqueue(queue, 3)
    res = run(tmp_path, tools, {"id": "q", "action": "stomp.queue_progress",
                                "with": {"path": str(queue), "interval": 0.1, "samples": 2}})
    got = result(res, "q")
    assert got["trend"] == "flat" and got["count"] == 3


def test_queue_progress_of_a_missing_queue_fails(tmp_path: Path, tools: Path) -> None:
    res = run(tmp_path, tools, {"id": "q", "action": "stomp.queue_progress",
                                "with": {"path": str(tmp_path / "nope"), "interval": 0.1,
                                         "samples": 2}})
    assert res.exit_code != 0
    assert "cannot list the queue" in str(res.steps[0].error)


def run(tmp_path: Path, tools: Path, *steps: dict[str, Any]) -> RunResult:
    res: RunResult = run_with_tools(tmp_path, tools, *steps)
    return res


result = step_result
