"""JSON Schemas of playbooks and inventories, for editors (completion, hover, red squiggles).

Generated, never written by hand: the shapes come from the models
(``runbook.models``), each step's ``with`` from its action's argument model,
each target's settings from its connection kind's settings model, all from
the plugins loaded now, so a plugin's actions and kinds are in the schema
as soon as it is installed. The schema checks shape only; what needs the
whole playbook (unique ids, declared targets, ``restores`` order) stays the
loader's (``runbook validate``). Where a value may be a Jinja template
(action arguments, target settings) a ``{{ ... }}`` string is accepted in
place of any type, since it is typed only when rendered.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from pydantic.json_schema import models_json_schema

from runbook.executors.kinds import kinds
from runbook.models import DURATION_SCHEMA, Playbook
from runbook.params import _FALSE, _TRUE

if TYPE_CHECKING:
    from pydantic import BaseModel

    from runbook.plugins import Registry

__all__ = ["inventory_schema", "playbook_schema"]

DRAFT = "https://json-schema.org/draft/2020-12/schema"
TEMPLATE: dict[str, Any] = {"type": "string", "pattern": r"\{\{|\{%",
                            "description": "a Jinja template, typed when rendered"}
ONE_OR_MANY: dict[str, Any] = {"anyOf": [{"type": "string"},
                                         {"type": "array", "items": {"type": "string"}}]}


def _registry(registry: Registry | None) -> Registry:
    if registry is None:
        from runbook.plugins import default_registry

        registry = default_registry()
    return registry


def _def_name(model: type[BaseModel]) -> str:
    return f"{model.__module__}.{model.__qualname__}".replace(".", "_")


def _defs(models: list[type[BaseModel]]) -> tuple[dict[str, str], dict[str, Any]]:
    """Each model's name in ``$defs``, and the ``$defs`` (one namespace for all)."""
    unique = list(dict.fromkeys(models))
    keys, top = models_json_schema([(m, "validation") for m in unique], by_alias=True)
    refs = {_def_name(m): str(keys[(m, "validation")]["$ref"]).rsplit("/", 1)[-1]
            for m in unique}
    return refs, dict(top.get("$defs", {}))


def _templatable(node: Any) -> Any:
    """A schema in which every value may also be a template string (recursively)."""
    if not isinstance(node, dict):
        return node
    out = dict(node)
    for key in ("properties", "patternProperties"):
        if isinstance(out.get(key), dict):
            out[key] = {k: _loose(v) for k, v in out[key].items()}
    for key in ("items", "additionalProperties"):
        if isinstance(out.get(key), dict):
            out[key] = _loose(out[key])
    for key in ("anyOf", "oneOf", "allOf"):
        if isinstance(out.get(key), list):
            out[key] = [_templatable(v) for v in out[key]]
    return out


def _loose(node: dict[str, Any]) -> dict[str, Any]:
    inner: dict[str, Any] = _templatable(node)
    if inner.get("type") == "string" and "pattern" not in inner and "enum" not in inner:
        return inner
    meta: dict[str, Any] = {k: inner.pop(k) for k in ("title", "description", "default")
                            if k in inner}
    return {"anyOf": [inner, TEMPLATE], **meta}


def _by_action(actions: dict[str, str], key: str) -> list[dict[str, Any]]:
    """``if action == NAME then with: <its argument schema>`` for each action."""
    return [{"if": {"properties": {key: {"const": name}}, "required": [key]},
             "then": {"properties": {"with": {"$ref": f"#/$defs/{ref}"}}}}
            for name, ref in actions.items()]


def _target_schema(registry: Registry, refs: dict[str, str], defs: dict[str, Any],
                   hosts: dict[str, Any]) -> dict[str, Any]:
    """A target: ``connection`` names a kind, whose settings (only) it then takes."""
    every = kinds(registry)
    common = {"connection": {"enum": sorted(every)}, "hosts": hosts,
              "vars": {"type": "object"}, "shared": {"type": "boolean"}}
    rules: list[dict[str, Any]] = []
    for name, kind in sorted(every.items()):
        if kind.settings is None:
            continue
        settings = defs[refs[_def_name(kind.settings)]]
        props = {**_templatable(settings).get("properties", {}), **common}
        when: dict[str, Any] = {"properties": {"connection": {"const": name}},
                                "required": ["connection"]}
        if name == "local":  # the kind of a target that names none
            when = {"anyOf": [when, {"not": {"required": ["connection"]}}]}
        rules.append({"if": when, "then": {"properties": props, "additionalProperties": False}})
    return {"type": "object", "properties": common, "allOf": rules,
            "description": "where commands run; connection names the kind whose settings "
                           "it takes"}


def _base(registry: Registry) -> tuple[dict[str, Any], dict[str, str], dict[str, str],
                                       dict[str, str]]:
    """The playbook's ``$defs`` with every action's and kind's models; the refs of the
    actions, of the read-only ones, and of every model."""
    actions = dict(sorted(registry.actions.items()))
    models: list[type[BaseModel]] = [Playbook, *(a.Args for a in actions.values())]
    models += [k.settings for k in kinds(registry).values() if k.settings is not None]
    refs, defs = _defs(models)
    by_action: dict[str, str] = {}
    for name, action in actions.items():
        ref = refs[_def_name(action.Args)]
        defs[ref] = {**_templatable(defs[ref]), "additionalProperties": False}
        by_action[name] = ref
    probes = {n: r for n, r in by_action.items() if not actions[n].mutating}
    return defs, by_action, probes, refs


