"""A plan shows what a mutating step would change (``Action.preview``): host.config_set's
unified diff, read from the file at plan time, secrets masked, in the console
plan, the saved plan file and ``--json``; an offline plan reads nothing."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import plain, run_cli

import runbook
from runbook import sim
from runbook.sim.hosts import host_path

ROOT = Path(__file__).resolve().parent.parent
RECOVER = ROOT / "playbooks" / "stompclt-recover.yaml"
CONF = "/etc/rsv/stompclt/default.conf"
DIFF = f"""--- {CONF} (before)
+++ {CONF} (after)
@@ -14,3 +14,6 @@
 daemon = true
 loop = true
 remove = true
+window = 100
+reliable = true
+heart-beat = true"""


def test_the_plan_of_stompclt_recover_shows_the_config_diff_everywhere(
        tmp_path: Path, runbook_home: Path) -> None:
    box = tmp_path / "stuck"
    sim.init_sandbox("publisher-stuck", box)
    original = host_path(box, "psds0", CONF).read_text()
    saved = tmp_path / "plan.json"
    shown = run_cli("plan", RECOVER, "--sandbox", box, "-o", saved)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    text = plain(shown.stdout)
    block = text[text.index("fix-config"):text.index(" 8. restart")]
    assert "     would change:\n" + "\n".join(f"       {line}" for line in DIFF.splitlines()) \
        in block
    assert json.loads(saved.read_text())["steps"]["fix-config"]["preview"] == DIFF
    as_json = run_cli("plan", RECOVER, "--sandbox", box, "--json")
    steps = {s["id"]: s for s in json.loads(as_json.stdout)["steps"]}
    assert steps["fix-config"]["preview"] == DIFF
    assert [s for s, v in steps.items() if v["preview"]] == ["fix-config"]
    assert "config-diff" not in steps          # the preview replaced the workaround step
    assert host_path(box, "psds0", CONF).read_text() == original   # a plan changes nothing
    assert not host_path(box, "psds0", CONF + ".runbook.bak").exists()
    assert "not-a-real-secret" not in shown.stdout + as_json.stdout + saved.read_text()

    ran = run_cli("run", RECOVER, "--plan", saved, "--sandbox", box, "--yes")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert host_path(box, "psds0", CONF).read_text() == \
        original + "window = 100\nreliable = true\nheart-beat = true\n"


def test_a_healthy_publisher_plan_says_no_change(tmp_path: Path, runbook_home: Path) -> None:
    box = tmp_path / "healthy"
    sim.init_sandbox("publisher-healthy", box)
    result = runbook.plan(RECOVER, sandbox=box)
    assert result.step("fix-config").preview == (
        f"no change: already set in {CONF}: window = 100, reliable = true, heart-beat = true")


def config_playbook(conf: Path, offline: bool = False) -> str:
    return f"""runbook: 1
name: preview
params:
  token: {{type: string, secret: true, default: s3cr3t-param}}
steps:
  - id: set
    action: host.config_set
    with:
      path: {conf}
      section: auth
      settings: {{scheme: tls, pass: "{{{{ token }}}}", user: "{{{{ token }}}}"}}
"""


def test_secrets_are_masked_in_the_preview(tmp_path: Path, runbook_home: Path) -> None:
    conf = tmp_path / "app.conf"
    conf.write_text("[auth]\nscheme = plain\npass = hunter2\nname = publisher\n")
    saved = tmp_path / "plan.json"
    result = runbook.plan(runbook.loads(config_playbook(conf)), output=saved)
    assert result.step("set").preview == f"""--- {conf} (before)
+++ {conf} (after)
@@ -1,4 +1,5 @@
 [auth]
-scheme = plain
-pass = ***
+scheme = tls
+pass = ***
 name = publisher
+user = ***"""
    assert "hunter2" not in saved.read_text() and "s3cr3t-param" not in saved.read_text()
    assert conf.read_text() == "[auth]\nscheme = plain\npass = hunter2\nname = publisher\n"


def test_an_offline_plan_reads_no_preview(tmp_path: Path, runbook_home: Path) -> None:
    conf = tmp_path / "app.conf"
    conf.write_text("[auth]\nscheme = plain\n")
    result = runbook.plan(runbook.loads(config_playbook(conf)), offline=True)
    assert result.step("set").status == "planned" and result.step("set").preview is None


def test_a_file_that_cannot_be_read_says_so_in_the_preview(tmp_path: Path,
                                                           runbook_home: Path) -> None:
    result = runbook.plan(runbook.loads(config_playbook(tmp_path / "missing.conf")))
    preview = result.step("set").preview or ""
    assert preview.startswith("(no preview: ") and "missing.conf" in preview
    assert result.exit_code == 0
