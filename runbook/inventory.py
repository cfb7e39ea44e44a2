"""Inventories: named targets and groups in a YAML file, and ``--target NAME=URI``.

An inventory binds the target names a playbook uses to real machines::

    targets:
      ncn: {connection: local}
      bastion: ssh://ops@bastion.example:22          # a URI works as well as a mapping
      kafka: {connection: kubectl-exec, namespace: services, pod: kafka-0, via: ncn}
    groups:
      cassandra:                                     # members inherit these settings
        connection: ssh
        user: ops
        jump: bastion
        vars: {dc: east}
        hosts:
          - db1                                      # a host name: target db1, host db1
          - {name: db2, host: 10.0.0.2, port: 2222, vars: {rack: r2}}
          - bastion                                  # a target's name: used as it is
      everything:
        hosts: [cassandra, ncn]                      # a group's name: its members

Rules:

* A group member that names a target (or another group) is used as it is
  (a group contributes its members, flattened). Any other string is a host
  name, allowed only in a group whose connection reaches hosts (a kind with
  a ``host`` setting, such as ``ssh``; not ``local`` or ``kubectl-exec``):
  it becomes a target of its own, named after the host, with the group's
  settings and ``host:`` set to that name. A mapping ``{name, host, port, vars, ...}``
  does the same with its own settings over the group's; without ``host`` it
  takes the group's ``host``, else its name.
* A member's ``vars`` merge over its group's.
* Each group is returned as a Target whose ``hosts`` lists its members'
  target names, which is what the engine fans out over.
* ``targets:`` entries with ``hosts`` (written the way a playbook writes a
  group) are groups.

Each target's settings are checked by its connection kind's settings model
(``runbook.executors.validation``); ``--target`` URIs are parsed by the
kind that owns the scheme (``runbook.executors.uri``).

Every problem is reported at once with file, line and field (ValidationErrors),
like a playbook's; an inventory with any problem returns nothing.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from runbook.errors import PlaybookError, Problem, ValidationErrors
from runbook.executors.kinds import COMMON_KEYS, kind_of, leads_back, reference_settings
from runbook.executors.uri import is_host_name, uri_forms
from runbook.executors.uri import target_from_uri as _from_uri
from runbook.executors.validation import MISSING, check_target
from runbook.models import Target
from runbook.yamlsrc import Path as FieldPath
from runbook.yamlsrc import Source, dotted, load_yaml, read_text

if TYPE_CHECKING:
    from runbook.plugins import Registry

__all__ = ["load_inventory", "loads_inventory", "parse_target_uri"]

SECTIONS = ("targets", "groups")

_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def _registry(registry: Registry | None) -> Registry:
    if registry is None:
        from runbook.plugins import default_registry

        registry = default_registry()
    return registry


# --- public API --------------------------------------------------------------------------------

def load_inventory(path: str | Path, *, registry: Registry | None = None) -> dict[str, Target]:
    """Read an inventory file: every target and group by name (ValidationErrors on problems)."""
    _, text = read_text(path, "inventory")
    return loads_inventory(text, file=str(path), registry=registry)


def loads_inventory(text: str, *, file: str = "<string>",
                    registry: Registry | None = None) -> dict[str, Target]:
    """An inventory from its text; ``file`` names it in error messages. Runbook's own
    YAML, or an Ansible inventory in YAML or INI (``runbook.inventory_ansible``)."""
    from runbook import inventory_ansible as ansible

    if looks_like_ini(text):
        return ansible.parse_ini(text, file)
    source = load_yaml(text, file)
    if ansible.is_ansible_yaml(source.data):
        return ansible.parse_yaml(source)
    return _Inventory(source, _registry(registry)).build()


_INI_SECTION = re.compile(r"^\[[^\]\n]+\]\s*$", re.M)


def looks_like_ini(text: str) -> bool:
    """An Ansible INI inventory: a ``[group]`` header line, or bare host lines that YAML
    would not read as a mapping."""
    if _INI_SECTION.search(text):
        return True
    lines = [ln.strip() for ln in text.splitlines()
             if ln.strip() and not ln.lstrip().startswith(("#", ";", "---"))]
    return bool(lines) and not any(":" in ln.split("=")[0].split()[0] or ln.startswith("-")
                                   for ln in lines[:1])


def parse_target_uri(spec: str, *, registry: Registry | None = None) -> tuple[str, Target]:
    """``NAME=URI`` as given to ``--target``: ``db=ssh://ops@db1:2222``, ``ncn=local``,
    ``kafka=kubectl-exec://services/kafka-0?container=kafka&context=prod``, or the URI
    of a plugin's connection kind."""
    registry = _registry(registry)
    name, sep, uri = spec.partition("=")
    name = name.strip()
    if not sep or not _NAME_RE.match(name):
        raise PlaybookError(f"--target expects NAME=URI, e.g. db=ssh://ops@db1:22 "
                            f"(URI: {uri_forms(registry)}); got {spec!r}",
                            file="<command line>", field="--target")
    try:
        return name, _from_uri(uri.strip(), registry)
    except ValueError as exc:
        raise PlaybookError(f"{name}: {exc}", file="<command line>",
                            field="--target") from exc


