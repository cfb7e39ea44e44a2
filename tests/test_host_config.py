"""host.config_get / host.config_set / host.file_restore on real files, through the engine.

Each test asserts the file's content afterwards (and its backup), the step's
result and what reached the audit log: a secret in the file must not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

import runbook
from runbook.result import RunResult

STOMPCLT = """# publisher to the central broker
daemon = true
pidfile = /var/run/stompclt.pid
incoming-queue = path=/var/spool/rsv/stompclt
<outgoing-broker>
    uri = "stomp+ssl://broker.example:61612"
    <auth>
        name = rsv
        pass = hunter2-secret
    </auth>
</outgoing-broker>
statistics = true
"""

INI = """[main]
# the cache
cachedir = /var/cache/yum
keepcache = 0

[updates]
enabled = 1
"""


def run(tmp_path: Path, *steps: dict[str, Any], dry_run: bool = False) -> RunResult:
    doc = {"runbook": 1, "name": "t", "title": "config files",
           "targets": {"psds0": {"connection": "local"}},
           "defaults": {"target": "psds0"}, "steps": list(steps)}
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return runbook.run(path, yes=True, dry_run=dry_run,
                       audit_log=str(tmp_path / "audit.jsonl"))


def result(res: RunResult, step: str) -> Any:
    return next(s for s in res.steps if s.id == step).result


def _fix(conf: Path, **extra: Any) -> dict[str, Any]:
    return {"id": "fix", "action": "host.config_set",
            "with": {"path": str(conf), "settings": {"window": 100, "reliable": True,
                                                     "heart-beat": True}}, **extra}


def test_config_set_adds_keys_keeps_comments_and_backs_up(tmp_path: Path) -> None:
    conf = tmp_path / "default.conf"
    conf.write_text(STOMPCLT)
    res = run(tmp_path, _fix(conf))
    assert res.exit_code == 0
    assert conf.read_text() == STOMPCLT + "window = 100\nreliable = true\nheart-beat = true\n"
    assert Path(f"{conf}.runbook.bak").read_text() == STOMPCLT
    got = result(res, "fix")
    assert got["changed"] == ["window", "reliable", "heart-beat"]
    assert got["diff"].splitlines()[-3:] == ["+window = 100", "+reliable = true",
                                             "+heart-beat = true"]
    assert "hunter2" not in (tmp_path / "audit.jsonl").read_text()


def test_config_set_changes_a_value_in_place_inside_a_block(tmp_path: Path) -> None:
    conf = tmp_path / "default.conf"
    conf.write_text(STOMPCLT)
    res = run(tmp_path, {"id": "uri", "action": "host.config_set",
                         "with": {"path": str(conf), "section": "outgoing-broker",
                                  "settings": {"uri": "stomp+ssl://other:61612"}}})
    assert res.exit_code == 0
    assert conf.read_text() == STOMPCLT.replace("broker.example", "other")


def test_config_set_already_set_is_a_noop_with_the_reason(tmp_path: Path) -> None:
    conf = tmp_path / "default.conf"
    conf.write_text(STOMPCLT + "window = 100\nreliable = true\nheart-beat = true\n")
    before = conf.read_text()
    res = run(tmp_path, _fix(conf))
    assert res.exit_code == 0
    got = result(res, "fix")
    assert got["noop"] == (f"already set in {conf}: window = 100, reliable = true, "
                           "heart-beat = true")
    assert conf.read_text() == before
    assert not Path(f"{conf}.runbook.bak").exists()


def test_config_set_rollback_auto_restores_the_backup(tmp_path: Path) -> None:
    conf = tmp_path / "default.conf"
    conf.write_text(STOMPCLT)
    res = run(tmp_path, _fix(conf, rollback="auto"),
              {"id": "restart", "action": "host.shell", "with": {"command": ["false"]}})
    assert res.exit_code == 1
    assert conf.read_text() == STOMPCLT
    assert [r.action for r in res.rollbacks] == ["host.file_restore"]
    assert [r.status for r in res.rollbacks] == ["ok"]


def test_config_get_reads_settings_masks_secrets_and_previews_the_diff(tmp_path: Path) -> None:
    conf = tmp_path / "default.conf"
    conf.write_text(STOMPCLT)
    res = run(tmp_path,
              {"id": "auth", "action": "host.config_get",
               "with": {"path": str(conf), "section": "auth"}},
              {"id": "preview", "action": "host.config_get",
               "with": {"path": str(conf), "want": {"window": 100, "daemon": True}}},
              dry_run=True)
    assert res.exit_code == 0
    assert result(res, "auth")["settings"] == {"name": "rsv", "pass": "***"}
    preview = result(res, "preview")
    assert preview["differs"] == ["window"]
    assert preview["diff"].endswith("\n statistics = true\n+window = 100")
    assert conf.read_text() == STOMPCLT
    assert "hunter2" not in (tmp_path / "audit.jsonl").read_text()


def test_config_set_in_an_ini_section(tmp_path: Path) -> None:
    conf = tmp_path / "yum.conf"
    conf.write_text(INI)
    res = run(tmp_path, {"id": "s", "action": "host.config_set",
                         "with": {"path": str(conf), "section": "main",
                                  "settings": {"keepcache": 1, "exclude": "kernel*"}}})
    assert res.exit_code == 0
    assert conf.read_text() == INI.replace("keepcache = 0", "keepcache = 1\nexclude = kernel*")


def test_file_restore_puts_a_file_back(tmp_path: Path) -> None:
    conf, backup = tmp_path / "a.conf", tmp_path / "a.conf.bak"
    conf.write_text("x = 2\n")
    backup.write_text("x = 1\n")
    res = run(tmp_path, {"id": "r", "action": "host.file_restore",
                         "with": {"path": str(conf), "backup": str(backup)}})
    assert res.exit_code == 0
    assert conf.read_text() == "x = 1\n"
