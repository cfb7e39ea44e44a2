"""A third-party connection kind, used the way a plugin author would.

``tests/plugins/docker_executor.py`` contributes ``connection: docker`` with its
own settings model (``image`` required), URI scheme and factory. These tests
install it as a real entry point (a ``*.dist-info`` on PYTHONPATH) and run
playbooks through ``python -m runbook``, asserting on what the commands left
behind and on the audit log; they check that its settings are validated with
file, line, field and did-you-mean like a built-in kind's; and they run the
complete example of docs/hooks.md.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import sys
import types
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import run_cli, sh

from runbook.engine import Engine, RunOptions
from runbook.errors import PlaybookError, ValidationErrors
from runbook.inventory import loads_inventory, parse_target_uri
from runbook.loader import loads
from runbook.plugins import Registry, build_registry, make_plugin_manager

PLUGINS = Path(__file__).resolve().parent / "plugins"
DOCS = Path(__file__).resolve().parent.parent / "docs" / "hooks.md"


def _module(name: str) -> types.ModuleType:
    if str(PLUGINS) not in sys.path:
        sys.path.insert(0, str(PLUGINS))
    return importlib.import_module(name)


def registry_with(*plugins: object) -> Registry:
    return build_registry(make_plugin_manager(plugins, entry_points=False))


@pytest.fixture(scope="module")
def registry() -> Registry:
    return registry_with(_module("docker_executor"))


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fixture plugin installed for ``python -m runbook`` as a package installs it:
    a distribution whose entry point in the ``runbook`` group names the module."""
    info = tmp_path / "site" / "runbook_docker_fixture-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: runbook-docker-fixture\n"
                                   "Version: 0.1\n", encoding="utf-8")
    (info / "entry_points.txt").write_text("[runbook]\ndocker = docker_executor\n",
                                           encoding="utf-8")
    path = [str(tmp_path / "site"), str(PLUGINS), os.environ.get("PYTHONPATH", "")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in path if p))


def write_yaml(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(doc, sort_keys=False, width=1000), encoding="utf-8")
    return path


def mark_playbook(path: Path, out: Path, targets: dict[str, Any] | None) -> Path:
    """One step on target ``box`` that writes the image it ran with and its directory."""
    doc: dict[str, Any] = {"runbook": 1, "name": "docker-run"}
    if targets is not None:
        doc["targets"] = targets
    doc["steps"] = [{"id": "mark", "target": "box", "action": "host.shell",
                     "with": {"command": sh('echo "$RUNBOOK_IMAGE $(pwd)" > "$1"', out)}}]
    return write_yaml(path, doc)


def audit_steps(audit: Path) -> list[dict[str, Any]]:
    events = [json.loads(line) for line in audit.read_text(encoding="utf-8").splitlines()]
    return [e for e in events if e["event"] in ("step.started", "step.finished")]


# --- end to end through the CLI ------------------------------------------------------------------

def test_a_playbook_runs_through_a_plugin_connection_kind(tmp_path: Path,
                                                          installed: None) -> None:
    out, audit, work = tmp_path / "out.txt", tmp_path / "audit.jsonl", tmp_path / "work dir"
    work.mkdir()
    pb = mark_playbook(tmp_path / "pb.yaml", out, {
        "box": {"connection": "docker", "image": "alpine:3.19", "workdir": str(work)}})
    proc = run_cli("run", pb, "--yes", "--audit-log", audit)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert out.read_text(encoding="utf-8") == f"alpine:3.19 {work}\n"
    started, finished = audit_steps(audit)
    assert (started["event"], started["step"], started["target"]) == ("step.started", "mark",
                                                                      "box")
    assert started["argv"] == ["env", "RUNBOOK_IMAGE=alpine:3.19",
                               *sh('echo "$RUNBOOK_IMAGE $(pwd)" > "$1"', out)]
    assert (finished["status"], finished["rc"]) == ("ok", 0)


