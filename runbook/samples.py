"""Output parsers as plugins declare them, and the recorded samples they are tested on.

A plugin answers the ``runbook_parsers()`` hook with ``{name: OutputParser}``.
Every ``<folder>/<NN-case>.expected.json`` in the parser's samples folder is
one case: the parser gets the case's ``.stdout`` and ``.stderr`` ("" when
absent), ``.rc`` (0 when absent) and keyword arguments from ``.args.json``,
and must return exactly the expected value. ``tests/test_parsers.py`` runs
every declared case, so a new plugin's samples are tested without editing it.
This module imports nothing heavy: plugins' parse modules may import it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SAMPLE_SUFFIXES = (".stdout", ".stderr", ".rc", ".args.json", ".expected.json")
EXPECTED = ".expected.json"


@dataclass(frozen=True)
class OutputParser:
    """A parser of one command's output and where its recorded samples are.

    ``parse(stdout, stderr, rc, **kwargs)`` returns the parsed value.
    ``samples`` is the folder of cases: an absolute path (a plugin shipping its
    own samples), a path relative to the project's samples root (the built-in
    plugins' ``tests/samples``), or None for a folder named after the parser.
    """

    parse: Callable[..., Any]
    samples: str | Path | None = None

    def folder(self, name: str, root: Path) -> Path:
        """The samples folder, relative ones resolved against ``root``."""
        path = Path(name if self.samples is None else self.samples)
        return path if path.is_absolute() else root / path


@dataclass(frozen=True)
class SampleCase:
    """One recorded output and the value it must parse to."""

    base: Path
    """The folder and case name without suffix, e.g. ``.../kubectl-scale/01-scaled``."""

    @property
    def name(self) -> str:
        return f"{self.base.parent.name}/{self.base.name}"

    def part(self, suffix: str, default: str = "") -> str:
        path = self.base.with_name(self.base.name + suffix)
        # Decoding the bytes keeps them as recorded (read_text would translate newlines).
        return path.read_bytes().decode("utf-8") if path.exists() else default

    def run(self, parse: Callable[..., Any]) -> Any:
        """What ``parse`` makes of this case's recorded output."""
        rc = int(self.part(".rc", "0").strip())
        kwargs = json.loads(self.part(".args.json", "{}"))
        return parse(self.part(".stdout"), self.part(".stderr"), rc, **kwargs)

    def expected(self) -> Any:
        return json.loads(self.part(EXPECTED))


def sample_cases(folder: Path) -> list[SampleCase]:
    """Every case of a samples folder, in name order."""
    return [SampleCase(path.with_name(path.name[: -len(EXPECTED)]))
            for path in sorted(folder.glob(f"*{EXPECTED}"))]


def stray_files(folder: Path) -> list[Path]:
    """Files of a samples folder that belong to no case (a typo in a suffix or a stem)."""
    out = []
    for path in sorted(folder.iterdir()):
        suffix = next((s for s in SAMPLE_SUFFIXES if path.name.endswith(s)), None)
        stem = path.name[: -len(suffix)] if suffix else None
        if stem is None or not (folder / f"{stem}{EXPECTED}").exists():
            out.append(path)
    return out
