"""YAML with line numbers, refusing bombs: plain data plus a path -> line map.

PyYAML composes a node graph without expanding aliases; we then build plain
Python data ourselves, counting every node we produce so that a
billion-laughs document is refused after a bounded amount of work, and
remembering where each mapping key and list item was written.
"""

from __future__ import annotations

import os
import re
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

import yaml

from runbook.errors import PlaybookError

MAX_BYTES = 1_000_000
MAX_NODES = 200_000
MAX_ALIASES = 1_000
MAX_DEPTH = 64

Path = tuple[str | int, ...]

try:  # the C loader is ~10x faster; fall back where libyaml is missing
    _Loader: type[Any] = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _Loader = yaml.SafeLoader


@dataclass
class Source:
    """Parsed YAML with where each value came from."""

    file: str
    data: Any
    lines: dict[Path, int] = field(default_factory=dict)

    def line_of(self, path: Path) -> int | None:
        """The line of the deepest known prefix of path (1-based)."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return None


class _Builder:
    def __init__(self, file: str) -> None:
        self.file = file
        self.lines: dict[Path, int] = {}
        self.count = 0
        self.aliases = 0
        self.seen: dict[int, int] = {}
        self.scalars = yaml.constructor.SafeConstructor()
        self.stack: set[int] = set()
        self.current_line: int | None = None

    def build(self, node: yaml.Node, path: Path) -> Any:
        self.current_line = node.start_mark.line + 1
        if len(path) > MAX_DEPTH:
            raise PlaybookError(f"nested more than {MAX_DEPTH} levels deep", file=self.file,
                                line=self.current_line)
        if id(node) in self.stack:
            raise PlaybookError("an alias refers to a node that contains it (a recursive "
                                "alias)", file=self.file, line=self.current_line)
        self.stack.add(id(node))
        try:
            return self._build(node, path)
        finally:
            self.stack.discard(id(node))

    def _build(self, node: yaml.Node, path: Path) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise PlaybookError(f"document too large: more than {MAX_NODES} values "
                                "(an alias bomb?)", file=self.file,
                                line=node.start_mark.line + 1)
        ident = id(node)
        if ident in self.seen:
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise PlaybookError(f"too many aliases (more than {MAX_ALIASES}); refusing "
                                    "to expand them", file=self.file,
                                    line=node.start_mark.line + 1)
        self.seen[ident] = 1
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self.scalars.construct_object(node, deep=True)


    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[Any, Any]:
        """A mapping; ``<<`` merges as YAML 1.1 defines it: the mapping's own keys win
        over merged ones wherever they are written, earlier merges over later ones."""
        out: dict[Any, Any] = {}
        merged_keys: set[Any] = set()
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                self._merge(value_node, path, out, merged_keys)
                continue
            key = self.build(key_node, path)
            if not isinstance(key, Hashable):
                raise PlaybookError("a mapping key must be a plain value", file=self.file,
                                    line=key_node.start_mark.line + 1)
            if key in merged_keys:  # overrides what a merge brought
                merged_keys.discard(key)
                del out[key]
            if key in out:
                raise PlaybookError(f"duplicate key {key!r}", file=self.file,
                                    line=key_node.start_mark.line + 1,
                                    field=_dotted((*path, str(key))))
            sub = (*path, str(key))
            self.lines[sub] = key_node.start_mark.line + 1
            out[key] = self.build(value_node, sub)
        return out

    def _merge(self, value_node: yaml.Node, path: Path, out: dict[Any, Any],
               merged_keys: set[Any]) -> None:
        merged = self.build(value_node, path)
        items = merged if isinstance(merged, list) else [merged]
        if not items or not all(isinstance(item, dict) for item in items):
            raise PlaybookError("a merge (<<) takes a mapping or a list of mappings (an "
                                "alias such as *defaults)", file=self.file,
                                line=value_node.start_mark.line + 1, field=_dotted(path))
        for item in items:
            for k, v in item.items():
                if k not in out:
                    out[k] = v
                    merged_keys.add(k)


def _dotted(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def dotted(path: Path) -> str:
    """``steps[2].with.replicas`` — how field paths are shown to people."""
    return _dotted(path)


def read_text(path: str | os.PathLike[str], what: str = "file") -> tuple[bytes, str]:
    """A file's bytes and UTF-8 text; PlaybookError (with the line of a bad byte) otherwise.
    Reads at most MAX_BYTES (``/dev/zero`` or a huge file is refused, not read)."""
    file = os.fspath(path)
    try:
        with open(file, "rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise PlaybookError(f"cannot read {what}: {exc.strerror or exc}", file=file) from exc
    if len(raw) > MAX_BYTES:
        raise PlaybookError(f"{what} too large (over {MAX_BYTES // 1000} kB)", file=file)
    try:
        return raw, raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PlaybookError(f"not UTF-8 text (byte {exc.start})", file=file,
                            line=raw[:exc.start].count(b"\n") + 1) from exc


def load_yaml(text: str, file: str) -> Source:
    """Parse one YAML document; PlaybookError with file and line on any problem."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise PlaybookError(f"file too large (over {MAX_BYTES // 1000} kB)", file=file)
    node = _compose(text, file)
    if node is None:
        return Source(file, None, {})
    builder = _Builder(file)
    try:
        data = builder.build(node, ())
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        raise PlaybookError(f"cannot read value: {exc.problem}", file=file,
                            line=mark.line + 1 if mark else None) from exc
    except ValueError as exc:
        raise PlaybookError(f"cannot read value: {exc}", file=file,
                            line=builder.current_line) from exc
    return Source(file, data, builder.lines)


def _compose(text: str, file: str) -> yaml.Node | None:
    """The node graph of the document (aliases not expanded), or a located PlaybookError."""
    # libyaml recurses in C: 50,000 nested brackets crash the process (a segfault, not
    # a RecursionError), so such a text is refused before it is parsed.
    deep = _too_deep(text)
    if deep is not None:
        raise PlaybookError(f"nested too deeply (over {_C_DEPTH:,} brackets)", file=file,
                            line=deep)
    try:
        node: yaml.Node | None = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, text, file) from exc
    except yaml.YAMLError as exc:
        raise PlaybookError(f"YAML error: {exc}", file=file) from exc
    except RecursionError as exc:
        raise PlaybookError("nested too deeply", file=file) from exc
    return node


_C_DEPTH = 5_000
_BRACKETS = re.compile(r"[\[\]{}]")


def _too_deep(text: str) -> int | None:
    """The line where bracket nesting goes over ``_C_DEPTH`` (quotes ignored: only
    thousands of unclosed brackets inside strings could be mistaken for it)."""
    depth = 0
    for match in _BRACKETS.finditer(text):
        depth += 1 if match.group() in "[{" else -1
        if depth > _C_DEPTH:
            return text.count("\n", 0, match.start()) + 1
    return None


def _syntax_error(exc: yaml.MarkedYAMLError, text: str, file: str) -> PlaybookError:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or str(exc)
    if exc.context_mark is not None and "end of stream" in problem:
        # An unclosed quote or bracket: where it opened is what helps.
        mark = exc.context_mark
        problem = f"{exc.context} that is never closed ({problem})"
    elif "cannot start any token" in problem and "\t" in text:
        problem += " (tabs cannot indent YAML; use spaces)"
    line = mark.line + 1 if mark else None
    return PlaybookError(f"YAML syntax error: {problem}", file=file, line=line)
