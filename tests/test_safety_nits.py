"""Nits found while using runbook (issue 13): an interrupted step is not a failed one,
a YAML boolean where text was meant says to quote it, resume finds its playbook from
any directory (or says how to give it), ``runbook plugins`` shows duration types."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

from helpers import append, kill_if_alive, read_pid, run_cli, wait_for, write_playbook
from helpers import start_cli as start


def slow_playbook(tmp_path: Path, folder: Path) -> Path:
    folder.mkdir(exist_ok=True)
    return write_playbook(
        folder / "pb.yaml", append("one", tmp_path / "log", "one", undo="undo one"),
        {"id": "two", "action": "host.shell", "timeout": "60s",
         "with": {"command": ["sh", "-c", 'echo $$ > "$0.tmp"; mv "$0.tmp" "$0"; exec sleep 30',
                              str(tmp_path / "in-two")]}})


def test_an_interrupted_step_is_counted_as_interrupted_not_failed(tmp_path: Path) -> None:
    pb = slow_playbook(tmp_path, tmp_path)
    proc = start("run", pb, "--yes", "--json", cwd=tmp_path)
    wait_for(tmp_path / "in-two")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 4, err
    doc = json.loads(out)
    assert [(s["id"], s["status"]) for s in doc["steps"]] == [("one", "ok"),
                                                              ("two", "interrupted")]
    plain = start("run", pb, "--yes", cwd=tmp_path)
    (tmp_path / "in-two").unlink()
    wait_for(tmp_path / "in-two")
    plain.send_signal(signal.SIGINT)
    shown, _ = plain.communicate(timeout=30)
    assert "steps: 1 ok, 1 interrupted" in shown, shown
    assert "failed" not in shown


def test_a_yaml_boolean_where_text_is_meant_says_to_quote_it(tmp_path: Path) -> None:
    pb = write_playbook(tmp_path / "pb.yaml",
                        append("one", tmp_path / "log", "one", when=True, confirm=True))
    proc = run_cli("validate", pb)
    assert proc.returncode == 2
    assert 'steps[0].when: Input should be a valid string (got True); YAML read it as a ' \
           'boolean: put it in quotes (when: "true")' in proc.stderr
    assert 'steps[0].confirm: Input should be a valid string (got True); YAML read it as ' \
           'a boolean: put it in quotes (confirm: "true")' in proc.stderr


def test_resume_from_another_directory_finds_the_playbook_or_says_how(
        tmp_path: Path) -> None:
    here, elsewhere = tmp_path / "here", tmp_path / "elsewhere"
    slow_playbook(tmp_path, here)
    elsewhere.mkdir()
    runner = start("run", "pb.yaml", "--yes", "--json", cwd=here)  # a relative path
    wait_for(tmp_path / "in-two")
    runner.send_signal(signal.SIGKILL)
    runner.wait(timeout=10)
    kill_if_alive(read_pid(tmp_path / "in-two"))  # the runner's command outlived it
    run_id = json.loads(run_cli("runs", "--json").stdout)["runs"][0]["run_id"]
    (here / "pb.yaml").rename(here / "moved.yaml")
    lost = run_cli("resume", run_id, "--rollback", cwd=elsewhere)
    assert lost.returncode == 2
    assert f"pass its path: runbook resume {run_id} --playbook PATH" in lost.stderr
    (here / "moved.yaml").rename(here / "pb.yaml")
    undone = run_cli("resume", run_id, "--rollback", cwd=elsewhere)
    assert undone.returncode == 1, undone.stdout + undone.stderr  # rolled back
    assert (tmp_path / "log").read_text().splitlines() == ["one", "undo one"]


def test_runbook_plugins_shows_durations_as_durations() -> None:
    proc = run_cli("plugins")
    assert proc.returncode == 0, proc.stderr
    assert "    quiet_for: duration (required)" in proc.stdout
    assert "    grace: duration (default 5s)" in proc.stdout
    assert "quiet_for: float" not in proc.stdout


def test_ctrl_c_on_a_terminal_with_nothing_to_undo_says_so(tmp_path: Path) -> None:
    import os
    import select

    from helpers import cli_argv, plain

    pb = write_playbook(tmp_path / "pb.yaml", {
        "id": "wait", "action": "host.query", "timeout": "60s",
        "with": {"command": ["sh", "-c", 'touch "$0"; exec sleep 30', str(tmp_path / "in")]}})
    master, slave = os.openpty()
    proc = subprocess.Popen(cli_argv("run", pb, "--yes"), stdin=slave, stdout=slave,
                            stderr=slave, env={**os.environ, "TERM": "dumb"})
    os.close(slave)
    seen = b""
    try:
        wait_for(tmp_path / "in")
        proc.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if not select.select([master], [], [], 0.1)[0]:
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the runner has gone
                break
            if not chunk:
                break
            seen += chunk
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        os.close(master)
    shown = plain(seen.decode("utf-8", "replace"))
    assert proc.returncode == 4, shown
    assert "gate at interrupt: rollback (nothing to undo)" in shown
    assert "no terminal" not in shown
