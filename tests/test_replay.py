"""Replaying policies over the curves of a finished experiment."""

from __future__ import annotations

import math

import pytest

from hdnotebook.policy import (
    BanditPolicy,
    EarlyTerminationPolicy,
    MedianStoppingPolicy,
    NoTerminationPolicy,
    StopDecision,
    compare_policies,
    replay_policy,
)
from hdnotebook.policy.replay import comparison_table


def _round_robin(curves: dict[str, list[float]]) -> list[tuple[str, float]]:
    """Events as if every run logged in turn: a1 b1 c1 a2 b2 c2 ..."""
    longest = max(len(c) for c in curves.values())
    return [(rid, c[i]) for i in range(longest) for rid, c in curves.items() if i < len(c)]


CURVES = {
    "a": [0.5, 0.6, 0.7, 0.8],
    "b": [0.2, 0.3, 0.4, 0.5],
    "c": [0.45, 0.55, 0.65, 0.75],
}


def test_replay_reports_stopped_runs_intervals_and_saved_fraction():
    report = replay_policy(BanditPolicy(slack_amount=0.2), _round_robin(CURVES), "maximize")
    assert list(report.stopped) == ["b"]
    assert report.stopped["b"].interval == 1
    assert (report.intervals_total, report.intervals_used) == (12, 9)
    assert report.saved_fraction == pytest.approx(0.25)
    assert (report.best_run_id, report.best_run_stopped) == ("a", False)
    assert report.best_value_kept == 0.8


def test_replay_flags_when_the_best_run_was_stopped():
    curves = {**CURVES, "b": [0.2, 0.3, 0.4, 0.95]}  # a late bloomer
    report = replay_policy(BanditPolicy(slack_amount=0.2), _round_robin(curves), "maximize")
    assert (report.best_run_id, report.best_value) == ("b", 0.95)
    assert report.best_run_stopped is True
    assert report.best_value_kept == 0.8


def test_replay_minimize_goal():
    losses = {rid: [1 - v for v in c] for rid, c in CURVES.items()}
    report = replay_policy(BanditPolicy(slack_amount=0.2), _round_robin(losses), "minimize")
    assert list(report.stopped) == ["b"]
    assert report.best_run_id == "a"
    assert report.best_value_kept == pytest.approx(0.2)


def test_no_termination_saves_nothing():
    report = replay_policy(NoTerminationPolicy(), _round_robin(CURVES), "maximize")
    assert report.stopped == {}
    assert report.intervals_used == report.intervals_total == 12
    assert report.saved_fraction == 0.0
    assert report.best_run_stopped is False


