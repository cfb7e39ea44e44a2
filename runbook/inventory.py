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
  name, allowed only in a group whose connection reaches hosts (``ssh``, or a
  plugin's connection; not ``local`` or ``kubectl-exec``): it becomes a
  target of its own, named after the host, with the group's settings and
  ``host:`` set to that name. A mapping ``{name, host, port, vars, ...}``
  does the same with its own settings over the group's; without ``host`` it
  takes the group's ``host``, else its name.
* A member's ``vars`` merge over its group's.
* Each group is returned as a Target whose ``hosts`` lists its members'
  target names, which is what the engine fans out over.
* ``targets:`` entries with ``hosts`` (written the way a playbook writes a
  group) are groups.

Every problem is reported at once with file, line and field (ValidationErrors),
like a playbook's; an inventory with any problem returns nothing.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from pydantic import ValidationError

from runbook.errors import PlaybookError, Problem, ValidationErrors
from runbook.models import Target, misplaced_settings
from runbook.yamlsrc import Path as FieldPath
from runbook.yamlsrc import Source, dotted, load_yaml, read_text

if TYPE_CHECKING:
    from runbook.plugins import Registry

__all__ = ["load_inventory", "loads_inventory", "parse_target_uri"]

SECTIONS = ("targets", "groups")
NO_HOSTS = frozenset({"local", "kubectl-exec"})
"""Connections whose targets are not reached by a host name."""

_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_HOST_RE = re.compile(r"^[A-Za-z0-9_.:%\[\]-]+$")
_TARGET_FIELDS = tuple(Target.model_fields)
_MEMBER_FIELDS = tuple(sorted({"name", *_TARGET_FIELDS} - {"hosts"}))
_URI_FORMS = ("local, ssh://[USER@]HOST[:PORT][?key_file=...&known_hosts=...] or "
              "kubectl-exec://NAMESPACE/POD[?container=...&context=...]")
_SSH_QUERY = ("key_file", "known_hosts", "accept_new_host_key", "connect_timeout", "keepalive",
              "hash_known_hosts", "jump")
_KUBECTL_QUERY = ("container", "context", "selector", "via")


# --- public API --------------------------------------------------------------------------------

def load_inventory(path: str | Path, *, registry: Registry | None = None) -> dict[str, Target]:
    """Read an inventory file: every target and group by name (ValidationErrors on problems)."""
    _, text = read_text(path, "inventory")
    return loads_inventory(text, file=str(path), registry=registry)


def loads_inventory(text: str, *, file: str = "<string>",
                    registry: Registry | None = None) -> dict[str, Target]:
    """An inventory from YAML text; ``file`` names it in error messages."""
    return _Inventory(load_yaml(text, file), registry).build()


def parse_target_uri(spec: str) -> tuple[str, Target]:
    """``NAME=URI`` as given to ``--target``: ``db=ssh://ops@db1:2222``, ``ncn=local``,
    ``kafka=kubectl-exec://services/kafka-0?container=kafka&context=prod``."""
    name, sep, uri = spec.partition("=")
    name = name.strip()
    if not sep or not _NAME_RE.match(name):
        raise PlaybookError(f"--target expects NAME=URI, e.g. db=ssh://ops@db1:22 "
                            f"(URI: {_URI_FORMS}); got {spec!r}",
                            file="<command line>", field="--target")
    try:
        return name, target_from_uri(uri.strip())
    except ValueError as exc:
        raise PlaybookError(f"{name}: {exc}", file="<command line>",
                            field="--target") from exc


def target_from_uri(uri: str) -> Target:
    """A Target from ``local``, ``ssh://...`` or ``kubectl-exec://...``; ValueError saying
    what was expected otherwise."""
    if uri in ("local", "local://"):
        return Target(connection="local")
    scheme, sep, _ = uri.partition("://")
    if not sep:
        raise ValueError(f"expected {_URI_FORMS}; got {uri!r}")
    try:
        parts = urlsplit(uri)
        query = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError as exc:
        raise ValueError(f"{uri!r} does not parse: {exc}") from exc
    if parts.fragment:
        raise ValueError(f"unexpected #{parts.fragment} in {uri!r}")
    keys = [k for k, _ in query]
    twice = sorted({k for k in keys if keys.count(k) > 1})
    if twice:
        raise ValueError(f"?{twice[0]}= given twice in {uri!r}")
    options = dict(query)
    if scheme == "ssh":
        return _ssh_uri(uri, parts.netloc, parts.path, options)
    if scheme == "kubectl-exec":
        return _kubectl_uri(uri, parts.netloc, parts.path, options)
    raise ValueError(f"unknown scheme {scheme + '://'!r}; expected {_URI_FORMS}")


def _ssh_uri(uri: str, netloc: str, path: str, options: dict[str, str]) -> Target:
    _known_options(uri, options, _SSH_QUERY)
    if path not in ("", "/"):
        raise ValueError(f"an ssh URI has no path (got {path!r} in {uri!r}); "
                         "expected ssh://[USER@]HOST[:PORT]")
    userinfo, at, hostport = netloc.rpartition("@")
    if at and ":" in userinfo:
        raise ValueError("a password in a URI is visible to every user of the machine; "
                         "use a key (?key_file=PATH) or an inventory file")
    if at and not userinfo:
        raise ValueError(f"empty user name before @ in {uri!r}")
    host, port = _host_port(uri, hostport)
    fields: dict[str, Any] = {"connection": "ssh", "host": host, **options}
    if port is not None:
        fields["port"] = port
    if userinfo:
        fields["user"] = unquote(userinfo)
    return _validated(uri, fields)


def _host_port(uri: str, hostport: str) -> tuple[str, int | None]:
    if hostport.startswith("["):  # [IPv6]:port
        host, close, rest = hostport[1:].partition("]")
        if not close or (rest and not rest.startswith(":")):
            raise ValueError(f"unclosed [ in {uri!r}")
        port_text = rest[1:] if rest else ""
    else:
        host, _, port_text = hostport.partition(":")
    if not host:
        raise ValueError(f"no host in {uri!r}; expected ssh://[USER@]HOST[:PORT]")
    if not _HOST_RE.match(host):
        raise ValueError(f"{host!r} is not a host name or address")
    if not port_text:
        return host, None
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"port {port_text!r} is not a number from 1 to 65535")
    return host, int(port_text)


