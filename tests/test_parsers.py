"""Output parsers of the built-in plugins, table-driven on recorded samples.

Every plugin declares its parsers and their samples folders through the
``runbook_parsers()`` hook (``runbook.samples.OutputParser``); this file
discovers them, so a new plugin's samples are tested without editing it.
Every ``<folder>/<NN-name>.expected.json`` is one case: the declared parser
gets ``<NN-name>.stdout``/``.stderr`` ("" when absent), ``.rc`` (0 when
absent) and keyword arguments from ``.args.json``, and must return exactly the
expected value. Relative folders are under ``tests/samples``. The samples are
byte-exact copies of /work/shared/formats/*.md; the expected values were
written by reading the samples, not by running the parsers. The targeted tests
below cover malformed output and cases the formats describe without a sample.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from runbook_cfs import parse as cfs
from runbook_kafka import parse as kafka
from runbook_kubectl import parse as kubectl

from runbook.errors import PluginError, RunbookError
from runbook.parsing import ParseError, table_rows, to_int_or_none
from runbook.plugins import build_registry, default_registry, make_plugin_manager
from runbook.samples import OutputParser, SampleCase, sample_cases, stray_files

SAMPLES = Path(__file__).parent / "samples"
PLUGINS = Path(__file__).resolve().parent.parent / "plugins"

DECLARED = default_registry().parsers()
FOLDERS = {name: parser.folder(name, SAMPLES) for name, parser in DECLARED.items()}


def _cases() -> list[Any]:
    return [pytest.param(name, case, id=case.name)
            for name, folder in sorted(FOLDERS.items()) for case in sample_cases(folder)]


@pytest.mark.parametrize(("parser", "case"), _cases())
def test_sample(parser: str, case: SampleCase) -> None:
    assert case.part(".stdout") or case.part(".stderr"), \
        "a sample needs a .stdout or a .stderr file"
    assert case.run(DECLARED[parser].parse) == case.expected()


def test_every_declared_parser_has_cases() -> None:
    assert len(DECLARED) >= 9
    for name, folder in FOLDERS.items():
        assert sample_cases(folder), f"{name}: no cases in {folder}"


def test_every_sample_folder_belongs_to_a_declared_parser() -> None:
    folders = {p for p in SAMPLES.iterdir() if p.is_dir()}
    assert folders == {f for f in FOLDERS.values() if f.parent == SAMPLES}


def test_every_sample_file_belongs_to_a_case() -> None:
    for folder in FOLDERS.values():
        assert stray_files(folder) == [], f"unexpected files in {folder}"


def test_every_plugin_with_a_parse_module_declares_its_parsers() -> None:
    """A plugin package with parse.py implements runbook_parsers() in its __init__.py."""
    for parse in sorted(PLUGINS.glob("*/parse.py")):
        tree = ast.parse((parse.parent / "__init__.py").read_text(encoding="utf-8"))
        hooks = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        assert "runbook_parsers" in hooks, parse.parent.name


def test_a_plugin_brings_its_own_samples(tmp_path: Path) -> None:
    """A third-party plugin's parser and samples are found and run by the same code."""
    from runbook import hookimpl

    folder = tmp_path / "uptime"
    folder.mkdir()
    (folder / "01-up.stdout").write_text(" 10:00:00 up 3 days\n")
    (folder / "01-up.expected.json").write_text('{"days": 3}')

    class Uptime:
        @staticmethod
        @hookimpl
        def runbook_parsers() -> dict[str, OutputParser]:
            def parse(stdout: str, stderr: str, rc: int) -> dict[str, int]:
                return {"days": int(stdout.split("up ")[1].split()[0])}
            return {"uptime": OutputParser(parse, folder)}

    parsers = build_registry(make_plugin_manager([Uptime()])).parsers()
    assert set(parsers) == set(DECLARED) | {"uptime"}
    assert parsers["uptime"].folder("uptime", SAMPLES) == folder
    [case] = sample_cases(parsers["uptime"].folder("uptime", SAMPLES))
    assert case.name == "uptime/01-up"
    assert case.run(parsers["uptime"].parse) == case.expected()

    class Clash:
        @staticmethod
        @hookimpl
        def runbook_parsers() -> dict[str, OutputParser]:
            return {"kubectl-scale": OutputParser(lambda *a: None)}

    with pytest.raises(PluginError, match=r"output parser 'kubectl-scale' is contributed twice"):
        build_registry(make_plugin_manager([Clash()])).parsers()