class _Recorder(EarlyTerminationPolicy):
    """Stops "b" at its first check and records every (run, history lengths) it is shown."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, dict[str, int]]] = []

    def _decide(self, run_id, interval, population, goal):
        self.seen.append((run_id, {r: population.intervals(r) for r in population.ids()}))
        if run_id == "b":
            return StopDecision(run_id, "Recorder", interval, population.value(run_id, interval), None, "test")
        return None


def test_replay_feeds_events_in_order_and_drops_a_stopped_runs_later_events():
    recorder = _Recorder()
    replay_policy(recorder, _round_robin(CURVES), "maximize")
    assert [rid for rid, _ in recorder.seen] == ["a", "b", "c", "a", "c", "a", "c", "a", "c"]
    assert recorder.seen[1] == ("b", {"a": 1, "b": 1})
    assert recorder.seen[-1][1] == {"a": 4, "b": 1, "c": 4}


def test_replay_agrees_with_calling_check_live_in_the_same_order():
    policy = MedianStoppingPolicy(evaluation_interval=1, delay_evaluation=2, min_samples_required=1)
    events = _round_robin(CURVES)
    histories: dict[str, list[float]] = {}
    live: dict[str, StopDecision] = {}
    for rid, value in events:
        if rid in live:
            continue
        histories.setdefault(rid, []).append(value)
        decision = policy.check(rid, histories, "maximize", ended=set(live))  # a stopped run has ended
        if decision:
            live[rid] = decision
    assert replay_policy(policy, events, "maximize").stopped == live
    assert set(live) == {"b"}


def test_replay_nan_values_count_as_worst_for_the_best_run():
    events = [("a", math.nan), ("b", 0.1), ("a", math.nan)]
    report = replay_policy(NoTerminationPolicy(), events, "maximize")
    assert report.best_run_id == "b"
    assert report.best_value_kept == 0.1


def test_replay_of_no_events_is_empty():
    report = replay_policy(NoTerminationPolicy(), [], "maximize")
    assert (report.intervals_total, report.saved_fraction, report.best_run_id) == (0, 0.0, None)
    assert report.best_value_kept is None


def test_replay_with_durations_reports_seconds_saved():
    durations = {"a": 40.0, "b": 40.0, "c": 20.0}
    report = replay_policy(BanditPolicy(slack_amount=0.2), _round_robin(CURVES), "maximize", durations)
    assert report.seconds_total == 100.0
    assert report.seconds_used == pytest.approx(70.0)  # b ran 1 of its 4 intervals
    assert report.saved_time_fraction == pytest.approx(0.3)


@pytest.mark.parametrize(
    ("events", "message"),
    [
        ([("a",)], r"\(run_id, value\) pairs or RunEnded\(run_id\); event 0"),
        ([("a", 0.1), ("b", "x")], r"event 1 \('b'\) has a non-numeric value 'x'"),
    ],
)
def test_replay_rejects_malformed_events(events, message):
    with pytest.raises(TypeError, match=message):
        replay_policy(NoTerminationPolicy(), events, "maximize")


def test_replay_report_is_frozen_and_prints_a_table():
    report = replay_policy(BanditPolicy(slack_amount=0.2), _round_robin(CURVES), "maximize")
    with pytest.raises(AttributeError):
        report.saved_fraction = 0.0  # type: ignore[misc]
    table = report.as_table()
    assert "BanditPolicy(slack_amount=0.2, evaluation_interval=1, delay_evaluation=0)" in table
    assert "9 of 12 (25.0% saved)" in table
    assert "a (0.8), kept" in table
    assert "BanditPolicy: 0.2 at interval 1 is below 0.3" in table


def test_compare_policies_gives_one_report_per_policy_in_order():
    policies = [NoTerminationPolicy(), BanditPolicy(slack_amount=0.2), BanditPolicy(slack_amount=0.01)]
    reports = compare_policies(policies, iter(_round_robin(CURVES)), "maximize")
    assert [r.policy for r in reports] == [repr(p) for p in policies]
    assert [len(r.stopped) for r in reports] == [0, 1, 2]
    table = comparison_table(reports)
    assert table.splitlines()[0].split() == ["policy", "stopped", "saved", "best", "run", "best", "kept"]
    assert len(table.splitlines()) == 4


def test_a_run_ended_marker_makes_a_shorter_run_count_with_its_last_value():
    from hdnotebook.policy import RunEnded, TruncationSelectionPolicy

    # b logged once and ended (unjudged: delay 2); a and c are judged at interval 2: with b in the population (its
    # 0.1 carried forward) the lowest 50 % of 3 runs is one run, b's place; without the marker b
    # counts as still running and the worse of a and c is cut
    base = [("a", 0.9), ("b", 0.1), ("c", 0.5), ("a", 0.9)]
    with_end = replay_policy(TruncationSelectionPolicy(50, delay_evaluation=2), [*base[:2], RunEnded("b"), *base[2:], ("c", 0.6)], "maximize")
    without = replay_policy(TruncationSelectionPolicy(50, delay_evaluation=2), [*base, ("c", 0.6)], "maximize")
    assert "c" not in with_end.stopped
    assert without.stopped["c"].interval == 2


def test_stopped_early_leaves_out_a_run_stopped_at_its_last_interval():
    curves = {"a": [0.9, 0.9, 0.9], "b": [0.1, 0.1], "c": [0.1, 0.1, 0.1]}
    events = _round_robin(curves)
    report = replay_policy(BanditPolicy(slack_amount=0.2, delay_evaluation=2), events, "maximize")
    assert set(report.stopped) == {"b", "c"}
    assert report.stopped_early == ("c",)  # b's 2nd value was its last: it lost nothing
    assert report.intervals_total - report.intervals_used == 1
    # a run stopped live has no values after its stop: its length is estimated as the longest's
    live = replay_policy(BanditPolicy(slack_amount=0.2, delay_evaluation=2), events, "maximize", truncated={"b"})
    assert set(live.stopped_early) == {"b", "c"}
    assert live.intervals_total - live.intervals_used == 2  # b would have run 3 like a: 1 more


@pytest.mark.parametrize("concurrency", [1, 4])
def test_simulate_policy_equals_replaying_the_events_in_the_order_it_produced(concurrency):
    from hdnotebook.policy import RunEnded, simulate_policy

    curves = {f"r{i}": [q * (1 - 0.5 ** t) for t in range(1, 9)] for i, q in enumerate([0.9, 0.2, 0.8, 0.1, 0.95, 0.3])}
    policy = MedianStoppingPolicy(1, 2)
    simulated = simulate_policy(policy, curves, "maximize", concurrency)
    # the same order by hand: runs in lockstep, `concurrency` at a time, a stopped run's slot freed
    events, running, waiting, clock = [], [], list(curves), {}
    tracker = policy.tracker("maximize")
    while running or waiting:
        while waiting and len(running) < concurrency:
            running.append(waiting.pop(0))
        for rid in list(running):
            k = clock.get(rid, 0)
            events.append((rid, curves[rid][k]))
            clock[rid] = k + 1
            if tracker.log(rid, curves[rid][k]) is not None:
                running.remove(rid)
            elif k + 1 == len(curves[rid]):
                tracker.end(rid)
                events.append(RunEnded(rid))
                running.remove(rid)
    replayed = replay_policy(policy, events, "maximize")
    assert {r: d.interval for r, d in replayed.stopped.items()} == {r: d.interval for r, d in simulated.stopped.items()}
    assert replayed.intervals_used == simulated.intervals_used
