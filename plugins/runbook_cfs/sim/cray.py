"""Stand-in for the ``cray`` CLI, the ``cfs v3 options`` and ``cfs v3 sessions`` commands.

The real CLI is built with click, so usage errors look like click's: a usage
line, a hint, ``Error: No such option: --foo`` and exit status 2. JSON output
is two-space indented with sorted keys (shared/formats/cray-cfs-*.md).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runbook.sim.argv import Parsed, UsageError, parse
from runbook.sim.store import transaction
from runbook_cfs.sim import cfs

Obj = dict[str, Any]
Handler = Callable[[Path, Parsed, list[str]], int]
FORMATS = ("json", "toml", "yaml")
_BOOL = {"1": True, "true": True, "t": True, "yes": True, "y": True, "on": True,
         "0": False, "false": False, "f": False, "no": False, "n": False, "off": False}
SESSION_STATUSES = ("pending", "running", "complete")
SUCCEEDED = ("none", "true", "false", "unknown")


class ClickError(Exception):
    """A click usage error: printed with the command's usage line, exit 2."""


def _options_flags() -> dict[str, bool]:
    return {k.replace("_", "-"): True for k in cfs.OPTION_TYPES if k not in cfs.READ_ONLY_OPTIONS}


LEAVES: dict[tuple[str, ...], tuple[dict[str, bool], list[str]]] = {
    ("cfs", "v3", "options", "list"): ({}, []),
    ("cfs", "v3", "options", "update"): (_options_flags(), []),
    ("cfs", "v3", "sessions", "list"): ({"status": True, "limit": True, "after": True,
                                         "name-contains": True, "succeeded": True}, []),
    ("cfs", "v3", "sessions", "describe"): ({}, ["SESSION_NAME"]),
    ("cfs", "v3", "sessions", "delete"): ({}, ["SESSION_NAME"]),
}
"""Command path -> (its options, each taking a value; its positional arguments)."""


def run(directory: Path, argv: list[str]) -> int:
    path: list[str] = []
    words = list(argv)
    while tuple(path) not in LEAVES:
        children = sorted({leaf[len(path)] for leaf in LEAVES if list(leaf[:len(path)]) == path})
        if not words or words[0] in ("--help", "-h"):
            print(_usage_line(path, group=True) + "\n\nCommands:\n"
                  + "".join(f"  {c}\n" for c in children))
            return 0
        word = words.pop(0)
        if word not in children:
            message = (f"No such option: {word}" if word.startswith("-")
                       else f"No such command '{word}'.")
            return _click_error(path, message, group=True)
        path.append(word)
    try:
        return _leaf(directory, path, words)
    except UsageError as exc:
        message = (f"Option '--{exc.flag}' requires an argument." if exc.kind == "missing_value"
                   else f"No such option: {exc.token.split('=')[0]}")
        return _click_error(path, message)
    except ClickError as exc:
        return _click_error(path, str(exc))


def _leaf(directory: Path, path: list[str], words: list[str]) -> int:
    """Run a command (``cfs v3 options list``...) on its words, as click would."""
    flags, arguments = LEAVES[tuple(path)]
    opts = parse(words, {**flags, "format": True, "help": False})
    if opts.flag("help"):
        print(_usage_line(path) + "\n\nOptions:\n"
              + "".join(f"  --{f} TEXT\n" for f in sorted(flags)) + "  --format TEXT\n")
        return 0
    _choice(opts, "format", FORMATS)
    if len(opts.args) < len(arguments):
        raise ClickError(f"Missing argument '{arguments[len(opts.args)]}'.")
    if len(opts.args) > len(arguments):
        extra = opts.args[len(arguments):]
        raise ClickError(f"Got unexpected extra argument{'s' if len(extra) > 1 else ''} "
                         f"({' '.join(extra)})")
    handler: Handler = HANDLERS[path[-2] + " " + path[-1]]
    return handler(directory, opts, opts.args)


def _usage_line(path: list[str], group: bool = False) -> str:
    leaf = LEAVES.get(tuple(path))
    tail = " COMMAND [ARGS]..." if group else "".join(f" {a}" for a in (leaf or ({}, []))[1])
    return f"Usage: {' '.join(['cray', *path])} [OPTIONS]{tail}"


def _click_error(path: list[str], message: str, group: bool = False) -> int:
    print(f"{_usage_line(path, group)}\nTry '{' '.join(['cray', *path])} --help' for help.\n\n"
          f"Error: {message}", file=sys.stderr)
    return 2


def _choice(opts: Parsed, name: str, choices: tuple[str, ...]) -> str | None:
    value = opts.get(name)
    if value is not None and value not in choices:
        listed = ", ".join(f"'{c}'" for c in choices)
        raise ClickError(f"Invalid value for '--{name}': '{value}' is not one of {listed}.")
    return value


