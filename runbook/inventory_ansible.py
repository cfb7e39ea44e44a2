"""Ansible inventories (INI and YAML) read as runbook targets, so nobody rewrites theirs.

Each host becomes an SSH target named after the host (``ansible_connection:
local`` makes a local one); each group with hosts becomes a group target
whose ``hosts`` lists its members, children flattened, plus the implicit
``all`` (and ``ungrouped`` when some host is in no group). Variables merge as
Ansible merges them: ``all``, then groups from parent to child (same depth:
by name), then the host's own. The connection variables map to settings:

=================================================  ===============
``ansible_host`` (``ansible_ssh_host``)            ``host``
``ansible_port`` (``ansible_ssh_port``)            ``port``
``ansible_user`` (``ansible_ssh_user``)            ``user``
``ansible_ssh_private_key_file``                   ``key_file``
``ansible_password`` (``ansible_ssh_pass``)        ``password``
``ansible_become``                                 ``become``
``ansible_become_password`` (``_pass``)            ``become_password``
=================================================  ===============

A ``runbook_<setting>`` variable sets any other setting of the kind
(``runbook_known_hosts=/etc/ssh/known_hosts``, ``runbook_jump=bastion``).
``group_vars/`` and ``host_vars/`` beside the inventory file are read as
Ansible reads them (``vars_dirs``). Other variables become the target's
``vars``. Host names may hold ranges (``db[01:03]``, ``web[a:c]``,
``node[1:9:2]``). Every problem is reported at once with file and line
(ValidationErrors), like runbook's own inventories.
"""

from __future__ import annotations

import ast
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from runbook.errors import Problem, ValidationErrors
from runbook.models import Target
from runbook.yamlsrc import Source

__all__ = ["expand_range", "is_ansible_yaml", "parse_ini", "parse_yaml"]

SETTINGS = {
    "ansible_host": "host", "ansible_ssh_host": "host",
    "ansible_port": "port", "ansible_ssh_port": "port",
    "ansible_user": "user", "ansible_ssh_user": "user",
    "ansible_ssh_private_key_file": "key_file", "ansible_private_key_file": "key_file",
    "ansible_password": "password", "ansible_ssh_pass": "password",
    "ansible_ssh_password": "password",
    "ansible_become": "become",
    "ansible_become_password": "become_password", "ansible_become_pass": "become_password",
}
CONNECTIONS = {"ssh": "ssh", "smart": "ssh", "paramiko": "ssh", "local": "local"}
GROUP_KEYS = ("hosts", "children", "vars")
_RANGE = re.compile(r"\[([0-9a-zA-Z]+):([0-9a-zA-Z]+)(?::([0-9]+))?\]")
_TRUE = {"true", "yes", "on", "1", "y"}
_FALSE = {"false", "no", "off", "0", "n"}

class Value(NamedTuple):
    """A variable's value and where it was written (``file`` None: the inventory)."""

    value: Any
    line: int | None
    file: str | None = None


@dataclass
class _Group:
    line: int | None
    hosts: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    vars: dict[str, Value] = field(default_factory=dict)


@dataclass
class _Parsed:
    """Groups and hosts as the file declares them, before merging."""

    file: str
    groups: dict[str, _Group] = field(default_factory=dict)
    hosts: dict[str, dict[str, Value]] = field(default_factory=dict)
    host_lines: dict[str, int | None] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def add(self, line: int | None, fld: str, message: str, file: str | None = None) -> None:
        self.problems.append(Problem(file or self.file, line, fld, message))

    def group(self, name: str, line: int | None) -> _Group:
        if name not in self.groups:
            self.groups[name] = _Group(line)
        return self.groups[name]

    def host(self, name: str, line: int | None, variables: dict[str, Value]) -> None:
        self.hosts.setdefault(name, {}).update(variables)
        self.host_lines.setdefault(name, line)


# --- host ranges --------------------------------------------------------------------------------

def expand_range(pattern: str) -> list[str]:
    """``db[01:03]`` -> db01, db02, db03; ``[a:c]`` letters; ``[1:9:2]`` a step.
    ValueError for a range that does not read."""
    found = _RANGE.search(pattern)
    if found is None:
        if "[" in pattern or "]" in pattern:
            raise ValueError(f"host range {pattern!r} does not read; expected e.g. db[01:03] "
                             "or web[a:c]")
        return [pattern]
    start, end, step = found.group(1), found.group(2), int(found.group(3) or 1)
    head, tail = pattern[:found.start()], pattern[found.end():]
    return [head + item + rest for item in _items(start, end, step, pattern)
            for rest in expand_range(tail)]


