"""Argument and option injection, closed as a class (issue 13, hostile input).

A value from a param or a result is data wherever it lands: one argument in a
command written as one string, shell-quoted under ``shell: true``, and never an
option of a plugin's command (refused before anything runs). Each test runs a
real command (or a stand-in program that records its argv) and asserts what ran.
"""

from __future__ import annotations

import os
import shlex
import stat
from pathlib import Path
from typing import Any

import pytest
from helpers import append, audit_events, lines, run_cli, write_playbook

import runbook

HOSTILE_FIND = "nothing -o -exec touch {marker} ;"


def run(pb: Path, tmp_path: Path, **params: Any) -> Any:
    return runbook.run(pb, params, yes=True, audit_log=str(tmp_path / "audit.jsonl"))


def started_argv(tmp_path: Path, step: str) -> list[str]:
    event = next(e for e in audit_events(tmp_path / "audit.jsonl")
                 if e["event"] == "step.started" and e["step"] == step)
    argv: list[str] = event["argv"]
    return argv


# --- a command written as one string: values stay single arguments --------------------------


def test_a_param_in_a_one_string_command_stays_one_argument(tmp_path: Path) -> None:
    marker = tmp_path / "injected"
    (tmp_path / "dir").mkdir()
    pb = write_playbook(
        tmp_path / "pb.yaml",
        {"id": "find", "action": "host.shell",
         "with": {"command": "find {{ where }} -name {{ pattern }}"}},
        params={"where": {"type": "string"}, "pattern": {"type": "string"}})
    pattern = HOSTILE_FIND.format(marker=marker)
    result = run(pb, tmp_path, where=str(tmp_path / "dir"), pattern=pattern)
    assert result.exit_code == 0, result.error
    assert not marker.exists()
    assert started_argv(tmp_path, "find") == ["find", str(tmp_path / "dir"), "-name", pattern]


def test_words_keep_their_template_whole_and_a_list_value_is_one_argument_each(
        tmp_path: Path) -> None:
    out = tmp_path / "out"
    pb = write_playbook(
        tmp_path / "pb.yaml",
        {"id": "args", "action": "host.shell",
         "with": {"command": "sh -c 'printf \"%s|\" \"$@\" > \"$0\"' {{ out }} "
                             "{{ word2 | default('c d') }} pre-{{ word }}-post "
                             "{% if loud %}--loud{% endif %} {{ items }}"}},
        params={"out": {"type": "string"}, "word": {"type": "string"},
                "loud": {"type": "bool", "default": False}, "items": {"type": "list"},
                "word2": {"type": "string", "default": "a b"}})
    result = run(pb, tmp_path, out=str(out), word="x; y", items=["1 2", "$(id)"])
    assert result.exit_code == 0, result.error
    assert out.read_text() == "a b|pre-x; y-post|1 2|$(id)|"


def test_a_one_string_command_with_an_unbalanced_quote_is_a_step_error(
        tmp_path: Path) -> None:
    pb = write_playbook(tmp_path / "pb.yaml",
                        {"id": "bad", "action": "host.shell",
                         "with": {"command": "echo '{{ word }}"}},
                        params={"word": {"type": "string", "default": "x"}})
    result = run(pb, tmp_path)
    assert result.exit_code == 1
    assert "cannot split" in (result.error or "") and "No closing quotation" in result.error


# --- shell: true quotes every template value --------------------------------------------------


def test_shell_true_quotes_every_template_value(tmp_path: Path) -> None:
    out, marker = tmp_path / "out", tmp_path / "injected"
    hostile = f"a'b $(touch {marker}) `touch {marker}`; touch {marker} #"
    pb = write_playbook(
        tmp_path / "pb.yaml",
        {"id": "echo", "action": "host.shell", "with": {
            "command": "printf '%s\\n' {{ word }} > {{ out }}", "shell": True}},
        params={"word": {"type": "string"}, "out": {"type": "string"}})
    result = run(pb, tmp_path, word=hostile, out=str(out))
    assert result.exit_code == 0, result.error
    assert lines(out) == [hostile]
    assert not marker.exists()


def test_shell_true_with_a_whole_command_from_a_param_runs_no_shell_syntax(
        tmp_path: Path) -> None:
    marker = tmp_path / "injected"
    pb = write_playbook(tmp_path / "pb.yaml",
                        {"id": "cmd", "action": "host.shell",
                         "with": {"command": "{{ cmd }}", "shell": True}},
                        params={"cmd": {"type": "string"}})
    result = run(pb, tmp_path, cmd=f"true; touch {marker}")
    assert result.exit_code == 1  # sh: "true; touch ...": not found
    assert not marker.exists()


