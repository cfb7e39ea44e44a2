"""A reader of Config::General files (stompclt's and simplevisor's configuration).

Pure functions over the file's text, shared by the ``stomp.config`` and
``simplevisor.config`` parsers: ``name = value`` lines, ``#`` comments,
``<block>`` ... ``</block>`` nesting (a repeated block or key becomes a list),
here-documents (``name = <<EOF``) and ``<<include FILE>>`` lines (resolved by
the caller, who can read files). Secrets (``pass`` keys, ``auth`` values) are
replaced by ``***`` as they are read, so no parsed value ever holds one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from runbook.parsing import ParseError

MASK = "***"
_SECRET_KEYS = ("pass", "password", "auth", "passcode")
_OPEN = re.compile(r"^<(?P<name>[A-Za-z0-9_.:-]+)>$")
_CLOSE = re.compile(r"^</(?P<name>[A-Za-z0-9_.:-]+)>$")
_INCLUDE = re.compile(r"^<<include\s+(?P<path>[^>]+)>>$")
_SETTING = re.compile(r"^(?P<key>[A-Za-z0-9_.:-]+)\s*=\s*(?P<value>.*)$")
_HEREDOC = re.compile(r"^<<(?P<end>[A-Za-z0-9_]+)$")

Include = Callable[[str], str]


def is_secret(key: str) -> bool:
    """``pass`` keys and ``auth`` values (also flat: ``outgoing-broker-auth``)."""
    last = key.rsplit("-", 1)[-1].lower()
    return last in _SECRET_KEYS


def unquote(value: str) -> str:
    """One pair of surrounding double quotes is not part of the value."""
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def _add(node: dict[str, Any], key: str, value: Any) -> None:
    if key not in node:
        node[key] = value
    elif isinstance(node[key], list) and isinstance(value, dict) is isinstance(
            node[key][0], dict):
        node[key].append(value)
    else:
        node[key] = [node[key], value]


def _expand(lines: list[str], include: Include | None, depth: int = 0) -> list[str]:
    out: list[str] = []
    for line in lines:
        match = _INCLUDE.match(line.strip())
        if match is None:
            out.append(line)
            continue
        if include is None or depth > 8:
            raise ParseError(f"cannot follow {line.strip()}")
        out += _expand(include(match["path"].strip()).splitlines(), include, depth + 1)
    return out


def parse(text: str, include: Include | None = None) -> dict[str, Any]:
    """The tree of a Config::General file: blocks are dicts, values are strings."""
    lines = _expand(text.splitlines(), include)
    root: dict[str, Any] = {}
    stack: list[tuple[str, dict[str, Any]]] = [("", root)]
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        i += 1
        if not line or line.startswith("#"):
            continue
        if opened := _OPEN.match(line):
            child: dict[str, Any] = {}
            _add(stack[-1][1], opened["name"], child)
            stack.append((opened["name"], child))
        elif closed := _CLOSE.match(line):
            if len(stack) == 1 or stack[-1][0] != closed["name"]:
                raise ParseError(f"unbalanced </{closed['name']}> at line {i}")
            stack.pop()
        elif setting := _SETTING.match(line):
            key, value = setting["key"], setting["value"].strip()
            if heredoc := _HEREDOC.match(value):
                end = next((j for j in range(i, len(lines))
                            if lines[j].strip() == heredoc["end"]), None)
                if end is None:
                    raise ParseError(f"here-document {key} not closed by {heredoc['end']}")
                value, i = "\n".join(lines[i:end]), end + 1
            else:
                value = unquote(value)
            _add(stack[-1][1], key, MASK if is_secret(key) else value)
        else:
            raise ParseError(f"line {i} is neither a setting nor a block: {line!r}")
    if len(stack) > 1:
        raise ParseError(f"block <{stack[-1][0]}> is not closed")
    return root


def first(value: Any) -> Any:
    """The first of a repeated value (a key or block given twice)."""
    return value[0] if isinstance(value, list) and value else value


def lookup(tree: dict[str, Any], *path: str) -> Any:
    """A nested value, written either as blocks or flat with dashes.

    ``lookup(tree, "outgoing", "broker", "uri")`` finds ``outgoing-broker-uri
    = X``, ``<outgoing-broker> uri = X`` and ``<outgoing> <broker> uri = X``.
    """
    if not path:
        return tree
    for n in range(len(path), 0, -1):
        key = "-".join(path[:n])
        if key not in tree:
            continue
        value = first(tree[key])
        if n == len(path):
            return value
        if isinstance(value, dict):
            found = lookup(value, *path[n:])
            if found is not None:
                return found
    return None