def _int(opts: Parsed, name: str) -> int | None:
    value = opts.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise ClickError(f"Invalid value for '--{name}': '{value}' is not a valid integer.") \
            from None


def _emit(document: Obj, opts: Parsed) -> int:
    """Print in the requested format; toml is the CLI's default."""
    if (opts.get("format") or "toml") == "json":
        sys.stdout.write(json.dumps(document, indent=2, sort_keys=True) + "\n")
    elif opts.get("format") == "yaml":
        sys.stdout.write(json.dumps(document, indent=2, sort_keys=True) + "\n")  # JSON is YAML
    else:
        sys.stdout.write(toml(document))
    return 0


def toml(document: Obj, prefix: str = "") -> str:
    """A minimal TOML writer for the CLI's default output (tables, arrays of tables)."""
    def scalar(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, list):
            return "[ " + ", ".join(scalar(v) for v in value) + ",]" if value else "[]"
        return json.dumps(value)

    plain = [(k, v) for k, v in sorted(document.items())
             if v is not None and not isinstance(v, dict)
             and not (isinstance(v, list) and v and isinstance(v[0], dict))]
    out = "".join(f"{k} = {scalar(v)}\n" for k, v in plain)
    for key, value in sorted(document.items()):
        name = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            out += f"\n[{name}]\n" + toml(value, name).lstrip("\n")
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for item in value:
                out += f"\n[[{name}]]\n" + toml(item, name).lstrip("\n")
    return out


# -- options ----------------------------------------------------------------------

def _options_list(directory: Path, opts: Parsed, args: list[str]) -> int:
    with transaction(directory) as state:
        options = dict(state["options"])
    return _emit(options, opts)


def _options_update(directory: Path, opts: Parsed, args: list[str]) -> int:
    changes: Obj = {}
    for flag in opts.values:
        key = flag.replace("-", "_")
        if key not in cfs.OPTION_TYPES:
            continue
        kind, value = cfs.OPTION_TYPES[key], str(opts.get(flag))
        if kind == "int":
            changes[key] = _int(opts, flag)
        elif kind == "bool":
            if value.lower() not in _BOOL:
                raise ClickError(f"Invalid value for '--{flag}': '{value}' is not a valid boolean.")
            changes[key] = _BOOL[value.lower()]
        elif kind == "level":
            changes[key] = _choice(opts, flag, cfs.LOGGING_LEVELS)
        else:
            changes[key] = value
    with transaction(directory) as state:
        state["options"].update(changes)
        if changes.get("additional_inventory_source"):
            state["options"].pop("additional_inventory_url", None)
        elif changes.get("additional_inventory_url"):
            state["options"].pop("additional_inventory_source", None)
        options = dict(state["options"])
    return _emit(options, opts)


# -- sessions ---------------------------------------------------------------------

def _sessions_list(directory: Path, opts: Parsed, args: list[str]) -> int:
    status = _choice(opts, "status", SESSION_STATUSES)
    succeeded = _choice(opts, "succeeded", SUCCEEDED)
    limit = _int(opts, "limit")
    after = opts.get("after") or ""
    contains = opts.get("name-contains") or ""
    with transaction(directory) as state:
        chosen = [cfs.session_object(state, s) for _, s in sorted(cfs.sessions(state).items())
                  if (status is None or s["status"] == status)
                  and (succeeded is None or s["succeeded"] == succeeded)
                  and contains in s["name"] and s["name"] > after]
    page = chosen[:limit] if limit else chosen
    more = limit is not None and len(chosen) > limit
    return _emit({"next": {"after_id": page[-1]["name"], "limit": limit} if more and page
                  else None, "sessions": page}, opts)


def _find(directory: Path, name: str, *, delete: bool = False) -> Obj:
    with transaction(directory) as state:
        session = cfs.sessions(state).get(name)
        if session is None:
            raise ClickError(f"Data not found: Session {name} could not be found")
        document = cfs.session_object(state, session)
        if delete:
            cfs.delete_session(state, name)
    return document


def _sessions_describe(directory: Path, opts: Parsed, args: list[str]) -> int:
    return _emit(_find(directory, args[0]), opts)


def _sessions_delete(directory: Path, opts: Parsed, args: list[str]) -> int:
    _find(directory, args[0], delete=True)
    return 0


HANDLERS: dict[str, Handler] = {
    "options list": _options_list, "options update": _options_update,
    "sessions list": _sessions_list, "sessions describe": _sessions_describe,
    "sessions delete": _sessions_delete,
}
