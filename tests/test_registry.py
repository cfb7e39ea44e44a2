"""The plugin registry finds the built-in plugins by itself.

``DEFAULT_PLUGINS`` is derived from the ``runbook`` entry points declared in
``pyproject.toml``, so a built-in plugin is added in one place and a bare
checkout loads exactly what an installed distribution loads.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import fresh_python

from runbook.errors import PluginError
from runbook.plugins import (
    DEFAULT_PLUGINS,
    ROOT,
    build_registry,
    declared_plugins,
    make_plugin_manager,
    pyproject_tables,
)

PYPROJECT = ROOT / "pyproject.toml"
tomllib = pytest.importorskip("tomllib")  # Python 3.11+: the reference to compare with


def _entry_points() -> dict[str, str]:
    data = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    table: dict[str, str] = data["project"]["entry-points"]["runbook"]
    return table


def test_default_plugins_are_the_declared_entry_points() -> None:
    assert dict(declared_plugins()) == _entry_points()
    assert tuple(_entry_points().values()) == DEFAULT_PLUGINS
    assert {"runbook.flow", "runbook.executors.builtin", "runbook_kubectl"} <= set(
        DEFAULT_PLUGINS)


def test_a_bare_checkout_loads_what_the_installed_distribution_declares() -> None:
    pm = make_plugin_manager(entry_points=False)
    names = {name for name, _ in pm.list_name_plugin()}
    assert names == set(_entry_points())
    registry = build_registry(pm)
    assert {"flow.finding", "host.shell", "kubectl.scale", "kafka.reset_offsets",
            "cfs.options_update"} <= set(registry.actions)
    assert {"local", "ssh", "kubectl-exec"} <= set(registry.executors)


def test_the_small_toml_reader_agrees_with_tomllib() -> None:
    text = PYPROJECT.read_text(encoding="utf-8")
    tables = pyproject_tables(text)
    assert tables["project.entry-points.runbook"] == _entry_points()
    assert tables["project"]["name"] == "runbook"
    assert tables["project.scripts"] == tomllib.loads(text)["project"]["scripts"]


def test_toml_reader_takes_comments_single_quotes_and_quoted_keys() -> None:
    text = ("[project]  # the distribution\nname = 'runbook'\n"
            "[project.entry-points.runbook]\n"
            'demo = "demo_pkg.plugin:hooks"   # an attribute of a module\n'
            '"two.words" = "pkg"\n'
            "ignored = 3\n[other]\nx = \"y\"\n")
    assert pyproject_tables(text) == {
        "project": {"name": "runbook"},
        "project.entry-points.runbook": {"demo": "demo_pkg.plugin:hooks", "two.words": "pkg"},
        "other": {"x": "y"},
    }


def test_another_projects_pyproject_declares_nothing(tmp_path: Path) -> None:
    other = tmp_path / "pyproject.toml"
    other.write_text('[project]\nname = "something-else"\n'
                     '[project.entry-points.runbook]\nx = "x_pkg"\n')
    assert declared_plugins(other) == ()
    assert declared_plugins(tmp_path / "missing.toml") == ()


def test_an_action_contributed_twice_is_an_error() -> None:
    from runbook import hookimpl
    from runbook.flow import Sleep

    class Again:
        @staticmethod
        @hookimpl
        def runbook_actions() -> list[type[Sleep]]:
            class Other(Sleep):
                pass
            return [Other]

    with pytest.raises(PluginError, match=r"action 'flow\.sleep' is contributed twice"):
        build_registry(make_plugin_manager([Again()]))


def test_a_connection_kind_contributed_twice_is_an_error() -> None:
    from runbook import hookimpl

    class Again:
        @staticmethod
        @hookimpl
        def runbook_executors() -> dict[str, object]:
            return {"local": object}

    with pytest.raises(PluginError, match="connection kind 'local' is contributed twice"):
        build_registry(make_plugin_manager([Again()]))


def test_every_lazily_declared_action_imports_as_the_class_of_its_name() -> None:
    from runbook.actions import Action

    registry = build_registry(make_plugin_manager())
    resolved = dict(registry.actions.items())  # imports every declared module
    assert len(resolved) > 60
    for name, cls in resolved.items():
        assert issubclass(cls, Action) and cls.name == name


def _declaring(answer: dict[str, str]) -> object:
    from runbook import hookimpl

    class Declares:
        @staticmethod
        @hookimpl
        def runbook_actions() -> dict[str, str]:
            return answer

    return Declares()


@pytest.mark.parametrize(("declared", "error"), [
    ({"net.ping": "no_such_module_xyz:Ping"},
     r"action 'net\.ping' is declared as 'no_such_module_xyz:Ping', which cannot be "
     r"imported: No module named 'no_such_module_xyz'"),
    ({"net.ping": "runbook.flow:NoSuchClass"}, r"cannot be imported: .*NoSuchClass"),
    ({"net.ping": "runbook.flow"}, r"expected 'package\.module:Class'"),
    ({"net.ping": "runbook.flow:format_duration"}, r"which is not an Action subclass"),
    ({"net.ping": "runbook.flow:Sleep"}, r"whose name is 'flow\.sleep'"),
])
def test_a_broken_lazy_declaration_is_a_plugin_error_naming_it(declared: dict[str, str],
                                                               error: str) -> None:
    registry = build_registry(make_plugin_manager([_declaring(declared)]))
    assert "net.ping" in registry.actions  # known by name before anything is imported
    with pytest.raises(PluginError, match=error):
        registry.actions["net.ping"]


def test_a_lazy_declaration_is_imported_only_when_first_looked_up() -> None:
    code = ("import sys\nfrom runbook.plugins import default_registry\n"
            "r = default_registry()\n"
            "print('runbook_kafka.reset' in sys.modules, 'kafka.reset_offsets' in r.actions)\n"
            "r.actions['kafka.reset_offsets']\n"
            "print('runbook_kafka.reset' in sys.modules)\n")
    assert fresh_python(code).split() == ["False", "True", "True"]
