"""Burrow's lag rules, one by one, on constructed windows (``runbook_kafka.lag``),
and the group verdict the ``kafka.lag_evaluation`` action builds from sampled describes."""

from __future__ import annotations

from typing import Any

from runbook_kafka.lag import Commit, group_status, partition_status, window_from_samples
from runbook_kafka.watch import churn, evaluate


def window(*rows: tuple[int, float, int]) -> list[Commit]:
    return [Commit(offset, ts, end) for offset, ts, end in rows]


def test_no_lag_now_is_ok_whatever_the_history() -> None:
    w = window((10, 0, 50), (10, 10, 50), (50, 20, 50))
    assert partition_status(w, now=1000) == "OK"


def test_allowed_lag_is_not_a_problem() -> None:
    w = window((10, 0, 13), (20, 10, 23), (30, 20, 33))
    assert partition_status(w, now=20, allowed_lag=3) == "OK"
    assert partition_status(w, now=20, allowed_lag=2) == "WARN"


def test_stop_when_the_last_commit_is_older_than_the_window_spans() -> None:
    w = window((10, 0, 20), (12, 10, 30), (14, 20, 40))
    assert partition_status(w, now=41) == "STOP"
    assert partition_status(w, now=40) != "STOP"


def test_no_stop_when_the_log_end_reached_the_last_commit() -> None:
    w = window((10, 0, 12), (12, 10, 12), (14, 20, 14))
    assert partition_status(w, now=500) == "OK"


def test_stop_comes_before_stall() -> None:
    same = window((10, 0, 20), (10, 0, 30), (10, 0, 40))
    assert partition_status(same, now=30) == "STOP"


def test_rewind_when_an_offset_went_back_and_stayed_back() -> None:
    w = window((100, 0, 200), (120, 10, 210), (90, 20, 220))
    assert partition_status(w, now=20) == "REWIND"


def test_a_rewind_that_recovered_is_not_rewind() -> None:
    w = window((100, 0, 200), (90, 10, 210), (130, 20, 260))
    assert partition_status(w, now=20) == "WARN"


def test_ok_when_lag_was_within_allowed_somewhere_in_the_window() -> None:
    w = window((10, 0, 10), (10, 10, 20), (10, 20, 30))
    assert partition_status(w, now=20) == "OK"


def test_stall_when_the_same_offset_is_committed_all_along() -> None:
    w = window((10, 0, 20), (10, 10, 30), (10, 20, 40))
    assert partition_status(w, now=20) == "STALL"


def test_warn_when_lag_never_decreases_while_commits_advance() -> None:
    w = window((10, 0, 20), (15, 10, 25), (18, 20, 31))
    assert partition_status(w, now=20) == "WARN"


def test_ok_when_lag_went_down_at_some_point() -> None:
    w = window((10, 0, 20), (25, 10, 30), (30, 20, 45))
    assert partition_status(w, now=20) == "OK"


def test_group_status_is_the_worst_partition_with_errors_as_err() -> None:
    assert group_status(["OK", "OK"]) == "OK"
    assert group_status(["OK", "WARN"]) == "WARN"
    for bad in ("STOP", "STALL", "REWIND"):
        assert group_status(["OK", "WARN", bad]) == "ERR"
    assert group_status([]) == "OK"


def test_a_commit_time_is_when_its_offset_first_showed() -> None:
    w = window_from_samples([5, 5, 7, None], [9, 10, 11, 12], [0.0, 1.0, 2.0, 3.0])
    assert w == [Commit(5, 0.0, 9), Commit(5, 0.0, 10), Commit(7, 2.0, 11)]


def describe(*rows: tuple[int, int | None, int, str | None]) -> dict[str, Any]:
    return {"partitions": [{"topic": "t", "partition": p, "current_offset": c,
                            "log_end_offset": e, "lag": None if c is None else e - c,
                            "consumer_id": m} for p, c, e, m in rows]}


def test_evaluate_sampled_describes_names_partitions_and_lag() -> None:
    taken = [(float(i), describe((0, 100, 100 + 10 * i, "a"), (1, 50 + 5 * i, 60 + 6 * i, "a")))
             for i in range(4)]
    verdict = evaluate(taken, 0)  # type: ignore[arg-type]
    assert verdict["status"] == "ERR"
    assert [p["status"] for p in verdict["partitions"]] == ["STOP", "WARN"]
    assert verdict["unhealthy"] == ["t-0 STOP (lag 30)", "t-1 WARN (lag 13)"]
    assert verdict["totallag"] == 43 and verdict["maxlag"]["partition"] == 0
    assert verdict["growing"] is True  # 10 + 10 at the first sample, 30 + 13 at the last
    assert verdict["partitions"][0]["committed"] == [100] * 4
    assert verdict["complete"] is True


def test_churn_counts_assignment_changes() -> None:
    taken = [(0.0, describe((0, 1, 1, "a"), (1, 1, 1, "b"))),
             (1.0, describe((0, 1, 1, "a"), (1, 1, 1, "a"))),
             (2.0, describe((0, 1, 1, "a"), (1, 1, 1, "c"))),
             (3.0, describe((0, 1, 1, "a"), (1, 1, 1, "c")))]
    found = churn(taken)  # type: ignore[arg-type]
    assert found["rebalances"] == 2 and found["distinct_members"] == 3
    assert found["members"][1] == ["a"] and found["stable"] is False
