"""Helpers for the engine and CLI tests: playbooks as data, real processes, the audit log.

Playbooks are built as Python data and dumped to YAML, so each test shows only
the steps that matter. Steps run ``sh -c SCRIPT sh ARG...``: the script is a
constant and every value (paths, params) arrives as a positional argument, so
a tmp_path with odd characters cannot change what a command does.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

StepSpec = dict[str, Any]
"""One step (or check) of a playbook, as the YAML mapping it becomes."""

CLI_TIMEOUT = 60.0
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")


# --- playbooks ----------------------------------------------------------------------------------


def playbook(*steps: StepSpec, name: str = "t", params: dict[str, Any] | None = None,
             preconditions: Sequence[StepSpec] = (), verify: Sequence[StepSpec] = (),
             defaults: dict[str, Any] | None = None) -> str:
    """The YAML text of a playbook with these steps (runbook: 1, a name, and the rest)."""
    doc: dict[str, Any] = {"runbook": 1, "name": name, "title": f"test playbook {name}"}
    if params:
        doc["params"] = params
    if defaults:
        doc["defaults"] = defaults
    if preconditions:
        doc["preconditions"] = list(preconditions)
    doc["steps"] = list(steps)
    if verify:
        doc["verify"] = list(verify)
    return yaml.safe_dump(doc, sort_keys=False, width=1000)


def write_playbook(path: Path, *steps: StepSpec, **kw: Any) -> Path:
    """Write playbook(*steps, **kw) to path and return the path."""
    path.write_text(playbook(*steps, **kw), encoding="utf-8")
    return path


def sh(script: str, *args: object) -> list[str]:
    """argv for ``sh -c SCRIPT sh ARGS...`` (the args are $1, $2, ...)."""
    return ["sh", "-c", script, "sh", *(str(a) for a in args)]


def shell(step_id: str, script: str, *args: object, **keys: Any) -> StepSpec:
    """A mutating host.shell step running sh_argv(script, *args); extra keys as given."""
    return {"id": step_id, "action": "host.shell", "with": {"command": sh(script, *args)},
            **keys}


def query(step_id: str, script: str, *args: object, **keys: Any) -> StepSpec:
    """A read-only host.query step."""
    return {"id": step_id, "action": "host.query", "with": {"command": sh(script, *args)},
            **keys}


def probe(script: str, *args: object, that: str | list[str], **keys: Any) -> StepSpec:
    """A check (precondition, post-condition or verify) probing with host.query."""
    return {"probe": "host.query", "with": {"command": sh(script, *args)}, "that": that,
            **keys}


APPEND = 'printf "%s\\n" "$1" >> "$2"'
"""sh script: append the line $1 to the file $2."""


def append_rollback(log: Path, line: str) -> StepSpec:
    """An explicit rollback that appends line to log."""
    return {"action": "host.shell", "with": {"command": sh(APPEND, line, log)}}


def append(step_id: str, log: Path, line: str, *, undo: str | None = None,
           **keys: Any) -> StepSpec:
    """A step appending line to log; with undo, its rollback appends undo."""
    step = shell(step_id, APPEND, line, log, **keys)
    if undo is not None:
        step["rollback"] = append_rollback(log, undo)
    return step


def fail(step_id: str, rc: int = 1, **keys: Any) -> StepSpec:
    """A mutating step whose command exits rc."""
    return shell(step_id, 'echo "failing on purpose" >&2; exit "$1"', rc, **keys)


def lines(path: Path) -> list[str]:
    """The lines of a text file, [] if it does not exist."""
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


# --- the audit log ------------------------------------------------------------------------------


def audit_events(path: Path, run_id: str | None = None) -> list[dict[str, Any]]:
    """Every event of the audit log (of one run if run_id is given), in file order."""
    events = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return [e for e in events if run_id is None or e["run_id"] == run_id]


def event_names(events: list[dict[str, Any]], *names: str) -> list[tuple[str, str | None]]:
    """(event, step) pairs of the events with one of these names, in order."""
    return [(e["event"], e["step"]) for e in events if e["event"] in names]


# --- processes ----------------------------------------------------------------------------------


def pid_gone(pid: int) -> bool:
    """True if the process no longer runs.

    A zombie counts as gone: it has exited and only waits to be reaped by its
    parent, and in some containers PID 1 never reaps orphans.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    return "\nState:\tZ" in status