def playbook_schema(registry: Registry | None = None) -> dict[str, Any]:
    """The JSON Schema of a playbook, with the actions and connection kinds loaded now."""
    registry = _registry(registry)
    defs, by_action, probes, refs = _base(registry)
    playbook = copy.deepcopy(defs.pop(refs[_def_name(Playbook)]))
    step, check, rollback = defs["Step"], defs["Check"], defs["Rollback"]
    step["properties"]["action"] = {"enum": list(by_action), "description": "an action"}
    step["properties"]["id"] = {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]*$"}
    step["properties"]["tags"] = {"anyOf": [_TAG_LIST, {"type": "array", "items": _TAG}]}
    step["allOf"] = _by_action(by_action, "action")
    check["properties"]["probe"] = {"enum": list(probes), "description": "a read-only action"}
    check["properties"]["that"] = ONE_OR_MANY
    check["allOf"] = _by_action(probes, "probe")
    rollback["properties"]["action"] = {"enum": list(by_action)}
    rollback["allOf"] = _by_action(by_action, "action")
    defs["Target"] = _target_schema(registry, refs, defs, _HOSTS)
    playbook["properties"]["name"] = {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]*$"}
    playbook["properties"]["steps"]["minItems"] = 1
    playbook["required"] = [*playbook.get("required", []), "steps"]
    defs["Param"]["allOf"] = [
        {"if": {"properties": {"type": {"const": kind}}, "required": ["type"]},
         "then": {"properties": {"default": {"anyOf": [schema, {"type": "null"}]}}}}
        for kind, schema in _PARAM_DEFAULTS.items()]
    return {"$schema": DRAFT, "$id": "https://runbook.invalid/schema/playbook.json",
            "title": "runbook playbook", **playbook, "$defs": defs}


_TAG: dict[str, Any] = {"type": "string", "pattern": "^[A-Za-z0-9_][A-Za-z0-9_.-]*$",
                        "not": {"enum": ["all", "tagged", "untagged"]}}
_NAME = r"[A-Za-z0-9_][A-Za-z0-9_.-]*"
_TAG_LIST: dict[str, Any] = {  # one string, split on commas
    "type": "string", "pattern": rf"^\s*{_NAME}(\s*,\s*{_NAME})*\s*$",
    "not": {"pattern": r"(^|,)\s*(all|tagged|untagged)\s*(,|$)"}}
_PARAM_DEFAULTS: dict[str, Any] = {  # what runbook.params.coerce accepts
    "int": {"anyOf": [{"type": "integer"}, {"type": "string", "pattern": r"^\s*[-+]?\d+\s*$"}]},
    "float": {"anyOf": [{"type": "number"},
                        {"type": "string", "pattern": r"^\s*[-+]?(\d+\.?\d*|\.\d+)\s*$"}]},
    "bool": {"anyOf": [{"type": "boolean"}, {"enum": [0, 1]}, {"enum": sorted(
        {*_TRUE, *_FALSE, *(v.title() for v in _TRUE | _FALSE),
         *(v.upper() for v in _TRUE | _FALSE)}, key=str)}]},
    "duration": DURATION_SCHEMA, "list": {"type": ["array", "string"]},
    "map": {"type": ["object", "string"]},
    "string": {"type": ["string", "number", "boolean"]}}
_HOSTS: dict[str, Any] = {"anyOf": [{"type": "array", "items": {"type": "string"}},
                                    {"type": "null"}]}
_MEMBERS: dict[str, Any] = {"type": "array", "minItems": 1, "items": {"anyOf": [
    {"type": "string"}, {"type": "object", "required": [], "properties": {
        "name": {"type": "string"}}}]}}


def inventory_schema(registry: Registry | None = None) -> dict[str, Any]:
    """The JSON Schema of runbook's own inventory format (targets: and groups:)."""
    registry = _registry(registry)
    models = [k.settings for k in kinds(registry).values() if k.settings is not None]
    refs, defs = _defs(models)
    target = _target_schema(registry, refs, defs, _HOSTS)
    group = copy.deepcopy(_target_schema(registry, refs, defs, _MEMBERS))
    group["required"] = ["hosts"]
    for rule in group["allOf"]:  # a group's members may name themselves
        rule["then"]["properties"]["name"] = {"type": "string"}
    uri = {"type": "string", "description": "a URI: local, ssh://user@host:22, ..."}
    return {
        "$schema": DRAFT, "$id": "https://runbook.invalid/schema/inventory.json",
        "title": "runbook inventory", "type": "object", "additionalProperties": False,
        "properties": {
            "targets": {"type": ["object", "null"],
                        "additionalProperties": {"anyOf": [{"$ref": "#/$defs/Target"}, uri]}},
            "groups": {"type": ["object", "null"],
                       "additionalProperties": {"$ref": "#/$defs/Group"}}},
        "$defs": {**defs, "Target": target, "Group": group},
    }