def test_an_explicit_rollback_command_string_keeps_values_whole(tmp_path: Path) -> None:
    log, marker = tmp_path / "log", tmp_path / "injected"
    pb = write_playbook(
        tmp_path / "pb.yaml",
        {**append("one", log, "one"),
         "rollback": {"action": "host.shell",
                      "with": {"command": "touch {{ name }}", "cwd": str(tmp_path)}}},
        {"id": "boom", "action": "host.shell", "with": {"command": ["false"]}},
        params={"name": {"type": "string"}})
    result = run(pb, tmp_path, name=f"undone {marker}")
    assert result.outcome == "needs-attention"  # touch 'undone /…/injected': no such dir
    assert not marker.exists()
    assert result.rollbacks[0].status == "failed"
    assert result.rollbacks[0].commands == [shlex.join(["touch", f"undone {marker}"])]


# --- option injection: a value beginning with '-' never becomes an option ----------------------


def recorder_tool(tmp_path: Path, name: str) -> Path:
    """A stand-in program that appends its argv to ``calls`` and prints ``{}``."""
    tool = tmp_path / name
    tool.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> {tmp_path / "calls"}\necho "{{}}"\n')
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    return tool


HOSTILE_OPTION = "--kubeconfig=/tmp/evil"


@pytest.mark.parametrize(("action", "with_"), [
    ("kubectl.scale", {"deployment": "{{ name }}", "replicas": 1, "kubectl": "{tool}"}),
    ("kubectl.rollout_restart", {"deployment": "{{ name }}", "kubectl": "{tool}"}),
    ("kubectl.restart_pods", {"deployment": "web", "pods": ["{{ name }}"],
                              "kubectl": "{tool}"}),
    ("kubectl.logs", {"pod": "{{ name }}", "kubectl": "{tool}"}),
    ("kubectl.get", {"kind": "pod", "name": "{{ name }}", "kubectl": "{tool}"}),
    ("kubectl.exec", {"pod": "{{ name }}", "command": ["true"], "kubectl": "{tool}"}),
    ("kubectl.set_image", {"deployment": "web", "container": "{{ name }}", "image": "x:1",
                           "kubectl": "{tool}"}),
    ("host.service", {"unit": "{{ name }}", "systemctl": "{tool}"}),
    ("host.shell", {"command": ["{tool}", "{{ name }}"]}),
    ("host.shell", {"command": "{tool} delete {{ name }}"}),
    ("cassandra.status", {"keyspace": "{{ name }}", "nodetool": "{tool}"}),
    ("kafka.group_describe", {"bootstrap_server": "k:9092", "group": "{{ name }}",
                              "tool": "{tool}"}),
    ("simplevisor.status", {"conf": "/etc/s.conf", "child": "{{ name }}",
                            "simplevisor": "{tool}"}),
    ("svcs.state", {"patterns": ["{{ name }}"]}),
    ("svcadm.restart", {"pattern": "{{ name }}"}),
    ("cfs.options_update", {"additional_inventory_url": "{{ name }}", "cray": "{tool}"}),
    ("host.process", {"names": ["web", "{{ name }}"]}),
])
def test_a_value_that_would_be_read_as_an_option_is_refused_before_anything_runs(
        tmp_path: Path, action: str, with_: dict[str, Any]) -> None:
    tool = recorder_tool(tmp_path, "tool")
    log = tmp_path / "log"
    args = {k: _fill(v, str(tool)) for k, v in with_.items()}
    pb = write_playbook(tmp_path / "pb.yaml", append("first", log, "first", undo="undone"),
                        {"id": "hostile", "action": action, "with": args},
                        params={"name": {"type": "string"}})
    result = run(pb, tmp_path, name=HOSTILE_OPTION)
    assert result.exit_code == 1
    assert "would read it as an option" in (result.error or ""), result.error
    assert not (tmp_path / "calls").exists()  # the stand-in never ran
    assert lines(log) == ["first", "undone"]


def _fill(value: Any, tool: str) -> Any:
    if isinstance(value, str):
        return value.replace("{tool}", tool)
    if isinstance(value, list):
        return [_fill(v, tool) for v in value]
    return value