def wait_gone(pid: int, timeout: float = 3.0) -> bool:
    """Poll until the process is gone; False if it still runs after timeout."""
    deadline = time.monotonic() + timeout
    while not pid_gone(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def read_pid(path: Path, timeout: float = 5.0) -> int:
    """The pid a command wrote to path (waiting for it to appear)."""
    deadline = time.monotonic() + timeout
    while True:
        raw = path.read_text() if path.exists() else ""
        if raw.endswith("\n") and raw.strip().isdigit():
            return int(raw)
        if time.monotonic() >= deadline:
            raise AssertionError(f"no pid written to {path} within {timeout}s")
        time.sleep(0.02)


def kill_if_alive(*pids: int) -> None:
    """Clean up after a failing test: SIGKILL what a step of the test had started.

    A step's command leads its own process group (the local executor starts
    a new session), so its group goes too.
    """
    for pid in pids:
        if pid_gone(pid):
            continue
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if os.getpgid(pid) == pid:
                os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


# --- the CLI ------------------------------------------------------------------------------------


def cli_argv(*args: object) -> list[str]:
    return [sys.executable, "-m", "runbook", *(str(a) for a in args)]


def run_cli(*args: object, cwd: Path | None = None,
            timeout: float = CLI_TIMEOUT) -> subprocess.CompletedProcess[str]:
    """``python -m runbook ARGS`` with no terminal (stdin is /dev/null), output captured."""
    return subprocess.run(cli_argv(*args), stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, cwd=cwd, timeout=timeout, check=False)


def start_cli(*args: object, cwd: Path | None = None,
              env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """``python -m runbook ARGS`` started in the background, no terminal, output piped."""
    return subprocess.Popen(cli_argv(*args), cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)


def fresh_python(code: str, cwd: Path | None = None) -> str:
    """What ``code`` prints in a fresh interpreter (start-up and import checks: nothing
    this test process has imported counts there)."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True, cwd=cwd).stdout


def wait_for(path: Path, timeout: float = 30) -> None:
    """Return once ``path`` exists (a marker a step writes); fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def plain(text: str) -> str:
    """Terminal output without colour codes and carriage returns."""
    return _ANSI.sub("", text)


def run_cli_pty(*args: object, answer: str, prompt: str = "Proceed? [y/N]",
                timeout: float = 30.0) -> tuple[int, str]:
    """Run the CLI on a pseudo-terminal, type answer at the first prompt.

    Returns (exit status, everything the terminal showed). Fails the test if
    the prompt never appears.
    """
    master, slave = os.openpty()
    proc = subprocess.Popen(cli_argv(*args), stdin=slave, stdout=slave, stderr=slave,
                            close_fds=True, env={**os.environ, "TERM": "dumb",
                                                 "COLUMNS": "200"})
    os.close(slave)
    seen = b""
    answered = False
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: every writer of the terminal has gone
                    break
                if not chunk:
                    break
                seen += chunk
            if not answered and prompt.encode() in seen:
                os.write(master, answer.encode() + b"\n")
                answered = True
            if proc.poll() is not None and not ready:
                break
        rc = proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    text = plain(seen.decode("utf-8", "replace"))
    if not answered:
        raise AssertionError(f"the prompt {prompt!r} never appeared; terminal showed:\n{text}")
    return rc, text


def run_with_tools(tmp_path: Path, tools: Path, *steps: dict[str, Any],
                   target: str = "psds0") -> Any:
    """``steps`` as a playbook on one local target whose PATH starts with ``tools`` (the
    stand-ins a test wrote), run through the library with the run's own audit log."""
    import runbook

    doc = {"runbook": 1, "name": "t", "title": "with tools",
           "targets": {target: {"connection": "local",
                                "env": {"PATH": f"{tools}:{os.environ['PATH']}"}}},
           "defaults": {"target": target}, "steps": list(steps)}
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return runbook.run(path, yes=True, audit_log=str(tmp_path / "audit.jsonl"))


def step_result(res: Any, step: str) -> Any:
    """The result of step ``step`` in a library RunResult."""
    return next(s for s in res.steps if s.id == step).result


def run_json(playbook: Path, box: Path) -> tuple[int, dict[str, Any]]:
    """``runbook run PLAYBOOK --sandbox BOX --yes --json``: exit status and document."""
    proc = run_cli("run", playbook, "--sandbox", box, "--yes", "--json")
    assert proc.stdout, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def json_step(result: dict[str, Any], step_id: str) -> dict[str, Any]:
    """Step ``step_id`` of a ``--json`` run document."""
    found: dict[str, Any] = next(s for s in result["steps"] if s["id"] == step_id)
    return found


def new_ssh_key(path: Path) -> Path:
    """A fresh ed25519 key pair without passphrase at ``path`` (and ``path.pub``)."""
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
                   check=True, capture_output=True, timeout=30)
    return path


def fail_after(playbook: Path, step_id: str, out: Path,
               message: str = "injected failure after the update") -> Path:
    """A copy of ``playbook`` at ``out`` with a ``flow.fail`` step right after ``step_id``
    (failure injection into a shipped procedure without editing it)."""
    doc = yaml.safe_load(playbook.read_text())
    at = [s["id"] for s in doc["steps"]].index(step_id) + 1
    doc["steps"].insert(at, {"id": "boom", "action": "flow.fail", "with": {"message": message}})
    out.write_text(yaml.safe_dump(doc, sort_keys=False))
    return out


def sim_host(box: Path, part: str, name: str) -> dict[str, Any]:
    """One simulated host's state (``part``'s ``hosts``) in a sandbox, as the stand-ins left it."""
    from runbook import sim

    found: dict[str, Any] = sim.load_state(box)[part]["hosts"][name]
    return found
