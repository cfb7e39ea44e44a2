"""Turning user input (``-p K=V``, a params file, Python values) into typed params."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from runbook.durations import parse_duration
from runbook.errors import PlaybookError, Problem, ValidationErrors
from runbook.models import Param, Playbook
from runbook.redact import MIN_SECRET, secret_values

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def coerce(param: Param, value: Any) -> Any:
    """The value as the param's type; ValueError saying what was expected."""
    out = _COERCERS.get(param.type, _collection)(value, param.type)
    if param.choices is not None and out not in param.choices:
        raise ValueError(f"expected one of {param.choices}, got {out!r}")
    return out


def _string(value: Any, kind: str) -> str:
    if isinstance(value, (dict, list)):
        raise ValueError(f"expected a string, got {type(value).__name__}")
    return str(value)


def _int(value: Any, kind: str) -> int:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError(f"expected an integer, got {value!r}")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(f"expected an integer, got {value!r}") from None


def _float(value: Any, kind: str) -> float:
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"expected a number, got {value!r}") from None


def _bool(value: Any, kind: str) -> bool:
    if isinstance(value, bool):
        return value
    if str(value).lower() in _TRUE:
        return True
    if str(value).lower() in _FALSE:
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def _duration(value: Any, kind: str) -> float:
    return parse_duration(value)


def _collection(value: Any, kind: str) -> Any:
    """list, map: JSON on the command line (a list also as a,b,c), native in files and
    Python."""
    if isinstance(value, str):
        try:
            decoded = json.loads(value)
        except json.JSONDecodeError:
            decoded = None
        except RecursionError:
            raise ValueError(f"a {kind} nested too deeply") from None
        if isinstance(decoded, (list, dict)):
            value = decoded
        elif kind == "list":
            value = [v.strip() for v in value.split(",") if v.strip()]
    expected = list if kind == "list" else dict
    if not isinstance(value, expected):
        raise ValueError(f"expected a {kind}, got {value!r}")
    return value


_COERCERS: dict[str, Callable[[Any, str], Any]] = {
    "string": _string, "int": _int, "float": _float, "bool": _bool, "duration": _duration,
}


def resolve_params(playbook: Playbook, given: Mapping[str, Any], *,
                   file: str = "<command line>",
                   hint: str = "use -p {name}=VALUE") -> dict[str, Any]:
    """Defaults plus given values, typed; every problem reported at once (exit 2)."""
    problems: list[Problem] = []
    out: dict[str, Any] = {}
    for name in given:
        if name not in playbook.params:
            known = ", ".join(sorted(playbook.params)) or "none"
            problems.append(Problem(file, None, f"params.{name}",
                                    f"unknown param (this playbook takes: {known})"))
    for name, param in playbook.params.items():
        if name in given:
            raw = given[name]
        elif param.default is not None:
            raw = param.default
        else:
            problems.append(Problem(file, None, f"params.{name}",
                                    f"required param not given ({hint.format(name=name)})"))
            continue
        try:
            out[name] = coerce(param, raw)
        except ValueError as exc:
            message = f"expected a {param.type} (the value is secret, so not shown)" \
                if param.secret else str(exc)
            problems.append(Problem(file, None, f"params.{name}", message))
            continue
        if param.secret and name in given and _too_short(out[name]):
            problems.append(Problem(file, None, f"params.{name}", (
                f"a secret shorter than {MIN_SECRET} characters is refused: it could not be "
                "hidden in command output without showing where it is (and how long)")))
    if problems:
        raise ValidationErrors(problems)
    return out


def _too_short(value: Any) -> bool:
    return any(len(s) < MIN_SECRET for s in secret_values(value))


def parse_assignments(pairs: list[str]) -> dict[str, str]:
    """``["a=1", "b=x=y"]`` -> ``{"a": "1", "b": "x=y"}``."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise PlaybookError(f"expected NAME=VALUE, got {pair!r}", file="<command line>",
                                field="-p")
        out[key.strip()] = value
    return out
