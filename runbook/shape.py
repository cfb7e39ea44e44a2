"""pydantic's validation errors as one readable problem per field.

The loader (and the inventory) validate shapes and types with the pydantic
models; this module turns what pydantic reports into the messages users see:
union branches folded into one message, unknown keys with a did-you-mean hint
drawn from the model at that place.
"""

from __future__ import annotations

import difflib
import typing
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from runbook.models import Playbook
from runbook.yamlsrc import Path as FieldPath

_MODEL_NAMES = {"Rollback", "Retry", "Check", "Param", "Target", "Step"}
_SCALAR_TAGS = {"int", "str", "float", "bool", "list", "dict", "none"}


def pydantic_problems(exc: ValidationError, base: FieldPath = ()) -> list[tuple[FieldPath, str]]:
    """One readable problem per field from pydantic's errors.

    pydantic reports each branch of a union separately (``serial.int`` and
    ``serial.str``; ``rollback`` as a literal and as a mapping): the branch
    tags are dropped from the path, a literal branch is dropped when the user
    wrote a mapping, and what is left is one message per field.
    """
    found: dict[FieldPath, list[str]] = {}
    for err in exc.errors(include_url=False):
        loc = _located(err, base)
        if loc is None:
            continue
        message = _message(err, loc)
        messages = found.setdefault(loc, [])
        if message not in messages:
            messages.append(message)
    return [(loc, _joined(messages)) for loc, messages in found.items()]


def _located(err: Any, base: FieldPath) -> FieldPath | None:
    """The field an error is about, union tags dropped; None for errors not reported."""
    raw = tuple(err["loc"])
    if "[key]" in raw:
        return None  # a non-string mapping key: the rules report it by name
    branch = any(isinstance(p, str) and p.startswith("literal[") for p in raw)
    if branch and isinstance(err.get("input"), dict):
        return None
    return (*base, *(p for p in raw if not (isinstance(p, str) and _is_union_tag(p))))


def _joined(messages: list[str]) -> str:
    if len(messages) == 1:
        return messages[0]
    return " or ".join(m.split(" (got ")[0] for m in messages) + _got_suffix(messages[0])


def _got_suffix(message: str) -> str:
    _, sep, got = message.partition(" (got ")
    return f" (got {got}" if sep else ""


def _is_union_tag(part: str) -> bool:
    return "[" in part or part in _MODEL_NAMES or part in _SCALAR_TAGS


def _message(err: Any, loc: FieldPath) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        return _unknown_key(str(loc[-1]), _fields_at(loc[:-1]))
    if kind == "missing":
        if loc == ("runbook",):
            return "required: the format version, runbook: 1"
        return "required field is missing"
    msg = str(err["msg"])
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    got = err.get("input")
    if kind not in ("value_error",) and not isinstance(got, (dict, list)):
        msg += f" (got {got!r})"
    if kind == "string_type" and isinstance(got, (bool, int, float)):
        msg += _quote_hint(loc, got)
    return msg


def _quote_hint(loc: FieldPath, got: bool | int | float) -> str:
    """``when: true``, ``confirm: yes``: YAML made a bool (or a number) of the text."""
    kind = "a boolean" if isinstance(got, bool) else "a number"
    text = str(got).lower() if isinstance(got, bool) else str(got)
    return f"; YAML read it as {kind}: put it in quotes ({loc[-1]}: \"{text}\")"


def _unknown_key(name: str, known: list[str]) -> str:
    hint = difflib.get_close_matches(name, known, n=1)
    suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
    return f"unknown key {name!r}{suggestion}; expected one of: {', '.join(sorted(known))}"


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _field(model: type[BaseModel], part: str | int) -> FieldInfo | None:
    fields = {(f.alias or n): f for n, f in model.model_fields.items()}
    return fields.get(part) if isinstance(part, str) else None


def _is_mapping(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    return origin is dict or (isinstance(origin, type) and issubclass(origin, dict))


def _fields_at(loc: FieldPath) -> list[str]:
    """The keys allowed at a location, for did-you-mean hints."""
    model: type[BaseModel] | None = Playbook
    for part in loc:
        if isinstance(part, int):
            continue
        found = _field(model, part) if model is not None else None
        if found is None:
            return []
        if _is_mapping(found.annotation):
            # The next part is a free-form key (a param or target name).
            value_model = _model_in(typing.get_args(found.annotation)[1])
            rest = loc[loc.index(part) + 1:]
            return _fields_in(value_model, rest[1:]) if rest else []
        model = _model_in(found.annotation)
    return list(_field_names(model)) if model else []


def _fields_in(model: type[BaseModel] | None, rest: FieldPath) -> list[str]:
    for part in rest:
        if model is None:
            return []
        if isinstance(part, int):
            continue
        found = _field(model, part)
        model = _model_in(found.annotation) if found is not None else None
    return list(_field_names(model)) if model else []


def _field_names(model: type[BaseModel]) -> Iterator[str]:
    for name, f in model.model_fields.items():
        yield f.alias or name
