"""A plugin brings its own part of the simulated estate, without touching ``runbook/``.

The fixture plugin ``tests/plugins/runbook_simhosts`` contributes a stand-in
(``hostinfo``), its world (a ticking clock, per-host counters), a fault and a
scenario with three simulated hosts, through the ``runbook_sim_parts`` hook.
These tests drive it the ways a user would: the Python API, the stand-in on
PATH, and ``runbook sim`` with the plugin installed through an entry point.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

PLUGINS = Path(__file__).resolve().parent / "plugins"
if str(PLUGINS) not in sys.path:
    sys.path.insert(0, str(PLUGINS))

from runbook_simhosts.testing import installed_env, registered  # noqa: E402

from runbook import hookimpl, sim  # noqa: E402
from runbook.errors import PluginError  # noqa: E402


@pytest.fixture
def plugin() -> Iterator[None]:
    with registered():
        yield


@pytest.fixture
def box(plugin: None, tmp_path: Path) -> Path:
    return sim.init_sandbox("two-hosts", tmp_path / "box")


def stand_in(box: Path, *argv: str, host: str | None = None,
             ssh_connection: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "RUNBOOK_SIM_HOST", "SSH_CONNECTION")}
    env.update(sim.sandbox_env(box, host))
    if ssh_connection:
        env["SSH_CONNECTION"] = ssh_connection
    return subprocess.run(list(argv), env=env, capture_output=True, text=True, timeout=30,
                          check=False)


def test_the_hook_contributes_part_scenario_and_fault(plugin: None) -> None:
    part = sim.all_parts()["hostinfo"]
    assert part.tools == {"hostinfo": "runbook_simhosts.sim.hostinfo"}
    assert "two-hosts" in sim.SCENARIOS
    assert sim.FAULTS["hostinfo_broken"].startswith("hostinfo fails")
    assert sim.DEFAULT_KNOBS["tick_seconds"] == 0.2
    assert ("two-hosts", "Two database hosts answering and a third one down.") in \
        sim.list_scenarios()


def test_without_the_plugin_its_scenario_is_unknown(tmp_path: Path) -> None:
    assert "two-hosts" not in sim.SCENARIOS
    with pytest.raises(ValueError, match=r"unknown scenario 'two-hosts'; choose from: .*cfs-"):
        sim.init_sandbox("two-hosts", tmp_path / "x")


def test_a_part_contributed_twice_differently_is_refused(plugin: None) -> None:
    from runbook.plugins import default_registry
    from runbook.sim.parts import Part

    class Clash:
        @staticmethod
        @hookimpl
        def runbook_sim_parts() -> list[Part]:
            return [Part(name="hostinfo", world="elsewhere")]

    pm = default_registry().pm
    pm.register(Clash, name="clash")
    try:
        with pytest.raises(PluginError, match="'hostinfo' is contributed twice"):
            sim.all_parts()
    finally:
        pm.unregister(name="clash")


def test_init_lays_out_tools_hosts_and_world(box: Path) -> None:
    state = json.loads((box / "state.json").read_text())
    assert state["scenario"] == "two-hosts"
    assert [p["name"] for p in state["parts"]] == ["hostinfo"]
    assert state["hosts"] == {"db1": {"address": "127.0.1.11", "up": True},
                              "db2": {"address": "127.0.1.12", "up": True},
                              "db3": {"address": "127.0.1.13", "up": False}}
    assert state["faults"] == {"hostinfo_broken": False}
    assert sim.list_tools(box) == ["hostinfo"]  # only the tools of the scenario's parts
    assert (box / "hosts" / "db2" / "root" / "etc" / "role").read_text() == "replica\n"
    # warm-up replayed by the plugin's own events: 1s of ticks every 0.2s
    assert state["hostinfo"]["ticks"] >= 5


def test_the_stand_in_runs_as_each_host(box: Path) -> None:
    db1 = stand_in(box, "hostinfo", host="db1")
    assert (db1.returncode, db1.stdout) == (0, "db1 127.0.1.11 primary\n"), db1.stderr
    db2 = stand_in(box, "hostinfo", ssh_connection="127.0.0.1 50000 127.0.1.12 22")
    assert (db2.returncode, db2.stdout) == (0, "db2 127.0.1.12 replica\n"), db2.stderr
    nowhere = stand_in(box, "hostinfo")
    assert (nowhere.returncode, nowhere.stdout) == (1, "no host\n")
    wrong = stand_in(box, "hostinfo", host="db9")
    assert wrong.returncode == 1
    assert "RUNBOOK_SIM_HOST=db9 is not a simulated host; hosts: db1, db2, db3" in wrong.stderr


def test_state_changes_per_host_and_the_world_evolves(box: Path) -> None:
    assert stand_in(box, "hostinfo", "bump", host="db1").stdout == "1\n"
    assert stand_in(box, "hostinfo", "bump", host="db1").stdout == "2\n"
    assert stand_in(box, "hostinfo", "bump", host="db2").stdout == "1\n"
    before = sim.load_state(box)["hostinfo"]["ticks"]
    time.sleep(0.5)
    state = sim.load_state(box)
    assert state["hostinfo"]["calls"] == {"db1": 2, "db2": 1, "db3": 0}
    assert state["hostinfo"]["ticks"] >= before + 2
    text = sim.describe_state(box)
    assert "parts: hostinfo" in text
    assert "host db3 at 127.0.1.13: down" in text
    assert "hostinfo calls: db1 2, db2 1, db3 0" in text


def test_a_fault_goes_on_and_off(box: Path) -> None:
    sim.set_fault(box, "hostinfo_broken", True)
    broken = stand_in(box, "hostinfo", host="db1")
    assert (broken.returncode, broken.stderr) == (3, "hostinfo: broken\n")
    sim.set_fault(box, "hostinfo_broken", True)  # already on: no change reported to the part
    sim.set_fault(box, "hostinfo_broken", False)
    assert stand_in(box, "hostinfo", host="db1").returncode == 0
    assert sim.load_state(box)["hostinfo"]["fault_switches"] == 2
    with pytest.raises(ValueError, match="unknown fault 'consumer_never_quiet'; choose from: "
                                         "hostinfo_broken"):
        sim.set_fault(box, "consumer_never_quiet", True)


def test_faults_can_be_on_from_the_start(plugin: None, tmp_path: Path) -> None:
    box = sim.init_sandbox("two-hosts", tmp_path / "b", faults=["hostinfo_broken"])
    assert stand_in(box, "hostinfo", host="db1").returncode == 3
    with pytest.raises(ValueError, match="unknown fault 'nope' for scenario two-hosts"):
        sim.init_sandbox("two-hosts", tmp_path / "c", faults=["nope"])


def test_the_stand_in_does_not_load_the_plugin_package(box: Path) -> None:
    """The script names its module; the plugin's __init__ (its hooks) never runs."""
    script = (box / "bin" / "hostinfo").read_text()
    assert "'runbook_simhosts.sim.hostinfo'" in script
    probe = subprocess.run(
        [sys.executable, "-c",
         "import runpy, sys; sys.argv = [sys.argv[1]]; "
         "import atexit; atexit.register(lambda: print('loaded:', "
         "hasattr(sys.modules.get('runbook_simhosts'), 'runbook_sim_parts'), "
         "'runbook.plugins' in sys.modules, file=sys.stderr)); "
         "runpy.run_path(sys.argv[0], run_name='__main__')", str(box / "bin" / "hostinfo")],
        env={**os.environ, **sim.sandbox_env(box, "db1")}, capture_output=True, text=True,
        timeout=30, check=False)
    assert probe.stdout == "db1 127.0.1.11 primary\n", probe.stderr
    assert "loaded: False False" in probe.stderr