def test_the_same_value_after_double_dash_or_written_in_the_playbook_runs(
        tmp_path: Path) -> None:
    out = tmp_path / "out"
    pb = write_playbook(
        tmp_path / "pb.yaml",
        {"id": "after", "action": "host.shell",
         "with": {"command": ["sh", "-c", 'printf "%s\\n" "$2" >> "$0"', str(out), "--",
                              "{{ name }}"]}},
        {"id": "literal", "action": "host.shell",
         "with": {"command": ["sh", "-c", 'printf "%s\\n" "$1" >> "$0"', str(out), "-n"]}},
        {"id": "suffix", "action": "host.shell",
         "with": {"command": ["sh", "-c", 'printf "%s\\n" "$1" >> "$0"', str(out),
                              "--name={{ name }}"]}},
        {"id": "number", "action": "host.shell",
         "with": {"command": "sh -c 'printf \"%s\\n\" \"$1\" >> \"$0\"' {{ out }} {{ n }}"}},
        params={"name": {"type": "string"}, "out": {"type": "string"},
                "n": {"type": "string"}})
    result = run(pb, tmp_path, name=HOSTILE_OPTION, out=str(out), n="-5")
    assert result.exit_code == 0, result.error
    assert lines(out) == [HOSTILE_OPTION, "-n", f"--name={HOSTILE_OPTION}", "-5"]


def test_a_plan_refuses_the_option_with_the_step_before_anything_runs(tmp_path: Path) -> None:
    tool = recorder_tool(tmp_path, "kubectl")
    pb = write_playbook(tmp_path / "pb.yaml",
                        {"id": "scale", "action": "kubectl.scale",
                         "with": {"deployment": "{{ name }}", "replicas": 0,
                                  "kubectl": str(tool)}},
                        params={"name": {"type": "string"}})
    result = runbook.plan(pb, {"name": HOSTILE_OPTION})
    assert result.exit_code == 1
    assert "kubectl.scale: the argument" in (result.error or ""), result.error
    assert not (tmp_path / "calls").exists()
    assert os.environ.get("KUBECONFIG") != "/tmp/evil"


# --- secrets: template output derived from a secret is masked whole by origin -----------------

SECRET = "s3cr3t-value-42"


@pytest.mark.parametrize("template", [
    "{{ token | upper }}", "Bearer {{ token[3:] }}", "{{ params.token | replace('-', '') }}",
    "{{ token | b64encode if false else token ~ '!' }}",
])
def test_an_argument_derived_from_a_secret_is_masked_whole(tmp_path: Path,
                                                           template: str) -> None:
    out = tmp_path / "out"
    pb = write_playbook(
        tmp_path / "pb.yaml",
        {"id": "use", "action": "host.shell",
         "with": {"command": ["sh", "-c", 'printf "%s\\n" "$1" > "$0"; echo "$1" >&2; exit 3',
                              str(out), template, "{{ user }}"]}},
        params={"token": {"type": "string", "secret": True}, "user": {"type": "string"}})
    result = run(pb, tmp_path, token=SECRET, user="alice-operator")
    derived = lines(out)[0]
    assert result.exit_code == 1
    argv = started_argv(tmp_path, "use")
    assert argv[-2:] == ["***", "alice-operator"]  # the derived value, and nothing else
    shown = (tmp_path / "audit.jsonl").read_text() + str(result.to_dict())
    assert derived not in shown and SECRET not in shown
    assert "alice-operator" in shown


def test_a_command_an_action_builds_while_it_runs_is_guarded_too(tmp_path: Path) -> None:
    # restart_pods plans only "delete pod"; the deployment goes into the
    # "get deployment" it runs between deletions: refused there, never run
    tool = recorder_tool(tmp_path, "kubectl")
    pb = write_playbook(tmp_path / "pb.yaml",
                        {"id": "restart", "action": "kubectl.restart_pods",
                         "with": {"deployment": "{{ name }}", "pods": ["web-1"],
                                  "kubectl": str(tool)}},
                        params={"name": {"type": "string"}})
    result = run(pb, tmp_path, name=HOSTILE_OPTION)
    assert result.exit_code == 1
    assert "would read it as an option" in (result.error or ""), result.error
    calls = (tmp_path / "calls").read_text()
    assert "delete pod web-1" in calls and "kubeconfig" not in calls


def test_an_unbalanced_quote_in_a_param_is_one_argument_not_a_traceback(
        tmp_path: Path) -> None:
    out = tmp_path / "out"
    pb = write_playbook(
        tmp_path / "pb.yaml",
        {"id": "echo", "action": "host.shell",
         "with": {"command": "sh -c 'printf \"%s|\" \"$@\" > \"$0\"' {{ out }} {{ word }}"}},
        params={"out": {"type": "string"}, "word": {"type": "string"}})
    proc = run_cli("run", pb, "--yes", "-p", f"out={out}", "-p", 'word=it\'s "half')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert out.read_text() == 'it\'s "half|'
