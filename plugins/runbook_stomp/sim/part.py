"""The ``publisher`` part: tools, knobs, faults and the four scenarios of issue 12."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runbook.sim.parts import Fault, Host, Part, Scenario
from runbook_stomp.sim import estate

CONF = """# RSV stompclt: publish the datastore's metrics to the central broker
<incoming-queue>
    path = /var/spool/rsv/stompclt
</incoming-queue>
<outgoing-broker>
    uri = "stomp+ssl://msg.example.org:6162"
    <auth>
        scheme = plain
        name = psds-publisher
        pass = not-a-real-secret
    </auth>
</outgoing-broker>
pidfile = /var/run/rsv-stompclt.pid
daemon = true
loop = true
remove = true
"""
FIXED = CONF + "reliable = true\nwindow = 100\nheart-beat = true\n"

SIMPLEVISOR = """<simplevisor>
    store = /var/lib/simplevisor/rsv.json
    log = syslog
</simplevisor>
<entry>
    type = supervisor
    name = rsv
    window = 30
    adjustments = 5
    strategy = one_for_one
    <children>
        <<include stompclt.conf>>
    </children>
</entry>
"""
CHILD = """<entry>
    type = service
    name = stompclt
    start = /usr/bin/stompclt --conf /etc/rsv/stompclt/default.conf --daemon
