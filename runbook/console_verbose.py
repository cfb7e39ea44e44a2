"""``-v`` and ``-vv``: the commands each step runs, and the output they print.

An observer beside the console's progress lines (``runbook.console``): with
``-v`` each step's commands as it starts (already redacted by the engine),
with ``-vv`` also every line they print, as they print it (``line``, given to
``RunOptions.on_output``; the run redacts each line first). Without live
lines (``live=False``) the step's stdout and stderr are printed when it ends,
from its redacted, capped result (the last lines when there are many).
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

    def __init__(self, console: Console, level: int, *, live: bool = False) -> None:
        self.console = console
        self.level = level
        self.live = live
        """Output arrives line by line through ``line`` (RunOptions.on_output)."""
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

    def line(self, step: str, target: str, stream: str, line: str) -> None:
        """``RunOptions.on_output``: one line of a command's output (already redacted),
        printed as the command prints it."""
        self._print(f"      [dim]{_host(target)}{stream}:[/] {escape(line.rstrip())}")

    @hookimpl
    def runbook_step_finished(self, run: RunInfo, event: Event) -> None:
        """-vv and a command that did not stream (``live=False``): its output at the end
        (with live lines, a background step's lines too came as it printed them)."""
        if self.level < 2 or event.step is None or self.live:
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
    return _host(event.host)


def _host(name: str | None) -> str:
    return f"\\[{escape(name)}] " if name else ""


def output_of(result: Any) -> list[tuple[str, str]]:
    """(stream, text) a step's result carries: stdout and stderr, when it has them."""
    if not isinstance(result, dict):
        return []
    return [(s, result[s]) for s in ("stdout", "stderr")
            if isinstance(result.get(s), str) and result[s].strip()]
