"""A small command-line flag parser shared by the stand-ins.

Real command-line tools parse with Go's pflag, Java's jopt-simple, Python's
click and the like; their accepted spellings overlap enough for one parser:
``--flag value``, ``--flag=value``, ``-n value``, ``-nvalue``,
``-n=value``, grouped short booleans (``-it``), ``--bool=false`` and ``--``
ending the flags. Each tool turns ``UsageError`` into its own message.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class UsageError(Exception):
    """Invalid usage; ``kind`` is one of: unknown, missing_value, bad_bool."""

    def __init__(self, kind: str, flag: str, *, short: bool = False, token: str = "") -> None:
        super().__init__(f"{kind}: {flag}")
        self.kind = kind
        self.flag = flag
        self.short = short
        self.token = token


@dataclass
class Parsed:
    values: dict[str, list[str]] = field(default_factory=dict)
    args: list[str] = field(default_factory=list)
    rest: list[str] | None = None
    """Everything after ``--``, or None when there was no ``--``."""

    def has(self, name: str) -> bool:
        return name in self.values

    def get(self, name: str, default: str | None = None) -> str | None:
        found = self.values.get(name)
        return found[-1] if found else default

    def flag(self, name: str) -> bool:
        return self.get(name, "false") == "true"

    def all(self, name: str) -> list[str]:
        return self.values.get(name, [])


_TRUE = {"true", "1", "t", "True", "TRUE"}
_FALSE = {"false", "0", "f", "False", "FALSE"}


def parse(argv: list[str], flags: dict[str, bool], shorts: dict[str, str] | None = None) -> Parsed:
    """Parse ``argv``; ``flags`` maps each long name to whether it takes a value."""
    shorts = shorts or {}
    out = Parsed()
    i = 0
    while i < len(argv):
        token = argv[i]
        i += 1
        if token == "--":
            out.rest = argv[i:]
            break
        if token.startswith("--") and len(token) > 2:
            name, eq, value = token[2:].partition("=")
            if name not in flags:
                raise UsageError("unknown", name, token=token)
            if flags[name]:
                if not eq:
                    if i >= len(argv):
                        raise UsageError("missing_value", name, token=token)
                    value = argv[i]
                    i += 1
            else:
                value = _boolean(name, value) if eq else "true"
            out.values.setdefault(name, []).append(value)
        elif token.startswith("-") and len(token) > 1:
            i = _short_group(token, argv, i, flags, shorts, out)
        else:
            out.args.append(token)
    return out


def _short_group(token: str, argv: list[str], i: int, flags: dict[str, bool],
                 shorts: dict[str, str], out: Parsed) -> int:
    letters = token[1:]
    j = 0
    while j < len(letters):
        letter = letters[j]
        name = shorts.get(letter)
        if name is None:
            raise UsageError("unknown", letter, short=True, token=token)
        if flags[name]:
            value = letters[j + 1:]
            if value.startswith("="):
                value = value[1:]
            if not value:
                if i >= len(argv):
                    raise UsageError("missing_value", letter, short=True, token=token)
                value = argv[i]
                i += 1
            out.values.setdefault(name, []).append(value)
            return i
        out.values.setdefault(name, []).append("true")
        j += 1
    return i


def _boolean(name: str, value: str) -> str:
    if value in _TRUE:
        return "true"
    if value in _FALSE:
        return "false"
    raise UsageError("bad_bool", name, token=value)

