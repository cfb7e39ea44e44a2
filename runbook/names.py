"""Undefined names in templates and expressions, refused when the playbook loads.

``{{ log_dri }}``, ``when: compres`` or ``steps.dran.result`` used to pass
validation and fail mid-run, after changes were made. Every name a template
or expression can see is known at load time: the params, the registered
results, ``steps.<id>``, ``checks.<id>``, ``targets.<name>`` and the built-ins.
Anything else is reported with its file:line and a did-you-mean, like an
unknown key. (Target settings are not checked here: an inventory or the
caller may render them with names of their own.)
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from runbook.templating import is_template

if TYPE_CHECKING:
    from jinja2 import nodes

    from runbook.rules import Rules
    from runbook.yamlsrc import Path as FieldPath

BUILTINS = frozenset({"params", "steps", "checks", "targets", "target", "result", "run",
                      "range", "dict", "lipsum", "cycler", "joiner", "namespace"})
"""What every template sees besides params and registered results (Jinja's globals too)."""

SHOWN = ("params", "steps", "checks", "targets", "target", "result")

EXPRESSION_KEYS = ("when", "until", "that")
"""Fields that hold a bare expression rather than a template."""


def undefined_names(rules: Rules) -> None:
    """The playbook rule: every name used is one the run will define."""
    data = rules.data
    known = _known(data)
    refs = {"steps": {s.get("id") for s in _dicts(data.get("steps"))} - {None},
            "checks": _check_ids(data), "targets": _target_names(rules, data)}
    checked = {k: v for k, v in data.items() if k != "targets"}
    for path, text, is_expr in _sources(checked, ()):
        problem = _check(rules, text, is_expr, known, refs)
        if problem:
            rules.add(path, problem)


def _check(rules: Rules, text: str, is_expr: bool, known: set[str],
           refs: dict[str, set[Any]]) -> str | None:
    import jinja2
    from jinja2 import meta

    source = "{{ " + text + " }}" if is_expr else text
    try:
        ast = rules.templates.env.parse(source)
    except jinja2.TemplateSyntaxError:
        return None  # the compile rules report it
    for name in sorted(meta.find_undeclared_variables(ast)):
        if name not in known:
            own = sorted(known - BUILTINS)
            return (f"undefined name {name!r} in {text!r}" + _hint(name, known)
                    + "; known: " + ", ".join(own + sorted(SHOWN)))
    for root, key in _references(ast):
        if root in refs and refs[root] and key not in refs[root]:
            return (f"{root}.{key} in {text!r}: no {root[:-1]} {key!r}"
                    + _hint(key, {str(k) for k in refs[root]})
                    + f"; {root}: {', '.join(sorted(str(k) for k in refs[root]))}")
    return None


def _references(ast: nodes.Template) -> Iterator[tuple[str, str]]:
    """(``steps``, id) for each ``steps.id`` / ``steps['id']`` (and checks, targets)."""
    from jinja2 import nodes

    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        if isinstance(node, nodes.Getattr) and isinstance(node.node, nodes.Name):
            yield node.node.name, node.attr
        elif isinstance(node, nodes.Getitem) and isinstance(node.node, nodes.Name) \
                and isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            yield node.node.name, node.arg.value


def _known(data: dict[str, Any]) -> set[str]:
    params = data.get("params")
    registers = {s.get("register") for s in _dicts(data.get("steps"))}
    return set(BUILTINS) | (set(map(str, params)) if isinstance(params, dict) else set()) | {
        r for r in registers if isinstance(r, str)}


def _check_ids(data: dict[str, Any]) -> set[Any]:
    ids: set[Any] = set()
    for section in ("preconditions", "verify"):
        for i, check in enumerate(_dicts(data.get(section))):
            ids.add(check.get("id") or f"{section[:-1] if section == 'preconditions' else section}"
                    f"-{i + 1}")
    for step in _dicts(data.get("steps")):
        for j, check in enumerate(_dicts(step.get("checks"))):
            ids.add(check.get("id") or f"{step.get('id')}-check-{j + 1}")
    return ids


def _target_names(rules: Rules, data: dict[str, Any]) -> set[Any]:
    targets = data.get("targets")
    names = set(targets) if isinstance(targets, dict) else set()
    if rules.extra_targets:
        names |= rules.extra_targets
    else:
        return set()  # targets may come from an inventory given only at run time
    return names | {"local"}


def _sources(value: Any, path: FieldPath) -> Iterator[tuple[FieldPath, str, bool]]:
    """(path, text, is it a bare expression) for every template and expression."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k in EXPRESSION_KEYS and isinstance(v, str):
                yield (*path, k), v, True
            elif k == "that" and isinstance(v, list):
                for i, e in enumerate(v):
                    if isinstance(e, str):
                        yield (*path, k, i), e, True
            else:
                yield from _sources(v, (*path, str(k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _sources(v, (*path, i))
    elif isinstance(value, str) and is_template(value):
        yield path, value, False


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _hint(name: str, known: set[str]) -> str:
    hint = difflib.get_close_matches(name, sorted(known), n=1)
    return f" (did you mean {hint[0]!r}?)" if hint else ""