</entry>
"""
TOPIC = "topic://perfsonar.summary.packet-loss-rate-bidir"
FLUSH = ("Nov 12 04:10:41 psds0 stompclt[2911029]: [ERROR] failed to flush outgoing buffer "
         "(13469824136 bytes)!\n")
REFUSED = (f"Nov 12 05:02:13 psds0 stompclt[2911031]: unexpected ERROR frame received: User "
           f"CN=psds0.example.org, is not authorized to write to: {TOPIC}\n")
BOOTED = 1_760_000_000.0          # when both hosts booted (/proc/stat btime)
HTTPD_STARTED = BOOTED + 600.0    # httpd (pid 2001) started ten minutes later
INSTALLED = {f: BOOTED - 30 * 86400 for f in estate.HTTPD_FILES.values()}
LIBSSL = estate.HTTPD_FILES["openssl-libs"]
DRIFT_STALE = [estate.HTTPD_FILES["httpd"]]
"""package-drift: httpd's binary was replaced by a rename (``(deleted)``) and libssl
rewritten in place three days after httpd started (a newer mtime)."""
DRIFT_TIMES = {**INSTALLED, estate.HTTPD_FILES["httpd"]: BOOTED + 3 * 86400,
               LIBSSL: BOOTED + 3 * 86400}

PROD = {"httpd": "2.4.6-97.el7.centos", "mod_ssl": "1:2.4.6-97.el7.centos",
        "openssl-libs": "1:1.0.2k-19.el7", "stompclt": "1.6-1.el7",
        "perfsonar-toolkit": "4.4.5-1.el7"}
ITB = {"httpd": "2.4.6-99.el7.centos.1", "mod_ssl": "1:2.4.6-99.el7.centos.1",
       "openssl-libs": "1:1.0.2k-25.el7_9", "stompclt": "1.6-1.el7",
       "perfsonar-toolkit": "4.4.6-1.el7"}


def _files(conf: str, syslog: str = "", stale: tuple[str, ...] = (),
           web: Mapping[str, Any] = estate.WEB) -> dict[str, str]:
    files = list(web["files"].values())
    return {"/etc/rsv/stompclt/default.conf": conf, "/etc/simplevisor/rsv.conf": SIMPLEVISOR,
            "/etc/simplevisor/stompclt.conf": CHILD, "/var/log/messages": syslog,
            "/proc/2001/maps": estate.maps_text(files, list(stale)),
            "/proc/2001/stat": estate.stat_text("2001", web["name"], HTTPD_STARTED, BOOTED),
            "/proc/stat": estate.boot_text(BOOTED)}


def _hosts(prod_conf: str, syslog: str = "", stale: tuple[str, ...] = (),
           web: Mapping[str, Any] = estate.WEB) -> tuple[Host, ...]:
    return (Host("psds0", "127.0.1.41", files=_files(prod_conf, syslog, stale, web)),
            Host("psds-itb1", "127.0.1.42", files=_files(FIXED, web=web)))


BOOT = {"booted": BOOTED, "httpd_started": HTTPD_STARTED, "file_times": INSTALLED}

DEB_FILES = {"apache2-bin": "/usr/sbin/apache2",
             "libssl3": "/usr/lib/x86_64-linux-gnu/libssl.so.3"}
DEB_WEB: dict[str, Any] = {"name": "apache2", "in_place": [], "files": DEB_FILES}
DEB_PROD = {"apache2": "2.4.57-2", "apache2-bin": "2.4.57-2", "libssl3": "3.0.11-1~deb12u1",
            "openssl": "3.0.11-1~deb12u1", "perfsonar-toolkit": "5.0.7-1",
            "stompclt": "1.6-1"}
DEB_ITB = {"apache2": "2.4.59-1~deb12u1", "apache2-bin": "2.4.59-1~deb12u1",
           "libssl3": "3.0.11-1~deb12u2", "openssl": "3.0.11-1",
           "perfsonar-toolkit": "1:5.0.5-1", "stompclt": "1.6-1"}
"""Where string order is wrong: ``3.0.11-1~deb12u1`` is older than ``3.0.11-1`` (``~``
sorts first) and ``5.0.7-1`` older than ``1:5.0.5-1`` (the epoch wins)."""
DEB_STALE = ["/usr/sbin/apache2"]
DEB_REPO = {n: list(dict.fromkeys([DEB_PROD[n], DEB_ITB[n]])) for n in DEB_PROD}


def _debian() -> dict[str, object]:
    base = {"manager": "dpkg", "web": DEB_WEB, "repo": DEB_REPO, "reliable": True,
            "window": 100, "booted": BOOTED, "httpd_started": HTTPD_STARTED,
            "file_times": {f: BOOTED - 30 * 86400 for f in DEB_FILES.values()}}
    return {"publisher": {"psds0": {**base, "packages": DEB_PROD, "stale": DEB_STALE},
                          "psds-itb1": {**base, "packages": DEB_ITB}}}



def _settings(prod: dict[str, object]) -> dict[str, object]:
    itb = {"packages": ITB, "reliable": True, "window": 100, **BOOT}
    return {"publisher": {"psds0": {"packages": ITB, **BOOT, **prod}, "psds-itb1": itb}}


SCENARIOS = (
    Scenario("publisher-stuck", "psds0's stompclt without reliable/window: it sent for a "
             "while, then its socket stalled; RSS grows, the queue stops draining.",
             ("publisher",), knobs={"warmup_seconds": 3.0},
             settings=_settings({"backlog": 300}), hosts=_hosts(CONF, FLUSH)),
    Scenario("publisher-unauthorized", "The broker refuses one topic of psds0's: the ERROR "
             "frame is in syslog and nothing is sent.", ("publisher",),
             knobs={"warmup_seconds": 3.0},
             settings=_settings({"backlog": 50, "refused_topic": TOPIC}),
             hosts=_hosts(CONF, REFUSED)),
    Scenario("package-drift", "psds0 is older than psds-itb1 on several packages and httpd "
             "still runs replaced files (its binary deleted, libssl rewritten in place).",
             ("publisher",), knobs={"warmup_seconds": 1.0},
             settings=_settings({"packages": PROD, "reliable": True, "window": 100,
                                 "stale": DRIFT_STALE, "file_times": DRIFT_TIMES}),
             hosts=_hosts(FIXED, "", tuple(DRIFT_STALE))),
    Scenario("package-drift-debian", "The package-drift story on Debian hosts (dpkg-query, "
             "apt-get): psds0 older than psds-itb1, with epochs and ~ versions where string "
             "order is wrong; apache2 still runs its deleted binary.", ("publisher",),
             knobs={"warmup_seconds": 1.0}, settings=_debian(),
             hosts=_hosts(FIXED, "", tuple(DEB_STALE), DEB_WEB)),
    Scenario("publisher-healthy", "Both hosts up to date and publishing: reliable, window "
             "and heart-beat set, the queue drains.", ("publisher",),
             knobs={"warmup_seconds": 1.0},
             settings=_settings({"backlog": 20, "reliable": True, "window": 100}),
             hosts=_hosts(FIXED)),
)

PART = Part(
    name="publisher",
    world="runbook_stomp.sim.world",
    tools={"rpm": "runbook_stomp.sim.tool_rpm", "yum": "runbook_stomp.sim.tool_yum",
           "systemctl": "runbook_stomp.sim.tool_systemctl",
           "simplevisor": "runbook_stomp.sim.tool_simplevisor",
           "ps": "runbook_stomp.sim.tool_ps", "find": "runbook_stomp.sim.tool_find",
           "stompclt": "runbook_stomp.sim.tool_stompclt",
           "reboot": "runbook_stomp.sim.tool_reboot", "uptime": "runbook_stomp.sim.tool_uptime",
           "stat": "runbook_stomp.sim.tool_stat",
           "dpkg-query": "runbook_stomp.sim.tool_dpkg_query",
           "apt-get": "runbook_stomp.sim.tool_apt_get"},
    knobs={"tick_seconds": 0.2,           # one tick of every publisher host
           "produce_per_tick": 1,         # messages the datastore enqueues per tick
           "send_per_tick": 4,            # messages a healthy stompclt sends per tick
           "stall_after_seconds": 1.0,    # without reliable, the socket stalls after this
           "rss_growth_kb_per_tick": 4096},  # the in-memory buffer of a stalled stompclt
    faults=(Fault("stompclt_restart_fails", "simplevisor cannot restart stompclt (exit 1); "
                  "the running one is left alone"),
            Fault("yum_refuses_downgrade", "yum downgrade (apt-get install of an older "
                  "version) fails: the old versions are gone from the repositories")),
    scenarios=SCENARIOS,
)