def _items(start: str, end: str, step: int, pattern: str) -> list[str]:
    if step < 1:
        raise ValueError(f"host range {pattern!r}: the step must be 1 or more")
    if start.isdigit() and end.isdigit():
        width = len(start) if start.startswith("0") and len(start) > 1 else 0
        if int(start) > int(end):
            raise ValueError(f"host range {pattern!r} ends before it starts")
        return [str(n).zfill(width) for n in range(int(start), int(end) + 1, step)]
    if len(start) == 1 and len(end) == 1 and start.isalpha() and end.isalpha():
        if start > end:
            raise ValueError(f"host range {pattern!r} ends before it starts")
        return [chr(c) for c in range(ord(start), ord(end) + 1, step)]
    raise ValueError(f"host range {pattern!r} mixes numbers and letters; expected e.g. "
                     "db[01:03] or web[a:c]")


# --- INI ----------------------------------------------------------------------------------------

_SECTION = re.compile(r"^\[([^\]:\s]+)(?::(vars|children))?\]$")


def parse_ini(text: str, file: str) -> dict[str, Target]:
    """An Ansible INI inventory as targets (ValidationErrors naming file and line)."""
    parsed = _Parsed(file)
    section, kind = "ungrouped", "hosts"
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            header = _SECTION.match(line)
            if header is None:
                parsed.add(number, line, "a section header is [group], [group:vars] or "
                                         "[group:children]")
                section, kind = "", "skip"
                continue
            section, kind = header.group(1), header.group(2) or "hosts"
            parsed.group(section, number)
            continue
        _ini_line(parsed, section, kind, line, number)
    vars_dirs(parsed)
    return _Build(parsed).targets()


def _ini_line(parsed: _Parsed, section: str, kind: str, line: str, number: int) -> None:
    if kind == "skip":
        return
    if kind == "children":
        parsed.group(section, number).children.append(line)
        parsed.group(line, number)
        return
    try:
        words = shlex.split(line, comments=True)
    except ValueError as exc:
        parsed.add(number, section, f"cannot read this line: {exc}")
        return
    if kind == "vars":
        name, sep, value = line.partition("=")
        if not sep:
            parsed.add(number, section, f"a [{section}:vars] line is name=value (got {line!r})")
            return
        parsed.group(section, number).vars[name.strip()] = Value(_ini_value(value.strip()),
                                                                 number)
        return
    variables: dict[str, Value] = {}
    for word in words[1:]:
        name, sep, value = word.partition("=")
        if not sep:
            parsed.add(number, words[0], f"host variables are name=value (got {word!r})")
            return
        variables[name] = Value(_ini_value(value), number)
    _add_hosts(parsed, section, words[0], variables, number)


def _ini_value(text: str) -> Any:
    """Values are Python literals where they read as one (as Ansible's INI), else text."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text


def _add_hosts(parsed: _Parsed, group: str, pattern: str, variables: dict[str, Value],
               line: int | None) -> None:
    host, port = pattern, None
    outside = re.sub(r"\[[^\]]*\]", "", pattern)
    if outside.count(":") == 1:  # host:port (an IPv6 address has more colons)
        host, _, port = pattern.rpartition(":")
    try:
        names = expand_range(host)
    except ValueError as exc:
        parsed.add(line, pattern, str(exc))
        return
    if port is not None:
        if not port.isdigit():
            parsed.add(line, pattern, f"the port after ':' must be a number (got {port!r})")
            return
        variables = {"ansible_port": Value(int(port), line), **variables}
    for name in names:
        parsed.host(name, line, variables)
        if name not in parsed.group(group, line).hosts:
            parsed.groups[group].hosts.append(name)


# --- YAML ---------------------------------------------------------------------------------------

def is_ansible_yaml(data: Any) -> bool:
    """Whether parsed YAML looks like an Ansible inventory (groups with hosts/children/vars)
    rather than runbook's own (targets:/groups:)."""
    if not isinstance(data, dict) or {"targets", "groups"} & set(data):
        return False
    return any(isinstance(v, dict) and set(v) & set(GROUP_KEYS) for v in data.values())


def parse_yaml(source: Source) -> dict[str, Target]:
    """An Ansible YAML inventory (already parsed with lines) as targets."""
    parsed = _Parsed(source.file)
    for name, spec in source.data.items():
        _yaml_group(parsed, source, str(name), spec, (str(name),))
    vars_dirs(parsed)
    return _Build(parsed).targets()


