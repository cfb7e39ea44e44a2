"""``runbook sim ...`` on the built-in CFS estate: init with faults, fault, exec, list, state.

Run as a user would (a subprocess), since ``exec`` hands the terminal to the
stand-in: its own output and exit status must come through unchanged.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def runbook(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "runbook", *args], capture_output=True,
                          text=True, timeout=60, check=False)


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "box"
    made = runbook("sim", "init", "cfs-healthy", "--dir", str(path), "--fault",
                   "consumer_never_quiet")
    assert made.returncode == 0, made.stderr
    assert f"sandbox {path} ready (scenario cfs-healthy)" in made.stdout
    return path


def faults(box: Path) -> dict[str, bool]:
    state = json.loads(runbook("sim", "state", str(box), "--json").stdout)
    found: dict[str, bool] = state["faults"]
    return found


def test_init_switches_faults_on_and_fault_switches_them(box: Path) -> None:
    assert faults(box) == {"consumer_never_quiet": True}
    off = runbook("sim", "fault", str(box), "consumer_never_quiet", "--off")
    assert (off.returncode, off.stdout) == (0, f"fault consumer_never_quiet off in {box}\n")
    assert faults(box) == {"consumer_never_quiet": False}
    on = runbook("sim", "fault", str(box), "consumer_never_quiet")
    assert on.returncode == 0
    assert faults(box) == {"consumer_never_quiet": True}
    assert "faults: consumer_never_quiet" in runbook("sim", "state", str(box)).stdout


def test_exec_runs_a_stand_in_with_its_own_output_and_exit_status(box: Path) -> None:
    got = runbook("sim", "exec", str(box), "--", "kubectl", "-n", "services", "get",
                  "deployment", "cray-cfs-operator", "-o", "json")
    assert got.returncode == 0, got.stderr
    doc = json.loads(got.stdout)
    assert got.stdout == json.dumps(doc, indent=4, sort_keys=True) + "\n"  # kubectl's layout
    assert doc["spec"]["replicas"] == 1
    missing = runbook("sim", "exec", str(box), "--", "kubectl", "-n", "services", "get",
                      "deployment", "nope")
    assert missing.returncode == 1
    assert missing.stderr == ('Error from server (NotFound): deployments.apps "nope" not '
                              "found\n")
    options = runbook("sim", "exec", str(box), "--", "cray", "cfs", "v3", "options", "list",
                      "--format", "json")
    assert json.loads(options.stdout)["batcher_max_backoff"] == 3600


@pytest.mark.parametrize(("args", "message"), [
    (["sim", "init", "cfs-nope", "--dir", "{tmp}/x"],
     "error: unknown scenario 'cfs-nope'; choose from: cfs-backoff-changed, cfs-healthy, "
     "cfs-stuck-sessions"),
    (["sim", "init", "cfs-healthy", "--dir", "{tmp}/y", "--fault", "disk_full"],
     "error: unknown fault for scenario cfs-healthy: 'disk_full'; choose from: "
     "consumer_never_quiet"),
    (["sim", "fault", "{box}", "disk_full"],
     "error: unknown fault 'disk_full'; choose from: consumer_never_quiet"),
    (["sim", "exec", "{box}", "--", "nodetool", "status"],
     "error: unknown tool 'nodetool'; choose from: cray, kafka-console-consumer.sh, "
     "kafka-consumer-groups.sh, kubectl"),
    (["sim", "exec", "{box}", "--host", "db1", "--", "kubectl", "version"],
     "error: unknown host 'db1'; choose from: none"),
    (["sim", "state", "{tmp}"], "is not a simulated estate (no state.json)"),
])
def test_mistakes_list_the_choices_and_exit_2(box: Path, tmp_path: Path, args: list[str],
                                              message: str) -> None:
    res = runbook(*(a.format(tmp=tmp_path, box=box) for a in args))
    assert res.returncode == 2, res
    assert message in res.stderr
    assert not (tmp_path / "x").exists()


def test_list_shows_descriptions_parts_and_faults() -> None:
    res = runbook("sim", "list")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    heads = [line.split("\t")[0] for line in lines if not line.startswith("  ")]
    assert heads == sorted(heads)
    assert {"cfs-backoff-changed", "cfs-healthy", "cfs-stuck-sessions"} <= set(heads)
    at = lines.index(next(line for line in lines if line.startswith("cfs-stuck-sessions\t")))
    assert lines[at + 1] == "  parts: kubernetes, kafka, cfs"
    assert lines[at + 2].startswith("  fault consumer_never_quiet: a session event arrives")


def test_a_stand_in_imports_neither_the_plugin_manager_nor_the_plugins_actions(
        box: Path) -> None:
    """Each stand-in call is a fresh interpreter: it must stay as cheap as before the estate
    moved into the plugins (no pluggy registry, no pydantic action models)."""
    probe = ("import atexit, runpy, sys\n"
             "atexit.register(lambda: print(*sorted(sys.modules), file=sys.stderr))\n"
             "sys.argv = sys.argv[1:]\n"
             "runpy.run_path(sys.argv[0], run_name='__main__')\n")
    res = subprocess.run([sys.executable, "-c", probe, str(box / "bin" / "kubectl"),
                          "-n", "services", "get", "deployment", "cray-cfs-operator", "-o",
                          "json"], capture_output=True, text=True, timeout=60, check=False)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["kind"] == "Deployment"
    imported = set(res.stderr.split())
    assert {"runbook_kubectl.sim.kubectl", "runbook_cfs.sim.world"} <= imported
    heavy = {"pydantic", "runbook.plugins", "runbook.actions", "runbook_kubectl.actions",
             "runbook_kafka.actions", "runbook_cfs.actions", "runbook.sim.scenarios",
             "runbook.sim.parts", "jinja2", "paramiko", "pluggy"}
    assert imported & heavy == set()