def test_a_target_uri_of_the_plugins_scheme_runs_on_the_command_line(
        tmp_path: Path, installed: None) -> None:
    out, audit = tmp_path / "out.txt", tmp_path / "audit.jsonl"
    pb = mark_playbook(tmp_path / "pb.yaml", out, None)
    proc = run_cli("run", pb, "--target", f"box=docker://registry.example/team/app:1.2"
                   f"?workdir={tmp_path}", "--yes", "--audit-log", audit)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert out.read_text(encoding="utf-8") == f"registry.example/team/app:1.2 {tmp_path}\n"
    assert {e["target"] for e in audit_steps(audit)} == {"box"}


def test_a_misspelt_setting_of_the_plugin_kind_is_refused_and_nothing_runs(
        tmp_path: Path, installed: None) -> None:
    out, audit = tmp_path / "never.txt", tmp_path / "audit.jsonl"
    pb = mark_playbook(tmp_path / "pb.yaml", out, {
        "box": {"connection": "docker", "imgae": "alpine"}})
    proc = run_cli("run", pb, "--yes", "--audit-log", audit)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert (f"{pb}:6: targets.box.imgae: unknown key 'imgae' (did you mean 'image'?)"
            in proc.stderr)
    assert not out.exists()
    assert not audit.exists() or audit_steps(audit) == []


def test_without_the_plugin_the_kind_is_unknown(tmp_path: Path) -> None:
    pb = mark_playbook(tmp_path / "pb.yaml", tmp_path / "never.txt", {
        "box": {"connection": "docker", "image": "alpine"}})
    proc = run_cli("validate", pb)
    assert proc.returncode == 2
    assert "targets.box.connection: unknown connection 'docker'" in proc.stderr


# --- its settings, validated like a built-in kind's --------------------------------------------

def problems(text: str, registry: Registry) -> list[tuple[int | None, str, str]]:
    with pytest.raises(ValidationErrors) as caught:
        loads(text, file="pb.yaml", registry=registry)
    return [(p.line, p.field, p.message) for p in caught.value.problems]


def test_plugin_settings_get_file_line_field_and_did_you_mean(registry: Registry) -> None:
    found = problems("""\
runbook: 1
name: t
targets:
  a: {connection: docker, imgae: alpine}
  b: {connection: docker, image: alpine, port: 22}
  c: {connection: docker, image: [alpine]}
  d: {connection: ssh, host: db1, image: alpine}
steps:
  - {id: one, target: a, action: host.shell, with: {command: ['true']}}
""", registry)
    assert [(line, field) for line, field, _ in found] == [
        (4, "targets.a.imgae"), (5, "targets.b.port"), (6, "targets.c.image"),
        (7, "targets.d.image")]
    by_field = {field: message for _, field, message in found}
    assert by_field["targets.a.imgae"].startswith("unknown key 'imgae' (did you mean 'image'?)")
    assert by_field["targets.b.port"] == (
        "'port' is not a setting of connection: docker (it belongs to connection: ssh); "
        "connection: docker takes image, workdir, env")
    assert "valid string" in by_field["targets.c.image"]
    assert by_field["targets.d.image"].startswith(
        "'image' is not a setting of connection: ssh (it belongs to connection: docker)")


