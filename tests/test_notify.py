"""Notifications (plugin ``runbook_notify``) against a real local HTTP server and syslog socket.

A run posts its start, its failures and its finish to a Slack-compatible
webhook (JSON with ``text``), a gate that waits longer than the threshold is
announced (per-playbook settings win over the user's), syslog gets RFC 3164
lines, no message carries a secret, and a webhook that hangs or refuses
never fails the run nor holds it up longer than the ``flush`` bound.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import append, lines, run_cli, write_playbook

import runbook

SECRET = "pa55-word-never-posted"


class Hook:
    """A local webhook: what was POSTed, as (content type, parsed JSON)."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, Any]]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.posts.append((self.headers["Content-Type"], json.loads(body)))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T0/B0/tok"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def texts(self) -> list[str]:
        return [body["text"] for _, body in self.posts]

    def wait(self, count: int, timeout: float = 5.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while len(self.posts) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.texts


@pytest.fixture
def hook() -> Iterator[Hook]:
    server = Hook()
    yield server
    server.server.shutdown()
    server.server.server_close()


def _failing(tmp_path: Path) -> tuple[Path, Path]:
    log = tmp_path / "log"
    pb = write_playbook(
        tmp_path / "pb.yaml", append("write", log, "changed", undo="undone"),
        {"id": "boom", "action": "host.shell",
         "with": {"command": ["sh", "-c", 'echo "bad token $1" >&2; exit 3', "sh",
                              "{{ token }}"]}},
        params={"token": {"type": "string", "secret": True}})
    return pb, log


def test_a_run_posts_start_failure_and_finish(tmp_path: Path, hook: Hook,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    pb, log = _failing(tmp_path)
    monkeypatch.setenv("RUNBOOK_NOTIFY_WEBHOOK", hook.url)
    proc = run_cli("run", pb, "-p", f"token={SECRET}", "--reason", "INC-1", "--json")
    assert proc.returncode == 1, proc.stderr
    assert lines(log) == ["changed", "undone"]
    run_id = json.loads(proc.stdout)["run_id"]
    # the CLI exits at once after the run: the finish was delivered before that
    texts = hook.texts
    assert [t.split(": ", 1)[0] for t in texts] == [f"runbook t {run_id}"] * 3
    assert "started by tester (INC-1)" in texts[0]
    assert "step boom failed on local: command exited 3" in texts[1]
    assert "bad token ***" in texts[1]
    assert "rolled-back (exit 1) in " in texts[2]
    assert all(ctype == "application/json" for ctype, _ in hook.posts)
    assert all(set(body) == {"text", "username"} for _, body in hook.posts)
    assert SECRET not in json.dumps(hook.posts)


def test_a_gate_that_waits_too_long_is_announced(tmp_path: Path, hook: Hook,
                                                 runbook_home: Path) -> None:
    log = tmp_path / "log"
    pb = write_playbook(tmp_path / "pb.yaml",
                        append("quick", log, "one", confirm="Quick question"),
                        append("slow", log, "two", confirm="Slow question"))
    runbook_home.mkdir(parents=True, exist_ok=True)
    (runbook_home / "notify.yaml").write_text(yaml.safe_dump({
        "webhook": hook.url, "gate_wait": "1h", "events": ["gate", "finish"],
        "playbooks": {"t": {"gate_wait": "300ms"}}}))

    def prompt(step: str, message: str) -> bool:
        time.sleep(0.9 if step == "slow" else 0.0)
        return True

    result = runbook.run(pb, interactive=True, prompt=prompt)
    assert result.exit_code == 0, result.error
    texts = hook.wait(3)
    body = [t.split(": ", 1)[1] for t in texts]
    assert body[:2] == ["waiting at the gate of step slow for more than 0.3s: Slow question",
                        "gate of step slow approved by tester (terminal)"]
    assert body[2].startswith("succeeded (exit 0)")
    assert len(texts) == 3  # the quick gate was not worth a message, nor the start


def test_syslog_gets_rfc3164_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pb, _ = _failing(tmp_path)
    path = Path("/tmp") / f"rb-notify-{time.monotonic_ns()}.sock"  # short: AF_UNIX limit
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(5)
    try:
        monkeypatch.setenv("RUNBOOK_NOTIFY_SYSLOG", str(path))
        result = runbook.run(pb, {"token": SECRET})
        assert result.outcome == "rolled-back"
        got = [sock.recv(9000).decode() for _ in range(3)]
    finally:
        sock.close()
        path.unlink()
    assert got[0].startswith("<14>") and f"runbook t {result.run_id}: started by" in got[0]
    assert got[1].startswith("<11>") and "step boom failed" in got[1]
    assert got[2].startswith("<11>") and "rolled-back (exit 1)" in got[2]
    assert all(" runbook[" in line for line in got)
    assert SECRET not in "".join(got)


def test_a_hung_or_refusing_webhook_never_fails_or_slows_the_run(
        tmp_path: Path, runbook_home: Path) -> None:
    log = tmp_path / "log"
    pb = write_playbook(tmp_path / "pb.yaml", append("write", log, "changed"))
    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(16)  # accepts connections into its backlog, never answers
    refused = socket.socket()
    refused.bind(("127.0.0.1", 0))
    refused_port = refused.getsockname()[1]
    refused.close()
    runbook_home.mkdir(parents=True, exist_ok=True)
    try:
        for url in (f"http://127.0.0.1:{hung.getsockname()[1]}/hook",
                    f"http://127.0.0.1:{refused_port}/hook"):
            (runbook_home / "notify.yaml").write_text(yaml.safe_dump(
                {"webhook": url, "timeout": "30s", "flush": "500ms"}))
            started = time.monotonic()
            result = runbook.run(pb)
            took = time.monotonic() - started
            assert result.exit_code == 0, result.error
            assert took < 2.5, f"{url}: the run took {took:.1f}s"
    finally:
        hung.close()
    assert lines(log) == ["changed", "changed"]


def test_broken_config_and_plans_notify_nothing(tmp_path: Path, hook: Hook,
                                                runbook_home: Path) -> None:
    log = tmp_path / "log"
    pb = write_playbook(tmp_path / "pb.yaml", append("write", log, "changed"))
    runbook_home.mkdir(parents=True, exist_ok=True)
    config = runbook_home / "notify.yaml"
    config.write_text(yaml.safe_dump({"webhook": hook.url}))
    assert runbook.plan(pb).exit_code == 0  # a plan is not news unless dry_run: true
    config.write_text(yaml.safe_dump({"webhook": hook.url, "gate_wait": "soon"}))
    assert runbook.run(pb).exit_code == 0
    config.write_text(yaml.safe_dump({"webhook": hook.url, "dry_run": True,
                                      "events": ["finish"]}))
    assert runbook.plan(pb).exit_code == 0
    assert [t.split(": ", 1)[1][:15] for t in hook.wait(1)] == ["planned (exit 0"]
    assert hook.texts[0].startswith("runbook [plan] t ")


def test_a_playbook_says_what_to_send_and_names_the_users_channels(
        tmp_path: Path, hook: Hook, runbook_home: Path) -> None:
    """The playbook's ``notify:`` (events, gate_wait, channel names) over the user's
    defaults; the channel's webhook comes from the user's notify.yaml, and the user's
    own section for the playbook still wins."""
    other = Hook()
    try:
        log = tmp_path / "log"
        pb = write_playbook(tmp_path / "pb.yaml", append("write", log, "changed"))
        data = yaml.safe_load(pb.read_text())
        data["notify"] = {"events": ["start", "finish"], "gate_wait": "1m",
                          "channels": ["oncall", "nowhere"]}
        pb.write_text(yaml.safe_dump(data, sort_keys=False))
        assert runbook.load(pb).notify is not None  # the loader accepts the key
        runbook_home.mkdir(parents=True, exist_ok=True)
        config = runbook_home / "notify.yaml"
        config.write_text(yaml.safe_dump({
            "webhook": other.url, "events": ["finish"],
            "channels": {"oncall": {"webhook": hook.url}}}))
        assert runbook.run(pb).exit_code == 0
        texts = hook.wait(2)
        assert [t.split(": ", 1)[1].split(" ")[0] for t in texts] == ["started", "succeeded"]
        assert other.texts == []  # named channels replace the default destination
        config.write_text(yaml.safe_dump({
            "webhook": other.url, "channels": {"oncall": {"webhook": hook.url}},
            "playbooks": {"t": {"events": ["finish"], "channels": []}}}))
        assert runbook.run(pb).exit_code == 0
        assert len(hook.texts) == 2  # the user's section: no channel, only the finish
        assert [t.split(": ", 1)[1].split(" ")[0] for t in other.wait(1)] == ["succeeded"]
    finally:
        other.server.shutdown()
        other.server.server_close()


def test_the_schema_takes_a_playbooks_notify_key() -> None:
    import jsonschema

    from runbook.schema import playbook_schema

    validator = jsonschema.Draft202012Validator(playbook_schema())
    doc = {"runbook": 1, "name": "t", "notify": {"events": ["failure"], "gate_wait": "2m",
                                                 "channels": ["oncall"]},
           "steps": [{"id": "a", "action": "host.shell", "with": {"command": ["true"]}}]}
    assert list(validator.iter_errors(doc)) == []
    doc["notify"] = {"channels": ["https://hooks.example/T0/secret"]}
    assert list(validator.iter_errors(doc)) != []


def test_a_playbook_built_in_python_gets_its_notify_key_too(
        tmp_path: Path, hook: Hook, runbook_home: Path) -> None:
    """The plugin reads ``notify:`` from the playbook the run was given (RunInfo), not
    from a file: a playbook built in Python has none, yet its channels are used."""
    other = Hook()
    try:
        runbook_home.mkdir(parents=True, exist_ok=True)
        (runbook_home / "notify.yaml").write_text(yaml.safe_dump({
            "webhook": other.url, "channels": {"oncall": {"webhook": hook.url}}}))
        pb = runbook.Playbook.model_validate({
            "runbook": 1, "name": "py-built",
            "notify": {"events": ["finish"], "channels": ["oncall"]},
            "steps": [{"id": "a", "action": "host.shell", "with": {"command": ["true"]}}]})
        assert runbook.run(pb, yes=True).exit_code == 0
        texts = hook.wait(1)
        assert len(texts) == 1 and "py-built" in texts[0] and "succeeded" in texts[0]
        assert other.texts == []
    finally:
        other.server.shutdown()
        other.server.server_close()
