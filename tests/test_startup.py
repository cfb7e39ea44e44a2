"""Start-up stays lazy: what a one-step local run, a validate and a plan import.

Each case runs the real ``python -m runbook`` in a subprocess with a hook that
lists ``sys.modules`` just before the process exits, then asserts that the
libraries the command does not need were never imported. Not a timing test:
a timing assertion would be flaky on a shared machine; an import that sneaks
back in is what makes start-up slow, and that is deterministic.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import audit_events, fresh_python, write_playbook

_PROBE = """\
import atexit, runpy, sys
out = sys.argv[1]
def dump():
    with open(out, "w") as f:
        f.write("\\n".join(sorted(sys.modules)))
atexit.register(dump)
sys.argv = ["runbook", *sys.argv[2:]]
runpy.run_module("runbook", run_name="__main__")
"""

NEVER_ON_A_PIPED_LOCAL_RUN = {
    "rich",            # plain text when the output is not a terminal (runbook.markup)
    "structlog",       # the audit pipeline needs structlog._base only
    "structlog.dev",   # ... which pulls in rich.traceback
    "paramiko",        # no SSH target
    "cryptography",
    "jinja2",          # nothing templated in the playbook
    "tenacity",        # no retry
    "psycopg",         # no database-backed state
    # actions the playbook does not name (declared lazily by their plugins)
    "runbook_kafka.actions", "runbook_cfs.actions", "runbook_kubectl.actions",
    "runbook_svcs.actions", "runbook_vminfo.actions", "runbook_cassandra.actions",
    "runbook_stomp.config_actions", "runbook_host.packages", "runbook_host.processes",
}


def imported(tmp_path: Path, *args: object) -> set[str]:
    out = tmp_path / "modules.txt"
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE",
                                                          "TTY_INTERACTIVE")}
    res = subprocess.run([sys.executable, "-c", _PROBE, str(out), *map(str, args)],
                         stdin=subprocess.DEVNULL, capture_output=True, text=True,
                         cwd=tmp_path, env=env, timeout=120, check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    return set(out.read_text().split())


@pytest.fixture
def one_step(tmp_path: Path) -> Path:
    return write_playbook(tmp_path / "one.yaml", {"id": "s0", "action": "host.shell",
                                                  "with": {"command": ["/bin/true"]}})


def test_a_piped_one_step_local_run_imports_only_what_it_uses(tmp_path: Path,
                                                               one_step: Path) -> None:
    log = tmp_path / "audit.jsonl"
    modules = imported(tmp_path, "run", one_step, "--yes", "--audit-log", log)
    # the run really happened, durably: its audit events are on disk
    names = [e["event"] for e in audit_events(log)]
    assert "step.started" in names and names[-1] == "run.finished"
    assert "structlog._base" in modules
    assert modules & NEVER_ON_A_PIPED_LOCAL_RUN == set()


@pytest.mark.parametrize("command", ["validate", "plan"])
def test_validate_and_plan_stay_lazy_too(tmp_path: Path, one_step: Path,
                                         command: str) -> None:
    modules = imported(tmp_path, command, one_step)
    assert modules & NEVER_ON_A_PIPED_LOCAL_RUN == set()


def test_help_imports_click_and_nothing_of_the_engine(tmp_path: Path) -> None:
    modules = imported(tmp_path, "--help")
    assert "click" in modules
    assert modules & {"pydantic", "pluggy", "runbook.engine", "yaml", "sqlite3",
                      *NEVER_ON_A_PIPED_LOCAL_RUN} == set()


def test_importing_runbook_itself_is_cheap() -> None:
    """Stand-ins and plugins import ``runbook``: it must not pull in pluggy or pydantic."""
    res = subprocess.run([sys.executable, "-S", "-c",
                          "import sys, runbook; print(*sorted(sys.modules))"],
                         capture_output=True, text=True, timeout=60, check=True,
                         env={**os.environ,
                              "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert set(res.stdout.split()) & {"pluggy", "pydantic", "click", "yaml"} == set()


@pytest.mark.parametrize("text", [
    "plain", "[bold]x[/] y", "a [dim]b [red]c[/] d[/]", "list[int] and [x]", "C:\\path\\",
    "\\[bold] literal", "\\\\[bold]x[/]", "ends with \\", "[bold red]succeeded[/] · exit 0",
    "weird [@click=x] [#ff0000]hex[/]", "[/]", "a\\[b", "[link=https://x]l[/link]",
])
def test_piped_text_is_what_rich_would_print(text: str) -> None:
    """runbook.markup (used when output is not a terminal) agrees with rich itself."""
    from rich.markup import escape as rich_escape
    from rich.text import Text

    from runbook.markup import escape, plain

    assert escape(text) == rich_escape(text)
    assert plain(escape(text)) == Text.from_markup(escape(text), emoji=False).plain
    try:
        expected = Text.from_markup(text, emoji=False).plain
    except Exception:  # rich rejects unbalanced closing tags; we print the text instead
        return
    assert plain(text) == expected


def test_a_piped_run_prints_plain_lines(tmp_path: Path, one_step: Path) -> None:
    res = subprocess.run([sys.executable, "-m", "runbook", "run", str(one_step), "--yes",
                          "--audit-log", str(tmp_path / "a.jsonl")], stdin=subprocess.DEVNULL,
                         capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 0, res.stderr
    assert "\x1b[" not in res.stdout and "[/" not in res.stdout
    assert "  ✓ s0 ok" in res.stdout
    assert "succeeded · exit 0 · steps: 1 ok" in res.stdout


def test_paramiko_is_imported_without_invoke_and_invoke_stays_importable() -> None:
    """paramiko.config imports invoke (as long again as paramiko itself) for ssh_config's
    ``Match exec``, which runbook never reads: it is hidden while paramiko loads, and only
    then (sys.modules holds no placeholder afterwards, so a later import works)."""
    code = ("import sys, importlib.util\n"
            "import runbook.executors.ssh, paramiko.config\n"
            "print('paramiko' in sys.modules, sys.modules.get('invoke', 'absent'),"
            " paramiko.config.invoke)\n")
    assert fresh_python(code).split() == ["True", "absent", "None"]