def _kubectl_uri(uri: str, netloc: str, path: str, options: dict[str, str]) -> Target:
    _known_options(uri, options, _KUBECTL_QUERY)
    pod = path.strip("/")
    if not netloc or "/" in pod:
        raise ValueError(f"expected kubectl-exec://NAMESPACE/POD[?container=...] "
                         f"(or ?selector=... instead of /POD); got {uri!r}")
    fields: dict[str, Any] = {"connection": "kubectl-exec", "namespace": unquote(netloc),
                              **options}
    if pod:
        fields["pod"] = unquote(pod)
    if not pod and not options.get("selector"):
        raise ValueError(f"{uri!r} names no pod: add /POD or ?selector=LABEL=VALUE")
    return _validated(uri, fields)


def _known_options(uri: str, options: Mapping[str, str], allowed: Iterable[str]) -> None:
    allowed = sorted(allowed)
    for key in options:
        if key not in allowed:
            hint = difflib.get_close_matches(key, allowed, n=1)
            raise ValueError(f"unknown option ?{key}= in {uri!r}"
                             + (f" (did you mean {hint[0]!r}?)" if hint else "")
                             + f"; expected: {', '.join(allowed)}")


def _validated(uri: str, fields: dict[str, Any]) -> Target:
    try:
        return Target.model_validate(fields)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in err["loc"])
        message = str(err["msg"]).removeprefix("Value error, ")
        raise ValueError(f"{where} in {uri!r}: {message}") from exc