# -- the CLI, with the plugin installed through an entry point -------------------------------------


def runbook(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "runbook", *args], env=env, capture_output=True,
                          text=True, timeout=60, check=False)


def test_cli_drives_an_installed_plugin_estate(tmp_path: Path) -> None:
    env = installed_env(tmp_path / "site")
    listed = runbook(env, "sim", "list")
    assert listed.returncode == 0, listed.stderr
    block = listed.stdout.split("two-hosts\t", 1)[1].split("\n\n")[0]
    assert block.startswith("Two database hosts answering and a third one down.\n"
                            "  parts: hostinfo\n"
                            "  hosts: db1 127.0.1.11, db2 127.0.1.12, db3 127.0.1.13 (down)\n"
                            "  fault hostinfo_broken: hostinfo fails with exit status 3")
    as_json = [json.loads(line) for line in runbook(env, "sim", "list", "--json").stdout.split(
        "\n") if line]
    two = next(s for s in as_json if s["name"] == "two-hosts")
    assert two["hosts"][2] == {"name": "db3", "address": "127.0.1.13", "up": False}
    box = tmp_path / "box"
    made = runbook(env, "sim", "init", "two-hosts", "--dir", str(box), "--fault",
                   "hostinfo_broken")
    assert made.returncode == 0, made.stderr
    broken = runbook(env, "sim", "exec", str(box), "--host", "db2", "--", "hostinfo")
    assert (broken.returncode, broken.stderr) == (3, "hostinfo: broken\n")
    off = runbook(env, "sim", "fault", str(box), "hostinfo_broken", "--off")
    assert off.returncode == 0, off.stderr
    ran = runbook(env, "sim", "exec", str(box), "--host", "db2", "--", "hostinfo")
    assert (ran.returncode, ran.stdout) == (0, "db2 127.0.1.12 replica\n"), ran.stderr
    bumped = runbook(env, "sim", "exec", str(box), "--host", "db1", "--", "hostinfo", "bump")
    assert bumped.stdout == "1\n"
    state = runbook(env, "sim", "state", str(box))
    assert "hostinfo calls: db1 1, db2 0, db3 0" in state.stdout
    assert "faults: none" in state.stdout
    default = runbook(env, "sim", "exec", str(box), "--", "hostinfo")
    assert (default.returncode, default.stdout) == (1, "no host\n")


