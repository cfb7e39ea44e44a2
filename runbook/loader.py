"""Loading playbooks: YAML -> typed Playbook, with every problem located.

One pass collects every problem (shape and types from the models, see
``runbook.shape``, then the rules that need the whole playbook, see
``runbook.rules``) and reports them all with file, line and field path. A
playbook with any problem is never returned, so nothing runs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from pydantic import ValidationError

from runbook.errors import PlaybookError, Problem, ValidationErrors
from runbook.models import Playbook
from runbook.plugins import Registry, default_registry
from runbook.rules import Rules
from runbook.shape import pydantic_problems
from runbook.yamlsrc import Source, dotted, load_yaml, read_text

__all__ = ["find_playbooks", "from_source", "load", "loads", "pydantic_problems", "validate",
           "validate_paths"]


def load(path: str | Path, *, registry: Registry | None = None,
         targets: Iterable[str] = ()) -> Playbook:
    """Load and validate a playbook file; ValidationErrors lists every problem.

    ``targets`` names targets defined outside the playbook (an inventory,
    ``--target``), so steps may use them."""
    file = str(path)
    raw, text = read_text(path)
    playbook = loads(text, file=file, registry=registry, targets=targets)
    playbook._sha256 = hashlib.sha256(raw).hexdigest()
    return playbook


def loads(text: str, *, file: str = "<string>", registry: Registry | None = None,
          targets: Iterable[str] = ()) -> Playbook:
    """Load a playbook from YAML text."""
    source = load_yaml(text, file)
    playbook = from_source(source, registry=registry, targets=targets)
    playbook._origin = file
    playbook._sha256 = hashlib.sha256(text.encode()).hexdigest()
    return playbook


def from_source(source: Source, *, registry: Registry | None = None,
                targets: Iterable[str] = ()) -> Playbook:
    data = source.data
    if not isinstance(data, dict):
        raise PlaybookError("expected a mapping with runbook:, name: and steps:",
                            file=source.file, line=source.line_of(()))
    problems = list(_shape_problems(source))
    problems += Rules(source, registry or default_registry(), targets).problems()
    if problems:
        problems.sort(key=lambda p: (p.line or 0, p.field))
        raise ValidationErrors(problems)
    return Playbook.model_validate(data)


def validate(playbook: Playbook, *, registry: Registry | None = None) -> None:
    """Check a playbook built in Python with the same rules as a loaded one."""
    data = playbook.model_dump(by_alias=True, exclude_unset=True)
    problems = Rules(Source("<python>", data), registry or default_registry()).problems()
    if problems:
        raise ValidationErrors(problems)


# --- shape and types, from the pydantic models -------------------------------------------

def _shape_problems(source: Source) -> Iterator[Problem]:
    try:
        Playbook.model_validate(source.data)
    except ValidationError as exc:
        for loc, message in pydantic_problems(exc):
            yield Problem(source.file, source.line_of(loc), dotted(loc), message)


def find_playbooks(paths: list[str]) -> Iterator[Path]:
    """Files as given; folders searched for *.yaml and *.yml."""
    for p in paths:
        path = Path(p)
        if path.is_dir():
            yield from sorted(q for q in path.rglob("*") if q.suffix in (".yaml", ".yml")
                              and q.is_file())
        else:
            yield path


def validate_paths(paths: list[str], *, registry: Registry | None = None,
                   targets: Iterable[str] = ()) -> list[Problem]:
    """Every problem in every playbook under paths (for ``runbook validate``)."""
    problems: list[Problem] = []
    for path in find_playbooks(paths):
        try:
            load(path, registry=registry, targets=targets)
        except ValidationErrors as exc:
            problems.extend(exc.problems)
        except PlaybookError as exc:
            problems.append(exc.problem)
    return problems

