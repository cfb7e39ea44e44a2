"""The JSON Schemas checked with a real JSON Schema validator (``jsonschema``): every
shipped playbook validates, broken playbooks the loader refuses for their shape are
refused by the schema too, action arguments and target settings are checked per
action and per connection kind, and ``runbook schema`` writes them."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from helpers import run_cli

from runbook.errors import PlaybookError
from runbook.inventory import loads_inventory
from runbook.loader import load, loads
from runbook.schema import inventory_schema, playbook_schema

TESTS = Path(__file__).resolve().parent
PLAYBOOKS = sorted((TESTS.parent / "playbooks").rglob("*.yaml"))
BROKEN = TESTS / "playbooks" / "broken"
SHAPE_CASES = [
    "04-unknown-key-retires", "05-unknown-key-tagret", "06-top-level-step",
    "07-background-maybe", "08-steps-mapping", "09-param-default-int",
    "10-param-default-bool", "11-param-default-duration", "12-bad-timeout",
    "13-bad-retry-delay", "14-name-not-lowercase", "15-step-id-with-space",
    "17-unknown-action", "18-unknown-argument", "19-missing-argument", "33-mutating-probe",
    "34-missing-runbook-version", "35-runbook-version-2", "37-several-problems",
    "38-empty-file", "39-yaml-list", "44-union-field-paths", "45-rollback-typos",
    "47-no-steps", "51-unknown-connection", "53-unknown-probe-and-check-key",
    "54-setting-of-another-connection", "64-rollback-unknown-action",
    "69-argument-out-of-range", "73-rollback-argument-typo", "74-action-not-a-name",
    "82-hosts-not-a-list", "100-tag-reserved", "101-tags-not-names",
    "130-notify-webhook-url-as-channel", "131-notify-webhook-in-playbook",
    "132-notify-unknown-event", "133-notify-bad-gate-wait",
]
"""Broken playbooks whose problem is one of shape (keys, types, values, known names),
which a schema can see; the others need the whole playbook (ids, order, templates)."""


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = playbook_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def errors(validator: jsonschema.Draft202012Validator, doc: Any) -> list[str]:
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(doc)]


@pytest.mark.parametrize("path", PLAYBOOKS, ids=lambda p: p.name)
def test_every_shipped_playbook_validates(validator: Any, path: Path) -> None:
    load(path)  # the loader accepts it too
    assert errors(validator, yaml.safe_load(path.read_text())) == []


@pytest.mark.parametrize("name", SHAPE_CASES)
def test_broken_shapes_are_refused_by_the_schema_too(validator: Any, name: str) -> None:
    path = BROKEN / f"{name}.yaml"
    with pytest.raises(PlaybookError):
        load(path)
    assert errors(validator, yaml.safe_load(path.read_text())) != []


def pb(*steps: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"runbook": 1, "name": "t", **top, "steps": list(steps)}


def test_action_arguments_per_action_with_templates(validator: Any) -> None:
    scale = {"id": "s", "action": "kubectl.scale",
             "with": {"namespace": "services", "deployment": "d", "replicas": 2}}
    assert errors(validator, pb(scale)) == []
    templated = {**scale, "with": {**scale["with"], "replicas": "{{ replicas }}"}}
    assert errors(validator, pb(templated)) == []
    wrong = {**scale, "with": {**scale["with"], "replicas": "two"}}
    assert errors(validator, pb(wrong)) and loads_fails(pb(wrong))
    typo = {**scale, "with": {**scale["with"], "replica": 2}}
    assert errors(validator, pb(typo)) and loads_fails(pb(typo))


def test_targets_per_connection_kind(validator: Any) -> None:
    step = {"id": "s", "action": "host.shell", "with": {"command": ["true"]}}
    good = pb(step, targets={"db": {"connection": "ssh", "user": "ops", "port": 22,
                                    "hosts": ["db1"]},
                             "kafka": {"connection": "kubectl-exec", "pod": "kafka-0"},
                             "ncn": {"env": {"A": "b"}}})
    assert errors(validator, good) == []
    for bad in ({"connection": "ssh", "namespace": "x"}, {"pod": "p"},
                {"connection": "ssh", "port": "ssh"}, {"connection": "telnet"}):
        doc = pb(step, targets={"t": bad})
        assert errors(validator, doc), bad
        assert loads_fails(doc), bad


def loads_fails(doc: dict[str, Any]) -> bool:
    try:
        loads(yaml.safe_dump(doc), file="t.yaml")
    except PlaybookError:
        return True
    return False


def test_inventory_schema() -> None:
    schema = inventory_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    check = jsonschema.Draft202012Validator(schema)
    good = {"targets": {"ncn": {"connection": "local"}, "bastion": "ssh://ops@bastion:22"},
            "groups": {"db": {"connection": "ssh", "user": "ops", "jump": "bastion",
                              "hosts": ["db1", {"name": "db2", "host": "10.0.0.2"}]}}}
    loads_inventory(yaml.safe_dump(good))
    assert list(check.iter_errors(good)) == []
    for bad in ({"tragets": {}}, {"groups": {"db": {"connection": "ssh"}}},
                {"targets": {"k": {"connection": "kubectl-exec", "host": "x"}}}):
        assert list(check.iter_errors(bad)), bad
        with pytest.raises(PlaybookError):
            loads_inventory(yaml.safe_dump(bad))


def test_cli_writes_the_schemas(tmp_path: Path) -> None:
    out = tmp_path / "runbook.schema.json"
    proc = run_cli("schema", "--output", out)
    assert proc.returncode == 0, proc.stderr
    assert "# yaml-language-server: $schema=" in proc.stderr
    assert json.loads(out.read_text()) == playbook_schema()
    proc = run_cli("schema", "--inventory")
    assert proc.returncode == 0 and json.loads(proc.stdout)["title"] == "runbook inventory"


def test_a_plugins_actions_and_connection_kind_are_in_the_schema(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The lighthouse fixture plugin (tests/plugins): its actions' arguments and its
    connection kind's setting are checked as soon as it is loaded."""
    monkeypatch.syspath_prepend(str(TESTS / "plugins"))
    before = set(sys.modules)
    try:
        import runbook_lighthouse

        from runbook.plugins import build_registry, make_plugin_manager

        registry = build_registry(make_plugin_manager([runbook_lighthouse]))
        schema = playbook_schema(registry)
    finally:  # imported for this test only
        for name in set(sys.modules) - before:
            if name.startswith("runbook_lighthouse"):
                del sys.modules[name]
    check = jsonschema.Draft202012Validator(schema)
    lamp = {"tower": {"connection": "lamp-console", "tower": "north"}}
    step = {"id": "on", "target": "tower", "action": "lamp.switch", "with": {"state": "on"}}
    assert errors(check, pb(step, targets=lamp)) == []
    assert errors(check, pb({**step, "with": {"state": "bright"}}, targets=lamp))
    assert errors(check, pb(step, targets={"tower": {"connection": "lamp-console",
                                                     "beacon": "north"}}))
    plain = jsonschema.Draft202012Validator(playbook_schema())
    assert errors(plain, pb(step, targets=lamp))  # without the plugin: unknown
