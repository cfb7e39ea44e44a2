"""Line-level editing of ``key = value`` files (Config::General, INI-like).

Pure functions over the text, used by ``host.config_get`` / ``host.config_set``:
a setting is changed in place (indentation, spacing and quotes kept), a
missing one is added at the end of its scope, comments and order stay as
they are. Scopes are the top level, an INI ``[section]`` or a Config::General
``<block>`` (the first one of that name). Values of secret keys (``pass``,
``password``, ``auth``, ``secret``, ``token``) never leave this module
unmasked: diffs and readings show ``***``.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

MASK = "***"
_SETTING = re.compile(r"^(?P<indent>\s*)(?P<key>[A-Za-z0-9_.:-]+)(?P<sep>\s*=\s*)"
                      r"(?P<value>.*?)(?P<trail>\s*)$")
_SECTION = re.compile(r"^\s*\[(?P<name>[^\]]+)\]\s*$")
_OPEN = re.compile(r"^\s*<(?P<name>[A-Za-z0-9_.:-]+)>\s*$")
_CLOSE = re.compile(r"^\s*</(?P<name>[A-Za-z0-9_.:-]+)>\s*$")
_SECRET = re.compile(r"(?:^|[-_.])(pass|password|passwd|auth|secret|token)$", re.I)


def is_secret(key: str) -> bool:
    return bool(_SECRET.search(key))


def unquote(value: str) -> str:
    value = value.strip()
    return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value


@dataclass(frozen=True)
class Scope:
    """Lines [start, end) of a scope; ``indent`` for lines added to it."""

    start: int
    end: int
    indent: str


def _scope(lines: list[str], section: str | None) -> Scope | None:
    if section is None:
        end = next((i for i, line in enumerate(lines) if _SECTION.match(line)), len(lines))
        return Scope(0, end, "")
    for i, line in enumerate(lines):
        if (m := _SECTION.match(line)) and m["name"].strip() == section:
            end = next((j for j in range(i + 1, len(lines)) if _SECTION.match(lines[j])),
                       len(lines))
            return Scope(i + 1, end, "")
        if (m := _OPEN.match(line)) and m["name"] == section:
            depth, j = 1, i + 1
            while j < len(lines) and depth:
                depth += 1 if _OPEN.match(lines[j]) else -1 if _CLOSE.match(lines[j]) else 0
                j += 1
            indent = re.match(r"\s*", line)[0] + "    "  # type: ignore[index]
            return Scope(i + 1, j - 1, indent)
    return None


def _top_level(lines: list[str], scope: Scope) -> list[int]:
    """Indices of the scope's own lines (not those of blocks nested in it)."""
    depth, own = 0, []
    for i in range(scope.start, scope.end):
        if _OPEN.match(lines[i]):
            depth += 1
        elif _CLOSE.match(lines[i]):
            depth -= 1
        elif depth == 0:
            own.append(i)
    return own


def read(text: str, section: str | None = None) -> dict[str, str] | None:
    """The scope's settings (the last of a repeated key wins), secrets masked; None
    when the section is not in the file."""
    lines = text.splitlines()
    scope = _scope(lines, section)
    if scope is None:
        return None
    found: dict[str, str] = {}
    for i in _top_level(lines, scope):
        m = _SETTING.match(lines[i])
        if m and not lines[i].lstrip().startswith(("#", ";")):
            found[m["key"]] = MASK if is_secret(m["key"]) else unquote(m["value"])
    return found


@dataclass(frozen=True)
class Edit:
    """What setting some keys does to a file."""

    text: str
    changed: list[str]
    unchanged: list[str]


def apply(text: str, settings: dict[str, str], section: str | None = None) -> Edit:
    """Set each key of ``settings`` in the scope: replace its value, or add it at the
    scope's end; keys already holding the value are left alone."""
    lines = text.splitlines()
    scope = _scope(lines, section)
    if scope is None:
        lines += ["", f"[{section}]"]
        scope = Scope(len(lines), len(lines), "")
    where = {}
    for i in _top_level(lines, scope):
        m = _SETTING.match(lines[i])
        if m and not lines[i].lstrip().startswith(("#", ";")):
            where[m["key"]] = i
    changed, unchanged, added = [], [], []
    for key, value in settings.items():
        if key not in where:
            added.append(f"{scope.indent}{key} = {value}")
            changed.append(key)
            continue
        m = _SETTING.match(lines[where[key]])
        assert m is not None
        if unquote(m["value"]) == value:
            unchanged.append(key)
            continue
        quoted = f'"{value}"' if m["value"].strip().startswith('"') else value
        lines[where[key]] = f"{m['indent']}{key}{m['sep']}{quoted}{m['trail']}"
        changed.append(key)
    end = scope.end
    while end > scope.start and not lines[end - 1].strip():
        end -= 1
    lines[end:end] = added
    out = "\n".join(lines) + ("\n" if text.endswith("\n") or not text else "")
    return Edit(out if changed else text, changed, unchanged)


def mask_line(line: str) -> str:
    """One line with a secret value replaced by ``***``."""
    m = _SETTING.match(line)
    if m and is_secret(m["key"]):
        return f"{m['indent']}{m['key']}{m['sep']}{MASK}"
    if m and re.search(r"\bpass(word)?=\S+", m["value"]):
        return re.sub(r"\b(pass(?:word)?=)\S+", rf"\1{MASK}", line)
    return line


def masked(text: str) -> list[str]:
    """The file's lines with secret values replaced by ``***``."""
    return [mask_line(line) for line in text.splitlines()]


def diff(before: str, after: str, path: str) -> str:
    """A unified diff of the change, secrets masked: the diff is made on the real lines
    (so a changed secret shows as ``-key = ***`` / ``+key = ***``), then masked."""
    lines = difflib.unified_diff(before.splitlines(), after.splitlines(), f"{path} (before)",
                                 f"{path} (after)", lineterm="")
    return "\n".join(line if n < 2 or line.startswith("@@") else line[:1] + mask_line(line[1:])
                     for n, line in enumerate(lines))
