"""The vminfod scenarios: one SmartOS compute node (``cn-r07``) with vminfod under SMF.

Each combines the ``smf`` and ``vminfod`` parts; ``settings["vminfod"]`` tells
``daemon.build`` what is wrong. The node is a simulated host, so a playbook
reaches it as ``{connection: ssh, host: cn-r07}`` and reads its log files.
"""

from __future__ import annotations

from runbook.sim.parts import Host, Scenario

PARTS = ("smf", "vminfod")
NODE = (Host("cn-r07", "127.0.1.70"),)

SCENARIOS = (
    Scenario(
        "vminfod-healthy",
        "vminfod running for 14 days on cn-r07: answers ping, empty queue, a full refresh "
        "minutes ago, vminfo and vmadm agree, clients see every change.",
        PARTS, hosts=NODE, knobs={"warmup_seconds": 2.0},
    ),
    Scenario(
        "vminfod-maintenance",
        "A bad vminfod configuration was deployed and the service restarted: the start "
        "method fails, SMF restarts it too quickly and puts it in maintenance; vmadmd and "
        "the provisioner agent are offline. svcadm clear helps only once the cause is fixed "
        "(runbook sim fault DIR vminfod_bad_config --off).",
        PARTS, hosts=NODE, knobs={"warmup_seconds": 4.0},
        settings={"vminfod": {"restart_at": 0.5}}, faults=("vminfod_bad_config",),
    ),
    Scenario(
        "vminfod-stuck-queue",
        "vminfod answers but a task has been pending for minutes and blocks its queue: the "
        "forced full refresh waits behind it; svcadm restart vminfod drains the queue.",
        PARTS, hosts=NODE, knobs={"warmup_seconds": 2.0},
        settings={"vminfod": {"stuck_age": 260.0, "last_refresh_age": 700.0}},
    ),
    Scenario(
        "vminfod-out-of-sync",
        "vmadm lookup lists a VM vminfod does not know (persistently), and a VM being "
        "created shows up in vmadm a moment before vminfod sees it (a race, not a bug).",
        PARTS, hosts=NODE, knobs={"warmup_seconds": 2.0},
        settings={"vminfod": {"hidden_vms": 1, "race": True}},
    ),
    Scenario(
        "vminfod-type-mismatch",
        "vminfod is healthy, but the provisioner agent's log shows watchForChanges timeouts: "
        "it waits for max_physical_memory to become the string \"1024\" while vminfod emits "
        "the number 1024 (a bug in the caller).",
        PARTS, hosts=NODE, knobs={"warmup_seconds": 2.0},
        settings={"vminfod": {"client": "type-mismatch"}},
    ),
)