def test_a_required_setting_may_come_from_the_inventory(registry: Registry,
                                                        tmp_path: Path) -> None:
    # A playbook names the role; the image is the inventory's to say.
    loads("runbook: 1\nname: t\ntargets:\n  box: {connection: docker}\nsteps:\n"
          "  - {id: a, target: box, action: host.shell, with: {command: ['true']}}\n",
          registry=registry)
    with pytest.raises(ValidationErrors) as caught:
        loads_inventory("targets:\n  box: {connection: docker, workdir: /srv}\n"
                        "groups:\n  boxes:\n    connection: docker\n"
                        "    hosts: [{name: b1, image: x}, {name: b2}]\n",
                        file="inv.yaml", registry=registry)
    assert [(p.line, p.field, p.message) for p in caught.value.problems] == [
        (2, "targets.box.image", "required field is missing"),
        (6, "groups.boxes.hosts[1].image", "required field is missing (neither this member "
                                           "nor its group sets it)")]
    inv = loads_inventory("groups:\n  boxes:\n    connection: docker\n    image: alpine\n"
                          "    hosts: [{name: b1}, {name: b2, workdir: /srv}]\n",
                          registry=registry)
    assert inv["b2"].settings() == {"image": "alpine", "workdir": "/srv"}
    assert inv["boxes"].hosts == ["b1", "b2"]
    # A bare host name needs a kind with a host setting; docker has none.
    with pytest.raises(ValidationErrors, match="a host name needs a group with a host-based"):
        loads_inventory("groups:\n  boxes: {connection: docker, image: a, hosts: [web1]}\n",
                        registry=registry)


# --- its URI scheme ----------------------------------------------------------------------------

def test_the_plugins_uri_scheme_parses_targets(registry: Registry) -> None:
    name, target = parse_target_uri("box=docker://alpine:3.19?workdir=/srv/app",
                                    registry=registry)
    assert (name, target.connection, target.settings()) == (
        "box", "docker", {"image": "alpine:3.19", "workdir": "/srv/app"})
    inv = loads_inventory("targets:\n  box: docker://ghcr.io/team/app\n", registry=registry)
    assert inv["box"].settings() == {"image": "ghcr.io/team/app"}


@pytest.mark.parametrize(("spec", "expected"), [
    ("box=docker://?workdir=/srv", "names no image; expected docker://IMAGE"),
    ("box=docker://alpine?wrkdir=/srv", "unknown option ?wrkdir= in 'docker://alpine?wrkdir"
                                        "=/srv' (did you mean 'workdir'?)"),
    ("box=podman://alpine", "unknown scheme 'podman://'; expected "),
    ("box=podman://alpine", "docker://IMAGE[?workdir=...]"),
    ("box=alpine", "docker://IMAGE[?workdir=...]"),
])
def test_bad_uris_of_the_plugins_scheme(registry: Registry, spec: str, expected: str) -> None:
    with pytest.raises(PlaybookError) as caught:
        parse_target_uri(spec, registry=registry)
    assert caught.value.problem.field == "--target"
    assert expected in str(caught.value)


# --- the example of docs/hooks.md --------------------------------------------------------------

def docs_example() -> types.ModuleType:
    """The python block of the ``runbook_executors()`` section, as a module."""
    text = DOCS.read_text(encoding="utf-8")
    section = text[text.index("### `runbook_executors()`"):text.index("### `runbook_filters()`")]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert code is not None
    module = types.ModuleType("hooks_md_in_dir")
    exec(compile(code.group(1), str(DOCS), "exec"), module.__dict__)
    return module


def test_the_documented_example_plugin_runs_a_playbook(tmp_path: Path) -> None:
    registry = registry_with(docs_example())
    app = tmp_path / "app"
    app.mkdir()
    out = tmp_path / "where.txt"
    text = yaml.safe_dump({
        "runbook": 1, "name": "in-dir",
        "targets": {"app": {"connection": "in-dir", "dir": str(app)}},
        "steps": [{"id": "where", "target": "app", "action": "host.shell",
                   "with": {"command": sh('pwd > "$1"', out)}}]}, sort_keys=False)
    playbook = loads(text, registry=registry)
    result = Engine(playbook, {}, RunOptions(yes=True, audit=False, journal=False, lock=False),
                    registry=registry).run()
    assert result.exit_code == 0
    assert out.read_text(encoding="utf-8") == f"{app}\n"
    _, target = parse_target_uri(f"app=in-dir://{app}", registry=registry)
    assert target.settings() == {"dir": str(app)}
    with pytest.raises(ValidationErrors, match=r"unknown key 'dri' \(did you mean 'dir'\?\)"):
        loads(text.replace("dir:", "dri:"), registry=registry)