def test_stray_sample_files_are_found(tmp_path: Path) -> None:
    (tmp_path / "01-a.stdout").write_text("x")
    (tmp_path / "01-a.expected.json").write_text("1")
    (tmp_path / "01-a.stdotu").write_text("x")
    (tmp_path / "02-b.stdout").write_text("x")
    assert [p.name for p in stray_files(tmp_path)] == ["01-a.stdotu", "02-b.stdout"]


def _read(path: Path, default: str = "") -> str:
    return path.read_bytes().decode("utf-8") if path.exists() else default


# --- ParseError and shared helpers ------------------------------------------------------------

def test_parse_error_carries_command_output_and_first_five_lines() -> None:
    output = "".join(f"line {n}\n" for n in range(1, 8))
    with pytest.raises(ParseError) as info:
        kafka.parse_group_describe(output)
    err = info.value
    assert isinstance(err, RunbookError)
    assert err.command == "kafka-consumer-groups.sh --describe"
    assert err.output == output
    message = str(err)
    for n in range(1, 6):
        assert f"line {n}" in message
    assert "line 6" not in message
    assert "2 more lines" in message


def test_parse_error_on_empty_output_says_so() -> None:
    err = ParseError("nothing", command="x", output="")
    assert str(err).startswith("x: nothing")
    assert "(no output)" in str(err)
    assert err.reason == "nothing"


def test_table_rows_tracks_header_words_not_positions() -> None:
    text = "\nA  B    C\n1  2222222222 3 and more\n\nnote\nA B C\nx y z\n"
    assert table_rows(text, ("A", "C")) == [
        {"A": "1", "B": "2222222222", "C": "3 and more"},
        {"A": "x", "B": "y", "C": "z"},
    ]
    assert table_rows("no table here\n", ("A",)) is None
    assert table_rows("A B\n", ("A", "B")) == []


@pytest.mark.parametrize(("cell", "value"), [("-", None), ("0", 0), ("1402290", 1402290)])
def test_to_int_or_none(cell: str, value: int | None) -> None:
    assert to_int_or_none(cell) == value


@pytest.mark.parametrize("cell", ["", "+1", " 1", "1_0", "1.5", "n/a"])
def test_to_int_or_none_rejects(cell: str) -> None:
    with pytest.raises(ValueError, match="expected an integer"):
        to_int_or_none(cell)


# --- kubectl ----------------------------------------------------------------------------------

def _sample(name: str) -> str:
    return _read(SAMPLES / name)


@pytest.mark.parametrize(("call", "text", "needle"), [
    (kubectl.parse_json, "error: the server doesn't have a resource type \"deploymnt\"\n",
     "not valid JSON"),
    (kubectl.parse_json, '[\n    {"kind": "Pod"}\n]\n', "expected an object"),
    (kubectl.parse_json, '{\n    "items": []\n}\n', "kind: expected a string"),
    (kubectl.parse_scale, "deployment.apps/cfs-operator restarted\n", "scaled"),
    (kubectl.parse_scale, "", "found 0 lines"),
    (kubectl.parse_scale, "deployment.apps/a scaled\ndeployment.apps/b scaled\n",
     "found 2 lines"),
])
def test_kubectl_malformed_text(call: Callable[[str], Any], text: str, needle: str) -> None:
    with pytest.raises(ParseError, match=needle) as info:
        call(text)
    first = text.split("\n", 1)[0]
    assert first in str(info.value)


def test_deployment_replicas_rejects_other_kinds_and_bad_counters() -> None:
    pod = kubectl.parse_json(_sample("kubectl-get-pods/03-single-pod.stdout"))
    with pytest.raises(ParseError, match="expected kind 'Deployment'"):
        kubectl.deployment_replicas(pod)
    deployment = kubectl.parse_json(_sample("kubectl-get-deployment/02-healthy.stdout"))
    deployment["status"]["readyReplicas"] = "1"
    with pytest.raises(ParseError, match=r"status\.readyReplicas: expected an integer") as info:
        kubectl.deployment_replicas(deployment)
    assert '"apiVersion": "apps/v1"' in str(info.value)  # the decoded object, re-serialised


def test_deployment_replicas_defaults_spec_replicas_to_one() -> None:
    obj = {"kind": "Deployment", "spec": {}, "status": {"replicas": 1}}
    assert kubectl.deployment_replicas(obj)["desired"] == 1