def target_from_uri(uri: str, *, registry: Registry | None = None) -> Target:
    """A Target from ``local``, ``ssh://...``, ``kubectl-exec://...`` or a plugin kind's
    URI; ValueError saying what was expected otherwise."""
    return _from_uri(uri, _registry(registry))


# --- the file ----------------------------------------------------------------------------------

class _Inventory:
    """One pass over an inventory's data, collecting every problem with its line."""

    def __init__(self, source: Source, registry: Registry) -> None:
        self.source = source
        self.registry = registry
        self.refs = reference_settings(registry)
        self.problems: list[Problem] = []
        self.targets: dict[str, Target] = {}  # explicit, then generated members
        self.origin: dict[str, FieldPath] = {}  # where each target was written
        self.ref_origin: dict[tuple[str, str], FieldPath] = {}  # (target, jump|via) -> where
        self.broken: set[str] = set()  # names whose definition has problems (reported)
        self.group_specs: dict[str, tuple[FieldPath, dict[str, Any]]] = {}
        self.group_settings: dict[str, dict[str, Any] | None] = {}
        self.members: dict[str, list[str]] = {}
        self.resolving: list[str] = []
        self.generated: set[str] = set()

    def add(self, path: FieldPath, message: str) -> None:
        self.problems.append(Problem(self.source.file, self.source.line_of(path), dotted(path),
                                     message))

    # -- driver ----------------------------------------------------------------

    def build(self) -> dict[str, Target]:
        data = self.source.data
        if not isinstance(data, dict):
            raise PlaybookError("an inventory is a mapping with targets: and/or groups:",
                                file=self.source.file, line=self.source.line_of(()))
        self.unknown_sections(data)
        targets = self.section(data, "targets")
        self.read_targets(targets)
        self.read_groups(self.section(data, "groups"), targets)
        out = self.expand_groups()
        self.references(out)
        if self.problems:
            self.problems.sort(key=lambda p: (p.line or 0, p.field))
            raise ValidationErrors(self.problems)
        return out

    def unknown_sections(self, data: dict[Any, Any]) -> None:
        for key in data:
            if key not in SECTIONS:
                hint = difflib.get_close_matches(str(key), SECTIONS, n=1)
                self.add((str(key),), f"unknown key {key!r}"
                         + (f" (did you mean {hint[0]!r}?)" if hint else "")
                         + f"; expected one of: {', '.join(SECTIONS)}")

    def read_targets(self, targets: dict[str, Any]) -> None:
        for name, spec in targets.items():
            path: FieldPath = ("targets", name)
            if isinstance(spec, dict) and "hosts" in spec:
                self.group_specs[name] = (path, spec)  # written the way a playbook does
            else:
                self.explicit_target(path, name, spec)

    def read_groups(self, groups: dict[str, Any], targets: dict[str, Any]) -> None:
        for name, spec in groups.items():
            path: FieldPath = ("groups", name)
            if name in targets:
                self.add(path, f"{name!r} is defined under targets: and under groups:; "
                               "a name means one thing")
            elif not isinstance(spec, dict):
                self.add(path, "a group is a mapping with hosts: [...] and the settings "
                               "its members inherit")
            elif "hosts" not in spec:
                self.add(path, "a group needs hosts: (the names of its targets, groups or "
                               "host names)")
            else:
                self.group_specs[name] = (path, spec)
            if name not in self.group_specs:
                self.broken.add(name)

    def expand_groups(self) -> dict[str, Target]:
        """Every target, then every group as a Target whose hosts are its members."""
        for name, (path, spec) in self.group_specs.items():
            self.group_settings[name] = self.settings_of(path, spec, exclude="hosts")
        # Groups that make host targets first, so that other groups can name those targets.
        for name in sorted(self.group_specs, key=lambda n: not self.makes_hosts(n)):
            self.resolve(name)
        out = dict(self.targets)
        for name in self.group_specs:
            settings = self.group_settings.get(name)
            if settings is not None:
                out[name] = Target.model_validate({**settings, "hosts": self.members[name]})
        return out

    def section(self, data: dict[Any, Any], key: str) -> dict[str, Any]:
        value = data.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.add((key,), f"{key}: is a mapping of name -> settings")
            return {}
        out: dict[str, Any] = {}
        for name, spec in value.items():
            if not isinstance(name, str) or not name:
                self.add((key, str(name)), f"a {key[:-1]} name must be a non-empty string "
                                           f"(got {name!r})")
                continue
            out[name] = spec
        return out

    def reaches_hosts(self, connection: Any) -> bool:
        kind = kind_of(self.registry, str(connection))
        return kind is not None and kind.reaches_hosts

    def makes_hosts(self, group: str) -> bool:
        settings = self.group_settings.get(group)
        return settings is not None and self.reaches_hosts(settings.get("connection", "local"))

    # -- targets ---------------------------------------------------------------

    def explicit_target(self, path: FieldPath, name: str, spec: Any) -> None:
        target = self.target_of(path, name, spec)
        if target is None:
            self.broken.add(name)
            return
        self.targets[name] = target
        self.origin[name] = path
        for key in self.refs:
            self.ref_origin[(name, key)] = (*path, key) if isinstance(spec, dict) else path

    def target_of(self, path: FieldPath, name: str, spec: Any) -> Target | None:
        if isinstance(spec, str):
            try:
                return _from_uri(spec, self.registry)
            except ValueError as exc:
                self.add(path, f"target URI does not parse: {exc}")
                return None
        if not isinstance(spec, dict):
            self.add(path, "a target is a mapping of settings or a URI such as "
                           "ssh://user@host:22")
            return None
        settings = self.settings_of(path, spec, complete=name)
        return None if settings is None else Target.model_validate(settings)

    def settings_of(self, path: FieldPath, spec: dict[str, Any], *,
                    exclude: str | None = None, inherited: str | None = None,
                    complete: str | None = None) -> dict[str, Any] | None:
        """Validated settings of a mapping (the fields that were written, typed), or
        None. ``inherited``: the connection a group member gets from its group;
        ``complete``: the name of a target nothing else completes (its required
        settings must be there)."""
        fields = {k: v for k, v in spec.items() if k != exclude}
        problems, typed = check_target(self.registry, fields, inherited=inherited,
                                       complete=complete is not None, member=exclude == "name")
        for loc, message in problems:
            if loc == ("host",) and message == MISSING:
                kind = fields.get("connection", inherited or "local")
                message = (f"{kind} target {complete!r} needs host: (the address to connect "
                           "to); only a host name listed under a group's hosts: gets one "
                           "from its group")
            self.add((*path, *loc), message)
        common = self.common_settings(path, fields)
        if typed is None or common is None:
            return None
        return {**common, **typed}

    def common_settings(self, path: FieldPath, fields: dict[str, Any]) -> dict[str, Any] | None:
        """``connection``, ``hosts`` and ``vars`` as written, checked by the Target model."""
        try:
            target = Target.model_validate({k: v for k, v in fields.items()
                                            if k in COMMON_KEYS})
        except ValidationError as exc:
            from runbook.loader import pydantic_problems

            for loc, message in pydantic_problems(exc, path):
                self.add(loc, message)
            return None
        return target.model_dump(exclude_unset=True)

    # -- groups ----------------------------------------------------------------

    def resolve(self, name: str) -> list[str]:
        """The member target names of a group, flattened (generating host targets)."""
        if name in self.members:
            return self.members[name]
        path, spec = self.group_specs[name]
        self.resolving.append(name)
        found: list[str] = []
        hosts = spec.get("hosts")
        if not isinstance(hosts, list) or not hosts:
            self.add((*path, "hosts"), "hosts: is a non-empty list of target names, group "
                                       "names, host names or {name:, host:} mappings")
            hosts = []
        for i, entry in enumerate(hosts):
            for member in self.member(name, (*path, "hosts", i), entry):
                if member not in found:
                    found.append(member)
        self.resolving.pop()
        self.members[name] = found
        return found

    def member(self, group: str, path: FieldPath, entry: Any) -> list[str]:
        if isinstance(entry, dict):
            return self.mapped_member(group, path, entry)
        if not isinstance(entry, str) or not entry:
            self.add(path, f"a group member is a target name, a group name, a host name or a "
                           f"mapping {{name:, host:}} (got {entry!r})")
            return []
        if entry in self.resolving:
            chain = [*self.resolving[self.resolving.index(entry):], entry]
            self.add(path, f"group {entry!r} contains itself: {' -> '.join(chain)}")
            return []
        if entry in self.group_specs:
            return list(self.resolve(entry))
        if entry in self.broken:
            return []  # its definition has problems, reported where it is
        if entry in self.targets and entry not in self.generated:
            return [entry]
        return self.host_member(group, path, entry)

    def host_member(self, group: str, path: FieldPath, entry: str) -> list[str]:
        """A bare host name in a group: a target of its own with the group's settings."""
        settings = self.group_settings.get(group)
        if settings is None:
            return []  # the group's own settings have problems, reported there
        if not self.makes_hosts(group):
            if entry in self.targets:
                return [entry]  # a host target another group made
            known = sorted({*self.targets, *self.group_specs, *self.broken} - self.generated)
            hint = difflib.get_close_matches(entry, known, n=1)
            connection = settings.get("connection", "local")
            self.add(path, f"group member {entry!r} is not a defined target or group"
                     + (f" (did you mean {hint[0]!r}?)" if hint else "")
                     + "; a host name needs a group with a host-based connection such as "
                       f"connection: ssh (this group's is {connection})")
            return []
        if not is_host_name(entry):
            self.add(path, f"group member {entry!r} is not a defined target, a group or a "
                           "host name")
            return []
        group_path = self.group_specs[group][0]
        refs = {key: (*group_path, key) for key in self.refs}
        return self.generate(path, entry, {**settings, "host": entry}, refs)

    def mapped_member(self, group: str, path: FieldPath, entry: dict[str, Any]) -> list[str]:
        """A ``{name:, host:, ...}`` member: its own settings over its group's."""
        settings = self.group_settings.get(group)
        own = self.member_settings(path, entry, settings)
        if own is None or settings is None:
            return []
        merged = {**settings, **own,
                  "vars": {**settings.get("vars", {}), **own.get("vars", {})}}
        host = own.get("host") or settings.get("host") or entry.get("name")
        if host and self.reaches_hosts(merged.get("connection", "local")):
            merged["host"] = host
        name = self.member_name(path, entry.get("name"), merged)
        if name is None:
            return []
        group_path = self.group_specs[group][0]
        refs = {key: (*path, key) if key in entry else (*group_path, key) for key in self.refs}
        return self.generate(path, name, merged, refs)

    def member_settings(self, path: FieldPath, entry: dict[str, Any],
                        group: dict[str, Any] | None) -> dict[str, Any] | None:
        inherited = group.get("connection") if group else None
        own = self.settings_of(path, entry, exclude="name",
                               inherited=str(inherited) if inherited else None)
        name = entry.get("name")
        if "hosts" in entry:
            self.add((*path, "hosts"), "a group member is one target; to nest a group, list "
                                       "its name")
            return None
        if name is not None and (not isinstance(name, str) or not name):
            self.add((*path, "name"), f"name must be a non-empty string (got {name!r})")
            return None
        return own

    def member_name(self, path: FieldPath, name: str | None,
                    merged: dict[str, Any]) -> str | None:
        if not name and not merged.get("host"):
            self.add(path, "a group member mapping needs name: (and host: unless the name "
                           "is the host name)")
            return None
        name = name or str(merged["host"])
        if name in self.group_specs or (name in self.targets and name not in self.generated):
            self.add((*path, "name"), f"{name!r} is already defined as a "
                     + ("group" if name in self.group_specs else "target")
                     + "; list the name alone to use it as it is, or choose another name")
            return None
        return name

    def generate(self, path: FieldPath, name: str, fields: dict[str, Any],
                 refs: dict[str, FieldPath]) -> list[str]:
        complete = self.completed(path, fields)
        if complete is None:
            return []
        target = Target.model_validate(complete)
        known = self.targets.get(name)
        if known is not None and known != target:
            first = dotted(self.origin[name])
            self.add(path, f"target {name!r} is made twice with different settings (first by "
                           f"{first}); define it once under targets: and list its name in "
                           "each group")
            return []
        if known is None:
            self.targets[name] = target
            self.origin[name] = path
            self.generated.add(name)
            for key, where in refs.items():
                self.ref_origin[(name, key)] = where
        return [name]

    def completed(self, path: FieldPath, fields: dict[str, Any]) -> dict[str, Any] | None:
        """A member's settings with its group's, typed; None (reported) when a required
        setting is set by neither."""
        problems, typed = check_target(self.registry, fields, complete=True)
        missing = [loc for loc, message in problems if message == MISSING]
        for loc in missing:
            self.add((*path, *loc), f"{MISSING} (neither this member nor its group sets it)")
        if missing:
            return None
        return {**fields, **(typed or {})}

    # -- references between targets ----------------------------------------------

    def references(self, targets: dict[str, Target]) -> None:
        """``jump``, ``via`` (the settings kinds declare as references) name one target of
        this inventory (or ``local``)."""
        for name, target in targets.items():
            if target.hosts:
                continue  # a group's jump/via is checked on each of its members
            for key in self.refs:
                ref = target.setting(key)
                if ref is None or "{{" in ref or (ref == "local" and ref not in targets):
                    continue
                self.reference(targets, name, key, ref)

    def reference(self, targets: dict[str, Target], name: str, key: str, ref: str) -> None:
        path = self.ref_origin.get((name, key), self.origin.get(name, ()))
        if ref not in targets:
            if ref in self.broken:
                return
            hint = difflib.get_close_matches(ref, sorted(targets), n=1)
            self.add(path, f"{key} names {ref!r}, which is not a target of this "
                           "inventory" + (f" (did you mean {hint[0]!r}?)" if hint else ""))
        elif targets[ref].hosts:
            self.add(path, f"{key} names group {ref!r}; it must name one target")
        elif _loops(targets, name, key):
            self.add(path, f"{key} of {name!r} leads back to {name!r}")


def _loops(targets: dict[str, Target], start: str, key: str) -> bool:
    """Whether following ``key`` (jump or via) from ``start`` comes back to it."""
    return leads_back(start, lambda name: targets[name].setting(key)
                      if name in targets else None)
