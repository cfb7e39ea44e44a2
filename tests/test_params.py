"""Params: typed coercion from the command line, files and Python; every problem at once."""

from __future__ import annotations

from typing import Any

import pytest

from runbook.errors import PlaybookError, ValidationErrors
from runbook.loader import loads
from runbook.models import Param, ParamType, Playbook
from runbook.params import coerce, parse_assignments, resolve_params


def param(kind: ParamType, **kw: Any) -> Param:
    return Param(type=kind, **kw)


@pytest.mark.parametrize(("kind", "given", "expected"), [
    ("string", "services", "services"),
    ("string", "", ""),
    ("string", 42, "42"),
    ("int", "3", 3),
    ("int", " 3 ", 3),
    ("int", "-7", -7),
    ("int", 5, 5),
    ("int", 5.0, 5),
    ("float", "2.5", 2.5),
    ("float", "3", 3.0),
    ("float", 1, 1.0),
    ("bool", "true", True),
    ("bool", "True", True),
    ("bool", "YES", True),
    ("bool", "on", True),
    ("bool", "1", True),
    ("bool", True, True),
    ("bool", "false", False),
    ("bool", "No", False),
    ("bool", "OFF", False),
    ("bool", "0", False),
    ("bool", False, False),
    ("duration", "500ms", 0.5),
    ("duration", "30s", 30.0),
    ("duration", "5m", 300.0),
    ("duration", "2h", 7200.0),
    ("duration", "1.5m", 90.0),
    ("duration", "45", 45.0),
    ("duration", 10, 10.0),
    ("list", '["db1", "db2"]', ["db1", "db2"]),
    ("list", "[1, 2]", [1, 2]),
    ("list", "[]", []),
    ("list", "db1,db2, db3", ["db1", "db2", "db3"]),
    ("list", "db1", ["db1"]),
    ("list", ["a", "b"], ["a", "b"]),
    ("map", '{"a": 1, "b": [2]}', {"a": 1, "b": [2]}),
    ("map", "{}", {}),
    ("map", {"a": 1}, {"a": 1}),
])
def test_coerce(kind: ParamType, given: Any, expected: Any) -> None:
    value = coerce(param(kind), given)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(("given", "expected"), [
    ("8080", ["8080"]),
    ("8080,8081", ["8080", "8081"]),
    ("true", ["true"]),
])
def test_a_one_item_comma_list_is_a_list(given: str, expected: list[str]) -> None:
    """``-p ports=8080`` is a list of one, like ``-p ports=8080,8081`` is a list of two."""
    assert coerce(param("list"), given) == expected


@pytest.mark.parametrize(("kind", "given", "message"), [
    ("int", "abc", "expected an integer"),
    ("int", "3.5", "expected an integer"),
    ("int", 3.5, "expected an integer"),
    ("int", True, "expected an integer"),
    ("int", "", "expected an integer"),
    ("float", "fast", "expected a number"),
    ("float", False, "expected a number"),
    ("bool", "maybe", "expected true or false"),
    ("bool", "", "expected true or false"),
    ("bool", 2, "expected true or false"),
    ("duration", "5 minutes", "expected a duration"),
    ("duration", "soon", "expected a duration"),
    ("duration", "-5s", "expected a duration"),
    ("duration", -1, "cannot be negative"),
    ("duration", True, "expected a duration"),
    ("list", '{"a": 1}', "expected a list"),
    ("list", {"a": 1}, "expected a list"),
    ("map", "a=1", "expected a map"),
    ("map", "[1, 2]", "expected a map"),
    ("map", ["a"], "expected a map"),
    ("string", ["a"], "expected a string"),
    ("string", {"a": 1}, "expected a string"),
])
def test_coerce_refuses(kind: ParamType, given: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        coerce(param(kind), given)


def test_choices() -> None:
    replicas = param("int", choices=[1, 2, 3])
    assert coerce(replicas, "2") == 2
    with pytest.raises(ValueError, match=r"expected one of \[1, 2, 3\], got 4"):
        coerce(replicas, "4")
    mode = param("string", choices=["fast", "safe"])
    assert coerce(mode, "safe") == "safe"
    with pytest.raises(ValueError, match="expected one of"):
        coerce(mode, "Safe")


PLAYBOOK = loads("""\
runbook: 1
name: params
params:
  namespace: {type: string, default: services}
  replicas: {type: int, default: 1, choices: [1, 2, 3]}
  quiet_for: {type: duration, default: 60s}
  force: {type: bool, default: false}
  hosts: {type: list, default: [db1]}
  api_token: {type: string, secret: true}
  ticket: {type: string}
steps:
  - id: greet
    action: host.shell
    with: {command: [echo, "{{ namespace }}"]}
""")


def test_defaults_are_applied_and_typed() -> None:
    params = resolve_params(PLAYBOOK, {"api_token": "s3cret", "ticket": "INC-1"})
    assert params == {"namespace": "services", "replicas": 1, "quiet_for": 60.0,
                      "force": False, "hosts": ["db1"], "api_token": "s3cret",
                      "ticket": "INC-1"}


def test_given_strings_are_coerced() -> None:
    params = resolve_params(PLAYBOOK, {"api_token": "x-token", "ticket": "INC-1", "replicas": "3",
                                       "quiet_for": "2m", "force": "yes",
                                       "hosts": "db1,db2"})
    assert params["replicas"] == 3
    assert params["quiet_for"] == 120.0
    assert params["force"] is True
    assert params["hosts"] == ["db1", "db2"]


def test_unknown_and_missing_params_are_reported_together() -> None:
    with pytest.raises(ValidationErrors) as info:
        resolve_params(PLAYBOOK, {"namespce": "x", "api_token": "x-token"})
    problems = {p.field: p.message for p in info.value.problems}
    assert set(problems) == {"params.namespce", "params.ticket"}
    assert "unknown param" in problems["params.namespce"]
    assert "namespace" in problems["params.namespce"], "the known names are listed"
    assert "required param not given" in problems["params.ticket"]
    assert "-p ticket=VALUE" in problems["params.ticket"]
    assert all(p.file == "<command line>" for p in info.value.problems)


def test_every_param_problem_is_reported_in_one_error() -> None:
    with pytest.raises(ValidationErrors) as info:
        resolve_params(PLAYBOOK, {"bogus": "1", "replicas": "7", "force": "perhaps",
                                  "quiet_for": "a while"})
    fields = sorted(p.field for p in info.value.problems)
    assert fields == ["params.api_token", "params.bogus", "params.force", "params.quiet_for",
                      "params.replicas", "params.ticket"]


def test_secret_value_is_not_in_the_error() -> None:
    """Secret params never reach the console, not even in a "wrong type" message."""
    playbook = Playbook.model_validate({
        "runbook": 1, "name": "secret",
        "params": {"token": {"type": "int", "secret": True}},
        "steps": [{"id": "a", "action": "host.shell", "with": {"command": ["true"]}}]})
    with pytest.raises(ValidationErrors) as info:
        resolve_params(playbook, {"token": "hunter2"})
    assert "hunter2" not in str(info.value)


def test_parse_assignments() -> None:
    assert parse_assignments(["a=1", "b=x=y", "c=", " d =v"]) == {
        "a": "1", "b": "x=y", "c": "", "d": "v"}
    with pytest.raises(PlaybookError, match="expected NAME=VALUE"):
        parse_assignments(["novalue"])
    with pytest.raises(PlaybookError, match="expected NAME=VALUE"):
        parse_assignments(["=value"])
