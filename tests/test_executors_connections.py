"""How a target becomes an executor, the same way for every connection kind.

``runbook.connections.Connections`` renders a target's settings for the run,
asks the caller's ``transport`` first (the simulated estate plugs in here),
then builds the kind's executor with its defaults, typed settings and the
executors of the targets its references name. The older hook shape (a bare
factory) keeps working. Commands really run: the assertions are on what they
printed, and on what each factory and transport was given.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from runbook import hookimpl
from runbook.connections import Connections
from runbook.errors import PlaybookError, PluginError, ValidationErrors
from runbook.executors import ConnectionKind, Executor
from runbook.executors.kubectl_exec import KubectlExecExecutor
from runbook.executors.local import LocalExecutor
from runbook.loader import loads
from runbook.models import Playbook, Target
from runbook.plugins import Registry, build_registry, default_registry, make_plugin_manager
from runbook.prefetch import Prefetch
from runbook.templating import Templates


def connections(playbook: Playbook, registry: Registry | None = None,
                **kw: Any) -> Connections:
    registry = registry or default_registry()
    templates = Templates(registry.filters)
    ctx = {"who": "ops", "box": "db1"}
    return Connections(playbook, registry,
                       render=lambda s, where: templates.render(s, ctx, field=where), **kw)


def load(text: str, registry: Registry | None = None) -> Playbook:
    return loads(textwrap.dedent(text), registry=registry or default_registry())


PLAYBOOK = """\
    runbook: 1
    name: t
    targets:
      ncn: {connection: local, env: {SITE: lab}}
      db: {connection: ssh, host: "{{ box }}", user: "{{ who }}", connect_timeout: 2m,
           jump: bastion}
      bastion: {connection: ssh, host: bastion.example}
      kafka: {connection: kubectl-exec, namespace: services, pod: kafka-0}
    steps:
      - {id: one, target: ncn, action: host.shell, with: {command: ['true']}}
    """


class SimHost(LocalExecutor):
    """A stand-in for a remote host: runs here, with the host's name in the environment."""

    def __init__(self, name: str, host: str) -> None:
        super().__init__(name, {"env": {"SIM_HOST": host}})


def test_a_transport_stands_in_for_the_kinds_executor() -> None:
    asked: list[tuple[str, str, dict[str, Any]]] = []

    def transport(name: str, kind: str, settings: dict[str, Any]) -> Executor | None:
        asked.append((name, kind, settings))
        return SimHost(name, settings["host"]) if kind == "ssh" else None

    conns = connections(load(PLAYBOOK), transport=transport)
    db = conns.executor("db")
    assert isinstance(db, SimHost)
    assert db.run(["sh", "-c", 'echo "$SIM_HOST"']).stdout == "db1\n"
    # Rendered for this run and typed by the kind's model; the jump target is only a name.
    assert asked == [("db", "ssh", {"host": "db1", "user": "ops", "connect_timeout": 120.0,
                                    "jump": "bastion"})]
    ncn = conns.executor("ncn")  # the transport said None: the kind's own executor
    assert type(ncn) is LocalExecutor
    assert ncn.run(["sh", "-c", 'echo "$SITE"']).stdout == "lab\n"
    assert asked[-1] == ("ncn", "local", {"env": {"SITE": "lab"}})
    assert conns.executor("db") is db  # one per target for the run
    assert len(asked) == 2


def test_references_and_defaults_are_the_kinds_not_the_engines() -> None:
    built: dict[str, dict[str, Any]] = {}

    def ssh(name: str, settings: dict[str, Any]) -> Executor:
        built[name] = settings
        return LocalExecutor(name)

    class Plugin:
        @hookimpl
        def runbook_executors(self) -> dict[str, Any]:
            return {"fake-ssh": ConnectionKind(name="fake-ssh", factory=ssh,
                                               references=("jump",))}

    registry = build_registry(make_plugin_manager([Plugin()], entry_points=False))
    conns = connections(load("""\
        runbook: 1
        name: t
        targets:
          kafka: {connection: kubectl-exec, namespace: services, pod: kafka-0}
          db: {connection: fake-ssh, host: db1, jump: hop}
          hop: {connection: fake-ssh, host: hop1}
        steps:
          - {id: one, target: kafka, action: host.shell, with: {command: ['true']}}
        """, registry), registry, local_env={"PATH_ADDED": "yes"})
    kafka = conns.executor("kafka")
    assert isinstance(kafka, KubectlExecExecutor)
    # kubectl-exec's default via: local is the run's local target, with the run's env.
    assert kafka.via is conns.executor("local")
    assert kafka.via.run(["sh", "-c", 'echo "$PATH_ADDED"']).stdout == "yes\n"
    assert kafka.wire_argv(["ls"]) == ["kubectl", "-n", "services", "exec", "kafka-0", "--",
                                       "ls"]
    conns.executor("db")
    assert built["db"]["jump"] is conns.executor("hop")
    assert built["hop"] == {"host": "hop1"}
    assert not conns.is_local("db") and conns.is_local("local")


