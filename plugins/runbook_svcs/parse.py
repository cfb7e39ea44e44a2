"""Parsers for SMF's ``svcs`` listings and ``svcadm`` errors (see shared/formats svcs, svcadm).

Pure functions over captured text; they raise ``runbook.parsing.ParseError``
naming the line they could not read. A pattern that matches nothing is data
(``missing_patterns``), not an error: a diagnosis wants to say "no such
service", not crash. The ``svcs -x`` paragraphs are in ``explain``, log files
in ``logs``.
"""

from __future__ import annotations

import re
from typing import TypedDict

from runbook.parsing import parse_errors, split_lines
from runbook.samples import OutputParser
from runbook_svcs.explain import Service, parse_explain

STATES = frozenset({"online", "offline", "disabled", "maintenance", "degraded",
                    "uninitialized", "legacy_run", "-"})
_NO_MATCH = re.compile(r"(?:svcs|svcadm): Pattern '(?P<pattern>.*)' doesn't match any instances")
_HEADER = ("STATE", "STIME", "FMRI")


class Instance(TypedDict):
    """One line of ``svcs -a``."""

    state: str
    stime: str
    fmri: str


class States(TypedDict):
    """``svcs -H -o state,nstate,fmri PATTERN...``: state by FMRI, and what is changing."""

    states: dict[str, str]
    transitioning: list[str]
    missing_patterns: list[str]


class Listing(TypedDict):
    """``svcs -a``: every instance, its state by FMRI, and what is changing."""

    instances: list[Instance]
    states: dict[str, str]
    transitioning: list[str]


class SvcadmOutcome(TypedDict):
    """What a silent-on-success ``svcadm`` said: ok, and the error explained."""

    ok: bool
    rc: int
    error: str | None
    missing_patterns: list[str]


def _state(word: str, line: str) -> tuple[str, bool]:
    """A STATE cell without its ``*`` and whether it had one; unknown states are refused."""
    star = word.endswith("*")
    state = word[:-1] if star else word
    if state not in STATES:
        raise ValueError(f"unknown SMF state {state!r} in line {line!r}")
    return state, star


def missing_patterns(stderr: str) -> list[str]:
    """The patterns named by ``Pattern '...' doesn't match any instances`` lines."""
    return [m["pattern"] for m in map(_NO_MATCH.fullmatch, split_lines(stderr)) if m]


def _other_errors(stderr: str) -> list[str]:
    return [line for line in split_lines(stderr)
            if line.strip() and not _NO_MATCH.fullmatch(line)]


def parse_states(stdout: str, stderr: str = "", rc: int = 0) -> States:
    """Read ``svcs -H -o state,fmri`` or ``-o state,nstate,fmri`` lines (and the errors).

    An instance is transitioning when its state has a ``*`` or its NSTATE is
    not ``-``. A non-zero exit with errors other than unmatched patterns is a
    ParseError naming them.
    """
    with parse_errors("svcs -H -o state,nstate,fmri", stdout + stderr):
        unknown = _other_errors(stderr)
        if rc != 0 and unknown:
            raise ValueError(f"svcs failed (exit {rc}): {unknown[0]}")
        states: dict[str, str] = {}
        moving: list[str] = []
        for line in split_lines(stdout):
            if not line.strip():
                continue
            words = line.split()
            if len(words) not in (2, 3):
                raise ValueError(f"expected 'STATE [NSTATE] FMRI', found {line!r}")
            state, star = _state(words[0], line)
            fmri = words[-1]
            states[fmri] = state
            if star or (len(words) == 3 and words[1] != "-"):
                moving.append(fmri)
        return {"states": states, "transitioning": moving,
                "missing_patterns": missing_patterns(stderr)}


def parse_listing(stdout: str) -> Listing:
    """Read the default ``svcs`` / ``svcs -a`` table: STATE, STIME, FMRI."""
    with parse_errors("svcs -a", stdout):
        lines = [line for line in split_lines(stdout) if line.strip()]
        if not lines or tuple(lines[0].split()) != _HEADER:
            raise ValueError("expected the header 'STATE STIME FMRI'")
        instances: list[Instance] = []
        moving: list[str] = []
        for line in lines[1:]:
            words = line.split()
            if len(words) != 3:
                raise ValueError(f"expected 'STATE STIME FMRI', found {line!r}")
            state, star = _state(words[0], line)
            instances.append({"state": state, "stime": words[1], "fmri": words[2]})
            if star:
                moving.append(words[2])
        return {"instances": instances, "states": {i["fmri"]: i["state"] for i in instances},
                "transitioning": moving}


def parse_log_paths(stdout: str) -> list[str]:
    """``svcs -L``: one absolute log file path per line."""
    with parse_errors("svcs -L", stdout):
        paths = [line.strip() for line in split_lines(stdout) if line.strip()]
        for path in paths:
            if not path.startswith("/"):
                raise ValueError(f"expected an absolute log file path, found {path!r}")
        return paths


_EXIT_MEANING = {
    2: "invalid command-line options",
    3: "the instance cannot reach the requested state without an administrator because of "
       "a problem with the instance itself (see svcs -xv)",
    4: "the instance cannot reach the requested state without an administrator because of "
       "a problem with its dependencies (see svcs -xv)",
}


def parse_svcadm(stdout: str, stderr: str = "", rc: int = 0) -> SvcadmOutcome:
    """What ``svcadm`` said: nothing on success; errors and exit statuses 2-4 explained."""
    if rc == 0 and not stderr.strip():
        return {"ok": True, "rc": 0, "error": None, "missing_patterns": []}
    missing = missing_patterns(stderr)
    said = [line.strip() for line in split_lines(stderr + stdout) if line.strip()]
    parts = [*said]
    if rc in _EXIT_MEANING:
        parts.append(f"exit {rc}: {_EXIT_MEANING[rc]}")
    elif rc != 0 and not said:
        parts.append(f"exit {rc} without a message")
    return {"ok": rc == 0 and not missing, "rc": rc, "error": "; ".join(parts) or None,
            "missing_patterns": missing}


# --- the parsers as declared to runbook_parsers(), each tested on its samples folder ----------

def _listing_sample(stdout: str, stderr: str, rc: int) -> Listing:
    return parse_listing(stdout)


def _paths_sample(stdout: str, stderr: str, rc: int) -> list[str]:
    return parse_log_paths(stdout)


def _explain_sample(stdout: str, stderr: str, rc: int) -> dict[str, list[Service]]:
    return parse_explain(stdout)


PARSERS = {
    "svcs-list": OutputParser(_listing_sample),
    "svcs-state": OutputParser(parse_states),
    "svcs-explain": OutputParser(_explain_sample),
    "svcs-log-paths": OutputParser(_paths_sample),
    "svcadm": OutputParser(parse_svcadm),
}
