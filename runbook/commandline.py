"""A command written as one string: split into words first, then render each word.

Splitting after rendering made a param value several arguments (a pattern of
``nothing -o -exec touch X ;`` handed ``find`` an ``-exec``). Here the
template text is split with shlex *before* rendering, each ``{{ ... }}`` and
``{% ... %}`` kept whole, so whatever a value holds it stays one argument
(a list value is one argument per element). With ``shell: true`` the command
text is rendered with every template value shell-quoted where it is put: the
playbook's own text is shell, values are data.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from runbook.errors import StepError, TemplateError
from runbook.templating import is_template

if TYPE_CHECKING:
    from runbook.templating import Templates

_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
_HOLE = "\ue000{}\ue001"
_HOLE_RE = re.compile("\ue000(\\d+)\ue001")


def split_template(source: str) -> list[str]:
    """shlex words of a template string, its tags kept whole (ValueError if unbalanced)."""
    tags: list[str] = []

    def hole(match: re.Match[str]) -> str:
        tags.append(match.group(0))
        return _HOLE.format(len(tags) - 1)

    words = shlex.split(_TAG.sub(hole, source))
    return [_HOLE_RE.sub(lambda m: tags[int(m.group(1))], w) for w in words]


def word(value: Any) -> str:
    """An argument as a shell would see it: numbers and booleans as text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


@dataclasses.dataclass
class Rendered:
    """An action's arguments rendered, and each template beside what it rendered to
    (a command string word by word): where values came from, for ``risky`` and for
    masking what was derived from a secret."""

    args: dict[str, Any]
    pairs: list[tuple[str, Any]] = dataclasses.field(default_factory=list)

    @property
    def risky(self) -> set[str]:
        """Strings whose first character came from a template value and is ``-``."""
        return {s for source, value in self.pairs
                if source.lstrip().startswith(("{{", "{%"))
                for s in strings(value) if s.startswith("-")}


def render_command(templates: Templates, value: Any, context: Mapping[str, Any], *,
                   shell: bool, step: str | None, field: str,
                   pairs: list[tuple[str, Any]] | None = None) -> Any:
    """A ``command`` value rendered so that no value can add arguments or shell syntax."""
    pairs = [] if pairs is None else pairs
    if not (isinstance(value, str) and is_template(value)):
        rendered = templates.render(value, context, step=step, field=field)
        pairs += template_pairs(value, rendered)
        return rendered
    if shell:
        quoted = templates.render_quoted(value, context, step=step, field=field)
        pairs.append((value, quoted))
        return quoted
    try:
        words = split_template(value)
    except ValueError as exc:
        raise TemplateError(f"cannot split {value!r} into words: {exc}", step=step,
                            field=field, template=value) from None
    argv: list[str] = []
    for text in words:
        rendered = templates.render(text, context, step=step, field=field)
        if is_template(text):
            pairs.append((text, rendered))
        if isinstance(rendered, (list, tuple)):
            argv.extend(word(v) for v in rendered)
        elif rendered == "" and "{%" in text:
            continue  # a conditional word that renders to nothing is no argument
        else:
            argv.append(word(rendered))
    return argv


def render_args(templates: Templates, action: Any, raw: Mapping[str, Any],
                context: Mapping[str, Any], *, step: str | None, field: str) -> Rendered:
    """An action's ``with`` rendered. The action's ``command_field``, if it has one, is
    rendered as a command (split first; quoted under its ``shell_field``)."""
    name = getattr(action, "command_field", None)
    rest = {k: v for k, v in raw.items() if k != name}
    out = Rendered(templates.render(rest, context, step=step, field=field))
    out.pairs = template_pairs(rest, out.args)
    if name is None or name not in raw:
        return out
    shell_field = getattr(action, "shell_field", None)
    shell = bool(out.args.get(shell_field)) if shell_field else False
    where = f"{field}.{name}" if field else name
    out.args[name] = render_command(templates, raw[name], context, shell=shell, step=step,
                                    field=where, pairs=out.pairs)
    return out


def template_pairs(raw: Any, rendered: Any) -> list[tuple[str, Any]]:
    """Each template string in ``raw`` with what it rendered to in ``rendered``."""
    if isinstance(raw, str):
        return [(raw, rendered)] if is_template(raw) else []
    if isinstance(raw, Mapping) and isinstance(rendered, Mapping):
        return [p for k, v in raw.items() if k in rendered
                for p in template_pairs(v, rendered[k])]
    if isinstance(raw, list) and isinstance(rendered, list) and len(raw) == len(rendered):
        return [p for r, v in zip(raw, rendered, strict=True) for p in template_pairs(r, v)]
    return []


def strings(value: Any) -> list[str]:
    """Every string inside a value (lists and mappings included)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in strings(v)]
    return []


_NUMBER = re.compile(r"-\d+(\.\d+)?")


def option_like(argvs: list[list[str]], risky: set[str], *, anywhere: bool) -> str | None:
    """The first argument (after the program, before any ``--``) that carries a value
    from a template beginning with ``-`` (a negative number aside): it would be read
    as an option. ``anywhere``: a plugin's argument carrying the value anywhere in it
    (``deployment/--kubeconfig=x``: names never begin with ``-``); otherwise (a command
    the playbook writes word by word) only an argument beginning with it."""
    values = {v for v in risky if not _NUMBER.fullmatch(v)}
    if not values:
        return None
    for argv in argvs:
        for arg in argv[1:]:
            if arg == "--":
                break
            if any(v in arg if anywhere else arg.startswith(v) for v in values):
                return arg
    return None


@dataclasses.dataclass(frozen=True)
class OptionGuard:
    """The values of one step (on one host) that may not become options: checked on
    the planned commands and again on every command the action really runs
    (``ActionContext.exec``), since some actions build more argv while they run."""

    risky: frozenset[str] = frozenset()
    anywhere: bool = True
    action: str = ""

    def check(self, argvs: list[list[str]], redact: Any = str) -> None:
        found = option_like(argvs, set(self.risky), anywhere=self.anywhere)
        if found is not None:
            raise StepError(
                f"{self.action}: the argument {redact(found)!r} comes from a value that "
                "begins with '-', so the command would read it as an option; a name or "
                "value given as a param or taken from a result may not begin with '-' "
                "(in host.shell, put it after '--' if the command takes one)")