def test_cli_marks_hosts_down_and_up(plugin: None, box: Path, tmp_path: Path) -> None:
    from runbook.errors import ConnectionError_
    from runbook.sim.transport import for_sandbox

    env = installed_env(tmp_path / "site")
    db1 = for_sandbox(box)("db1", "ssh", {"host": "db1"})
    assert db1 is not None
    down = runbook(env, "sim", "host", str(box), "db1")
    assert (down.returncode, down.stdout) == (0, f"host db1 down in {box}\n"), down.stderr
    assert "host db1 at 127.0.1.11: down" in sim.describe_state(box)
    with pytest.raises(ConnectionError_, match="cannot connect to db1:22: Connection refused"):
        db1.run(["hostinfo"])
    assert runbook(env, "sim", "host", str(box), "db1", "--up").returncode == 0
    assert db1.run(["hostinfo"]).stdout == "db1 127.0.1.11 primary\n"
    unknown = runbook(env, "sim", "host", str(box), "db9")
    assert unknown.returncode == 2
    assert "error: unknown host 'db9'; choose from: db1, db2, db3" in unknown.stderr


def test_a_scenario_whose_parts_are_not_installed_is_listed_and_refused(tmp_path: Path) -> None:
    env = installed_env(tmp_path / "site")
    listed = runbook(env, "sim", "list").stdout
    assert ("needs-unicorn\tCombines a part no installed plugin contributes.\n"
            "  parts: hostinfo, unicorn (not installed: unicorn)\n") in listed
    made = runbook(env, "sim", "init", "needs-unicorn", "--dir", str(tmp_path / "x"))
    assert made.returncode == 2
    assert made.stderr.startswith("error: unknown simulated part 'unicorn'; parts: ")
    offered = made.stderr.split("parts: ")[1].strip().split(", ")
    assert offered == sorted(offered) and {"cfs", "hostinfo", "kafka", "kubernetes"} <= set(offered)
