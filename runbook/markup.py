"""rich's console markup without rich: escaping, and the plain text of a markup string.

Piped output (a log file, CI, ``| less``) is plain text, so a run that is not
on a terminal never imports rich (about 50 ms of start-up). The grammar is
rich's own (``[bold]``, ``[/]``, ``\\[`` for a literal bracket), so the
same strings render through rich on a terminal and through here elsewhere.
"""

from __future__ import annotations

import re

_TAGS = re.compile(r"((\\*)\[([a-z#/@][^[]*?)])")
_ESCAPE = re.compile(r"(\\*)(\[[a-z#/@][^[]*?])")


def escape(markup: str) -> str:
    """Text that prints as itself inside markup (rich.markup.escape, same output)."""
    markup = _ESCAPE.sub(lambda m: f"{m.group(1)}{m.group(1)}\\{m.group(2)}", markup)
    if markup.endswith("\\") and not markup.endswith("\\\\"):
        return markup + "\\"
    return markup


def plain(markup: str) -> str:
    """The text a markup string shows, its style tags dropped (as rich renders it)."""
    if "[" not in markup:
        return markup
    out: list[str] = []
    position = 0
    for match in _TAGS.finditer(markup):
        full, escapes, _tag = match.groups()
        start, end = match.span()
        if start > position:
            out.append(markup[position:start].replace("\\[", "["))
        position = end
        if escapes:
            backslashes, escaped = divmod(len(escapes), 2)
            out.append("\\" * backslashes)
            if escaped:
                out.append(full[len(escapes):])
    if position < len(markup):
        out.append(markup[position:].replace("\\[", "["))
    return "".join(out)
