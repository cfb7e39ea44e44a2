"""Arguments in, argv out: what every mutating action renders, exactly.

The plan and the run share ``Action.commands``; these rows pin the argv each
mutating action asks for (and what ``rollback: auto`` runs), so a change in
rendering is a deliberate one. A mutating action without a row fails
``test_every_mutating_action_has_rows``. Every action, mutating or not, is run
by at least one test or playbook (``test_every_action_is_run_somewhere``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from runbook.actions import Invocation
from runbook.plugins import default_registry

ROOT = Path(__file__).resolve().parent.parent
REGISTRY = default_registry()

KUBE = {"namespace": "services"}
KAFKA = {"bootstrap_server": "kafka:9092", "group": "cfs-operator"}
RESET = ["kafka-consumer-groups.sh", "--bootstrap-server", "kafka:9092", "--group", "cfs-operator",
         "--reset-offsets"]

ROWS: list[tuple[str, dict[str, Any], list[list[str]]]] = [
    ("host.shell", {"command": ["mkdir", "-p", "/tmp/x y"]}, [["mkdir", "-p", "/tmp/x y"]]),
    ("host.shell", {"command": "systemctl restart app"}, [["systemctl", "restart", "app"]]),
    ("host.shell", {"command": ["echo", 3, True]}, [["echo", "3", "true"]]),
    ("host.shell", {"command": "echo $HOME > /tmp/x", "shell": True},
     [["/bin/sh", "-c", "echo $HOME > /tmp/x"]]),
    ("host.shell", {"command": ["printf", "%s", "a b; rm -rf /"], "shell": True},
     [["/bin/sh", "-c", "printf %s 'a b; rm -rf /'"]]),
    ("kubectl.scale", {**KUBE, "deployment": "cray-cfs-operator", "replicas": 0},
     [["kubectl", "-n", "services", "scale", "deployment/cray-cfs-operator", "--replicas=0"]]),
    ("kubectl.scale", {"deployment": "web", "replicas": 3, "context": "prod",
                       "kubectl": "/usr/local/bin/kubectl"},
     [["/usr/local/bin/kubectl", "--context", "prod", "scale", "deployment/web",
       "--replicas=3"]]),
    ("kubectl.exec", {**KUBE, "pod": "cray-shared-kafka-kafka-0", "container": "kafka",
                      "command": ["bin/kafka-topics.sh", "--list"]},
     [["kubectl", "-n", "services", "exec", "cray-shared-kafka-kafka-0", "-c", "kafka", "--",
       "bin/kafka-topics.sh", "--list"]]),
    ("kubectl.exec", {"pod": "p", "command": ["sh", "-c", "echo $0; exit 1"]},
     [["kubectl", "exec", "p", "--", "sh", "-c", "echo $0; exit 1"]]),
    ("kafka.reset_offsets", {**KAFKA, "topic": "cfs-session-events"},
     [[*RESET, "--to-latest", "--topic", "cfs-session-events", "--dry-run", "--export"],
      [*RESET, "--to-latest", "--topic", "cfs-session-events", "--execute", "--export"],
      ["kafka-consumer-groups.sh", "--bootstrap-server", "kafka:9092", "--describe", "--group",
       "cfs-operator"]]),
    ("kafka.reset_offsets", {**KAFKA, "from_csv": "t,0,5\n", "file": "/tmp/o.csv"},
     [[*RESET, "--from-file", "/tmp/o.csv", "--dry-run", "--export"],
      [*RESET, "--from-file", "/tmp/o.csv", "--execute", "--export"],
      ["kafka-consumer-groups.sh", "--bootstrap-server", "kafka:9092", "--describe", "--group",
       "cfs-operator"]]),
    ("kubectl.set_image", {**KUBE, "deployment": "web", "container": "web", "image": "web:2"},
     [["kubectl", "-n", "services", "set", "image", "deployment/web", "web=web:2"]]),
    ("kafka.console_consume", {"bootstrap_server": "kafka:9092", "topic": "cfs-session-events"},
     [["kafka-console-consumer.sh", "--bootstrap-server", "kafka:9092", "--topic",
       "cfs-session-events"]]),
    ("kafka.console_consume", {"bootstrap_server": "kafka:9092", "topic": "t", "group": "g",
                               "from_beginning": True, "max_messages": 10, "timeout_ms": 5000,
                               "tool": "bin/kafka-console-consumer.sh"},
     [["bin/kafka-console-consumer.sh", "--bootstrap-server", "kafka:9092", "--topic", "t",
       "--group", "g", "--from-beginning", "--max-messages", "10", "--timeout-ms", "5000"]]),
    ("cfs.options_update", {"batcher_disable": True},
     [["cray", "cfs", "v3", "options", "update", "--batcher-disable", "true", "--format",
       "json"]]),
    ("cfs.options_update", {"batcher_max_backoff": 3600, "logging_level": "DEBUG",
                            "batch_size": 25, "cray": "/opt/cray/bin/cray"},
     [["/opt/cray/bin/cray", "cfs", "v3", "options", "update", "--batch-size", "25",
       "--batcher-max-backoff", "3600", "--logging-level", "DEBUG", "--format", "json"]]),
    ("svcadm.enable", {"pattern": "vminfod"}, [["svcadm", "enable", "vminfod"]]),
    ("svcadm.enable", {"pattern": "svc:/site/app:default", "wait": True},
     [["svcadm", "enable", "-s", "svc:/site/app:default"]]),
    ("svcadm.disable", {"pattern": "site/app; rm -rf /", "wait": True},
     [["svcadm", "disable", "-s", "site/app; rm -rf /"]]),
    ("svcadm.restart", {"pattern": "svc:/system/smartdc/vminfod:default"},
     [["svcadm", "restart", "svc:/system/smartdc/vminfod:default"]]),
    ("svcadm.clear", {"pattern": "vminfod"}, [["svcadm", "clear", "vminfod"]]),
    ("host.service", {"unit": "cassandra", "command": "stop"},
     [["systemctl", "stop", "cassandra"], ["systemctl", "is-active", "cassandra"]]),
    ("host.service", {"unit": "kask", "command": "show", "properties": ["ActiveState"]},
     [["systemctl", "show", "kask", "--property=ActiveState"]]),
    ("host.reboot", {}, [["reboot"], ["uptime", "-s"]]),
    ("host.reboot", {"command": ["systemctl", "reboot"], "uptime": "/usr/bin/uptime"},
     [["systemctl", "reboot"], ["/usr/bin/uptime", "-s"]]),
    ("cassandra.disablebinary", {}, [["nodetool", "disablebinary"]]),
    ("cassandra.enablebinary", {"host": "127.0.2.11", "port": 7199},
     [["nodetool", "-h", "127.0.2.11", "-p", "7199", "enablebinary"]]),
    ("cassandra.drain", {"nodetool": "/usr/bin/nodetool"}, [["/usr/bin/nodetool", "drain"]]),
    ("kubectl.rollout_restart", {"namespace": "sessionstore", "deployment": "kask-eqiad"},
     [["kubectl", "-n", "sessionstore", "rollout", "restart", "deployment/kask-eqiad"]]),
    ("kubectl.restart_pods", {"namespace": "sessionstore", "deployment": "kask-eqiad",
                              "pods": ["kask-eqiad-a", "kask-eqiad-b"]},
     [["kubectl", "-n", "sessionstore", "delete", "pod", "kask-eqiad-a"],
      ["kubectl", "-n", "sessionstore", "delete", "pod", "kask-eqiad-b"]]),
]

INVERSES: list[tuple[str, dict[str, Any], Any, Invocation | None]] = [
    ("kafka.reset_offsets", {**KAFKA, "topic": "t", "to": "earliest"}, "t,0,5\nt,1,7\n",
     Invocation("kafka.reset_offsets", {**KAFKA, "from_csv": "t,0,5\nt,1,7\n"})),
    ("kafka.reset_offsets", {**KAFKA, "topic": "t"}, None, None),
    ("kubectl.set_image", {**KUBE, "deployment": "web", "container": "web", "image": "web:2"},
     "web:1", Invocation("kubectl.set_image", {**KUBE, "deployment": "web", "container": "web",
                                               "image": "web:1"})),
    ("kubectl.scale", {**KUBE, "deployment": "cray-cfs-operator", "replicas": 0}, 2,
     Invocation("kubectl.scale", {**KUBE, "deployment": "cray-cfs-operator", "replicas": 2})),
    ("kubectl.scale", {**KUBE, "deployment": "web", "replicas": 2}, 2, None),
    ("kubectl.scale", {**KUBE, "deployment": "web", "replicas": 2}, None, None),
    ("cfs.options_update", {"batcher_disable": True, "batch_size": 25},
     {"batcher_disable": False, "batch_size": 25},
     Invocation("cfs.options_update", {"batcher_disable": False})),
    ("cfs.options_update", {"batcher_disable": True, "cray": "/opt/cray"},
     {"batcher_disable": False}, Invocation("cfs.options_update",
                                           {"batcher_disable": False, "cray": "/opt/cray"})),
    ("cfs.options_update", {"batcher_disable": True}, {"batcher_disable": None}, None),
    ("svcadm.enable", {"pattern": "vminfod", "wait": True},
     {"svc:/system/smartdc/vminfod:default": "disabled"},
     Invocation("svcadm.disable", {"pattern": "vminfod", "wait": True})),
    ("svcadm.enable", {"pattern": "vminfod"}, {"svc:/system/smartdc/vminfod:default": "online"},
     None),
    ("svcadm.enable", {"pattern": "vminfod"}, {}, None),
    ("svcadm.disable", {"pattern": "app"}, {"svc:/app:default": "maintenance",
                                            "svc:/app:canary": "disabled"},
     Invocation("svcadm.enable", {"pattern": "app"})),
    ("svcadm.disable", {"pattern": "app"}, {"svc:/app:default": "disabled"}, None),
    ("host.service", {"unit": "cassandra", "command": "stop"}, "active",
     Invocation("host.service", {"unit": "cassandra", "command": "start"})),
    ("host.service", {"unit": "cassandra", "command": "stop"}, "inactive", None),
    ("host.service", {"unit": "kask", "command": "start"}, "failed",
     Invocation("host.service", {"unit": "kask", "command": "stop"})),
    ("host.service", {"unit": "kask", "command": "restart"}, None, None),
    ("cassandra.disablebinary", {}, True, Invocation("cassandra.enablebinary", {})),
    ("cassandra.disablebinary", {"host": "h"}, False, None),
    ("cassandra.enablebinary", {"host": "h"}, False,
     Invocation("cassandra.disablebinary", {"host": "h"})),
]


@pytest.mark.parametrize(("action", "args", "argv"), ROWS,
                         ids=[f"{r[0]}-{n}" for n, r in enumerate(ROWS)])
def test_rendered_argv(action: str, args: dict[str, Any], argv: list[list[str]]) -> None:
    act = REGISTRY.action(action)
    assert act.commands(act.validate_args(args)) == argv


@pytest.mark.parametrize(("action", "args", "captured", "undo"), INVERSES,
                         ids=[f"{r[0]}-{n}" for n, r in enumerate(INVERSES)])
def test_auto_rollback_invocation(action: str, args: dict[str, Any], captured: Any,
                                  undo: Invocation | None) -> None:
    act = REGISTRY.action(action)
    inverse = act.inverse(act.validate_args(args), captured)
    assert inverse == undo
    if inverse is not None:  # the inverse itself renders through the same table
        act.commands(act.validate_args(inverse.args))


def test_every_mutating_action_has_rows() -> None:
    mutating = {name for name, cls in REGISTRY.actions.items() if cls.mutating}
    assert mutating == {row[0] for row in ROWS}
    with_inverse = {name for name, cls in REGISTRY.actions.items() if cls.has_inverse()}
    assert with_inverse == {row[0] for row in INVERSES}


def _mentioned(name: str, texts: list[str]) -> bool:
    pattern = re.compile(rf"""(?:action|probe)["']?\s*:\s*["']?{re.escape(name)}\b""")
    return any(pattern.search(text) for text in texts)


def test_every_action_is_run_somewhere() -> None:
    """Each action appears as ``action:`` or ``probe:`` in a playbook or a test outside
    this file (as YAML or as the Python dict a test dumps to YAML)."""
    texts = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "playbooks").rglob("*.yaml"))]
    texts += [p.read_text(encoding="utf-8") for p in sorted((ROOT / "tests").glob("test_*.py"))
              if p.name != Path(__file__).name]
    missing = [name for name in sorted(REGISTRY.actions) if not _mentioned(name, texts)]
    assert missing == []
