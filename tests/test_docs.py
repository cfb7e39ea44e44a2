"""The documentation keeps up with the code: every hook and every action is documented."""

from __future__ import annotations

import inspect
from pathlib import Path

import runbook
from runbook import hookspecs

ROOT = Path(__file__).resolve().parent.parent


def test_every_hook_is_documented() -> None:
    text = (ROOT / "docs" / "hooks.md").read_text()
    hooks = [name for name, obj in inspect.getmembers(hookspecs, inspect.isfunction)
             if name.startswith("runbook_")]
    assert len(hooks) >= 10
    missing = [h for h in hooks if f"`{h}(" not in text]
    assert missing == []


def test_every_hook_has_a_docstring() -> None:
    for name, obj in inspect.getmembers(hookspecs, inspect.isfunction):
        if name.startswith("runbook_"):
            assert (obj.__doc__ or "").strip(), name


def test_public_api_is_sorted_and_resolves() -> None:
    assert runbook.__all__ == sorted(runbook.__all__)
    for name in runbook.__all__:
        assert getattr(runbook, name) is not None, name


def test_generated_playbook_pages_are_up_to_date() -> None:
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "runbook", "docs", "--check"], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


def test_graph_shows_every_step_gate_and_rollback() -> None:
    from runbook.graph import dot, mermaid

    pb = runbook.load(ROOT / "playbooks" / "cfs-purge.yaml")
    chart = mermaid(pb)
    for step in pb.steps:
        assert f"{step.id}<br/>{step.action}" in chart
    assert chart.count("confirm:") == 2
    assert chart.count("-. rollback .->") == 2
    assert "s_scale_up -. restores .-> s_scale_down" in chart
    assert dot(pb).count("shape=box") == len(pb.steps)


def test_actions_page_is_generated_from_the_registry() -> None:
    """docs/actions.md is what the registry declares; regenerate it with
    ``python -m runbook.docs actions`` after changing an action."""
    from runbook.actions_page import actions_page
    from runbook.plugins import default_registry

    expected = actions_page(default_registry())
    assert (ROOT / "docs" / "actions.md").read_text(encoding="utf-8") == expected, (
        "docs/actions.md is stale: run `python -m runbook.docs actions`")


def test_actions_page_check_fails_when_stale(tmp_path: Path) -> None:
    import subprocess
    import sys

    page = tmp_path / "actions.md"
    argv = [sys.executable, "-m", "runbook.docs", "actions", str(page), "--check"]
    stale = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
    assert stale.returncode == 1
    assert "out of date" in stale.stdout
    written = subprocess.run(argv[:-1], cwd=ROOT, capture_output=True, text=True, check=False)
    assert written.returncode == 0 and page.exists()
    fresh = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
    assert fresh.returncode == 0, fresh.stdout


def test_actions_page_shows_what_each_action_declares() -> None:
    """Every action has a section with its kind, its arguments (type, default) and its
    result fields; a new action without result_fields fails here."""
    from runbook.actions_page import actions_page, default_text, type_text
    from runbook.plugins import default_registry

    registry = default_registry()
    page = actions_page(registry)
    for name, cls in registry.actions.items():
        section = page.split(f"\n### {name}\n", 1)[1].split("\n### ", 1)[0].split("\n## ")[0]
        kind = ("**Engine**" if cls.in_engine else "**Mutating**" if cls.mutating
                else "**Read-only**")
        assert kind in section, name
        for field_name, info in cls.Args.model_fields.items():
            row = f"| `{info.alias or field_name}` | {type_text(info)} | {default_text(info)} |"
            assert row in section, (name, row)
        if name != "flow.fail":  # it never returns: the step fails with the message
            assert cls.result_fields, f"{name} declares no result_fields"
        for field_name in cls.result_fields:
            assert f"| `{field_name}` |" in section, (name, field_name)


def test_argument_types_and_defaults_read_as_written() -> None:
    from runbook.actions_page import default_text, type_text
    from runbook.plugins import default_registry

    reg = default_registry()

    def field(action: str, arg: str) -> tuple[str, str]:
        info = reg.actions[action].Args.model_fields[arg]
        return type_text(info), default_text(info)

    assert field("kubectl.scale", "replicas") == ("int ≥ 0", "required")
    assert field("kubectl.wait_replicas", "timeout") == ("duration", "`5m`")
    assert field("flow.wait_quiet", "max_wait") == ("duration", "none")
    assert field("host.shell", "command") == ("list of strings or string", "required")
    assert field("host.shell", "shell") == ("bool", "`false`")
    assert field("host.shell", "env") == ("mapping", "`{}`")
    assert field("kafka.reset_offsets", "to") == (
        "`earliest` `latest` `current` `offset` `datetime` `duration` `shift-by`", "`latest`")
    assert field("flow.manual", "commands") == ("list of strings", "`[]`")
    assert field("flow.finding", "evidence") == ("any", "none")