def test_pods_summary_rejects_other_kinds_and_counts_restarts() -> None:
    deployment = kubectl.parse_json(_sample("kubectl-get-deployment/02-healthy.stdout"))
    with pytest.raises(ParseError, match="expected kind 'List' or 'Pod'"):
        kubectl.pods_summary(deployment)
    pod = {"kind": "Pod", "metadata": {"name": "p"}, "spec": {"nodeName": "n1"},
           "status": {"phase": "Running", "containerStatuses": [
               {"name": "a", "ready": True, "restartCount": 2},
               {"name": "b", "ready": False, "restartCount": 3}]}}
    assert kubectl.pods_summary({"kind": "List", "items": [pod]}) == [
        {"name": "p", "phase": "Running", "ready": False, "restarts": 5, "node": "n1"}]


def test_rollout_status_without_output_on_success_is_malformed() -> None:
    with pytest.raises(ParseError, match="no output"):
        kubectl.parse_rollout_status("", 0)


def test_rollout_status_watch_false_is_not_complete() -> None:
    line = ('Waiting for deployment "session-gateway" rollout to finish: '
            '3 of 4 updated replicas are available...\n')
    assert kubectl.parse_rollout_status(line, 0)["complete"] is False


@pytest.mark.parametrize(("pattern", "matches"), [
    (None, ["GET /healthz 200", "", "POST /api 500 boom", "GET /api 200"]),
    (r" 5\d\d ", ["POST /api 500 boom"]),
    ("^GET", ["GET /healthz 200", "GET /api 200"]),
    ("nothing", []),
])
def test_match_lines(pattern: str | None, matches: list[str]) -> None:
    text = "GET /healthz 200\n\nPOST /api 500 boom\nGET /api 200\n"
    result = kubectl.match_lines(text, pattern)
    assert result["lines"] == ["GET /healthz 200", "", "POST /api 500 boom", "GET /api 200"]
    assert result["matches"] == matches
    assert result["count"] == len(matches)


def test_match_lines_empty_log() -> None:
    assert kubectl.match_lines("", "x") == {"lines": [], "matches": [], "count": 0}


# --- kafka ------------------------------------------------------------------------------------

DESCRIBE_HEADER = ("GROUP           TOPIC            PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  "
                   "LAG             CONSUMER-ID     HOST            CLIENT-ID\n")


def test_describe_without_the_leading_empty_line() -> None:
    """Real captures often lose the leading empty line; the result is the same."""
    stdout = _sample("kafka-consumer-groups-describe/01-active-two-members.stdout")
    assert stdout.startswith("\n")
    assert kafka.parse_group_describe(stdout[1:]) == kafka.parse_group_describe(stdout)


def test_describe_several_groups_returns_the_named_one_or_the_first() -> None:
    """Constructed: with --all-groups each group gets its own header after an empty line."""
    stdout = (
        "\n" + DESCRIBE_HEADER
        + "alpha           t                0          10              15              5"
          "               c-1             /10.0.0.1       c\n"
        + "\n" + DESCRIBE_HEADER
        + "beta            t                0          7               7               0"
          "               -               -               -\n"
    )
    assert kafka.parse_group_describe(stdout)["group"] == "alpha"
    beta = kafka.parse_group_describe(stdout, group="beta")
    assert (beta["group"], beta["active"], beta["members"], beta["total_lag"]) == (
        "beta", False, 0, 0)
    with pytest.raises(ParseError, match="group 'gamma' is not in the output"):
        kafka.parse_group_describe(stdout, group="gamma")


def test_describe_unknown_group_has_no_table() -> None:
    stdout = "\nError: Consumer group 'ghost' does not exist.\n"
    assert kafka.parse_group_describe(stdout, group="ghost") == {
        "group": "ghost", "active": False, "members": 0, "partitions": [], "total_lag": 0,
        "state_message": "Error: Consumer group 'ghost' does not exist.",
    }


def test_describe_rebalancing_group_keeps_its_members() -> None:
    stdout = ("\n" + DESCRIBE_HEADER
              + "g               t                0          1               2               1"
                "               c-1             /10.0.0.1       c\n")
    stderr = "\nWarning: Consumer group 'g' is rebalancing.\n"
    result = kafka.parse_group_describe(stdout, stderr)
    assert result["active"] is True
    assert result["state_message"] == "Warning: Consumer group 'g' is rebalancing."


