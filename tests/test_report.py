"""The HTML run report, rendered in a real headless Chromium (Debian's ``chromium``).

A run with a live precondition, a warning check (a finding), a gate, a long
output carrying a secret, a failure and its rollback writes ``--report``; the
page must render without console messages (its CSP forbids every script and
fetch, and a page that broke that rule is shown to be caught), carry the key
facts in the rendered DOM (outcome, who answered the gate, observed values,
the finding, the rollback, the hash of the run's last audit event) and never
the secret. The screenshot is written to the test's tmp_path as
``report.png`` (pytest's basetemp, e.g. /tmp/pytest-of-USER/pytest-N/
test_the_report_renders_in_chromium0/report.png).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from helpers import append, audit_events, fail, lines, probe, query, run_cli, write_playbook

CHROMIUM = Path("/usr/bin/chromium")
SECRET = "s3cr3t-token-value"


def chromium(page: Path, tmp_path: Path, *, screenshot: Path | None = None) -> tuple[str, str]:
    """(rendered DOM, console messages) of page in headless Chromium, nothing fetched."""
    assert CHROMIUM.exists(), "install Debian's chromium (apt-get install -y chromium)"
    base = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--enable-logging=stderr", "--v=0",
            f"--user-data-dir={tmp_path / 'chromium-profile'}", "--window-size=1200,1800"]
    url = page.resolve().as_uri()
    dom = subprocess.run([*base, "--dump-dom", url], capture_output=True, text=True,
                         timeout=120, check=True)
    if screenshot is not None:
        subprocess.run([*base, f"--screenshot={screenshot}", url], capture_output=True,
                       timeout=120, check=True)
    console = "\n".join(line for line in dom.stderr.splitlines() if ":CONSOLE" in line)
    return dom.stdout, console


def _run_with_report(tmp_path: Path) -> tuple[Path, str, Path]:
    log = tmp_path / "log"
    pb = write_playbook(
        tmp_path / "pb.yaml",
        {**query("inventory", 'seq 1 3000; echo "token=$1"', "{{ token }}"),
         "checks": [probe('echo "lag=42"', that="'lag=0' in result.stdout", on_fail="warn",
                          severity="warning", message="consumer lag is not zero")]},
        append("write", log, "changed", undo="undone", confirm="Change the thing"),
        fail("boom", 3),
        params={"token": {"type": "string", "secret": True}},
        preconditions=[probe('echo "state=ready"', that="'ready' in result.stdout",
                             id="is-ready")])
    report = tmp_path / "report.html"
    proc = run_cli("run", pb, "-p", f"token={SECRET}", "--yes", "--reason", "INC-7",
                   "--report", report, "--json")
    assert proc.returncode == 1, proc.stderr  # failed and rolled back
    assert lines(log) == ["changed", "undone"]
    assert f"report written to {report}" in proc.stderr
    return report, json.loads(proc.stdout)["run_id"], pb


def test_the_report_renders_in_chromium(tmp_path: Path, runbook_home: Path) -> None:
    report, run_id, _ = _run_with_report(tmp_path)
    html = report.read_text()
    assert "<script" not in html and "<link" not in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)  # nothing to fetch
    shot = tmp_path / "report.png"
    dom, console = chromium(report, tmp_path, screenshot=shot)
    assert console == ""
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000

    events = audit_events(runbook_home / "audit.jsonl", run_id)
    text = re.sub(r"<[^>]+>", " ", dom)
    text = re.sub(r"\s+", " ", text)
    assert f'id="last-hash">{events[-1]["hash"]}<' in dom
    assert "rolled-back" in text and f"run {run_id} · exit 1" in text
    assert "reason INC-7" in text and "actor tester" in text
    # a precondition and a check, with the values observed
    assert "is-ready ok 'ready' in result.stdout result.stdout = state=ready" in text
    assert "consumer lag is not zero" in text and "result.stdout = lag=42" in text
    # the finding, the gate and who answered it, the failure, the rollback
    assert "warning consumer lag is not zero" in text
    assert "write approved tester --yes Change the thing" in text
    assert "failing on purpose" in text
    assert re.search(r"write ok sh -c .* undone", text)
    # the step output, truncated, with the secret redacted
    assert "characters not shown" in text and "token=***" in text
    assert SECRET not in html and SECRET not in dom
    assert "chain when written ok:" in text


def test_a_page_that_breaks_the_rules_is_caught(tmp_path: Path) -> None:
    """The harness is not blind: a script or a fetch in the page shows on the console."""
    report, _, _ = _run_with_report(tmp_path)
    bad = tmp_path / "bad.html"
    bad.write_text(report.read_text().replace(
        "</main>", '<script>nosuch()</script><img src="http://example.invalid/x.png"></main>'))
    _, console = chromium(bad, tmp_path)
    assert "Content Security Policy" in console and "example.invalid" in console


def test_report_command_and_unknown_runs(tmp_path: Path, runbook_home: Path) -> None:
    first, run_id, _ = _run_with_report(tmp_path)
    again = tmp_path / "again.html"
    proc = run_cli("report", run_id[:17], "-o", again)
    assert proc.returncode == 0, proc.stderr
    last = audit_events(runbook_home / "audit.jsonl", run_id)[-1]["hash"]
    assert f"report of run {run_id} written to {again} (last audit event {last[:12]})" \
        in proc.stdout
    assert f'id="last-hash">{last}<' in again.read_text()
    assert f'id="last-hash">{last}<' in first.read_text()  # the same run, the same hash
    missing = run_cli("report", "19990101-nope", "-o", tmp_path / "x.html")
    assert missing.returncode == 2 and "no audit trail for run" in missing.stderr
    assert not (tmp_path / "x.html").exists()


def test_a_fan_out_has_a_bar_per_host(tmp_path: Path) -> None:
    import yaml

    import runbook
    from runbook.report import report_data, write_report

    pb = tmp_path / "fan.yaml"
    pb.write_text(yaml.safe_dump({
        "runbook": 1, "name": "fan", "targets": {"web": {"connection": "local",
                                                         "hosts": ["a", "b", "c"]}},
        "steps": [{"id": "hello", "target": "web", "action": "host.shell",
                   "with": {"command": ["sh", "-c", "sleep 0.2; echo hi"]}}]}))
    result = runbook.run(pb, yes=True)
    assert result.exit_code == 0, result.error
    data = report_data(result.run_id[:18])
    bars = {b.label: b for b in data.bars}
    assert {"hello @ a", "hello @ b", "hello @ c"} <= set(bars)
    assert all(0 <= b.left <= 100 and 0 < b.width <= 100 for b in data.bars)
    assert bars["hello @ a"].status == "ok" and bars["hello @ a"].took.endswith("ms")
    html = write_report(result.run_id, tmp_path / "fan.html").path.read_text()
    assert html.count('class="bar ok"') == len(data.bars)
    steps = [(s["step"], s["host"], s["state"]) for s in data.steps]
    assert {("hello", h, "done") for h in "abc"} <= set(steps)
