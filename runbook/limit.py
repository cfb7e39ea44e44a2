"""``--limit PATTERN``: Ansible's host patterns, narrowing every group target of a run.

A pattern is a list of terms separated by ``,`` (or ``:``): a host name, a
group name (its hosts), a glob (``db*``, matched against host and group
names), ``~regex``, ``all`` or ``*``; ``!term`` excludes, ``&term`` intersects
and ``@file`` reads more terms from a file, one a line (what Ansible's retry
files hold); ``group[0]``, ``group[-1]``, ``group[1:3]`` pick hosts of a group by
position (Python's slices, as Ansible's subscripts). As in Ansible the plain
terms are taken first, then the intersections, then the exclusions, whatever
their order.

A term that matches nothing is refused rather than ignored: a misspelt
``!db1`` would otherwise run on the host it meant to spare. A group a step
runs on that the limit leaves empty is refused too, naming the steps, so a
limit never silently drops a step from a procedure.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from runbook.errors import PlaybookError
from runbook.models import Playbook, Target

if TYPE_CHECKING:
    from runbook.plugins import Registry

__all__ = ["Universe", "narrow", "select", "split_pattern", "used_targets"]

def _refuse(message: str) -> PlaybookError:
    return PlaybookError(message, file="<command line>", field="--limit")


def split_pattern(pattern: str) -> list[str]:
    """The terms of a pattern: ``a,b`` or ``a:b`` (a ``[1:3]`` range keeps its colon);
    ``@file`` terms are read from the file."""
    pieces = re.split(r",|:(?![^\[]*\])", pattern) if "," not in pattern else pattern.split(",")
    terms: list[str] = []
    for piece in (p.strip() for p in pieces):
        if piece.startswith("@"):
            terms += _read_terms(piece[1:])
        elif piece:
            terms.append(piece)
    return terms


def _read_terms(path: str) -> list[str]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise _refuse(f"cannot read the limit file {path}: {exc.strerror or exc}") from exc
    return [t for line in text.splitlines() if line.strip() and not line.startswith("#")
            for t in split_pattern(line.strip())]


class Universe:
    """The hosts (member targets of groups, and single targets) and groups a pattern
    chooses from."""

    def __init__(self, targets: Mapping[str, Target], registry: Registry) -> None:
        from runbook.executors.kinds import kind_of
        from runbook.fanout import group_members

        def takes_host(connection: str) -> bool:
            kind = kind_of(registry, connection)
            return kind is None or kind.reaches_hosts

        self.groups: dict[str, list[str]] = {}
        self.made: dict[str, Target] = {}
        for name, target in targets.items():
            if target.hosts:
                self.groups[name], made = group_members(targets, name, takes_host=takes_host)
                self.made.update(made)
        members = [h for hosts in self.groups.values() for h in hosts]
        singles = [n for n, t in targets.items() if not t.hosts and n != "local"]
        self.hosts: list[str] = list(dict.fromkeys([*members, *singles]))

    def term(self, term: str) -> list[str]:
        """The hosts one term (without its ``!``/``&``) stands for."""
        if term in ("all", "*"):
            return list(self.hosts)
        if term in self.groups:
            return list(self.groups[term])
        if term in self.hosts:
            return [term]
        subscript = _SUBSCRIPT.match(term)
        if subscript and subscript.group(1) in self.groups:
            return _slice(self.groups[subscript.group(1)], *subscript.group(2, 3, 4))
        if term.startswith("~"):
            try:
                regex = re.compile(term[1:])
            except re.error as exc:
                raise _refuse(f"{term!r} is not a regular expression: {exc}") from exc

            def test(name: str) -> bool:
                return regex.search(name) is not None
        else:
            def test(name: str) -> bool:
                return fnmatch.fnmatchcase(name, term)
        found = [h for g, hosts in self.groups.items() if test(g) for h in hosts]
        return list(dict.fromkeys([*found, *(h for h in self.hosts if test(h))]))


_SUBSCRIPT = re.compile(r"^(.+)\[(-?\d*)(?:(:)(-?\d*))?\]$")


def _slice(hosts: list[str], start: str, colon: str | None, end: str | None = None) -> list[str]:
    """``group[0]``, ``group[-1]``, ``group[1:]``, ``group[:3]``: Python's slices, as in
    Ansible's subscripts."""
    if colon is None:
        index = int(start or 0)
        return [hosts[index]] if -len(hosts) <= index < len(hosts) else []
    return hosts[int(start) if start else None:int(end) if end else None]


def select(pattern: str, universe: Universe) -> list[str]:
    """The hosts a pattern selects, in inventory order (PlaybookError for a term that
    matches nothing, or a pattern that selects no host)."""
    terms = split_pattern(pattern)
    if not terms:
        raise _refuse("--limit needs a pattern, e.g. db1,db2 or 'web*:!web3'")
    plain = [t for t in terms if t[0] not in "!&"]
    chosen = set() if plain else set(universe.hosts)
    for term in sorted(terms, key=lambda t: {"&": 1, "!": 2}.get(t[0], 0)):
        name = term.lstrip("!&")
        found = universe.term(name)
        if not found:
            known = ", ".join([*universe.groups, *universe.hosts][:12])
            raise _refuse(f"{term!r} matches no host or group (known: {known})")
        if term.startswith("!"):
            chosen -= set(found)
        elif term.startswith("&"):
            chosen &= set(found)
        else:
            chosen |= set(found)
    selected = [h for h in universe.hosts if h in chosen]
    if not selected:
        raise _refuse(f"--limit {pattern!r} selects no host")
    return selected


def used_targets(playbook: Playbook) -> dict[str, list[str]]:
    """The targets the playbook's steps, checks and rollbacks run on, with who uses them."""
    default = playbook.default_target()
    used: dict[str, list[str]] = {}

    def use(target: str | None, who: str) -> None:
        used.setdefault(target or default, []).append(who)

    for i, check in enumerate(playbook.preconditions):
        use(check.target, f"precondition {check.id or i + 1}")
    for step in playbook.steps:
        use(step.target, f"step {step.id}")
        for check in step.checks:
            use(check.target or step.target, f"a check of step {step.id}")
        if step.rollback is not None and not isinstance(step.rollback, str):
            use(step.rollback.target or step.target, f"the rollback of step {step.id}")
    for i, check in enumerate(playbook.verify):
        use(check.target, f"verify {check.id or i + 1}")
    return used


def narrow(playbook: Playbook, targets: dict[str, Target], pattern: str,
           registry: Registry) -> dict[str, Target]:
    """The targets given with every group narrowed to the hosts the pattern selects
    (its members made from bare host names kept as targets of their own)."""
    everything = {**playbook.effective_targets(), **targets}
    universe = Universe(everything, registry)
    selected = set(select(pattern, universe))
    used = used_targets(playbook)
    out = {**targets, **{n: t for n, t in universe.made.items() if n not in everything}}
    emptied: list[str] = []
    for name, members in universe.groups.items():
        keep = [m for m in members if m in selected]
        if not keep and name in used:
            emptied.append(f"group {name!r} (used by {', '.join(used[name][:3])})")
        elif keep:
            out[name] = everything[name].model_copy(update={"hosts": keep})
    if emptied:
        raise _refuse(f"--limit {pattern!r} leaves no host in " + "; ".join(emptied)
                      + "; widen the limit or run a playbook that does not need them")
    return out