def test_legacy_layout_without_group_argument_has_no_group_name() -> None:
    stdout = _sample("kafka-consumer-groups-describe/04-legacy-layout.stdout")
    assert kafka.parse_group_describe(stdout)["group"] is None


@pytest.mark.parametrize(("row", "needle"), [
    ("g               t                0          1               2\n", "expected 9 columns"),
    ("g               t                0          x               2               1"
     "               -               -               -\n", "expected an integer, found 'x'"),
    ("g               -                0          1               2               1"
     "               -               -               -\n", "without topic or partition"),
])
def test_describe_malformed_rows(row: str, needle: str) -> None:
    with pytest.raises(ParseError, match=needle) as info:
        kafka.parse_group_describe("\n" + DESCRIBE_HEADER + row)
    assert "GROUP           TOPIC" in str(info.value)


def test_reset_offsets_malformed() -> None:
    with pytest.raises(ParseError, match="no reset plan table"):
        kafka.parse_reset_offsets("", "java.lang.IllegalArgumentException: boom\n")
    recorded = _sample("kafka-consumer-groups-reset-offsets/01-execute.stdout")
    bad = recorded.replace("1          0              ", "1          latest         ")
    assert bad != recorded
    with pytest.raises(ParseError, match="expected an integer, found 'latest'"):
        kafka.parse_reset_offsets(bad, "")


def test_console_consumer_falls_back_to_counting_records() -> None:
    assert kafka.parse_console_consumer("a\n\nb c\n", "some warning\n") == {
        "messages": 3, "records": ["a", "", "b c"], "timed_out": False}
    assert kafka.parse_console_consumer("", "Processed a total of 0 messages\n") == {
        "messages": 0, "records": [], "timed_out": False}


# --- cfs --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "needle"), [
    ('[\n  {"batch_size": 50}\n]\n', "options: expected an object"),
    ('{\n  "batch_size": "50"\n}\n', "batch_size: expected an integer"),
    ('{\n  "batcher_disable": 0\n}\n', "batcher_disable: expected a boolean"),
    ('{\n  "batch_size": 50,\n', "not valid JSON"),
    ("Error: Unauthorized\n", "not valid JSON"),
])
def test_cfs_options_malformed(text: str, needle: str) -> None:
    with pytest.raises(ParseError, match=needle) as info:
        cfs.parse_options(text)
    assert text.split("\n", 1)[0] in str(info.value)


def test_cfs_options_keeps_optional_and_unknown_keys() -> None:
    text = '{\n  "additional_inventory_source": "inv",\n  "new_knob": [1]\n}\n'
    assert cfs.parse_options(text) == {"additional_inventory_source": "inv", "new_knob": [1]}


@pytest.mark.parametrize(("name", "flag"), [
    ("batcher_max_backoff", "--batcher-max-backoff"),
    ("batch_size", "--batch-size"),
    ("session_ttl", "--session-ttl"),
])
def test_option_flag(name: str, flag: str) -> None:
    assert cfs.option_flag(name) == flag


@pytest.mark.parametrize("name", ["", "Batch_size", "batch size", "--batch-size"])
def test_option_flag_rejects_non_names(name: str) -> None:
    with pytest.raises(ValueError):
        cfs.option_flag(name)


@pytest.mark.parametrize(("value", "text"), [
    (True, "true"), (False, "false"), (3600, "3600"), ("7d", "7d"), ("", ""),
])
def test_format_option_value(value: object, text: str) -> None:
    assert cfs.format_option_value(value) == text


def test_cfs_sessions_malformed() -> None:
    with pytest.raises(ParseError, match=r"s1: status: expected an object"):
        cfs.parse_sessions('{\n  "next": null,\n  "sessions": [{"name": "s1"}]\n}\n')
    with pytest.raises(ParseError, match="sessions: expected an array"):
        cfs.parse_sessions('{\n  "next": null,\n  "sessions": {}\n}\n')


def test_cfs_sessions_unknown_status_gets_its_own_key() -> None:
    text = json.dumps([{"name": "s", "status": {"session": {
        "status": "cancelled", "succeeded": "unknown", "start_time": "2024-05-14T09:12:55Z"}}}])
    result = cfs.parse_sessions(text)
    assert result["by_status"] == {"pending": [], "running": [], "complete": [],
                                   "cancelled": ["s"]}
    assert result["sessions"][0]["start_time"] == "2024-05-14T09:12:55Z"