def _yaml_group(parsed: _Parsed, source: Source, name: str, spec: Any,
                path: tuple[str | int, ...]) -> None:
    group = parsed.group(name, source.line_of(path))
    if spec is None:
        return
    if not isinstance(spec, dict):
        parsed.add(source.line_of(path), ".".join(map(str, path)),
                   "a group is a mapping with hosts:, children: and/or vars:")
        return
    for key, value in spec.items():
        where = (*path, str(key))
        if key not in GROUP_KEYS or not (value is None or isinstance(value, dict)):
            parsed.add(source.line_of(where), ".".join(map(str, where)),
                       f"{key}: is not a group key" if key not in GROUP_KEYS
                       else f"{key}: is a mapping")
            continue
        for item, inner in (value or {}).items():
            at = (*where, item)
            if key == "vars":
                group.vars[str(item)] = Value(inner, source.line_of(at))
            elif key == "children":
                group.children.append(str(item))
                _yaml_group(parsed, source, str(item), inner, at)
            else:
                _yaml_host(parsed, source, name, str(item), inner, at)


def _yaml_host(parsed: _Parsed, source: Source, group: str, host: str, spec: Any,
               path: tuple[str | int, ...]) -> None:
    line = source.line_of(path)
    if spec is not None and not isinstance(spec, dict):
        parsed.add(line, ".".join(map(str, path)), "a host's value is a mapping of its "
                                                   "variables (or empty)")
        return
    variables = {str(k): Value(v, source.line_of((*path, k))) for k, v in (spec or {}).items()}
    _add_hosts(parsed, group, host, variables, line)


# --- group_vars/ and host_vars/ ----------------------------------------------------------------

VARS_SUFFIXES = ("", ".yml", ".yaml", ".json")


def vars_dirs(parsed: _Parsed) -> None:
    """``group_vars/NAME`` and ``host_vars/NAME`` beside the inventory file (a YAML file,
    with or without .yml/.yaml/.json, or a folder of them), as Ansible reads them: over
    the inventory's own group vars, and host vars over the inventory's host vars."""
    inventory = Path(parsed.file)
    if not inventory.is_file():
        return
    parsed.group("all", None)
    for name, group in parsed.groups.items():
        group.vars.update(_vars_of(parsed, inventory.parent / "group_vars", name))
    for host, variables in parsed.hosts.items():
        variables.update(_vars_of(parsed, inventory.parent / "host_vars", host))


def _vars_of(parsed: _Parsed, folder: Path, name: str) -> dict[str, Value]:
    found: dict[str, Value] = {}
    if not folder.is_dir():
        return found
    files = [folder / (name + suffix) for suffix in VARS_SUFFIXES]
    if (folder / name).is_dir():
        files = sorted(p for p in (folder / name).iterdir()
                       if p.is_file() and p.suffix in VARS_SUFFIXES)
    for path in files:
        if path.is_file():
            found.update(_vars_file(parsed, path))
    return found


def _vars_file(parsed: _Parsed, path: Path) -> dict[str, Value]:
    from runbook.errors import PlaybookError
    from runbook.yamlsrc import load_yaml, read_text

    try:
        source = load_yaml(read_text(path, "vars file")[1], str(path))
    except PlaybookError as exc:
        parsed.problems.append(exc.problem)
        return {}
    if source.data is None:
        return {}
    if not isinstance(source.data, dict):
        parsed.add(1, path.name, "a vars file is a mapping of name: value", str(path))
        return {}
    return {str(k): Value(v, source.line_of((k,)), str(path)) for k, v in source.data.items()}


# --- targets ------------------------------------------------------------------------------------