# --- the file ----------------------------------------------------------------------------------

_REFS = ("jump", "via")


class _Inventory:
    """One pass over an inventory's data, collecting every problem with its line."""

    def __init__(self, source: Source, registry: Registry | None) -> None:
        if registry is None:
            from runbook.plugins import default_registry

            registry = default_registry()
        self.source = source
        self.executors = set(registry.executors)
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
        for key in data:
            if key not in SECTIONS:
                hint = difflib.get_close_matches(str(key), SECTIONS, n=1)
                self.add((str(key),), f"unknown key {key!r}"
                         + (f" (did you mean {hint[0]!r}?)" if hint else "")
                         + f"; expected one of: {', '.join(SECTIONS)}")
        targets = self.section(data, "targets")
        groups = self.section(data, "groups")
        for name, spec in targets.items():
            path: FieldPath = ("targets", name)
            if isinstance(spec, dict) and "hosts" in spec:
                self.group_specs[name] = (path, spec)  # written the way a playbook does
            else:
                self.explicit_target(path, name, spec)
        for name, spec in groups.items():
            path = ("groups", name)
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
        self.references(out)
        if self.problems:
            self.problems.sort(key=lambda p: (p.line or 0, p.field))
            raise ValidationErrors(self.problems)
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

    def makes_hosts(self, group: str) -> bool:
        settings = self.group_settings.get(group)
        return settings is not None and str(settings.get("connection", "local")) not in NO_HOSTS

    # -- targets ---------------------------------------------------------------

    def explicit_target(self, path: FieldPath, name: str, spec: Any) -> None:
        if isinstance(spec, str):
            try:
                target = target_from_uri(spec)
            except ValueError as exc:
                self.add(path, f"target URI does not parse: {exc}")
                self.broken.add(name)
                return
        elif isinstance(spec, dict):
            settings = self.settings_of(path, spec)
            if settings is None:
                self.broken.add(name)
                return
            target = Target.model_validate(settings)
            if target.connection == "ssh" and not target.host:
                self.add((*path, "host"), f"ssh target {name!r} needs host: (the address to "
                                          "connect to); only a host name listed under a "
                                          "group's hosts: gets one from its group")
                self.broken.add(name)
                return
        else:
            self.add(path, "a target is a mapping of settings or a URI such as "
                           "ssh://user@host:22")
            self.broken.add(name)
            return
        self.targets[name] = target
        self.origin[name] = path
        for key in _REFS:
            self.ref_origin[(name, key)] = (*path, key) if isinstance(spec, dict) else path

    def settings_of(self, path: FieldPath, spec: dict[str, Any], *,
                    exclude: str | None = None,
                    inherited: str | None = None) -> dict[str, Any] | None:
        """Validated Target settings of a mapping (the fields that were written), or None.
        ``inherited``: the connection a group member gets from its group."""
        fields = {k: v for k, v in spec.items() if k != exclude}
        allowed = _MEMBER_FIELDS if exclude == "name" else _TARGET_FIELDS
        ok = True
        for key in fields:
            if key not in Target.model_fields:
                ok = False
                hint = difflib.get_close_matches(str(key), allowed, n=1)
                self.add((*path, str(key)), f"unknown key {key!r}"
                         + (f" (did you mean {hint[0]!r}?)" if hint else "")
                         + f"; expected one of: {', '.join(sorted(allowed))}")
        port = fields.get("port")
        if isinstance(port, bool) or (isinstance(port, int) and not 1 <= port <= 65535):
            ok = False
            self.add((*path, "port"), f"port must be a number from 1 to 65535 (got {port!r})")
        kind = fields.get("connection", inherited or "local")
        if isinstance(kind, str) and kind not in self.executors:
            ok = False
            self.add((*path, "connection"), f"unknown connection {kind!r}; expected one of: "
                                            f"{', '.join(sorted(self.executors))}")
        elif isinstance(kind, str):
            for key, message in misplaced_settings(kind, fields):
                ok = False
                self.add((*path, key), message)
        try:
            target = Target.model_validate({k: v for k, v in fields.items()
                                            if k in Target.model_fields})
        except ValidationError as exc:
            from runbook.loader import pydantic_problems

            for loc, message in pydantic_problems(exc, path):
                self.add(loc, message)
            return None
        return target.model_dump(exclude_unset=True) if ok else None

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
        if not _HOST_RE.match(entry):
            self.add(path, f"group member {entry!r} is not a defined target, a group or a "
                           "host name")
            return []
        group_path = self.group_specs[group][0]
        refs = {key: (*group_path, key) for key in _REFS}
        return self.generate(path, entry, {**settings, "host": entry}, refs)

    def mapped_member(self, group: str, path: FieldPath, entry: dict[str, Any]) -> list[str]:
        settings = self.group_settings.get(group)
        inherited = settings.get("connection") if settings else None
        own = self.settings_of(path, entry, exclude="name",
                               inherited=str(inherited) if inherited else None)
        name = entry.get("name")
        if "hosts" in entry:
            self.add((*path, "hosts"), "a group member is one target; to nest a group, list "
                                       "its name")
            return []
        if name is not None and (not isinstance(name, str) or not name):
            self.add((*path, "name"), f"name must be a non-empty string (got {name!r})")
            return []
        if own is None or settings is None:
            return []
        merged = {**settings, **own,
                  "vars": {**settings.get("vars", {}), **own.get("vars", {})}}
        if str(merged.get("connection", "local")) not in NO_HOSTS:
            merged["host"] = own.get("host") or settings.get("host") or name
        if not name and not merged.get("host"):
            self.add(path, "a group member mapping needs name: (and host: unless the name "
                           "is the host name)")
            return []
        name = name or str(merged["host"])
        if name in self.group_specs or (name in self.targets and name not in self.generated):
            self.add((*path, "name"), f"{name!r} is already defined as a "
                     + ("group" if name in self.group_specs else "target")
                     + "; list the name alone to use it as it is, or choose another name")
            return []
        group_path = self.group_specs[group][0]
        refs = {key: (*path, key) if key in entry else (*group_path, key) for key in _REFS}
        return self.generate(path, name, merged, refs)

    def generate(self, path: FieldPath, name: str, fields: dict[str, Any],
                 refs: dict[str, FieldPath]) -> list[str]:
        target = Target.model_validate(fields)
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

    # -- references between targets ----------------------------------------------

    def references(self, targets: dict[str, Target]) -> None:
        """``jump`` and ``via`` name one target of this inventory (or ``local``)."""
        for name, target in targets.items():
            if target.hosts:
                continue  # a group's jump/via is checked on each of its members
            for key in _REFS:
                ref = getattr(target, key)
                if ref is None or "{{" in ref or (ref == "local" and ref not in targets):
                    continue
                path = self.ref_origin.get((name, key), self.origin.get(name, ()))
                if ref not in targets:
                    if ref in self.broken:
                        continue
                    hint = difflib.get_close_matches(ref, sorted(targets), n=1)
                    self.add(path, f"{key} names {ref!r}, which is not a target of this "
                                   "inventory" + (f" (did you mean {hint[0]!r}?)" if hint
                                                  else ""))
                elif targets[ref].hosts:
                    self.add(path, f"{key} names group {ref!r}; it must name one target")
                elif _loops(targets, name, key):
                    self.add(path, f"{key} of {name!r} leads back to {name!r}")


def _loops(targets: dict[str, Target], start: str, key: str) -> bool:
    """Whether following ``key`` (jump or via) from ``start`` comes back to it."""
    seen = {start}
    current = targets[start]
    while True:
        ref: str | None = getattr(current, key)
        if ref is None or ref not in targets:
            return False
        if ref in seen:
            return ref == start
        seen.add(ref)
        current = targets[ref]


