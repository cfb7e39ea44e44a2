"""``-v`` and ``-vv``: the commands each step runs, and the output it printed.

An observer beside the console's progress lines (``runbook.console``): with
``-v`` each step's commands as it starts (already redacted by the engine),
with ``-vv`` also its stdout and stderr as it finishes (redacted and capped
like the result the engine keeps; the last lines when there are many).
"""

from __future__ import annotations

import shlex
from typing import Any

from rich.console import Console
from rich.markup import escape

from runbook._plugin_markers import hookimpl
from runbook.console import CLOSED
from runbook.events import Event, RunInfo

MAX_LINES = 40
"""Lines of one stream shown per step at ``-vv`` (the last ones)."""


class VerboseObserver:
    """Prints commands (``level`` 1) and their output (``level`` 2)."""

    def __init__(self, console: Console, level: int) -> None:
        self.console = console
        self.level = level
        self.off = False

    def _print(self, text: str) -> None:
        if self.off:
            return
        try:
            self.console.print(text)
        except CLOSED:
            self.off = True

    @hookimpl
    def runbook_step_started(self, run: RunInfo, event: Event) -> None:
        commands = event.data.get("commands") or (
            [shlex.join(event.argv)] if event.argv else [])
        for cmd in commands:
            self._print(f"      [dim]{_on(event)}$ {escape(str(cmd))}[/]")

    @hookimpl
    def runbook_step_finished(self, run: RunInfo, event: Event) -> None:
        if self.level < 2 or event.step is None:
            return
        for stream, text in output_of(event.result):
            lines = text.rstrip("\n").splitlines()
            more = len(lines) - MAX_LINES
            if more > 0:
                self._print(f"      [dim]{_on(event)}{stream}: ({more} earlier lines not "
                            "shown)[/]")
            for line in lines[-MAX_LINES:]:
                self._print(f"      [dim]{_on(event)}{stream}:[/] {escape(line)}")


def _on(event: Event) -> str:
    """``[host] `` for a fan-out host's line."""
    return f"\\[{escape(event.host)}] " if event.host else ""


def output_of(result: Any) -> list[tuple[str, str]]:
    """(stream, text) a step's result carries: stdout and stderr, when it has them."""
    if not isinstance(result, dict):
        return []
    return [(s, result[s]) for s in ("stdout", "stderr")
            if isinstance(result.get(s), str) and result[s].strip()]
