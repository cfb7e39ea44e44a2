"""``import runbook``: build playbooks from the models, validate and run them in Python."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import runbook
from runbook import Check, Param, Playbook, Retry, Rollback, Step
from runbook.errors import RunbookError


def write_step(step_id: str, path: Path, text: str, *, undo: bool = True) -> Step:
    """A step that writes text to path (and deletes it again on rollback)."""
    return Step(
        id=step_id,
        action="host.shell",
        with_={"command": ["sh", "-c", 'printf "%s" "$1" > "$2"', "sh", text, str(path)]},
        rollback=Rollback(action="host.shell", with_={"command": ["rm", "-f", str(path)]})
        if undo else None,
        checks=[Check(probe="host.query", with_={"command": ["cat", str(path)]},
                      that=f"result.stdout == {text!r}")],
    )


def test_build_and_run_a_playbook_in_python(tmp_path: Path) -> None:
    greeting = tmp_path / "greeting"
    copy = tmp_path / "copy"
    playbook = Playbook(
        runbook=1,
        name="python-built",
        title="Built in Python",
        params={"who": Param(type="string", default="world")},
        preconditions=[Check(probe="host.query", with_={"command": ["test", "-d", str(tmp_path)]},
                             that="result.rc == 0")],
        steps=[
            Step(id="greet", action="host.shell",
                 with_={"command": ["sh", "-c", 'printf "hello %s" "$1" > "$2"', "sh",
                                    "{{ who }}", str(greeting)]}),
            Step(id="read", action="host.query", with_={"command": ["cat", str(greeting)]},
                 register_as="said"),
            Step(id="copy", action="host.shell",
                 with_={"command": ["sh", "-c", 'printf "%s" "$1" > "$2"', "sh",
                                    "{{ said.stdout }}", str(copy)]},
                 when="'hello' in said.stdout"),
            Step(id="skipped", action="host.shell", with_={"command": ["false"]},
                 when="params.who == 'nobody'"),
        ],
        verify=[Check(probe="host.query", with_={"command": ["cat", str(copy)]},
                      that=["result.rc == 0", "who in result.stdout"])],
    )
    runbook.validate(playbook)
    result = runbook.run(playbook, {"who": "python"}, yes=True, reason="test")

    assert result.outcome == "succeeded", result.error
    assert result.exit_code == 0
    assert [s.status for s in result.steps] == ["ok", "ok", "ok", "skipped"]
    assert greeting.read_text() == "hello python"
    assert copy.read_text() == "hello python"
    assert [c.ok for c in result.checks] == [True, True]
    assert result.params == {"who": "python"}
    assert playbook.origin == "<python>"
    assert len(playbook.sha256) == 64


def test_failure_rolls_back_in_reverse_order(tmp_path: Path) -> None:
    first, second, log = tmp_path / "first", tmp_path / "second", tmp_path / "log"
    undo_first = Rollback(action="host.shell", with_={
        "command": ["sh", "-c", 'rm -f "$1"; echo first >> "$2"', "sh", str(first), str(log)]})
    undo_second = Rollback(action="host.shell", with_={
        "command": ["sh", "-c", 'rm -f "$1"; echo second >> "$2"', "sh", str(second), str(log)]})
    playbook = Playbook(runbook=1, name="rolls-back", steps=[
        Step(id="first", action="host.shell", with_={"command": ["touch", str(first)]},
             rollback=undo_first),
        Step(id="second", action="host.shell", with_={"command": ["touch", str(second)]},
             rollback=undo_second),
        Step(id="boom", action="host.shell", with_={"command": ["false"]}),
    ])
    runbook.validate(playbook)
    result = runbook.run(playbook, yes=True)
    assert result.outcome == "rolled-back"
    assert result.exit_code == 1
    assert not first.exists()
    assert not second.exists()
    assert log.read_text().split() == ["second", "first"]
    assert [r.step for r in result.rollbacks] == ["second", "first"]


def test_failed_check_rolls_back_the_step(tmp_path: Path) -> None:
    path = tmp_path / "value"
    step = write_step("write", path, "good")
    step.checks = [Check(probe="host.query", with_={"command": ["cat", str(path)]},
                         that="result.stdout == 'other'",
                         retry=Retry(attempts=2, delay=0.01))]
    result = runbook.run(Playbook(runbook=1, name="check-fails", steps=[step]), yes=True)
    assert result.outcome == "rolled-back"
    assert result.checks[0].attempts == 2
    assert not path.exists()


def test_plan_runs_nothing_mutating(tmp_path: Path) -> None:
    path = tmp_path / "planned"
    playbook = Playbook(runbook=1, name="planned", steps=[write_step("write", path, "x")])
    result = runbook.plan(playbook)
    assert result.outcome == "planned"
    assert result.exit_code == 0
    assert result.steps[0].status == "planned"
    assert not path.exists()


def test_validate_rejects_an_unknown_action() -> None:
    playbook = Playbook(runbook=1, name="unknown", steps=[
        Step(id="ok", action="host.shell", with_={"command": ["true"]}),
        Step(id="bad", action="host.shel", with_={"command": ["true"]}),
    ])
    with pytest.raises(runbook.ValidationErrors) as info:
        runbook.validate(playbook)
    [problem] = info.value.problems
    assert problem.field == "steps[1].action"
    assert problem.file == "<python>"
    assert "unknown action 'host.shel'" in problem.message
    assert "did you mean 'host.shell'?" in problem.message
    assert isinstance(info.value, runbook.PlaybookError)


def test_validate_applies_every_cross_field_rule() -> None:
    playbook = Playbook(runbook=1, name="rules", params={"lines": Param(type="int", default=1)},
                        steps=[
        Step(id="a", action="host.shell", with_={"comand": ["true"]}, target="nowhere"),
        Step(id="a", action="flow.stop", with_={"step": "a"}, register_as="lines"),
        Step(id="c", action="host.shell", with_={"command": ["true"]}, restores="zzz"),
    ])
    with pytest.raises(runbook.ValidationErrors) as info:
        runbook.validate(playbook)
    fields = sorted(p.field for p in info.value.problems)
    assert fields == ["steps[0].target", "steps[0].with", "steps[0].with.comand",
                      "steps[1].id", "steps[1].register", "steps[1].with.step",
                      "steps[2].restores"]


def test_running_an_invalid_python_playbook_runs_nothing(tmp_path: Path) -> None:
    """The safety rule holds for playbooks built in code too: invalid means nothing runs."""
    marker = tmp_path / "marker"
    playbook = Playbook(runbook=1, name="invalid", steps=[
        Step(id="touch", action="host.shell", with_={"command": ["touch", str(marker)]}),
        Step(id="bad", action="host.shel", with_={"command": ["true"]}),
    ])
    error: RunbookError | None = None
    exit_code = None
    try:
        exit_code = runbook.run(playbook, yes=True).exit_code
    except RunbookError as exc:
        error = exc
    assert not marker.exists(), f"step 'touch' ran before {error or 'the run'} stopped it"
    assert isinstance(error, runbook.PlaybookError) or exit_code == 2, (
        f"expected a validation error (or exit 2), got {error!r} / exit {exit_code}")


def test_models_accept_python_names_and_yaml_aliases() -> None:
    by_alias = Step.model_validate({"id": "a", "action": "host.shell",
                                    "with": {"command": ["true"]}, "register": "r"})
    by_name = Step(id="a", action="host.shell", with_={"command": ["true"]}, register_as="r")
    assert by_alias == by_name
    dumped = by_name.model_dump(by_alias=True, exclude_defaults=True)
    assert dumped == {"id": "a", "action": "host.shell", "with": {"command": ["true"]},
                      "register": "r"}
    assert Check(probe="host.query", that="x == 1").that == ["x == 1"]
    assert Step(id="t", action="flow.sleep", timeout="5m").timeout == 300.0


def test_loads_and_load_return_the_same_model(tmp_path: Path) -> None:
    text = ("runbook: 1\nname: same\nsteps:\n"
            "  - {id: a, action: host.shell, with: {command: [echo, hi]}}\n")
    path = tmp_path / "same.yaml"
    path.write_text(text, encoding="utf-8")
    from_file = runbook.load(path)
    from_text = runbook.loads(text)
    assert from_file.model_dump() == from_text.model_dump()
    assert from_file.origin == str(path)
    assert from_file.sha256 == from_text.sha256
    result = runbook.run(str(path), yes=True)
    assert result.exit_code == 0


def test_all_is_sorted_and_every_name_resolves() -> None:
    assert runbook.__all__ == sorted(runbook.__all__)
    assert len(set(runbook.__all__)) == len(runbook.__all__)
    for name in runbook.__all__:
        assert getattr(runbook, name) is not None, name
    assert runbook.Playbook is Playbook
    assert issubclass(runbook.ValidationErrors, runbook.PlaybookError)
    assert issubclass(runbook.PlaybookError, runbook.RunbookError)
    assert callable(runbook.run) and callable(runbook.validate)


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        getattr(runbook, "nope")  # noqa: B009
    assert sorted(dir(runbook)) == runbook.__all__


def test_type_checkers_can_see_the_public_names() -> None:
    """``runbook`` ships py.typed; mypy and pyright only honour a literal ``__all__``.

    Built with ``sorted([...])`` it is invisible to them, and ``mypy --strict`` rejects
    ``runbook.run`` and every other lazy name in user code.
    """
    tree = ast.parse(Path(runbook.__file__).read_text(encoding="utf-8"))
    values = [node.value for node in tree.body if isinstance(node, ast.Assign)
              and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)]
    assert len(values) == 1
    try:
        literal = ast.literal_eval(values[0])
    except ValueError:
        pytest.fail(f"__all__ is computed ({ast.unparse(values[0])[:60]}...), not a literal "
                    "list: type checkers do not see the public names")
    assert list(literal) == runbook.__all__


# --- the library is as complete as the CLI ------------------------------------------------


def test_a_mistyped_field_raises_runbooks_own_error_with_a_suggestion() -> None:
    import pydantic

    with pytest.raises(runbook.ValidationErrors) as info:
        Step(id="a", action="host.shell", confrim="sure?")
    assert not isinstance(info.value, pydantic.ValidationError)
    [problem] = info.value.problems
    assert problem.file == "<python>" and problem.field == "confrim"
    assert "unknown key 'confrim' (did you mean 'confirm'?)" in problem.message
    with pytest.raises(runbook.ValidationErrors) as nested:
        Step(id="a", action="host.shell", rollback={"actoin": "host.shell"})
    fields = {p.field: p.message for p in nested.value.problems}
    assert "did you mean 'action'?" in fields["rollback.actoin"]
    assert set(fields) == {"rollback.actoin", "rollback.action"}


def test_invalid_action_arguments_are_runbooks_own_error() -> None:
    from runbook.errors import ArgumentsInvalid
    from runbook.plugins import default_registry

    shell = default_registry().action("host.shell")
    with pytest.raises(ArgumentsInvalid) as info:
        shell.validate_args({"comand": ["true"]})
    assert isinstance(info.value, RunbookError)
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert ("comand", "Extra inputs are not permitted") in info.value.problems
    assert str(info.value).startswith("invalid arguments for host.shell: ")


def test_errors_raised_through_the_api_do_not_speak_of_the_command_line(
        tmp_path: Path) -> None:
    playbook = Playbook(runbook=1, name="needs", params={"word": Param(type="string")},
                        steps=[Step(id="a", action="host.shell", with_={"command": ["true"]})])
    with pytest.raises(runbook.ValidationErrors) as info:
        runbook.run(playbook)
    [problem] = info.value.problems
    assert (problem.file, problem.field) == ("<params>", "params.word")
    assert "-p" not in str(info.value) and "command line" not in str(info.value)
    with pytest.raises(runbook.PlaybookError) as sandbox:
        runbook.run(playbook, {"word": "x"}, sandbox="no-such-scenario")
    assert sandbox.value.problem.field == "sandbox"
    assert "--sandbox" not in str(sandbox.value)


OPERATOR = {"kind": "deployment", "name": "cray-cfs-operator", "namespace": "services"}


def _world_replicas(directory: Path) -> int:
    """The operator's desired replicas, as the sandbox's kubectl reports them."""
    get = Step(id="get", action="kubectl.get", with_=OPERATOR)
    result = runbook.run(Playbook(runbook=1, name="reads", steps=[get]), sandbox=directory)
    assert result.outcome == "succeeded", result.error
    return int(result.step("get").result["replicas"]["desired"])


def test_run_in_a_sandbox_given_as_a_scenario_or_a_folder(tmp_path: Path) -> None:
    from runbook import sim

    query = Step(id="get", action="host.query", register_as="dep", with_={"command": [
        "kubectl", "-n", "services", "get", "deployment", "cray-cfs-operator", "-o", "json"]})
    playbook = Playbook(runbook=1, name="sandboxed", steps=[query])
    result = runbook.run(playbook, sandbox="cfs-stuck-sessions", yes=True)
    assert result.outcome == "succeeded", result.error
    assert '"cray-cfs-operator"' in result.step("get").result["stdout"]

    box = tmp_path / "box"
    sim.init_sandbox("cfs-stuck-sessions", box)
    scale = Step(id="scale", action="kubectl.scale", rollback="auto",
                 with_={"deployment": "cray-cfs-operator", "namespace": "services",
                        "replicas": 0})
    before = _world_replicas(box)
    result = runbook.run(Playbook(runbook=1, name="scales", steps=[scale]), sandbox=box,
                         yes=True)
    assert result.outcome == "succeeded", result.error
    assert before != 0 and _world_replicas(box) == 0


def test_resume_rolls_back_a_run_left_needing_attention(tmp_path: Path) -> None:
    made, second, switch = tmp_path / "made", tmp_path / "second", tmp_path / "go"

    def playbook() -> Playbook:
        return Playbook(runbook=1, name="resumable", steps=[
            Step(id="make", action="host.shell", with_={"command": ["touch", str(made)]},
                 rollback=Rollback(action="host.shell",
                                   with_={"command": ["rm", "-f", str(made)]})),
            Step(id="gate", action="host.shell", on_fail="abort",
                 with_={"command": ["test", "-e", str(switch)]}),
            Step(id="second", action="host.shell", with_={"command": ["touch", str(second)]}),
        ])

    first = runbook.run(playbook(), yes=True)
    assert first.outcome == "needs-attention" and made.exists()
    with pytest.raises(runbook.PlaybookError, match="no run 'nope' in the journal") as unknown:
        runbook.resume("nope")
    assert (unknown.value.problem.file, unknown.value.problem.field) == ("<resume>", "run_id")
    with pytest.raises(runbook.PlaybookError, match="built in Python; give it again"):
        runbook.resume(first.run_id)
    undone = runbook.resume(first.run_id, rollback=True, playbook=playbook(), yes=True)
    assert undone.run_id == first.run_id and undone.outcome == "rolled-back"
    assert not made.exists() and [r.step for r in undone.rollbacks] == ["make"]
    with pytest.raises(runbook.PlaybookError, match="already finished"):
        runbook.resume(first.run_id, playbook=playbook())

    again = runbook.run(playbook(), yes=True)
    assert again.outcome == "needs-attention" and made.exists()
    resumed = runbook.resume(again.run_id, playbook=playbook(), yes=True)
    assert resumed.step("make").when == "done before the runner stopped"
    assert "step 'gate' had failed before the runner stopped" in (resumed.error or "")
    assert resumed.outcome == "rolled-back" and not made.exists() and not second.exists()


def test_a_sandbox_runs_ssh_targets_on_its_simulated_hosts_without_an_sshd(
        tmp_path: Path) -> None:
    import sys

    from runbook import sim

    plugins = Path(__file__).resolve().parent / "plugins"
    if str(plugins) not in sys.path:
        sys.path.insert(0, str(plugins))
    from runbook_simhosts.testing import registered

    text = """
runbook: 1
name: on-hosts
targets:
  db1: {connection: ssh, host: db1, user: ops}
  db2: {connection: ssh, host: 127.0.1.12, user: ops}
  db3: {connection: ssh, host: db3, user: ops}
  dbs: {hosts: [db1, db2]}
steps:
  - {id: who, action: host.query, target: db1, with: {command: [hostinfo]}}
  - {id: bump, action: host.shell, target: dbs, with: {command: [hostinfo, bump]}}
  - {id: down, action: host.query, target: db3, with: {command: [hostinfo]}}
"""
    with registered():
        box = sim.init_sandbox("two-hosts", tmp_path / "box")
        result = runbook.run(runbook.loads(text), sandbox=box, yes=True)
    assert result.step("who").result["stdout"].strip() == "db1 127.0.1.11 primary"
    bump = result.step("bump")
    assert bump.status == "ok" and set(bump.hosts) == {"db1", "db2"}
    assert {h: v["stdout"].strip() for h, v in bump.result.items()} == {"db1": "1", "db2": "1"}
    assert result.step("down").status == "failed"
    assert "cannot connect" in (result.step("down").error or "")
    assert sim.load_state(box)["hostinfo"]["calls"] == {"db1": 1, "db2": 1, "db3": 0}