class _Build:
    """Merge variables as Ansible does and make the targets."""

    def __init__(self, parsed: _Parsed) -> None:
        self.p = parsed
        parsed.groups.setdefault("all", _Group(None))
        self.parents: dict[str, set[str]] = {name: set() for name in parsed.groups}
        for name, group in parsed.groups.items():
            for child in group.children:
                self.parents.setdefault(child, set()).add(name)

    def targets(self) -> dict[str, Target]:
        p = self.p
        for name in p.hosts:
            if name in p.groups:
                p.add(p.host_lines[name], name, f"{name!r} is both a host and a group; a name "
                                                "means one thing")
        members = self.memberships()
        out: dict[str, Target] = {}
        for host in p.hosts:
            target = self.host_target(host, [g for g, hs in members.items() if host in hs])
            if target is not None:
                out[host] = target
        for name, hosts in members.items():
            if hosts and name not in p.hosts:
                out[name] = Target(connection=self.connection_of(hosts, out), hosts=hosts,
                                   vars=self.plain(self.p.groups.get(name, _Group(None)).vars))
        if p.problems:
            p.problems.sort(key=lambda x: (x.line or 0, x.field))
            raise ValidationErrors(p.problems)
        return out

    def memberships(self) -> dict[str, list[str]]:
        """Each group's hosts, children flattened; ``all`` and ``ungrouped`` implied."""
        members = {name: self.members(name, []) for name in self.p.groups}
        grouped = {h for g, hs in members.items() if g not in ("all", "ungrouped") for h in hs}
        members["all"] = list(self.p.hosts)
        members["ungrouped"] = [h for h in self.p.hosts if h not in grouped]
        return members

    def members(self, name: str, seen: list[str]) -> list[str]:
        if name in seen:
            chain = " -> ".join([*seen[seen.index(name):], name])
            self.p.add(self.p.groups[name].line, name, f"group {name!r} contains itself: {chain}")
            return []
        group = self.p.groups.get(name, _Group(None))
        found = list(group.hosts)
        for child in group.children:
            found += [h for h in self.members(child, [*seen, name]) if h not in found]
        return found

    def depth(self, name: str, seen: frozenset[str] = frozenset()) -> int:
        parents = self.parents.get(name, set()) - seen - {"all"}
        return 1 + max((self.depth(p, seen | {name}) for p in parents), default=0)

    def host_target(self, host: str, groups: list[str]) -> Target | None:
        merged: dict[str, Value] = dict(self.p.groups["all"].vars)
        for g in sorted((g for g in groups if g != "all"), key=lambda g: (self.depth(g), g)):
            merged.update(self.p.groups[g].vars if g in self.p.groups else {})
        merged.update(self.p.hosts[host])
        settings: dict[str, Any] = {"connection": "ssh", "host": host}
        problems = len(self.p.problems)
        for key, var in merged.items():
            self.setting(settings, host, key, var)
        if settings["connection"] == "local":
            settings = {k: v for k, v in settings.items() if k in ("connection", "vars")}
        if len(self.p.problems) > problems:
            return None
        from runbook.executors.validation import check_target
        from runbook.plugins import default_registry

        found, typed = check_target(default_registry(), settings, complete=True)
        for loc, message in found:
            self.p.add(self.p.host_lines.get(host), f"{host}.{'.'.join(map(str, loc))}",
                       message)
        return None if typed is None else Target.model_validate({**settings, **typed})

    def setting(self, settings: dict[str, Any], host: str, key: str, var: Value) -> None:
        value = var.value

        def refuse(message: str) -> None:
            self.p.add(var.line, f"{host}.{key}", message, var.file)

        if key == "ansible_connection":
            kind = CONNECTIONS.get(str(value))
            if kind is None:
                refuse(f"ansible_connection {value!r} has no runbook counterpart; expected "
                       f"one of: {', '.join(CONNECTIONS)}")
            settings["connection"] = kind or "ssh"
        elif key == "ansible_become_user" and str(value) != "root":
            refuse(f"runbook's become runs commands as root only (ansible_become_user is "
                   f"{value!r})")
        elif key.startswith("runbook_"):  # any runbook setting: runbook_known_hosts=...
            settings[key.removeprefix("runbook_")] = value
        elif key in SETTINGS:
            typed = _typed(SETTINGS[key], value)
            if typed is None:
                refuse(f"{key} must be " + ("a port number (1-65535)" if SETTINGS[key] == "port"
                                            else "true or false") + f" (got {value!r})")
            settings[SETTINGS[key]] = typed
        else:
            settings.setdefault("vars", {})[key] = value

    @staticmethod
    def plain(variables: dict[str, Value]) -> dict[str, Any]:
        return {k: v.value for k, v in variables.items() if k not in SETTINGS
                and k not in ("ansible_connection", "ansible_become_user")}

    @staticmethod
    def connection_of(hosts: list[str], made: dict[str, Target]) -> str:
        kinds = {made[h].connection for h in hosts if h in made}
        return kinds.pop() if len(kinds) == 1 else "ssh"


def _typed(setting: str, value: Any) -> Any:
    """A setting's value typed (None when it does not fit)."""
    if setting == "port":
        try:
            port = int(str(value))
        except ValueError:
            return None
        return port if 1 <= port <= 65535 and not isinstance(value, bool) else None
    if setting == "become":
        if isinstance(value, bool):
            return value
        text = str(value).lower()
        return True if text in _TRUE else False if text in _FALSE else None
    return str(value)

