"""What a plugin contributes to the simulated estate: parts, faults, scenarios, hosts.

A **part** is one system of the estate (Kubernetes, Kafka, CFS, ...): the
stand-in tools that speak for it, the slice of the shared state it owns and
how that slice evolves, the faults it can inject and the scenarios it
starts from. Plugins return parts from the ``runbook_sim_parts`` hook. Parts
are plain data: the behaviour lives in the part's *world module* (``world``),
named by its import path so that a stand-in process, which never loads the
plugin manager, can import it. A world module defines any of::

    build(state, scenario, start)   # add the part's initial state
    prepare(state, now)             # once per advance, before replaying events
    settle(state, t)                # before each event, and once at ``now``
    events(state, t) -> [Event]     # what happens next: (time, priority, action)
    finish(state, now)              # once per advance, after the replay
    fault_changed(state, name, on, t)
    summary(state, t) -> [str]      # lines for ``runbook sim state``

Stdlib only, imported by every stand-in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Fault:
    """Something that can go wrong on purpose; switched with ``runbook sim fault``."""

    name: str
    description: str


@dataclass(frozen=True)
class Host:
    """A simulated host: a name, a loopback address, whether it answers, its files.

    ``files`` maps absolute paths to their text; they are written into the
    host's own root (``DIR/hosts/NAME/root``) when the sandbox is created.
    """

    name: str
    address: str
    up: bool = True
    files: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Scenario:
    """A starting point of the estate: the parts it combines and how they are set up.

    ``settings`` is free-form data the parts' ``build`` functions read (CFS
    options, say); ``faults`` are switched on from the start.
    """

    name: str
    description: str
    parts: tuple[str, ...]
    knobs: Mapping[str, float] = field(default_factory=dict)
    settings: Mapping[str, Any] = field(default_factory=dict)
    hosts: tuple[Host, ...] = ()
    faults: tuple[str, ...] = ()


@dataclass(frozen=True)
class Part:
    """One system of the simulated estate, as a plugin contributes it.

    ``tools`` maps a stand-in's command name to the module whose
    ``run(directory, argv) -> int`` implements it; ``requires`` names the
    parts this one builds on (they are set up and advanced first); ``knobs``
    are the part's tunables with their defaults.
    """

    name: str
    world: str = ""
    tools: Mapping[str, str] = field(default_factory=dict)
    requires: tuple[str, ...] = ()
    knobs: Mapping[str, float] = field(default_factory=dict)
    faults: tuple[Fault, ...] = ()
    scenarios: tuple[Scenario, ...] = ()
