"""The ``sessionstore`` part of the estate (plugin ``runbook_cassandra``): Cassandra and Kask.

Six simulated hosts (``sessionstore1001-1003`` in eqiad, ``2001-2003`` in codfw)
with loopback addresses, the Kask deployment of each datacenter (through the
``kubernetes`` part), and the stand-ins a session store runbook drives:
``nodetool``, ``cqlsh``, ``confctl``, ``systemctl``, ``reboot``, ``uptime``, ``nc``.
"""

from __future__ import annotations

from runbook.sim.parts import Fault, Host, Part, Scenario

DATACENTERS = {"eqiad": ("sessionstore1001", "sessionstore1002", "sessionstore1003"),
               "codfw": ("sessionstore2001", "sessionstore2002", "sessionstore2003")}
ADDRESSES = {name: f"127.0.2.{(1 if dc == 'eqiad' else 2)}{i + 1}"
             for dc, names in DATACENTERS.items() for i, name in enumerate(names)}
HOSTS = tuple(Host(name, address, files={"/etc/cassandra/datacenter": dc + "\n"})
              for dc, names in DATACENTERS.items() for name in names
              for address in (ADDRESSES[name],))
PARTS = ("kubernetes", "sessionstore")
_TOOLS = ("nodetool", "cqlsh", "confctl", "systemctl", "reboot", "uptime", "nc")

PART = Part(
    name="sessionstore",
    world="runbook_cassandra.sim.world",
    tools={tool: f"runbook_cassandra.sim.{tool}" for tool in _TOOLS},
    requires=("kubernetes",),
    knobs={
        "reboot_seconds": 1.5,       # a rebooted host answers again after this
        "rejoin_seconds": 1.5,       # a started Cassandra is UJ this long, then UN
        "kask_replicas": 6,          # Kask pods per datacenter
        "kask_error_interval": 0.5,  # a broken Kask pod logs its errors this often
    },
    faults=(
        Fault("node_stays_down", "a rebooted Cassandra host never answers again"),
        Fault("node_rejoins_joining", "a rebooted Cassandra host answers but its node stays UJ"),
    ),
    scenarios=(
        Scenario("sessionstore-healthy",
                 "The session store: Cassandra in eqiad and codfw (3 hosts each, all UN), "
                 "both datacenters pooled, Kask serving without errors.",
                 PARTS, knobs={"warmup_seconds": 5.0}, hosts=HOSTS),
        Scenario("sessionstore-quorum-errors",
                 "sessionstore1002 rejoined eqiad after a reboot: every node is UN again, but "
                 "the Kask pods in eqiad that use it as coordinator (a third of them) log "
                 "'Cannot achieve consistency level LOCAL_QUORUM' until they are restarted.",
                 PARTS, knobs={"warmup_seconds": 5.0}, hosts=HOSTS,
                 settings={"rejoined": "sessionstore1002"}),
    ),
)