def test_the_older_hook_shape_still_builds_executors() -> None:
    seen: dict[str, dict[str, Any]] = {}

    def make(name: str, settings: dict[str, Any]) -> Executor:
        seen[name] = settings
        return LocalExecutor(name)

    class Legacy:
        @hookimpl
        def runbook_executors(self) -> dict[str, Any]:
            return {"telnet": make}

    registry = build_registry(make_plugin_manager([Legacy()], entry_points=False))
    playbook = load("""\
        runbook: 1
        name: t
        targets:
          old: {connection: telnet, host: h1, port: 23, via: ncn}
          ncn: {connection: local}
        steps:
          - {id: one, target: old, action: host.shell, with: {command: ['true']}}
        """, registry)
    conns = connections(playbook, registry)
    conns.executor("old")
    assert seen["old"]["host"] == "h1" and seen["old"]["port"] == 23
    assert seen["old"]["via"] is conns.executor("ncn")  # via/jump resolved, as before
    # It takes the settings other kinds declare, and nothing else.
    with pytest.raises(ValidationErrors, match=r"unknown key 'colour'"):
        load(PLAYBOOK.replace("connection: local,", "connection: telnet, colour: red,"),
             registry)


def test_a_kind_under_another_name_is_refused() -> None:
    class Wrong:
        @hookimpl
        def runbook_executors(self) -> dict[str, Any]:
            return {"dock": ConnectionKind(name="docker", factory=LocalExecutor)}

    registry = build_registry(make_plugin_manager([Wrong()], entry_points=False))
    with pytest.raises(PluginError, match="'docker' is contributed under the name 'dock'"):
        load(PLAYBOOK, registry)


def test_a_rendered_setting_that_does_not_fit_names_the_field() -> None:
    # A Target built in Python is checked when its executor is built, after rendering.
    target = Target(connection="ssh", host="db1", connect_timeout="{{ who }}")
    conns = connections(load(PLAYBOOK), overrides={"db": target})
    with pytest.raises(PlaybookError) as caught:
        conns.executor("db")
    assert caught.value.problem.field == "targets.db.connect_timeout"
    assert "expected a duration" in str(caught.value)


def test_local_runs_never_import_paramiko(tmp_path: Path) -> None:
    """Kinds are declared without importing their executors: paramiko loads only when an
    ssh target is built."""
    pb = tmp_path / "pb.yaml"
    pb.write_text(textwrap.dedent(PLAYBOOK), encoding="utf-8")
    script = textwrap.dedent(f"""
        import sys
        from runbook.engine import Engine, RunOptions
        from runbook.inventory import parse_target_uri
        from runbook.loader import load
        parse_target_uri("db=ssh://ops@db1:2222")
        options = RunOptions(yes=True, audit=False, journal=False, lock=False)
        result = Engine(load({str(pb)!r}), {{}}, options).run()
        assert result.exit_code == 0, result
        print("paramiko" in sys.modules)
        """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=False, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"


class Dialled(LocalExecutor):
    """A LocalExecutor that counts its early connections (a real handshake's stand-in)."""

    opened: list[str] = []
    built: list[Dialled] = []

    def __init__(self, name: str, settings: dict[str, Any]) -> None:
        super().__init__(name, settings)
        Dialled.built.append(self)

    def connect(self) -> None:
        Dialled.opened.append(self.name)


def test_a_plugin_kind_that_connects_early_is_prefetched_and_adopted() -> None:
    class Plugin:
        @hookimpl
        def runbook_executors(self) -> dict[str, Any]:
            return {"dial": ConnectionKind(
                name="dial", factory=Dialled, references=("jump",),
                connect_early=lambda settings: settings.get("host") != "later")}

    registry = build_registry(make_plugin_manager([Plugin()], entry_points=False))
    playbook = load("""\
        runbook: 1
        name: t
        targets:
          a: {connection: dial, host: a1}
          b: {connection: dial, host: later}
          c: {connection: dial, host: c1, jump: a}
          group: {connection: dial, hosts: [a, b, c]}
        steps:
          - {id: one, target: group, action: host.shell, with: {command: ['true']}}
        """, registry)
    Dialled.opened, Dialled.built = [], []
    prefetch = Prefetch.start(playbook, {}, registry, 4)
    try:
        assert len(prefetch) == 1  # b: the kind says no; c: it goes through another target
        conns = connections(playbook, registry, prefetch=prefetch)
        a = conns.executor("a")
        assert Dialled.opened == ["a"]
        assert [d.name for d in Dialled.built] == ["a"] and a is Dialled.built[0]  # adopted
        assert a.run(["echo", "adopted"]).stdout == "adopted\n"
        assert conns.executor("b") is not a and Dialled.opened == ["a"]
    finally:
        prefetch.close()
