"""Replay a policy over the logged curves of a finished experiment: what would it have saved?

The engine feeds a policy's :class:`~hdnotebook.policy.population.PolicyTracker` every
primary-metric log in the order the logs reached it, and tells it when runs end; the replay does
exactly the same over the stored events (``(run_id, value)`` pairs and :class:`RunEnded` markers),
so a policy replayed on an experiment that ran under it stops the same runs at the same intervals.
:func:`simulate_policy` runs whole curves through the policy as the engine would at a given
concurrency (each run starts when a slot frees), for benchmarks and tests without processes.

    >>> from hdnotebook.policy import BanditPolicy, NoTerminationPolicy
    >>> events = [("a", 0.8), ("b", 0.5), ("a", 0.9), ("b", 0.6)]
    >>> report = replay_policy(BanditPolicy(slack_amount=0.2), events, "maximize")
    >>> sorted(report.stopped), report.intervals_used, report.intervals_total
    (['b'], 3, 4)
    >>> replay_policy(NoTerminationPolicy(), events, "maximize").saved_fraction
    0.0
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from numbers import Real
from typing import Any

from .._format import format_number
from .._vocab import best_value, check_goal, metric_key
from .base import EarlyTerminationPolicy, StopDecision

__all__ = ["ReplayReport", "RunEnded", "replay_policy", "simulate_policy", "compare_policies", "comparison_table"]


@dataclass(frozen=True)
class RunEnded:
    """An event marker: ``run_id`` ended here (completed, failed or canceled), so from here on it
    counts with what it had at later intervals (SPEC §4). A run the replayed policy stops ends at
    its stop without a marker."""

    run_id: Hashable


def _fmt(value: float | None) -> str:
    return "-" if value is None else format_number(value)


@dataclass(frozen=True)
class ReplayReport:
    """What a policy would have done to a finished experiment.

    Attributes:
        policy: ``repr`` of the policy, e.g. ``"BanditPolicy(slack_factor=0.1, ...)"``.
        stopped: run id -> the :class:`StopDecision` that stopped it, in stopping order.
        stopped_early: the stopped runs whose stop came before their last logged interval, in
            stopping order; a run stopped at what turned out to be its last interval lost nothing
            and is not counted here (nor in the intervals saved).
        intervals_total: primary-metric logs of the experiment (every run to its end; a
            ``truncated`` run the replay stops at its last log: as long as the longest run).
        intervals_used: logs the replay let through (a stopped run's last one included).
        saved_fraction: ``1 - intervals_used / intervals_total`` (0 for an empty experiment).
        best_run_id: the run with the best value logged with no policy (NaN counts as worst).
        best_run_stopped: whether the policy stopped that run.
        best_value_kept: the best value among the logs the replay let through.
        best_value: the best value logged with no policy.
        seconds_total, seconds_used, saved_time_fraction: the same in seconds, when
            ``durations`` were given to :func:`replay_policy` (else ``None``).
    """

    policy: str
    stopped: Mapping[Hashable, StopDecision]
    intervals_total: int
    intervals_used: int
    saved_fraction: float
    best_run_id: Hashable | None
    best_run_stopped: bool
    best_value_kept: float | None
    best_value: float | None = None
    stopped_early: tuple[Hashable, ...] = ()
    seconds_total: float | None = field(default=None)
    seconds_used: float | None = field(default=None)
    saved_time_fraction: float | None = field(default=None)

    def as_table(self) -> str:
        """A short plain-text summary, one fact per line."""
        best = "-" if self.best_run_id is None else f"{self.best_run_id} ({_fmt(self.best_value)})"
        if self.best_run_id is not None:
            best += ", stopped" if self.best_run_stopped else ", kept"
        rows = [
            ("policy", self.policy),
            ("runs stopped", f"{len(self.stopped)} ({len(self.stopped_early)} before their last interval)"),
            (
                "intervals used",
                f"{self.intervals_used} of {self.intervals_total} "
                f"({self.saved_fraction:.1%} saved)",
            ),
        ]
        if self.seconds_total is not None:
            rows.append(
                (
                    "seconds used",
                    f"{self.seconds_used:.4g} of {self.seconds_total:.4g} "
                    f"({self.saved_time_fraction:.1%} saved)",
                )
            )
        rows += [("best run", best), ("best value kept", _fmt(self.best_value_kept))]
        rows += [(f"stopped {rid}", d.reason) for rid, d in self.stopped.items()]
        width = max(len(name) for name, _ in rows)
        return "\n".join(f"{name:<{width}}  {text}" for name, text in rows)


def _check_events(events: Iterable[Any]) -> list[tuple[Hashable, float] | RunEnded]:
    checked: list[tuple[Hashable, float] | RunEnded] = []
    for i, event in enumerate(events):
        if isinstance(event, RunEnded):
            checked.append(event)
            continue
        if not isinstance(event, (tuple, list)) or len(event) != 2:
            raise TypeError(
                f"replay: events must be (run_id, value) pairs or RunEnded(run_id); event {i} is {event!r}"
            )
        run_id, value = event
        if isinstance(value, bool) or not isinstance(value, Real):
            raise TypeError(f"replay: event {i} ({run_id!r}) has a non-numeric value {value!r}")
        checked.append((run_id, float(value)))
    return checked


def _seconds(
    durations: Mapping[Hashable, float], counts: Mapping[Hashable, int], used: Mapping[Hashable, int]
) -> tuple[float, float]:
    total = spent = 0.0
    for rid, n in counts.items():
        seconds = float(durations.get(rid, 0.0))
        total += seconds
        spent += seconds * used.get(rid, 0) / n
    return total, spent


def replay_policy(
    policy: EarlyTerminationPolicy,
    events: Sequence[tuple[Hashable, float] | RunEnded],
    goal: Any,
    durations: Mapping[Hashable, float] | None = None,
    truncated: Collection[Hashable] = (),
) -> ReplayReport:
    """Replay ``policy`` over the primary-metric ``events`` of a finished experiment.

    Args:
        policy: the early-termination policy to try.
        events: ``(run_id, value)`` for every primary-metric log, in the order they reached the
            engine, with a :class:`RunEnded` marker where a run ended (optional: without markers
            runs count as running until their last event, and a stopped run ends at its stop).
        goal: ``"maximize"``/``"minimize"`` or a ``PrimaryMetricGoal``.
        durations: optional run id -> seconds the whole run took; a stopped run is assumed to
            have spent them evenly over its intervals, which fills the ``seconds_*`` fields.
        truncated: runs whose recorded values were themselves cut short (stopped live): how
            long they would have run is not known, so when the replay stops one at its last
            recorded interval it counts, as the widget does, as stopped early with the longest
            run's length, and the intervals it would have run count in the totals.

    Returns:
        a :class:`ReplayReport`.
    """
    if not isinstance(policy, EarlyTerminationPolicy):
        raise TypeError(f"replay_policy: policy must be an EarlyTerminationPolicy, got {policy!r}")
    goal = check_goal(goal)
    checked = _check_events(events)
    tracker = policy.tracker(goal)
    curves: dict[Hashable, list[float]] = {}
    used: dict[Hashable, int] = {}
    kept: list[float] = []
    for event in checked:
        if isinstance(event, RunEnded):
            tracker.end(event.run_id)
            continue
        run_id, value = event
        curves.setdefault(run_id, []).append(value)
        used.setdefault(run_id, 0)
        if run_id in tracker.stopped:
            continue
        used[run_id] += 1
        kept.append(value)
        tracker.log(run_id, value)
    return _report(policy, goal, curves, used, kept, tracker.stopped, durations, truncated)


def simulate_policy(
    policy: EarlyTerminationPolicy,
    curves: Mapping[Hashable, Sequence[float]],
    goal: Any,
    concurrency: int,
    seconds: Mapping[Hashable, Sequence[float]] | None = None,
) -> ReplayReport:
    """Run whole ``curves`` through ``policy`` as the engine would, ``concurrency`` runs at a time.

    Runs start in the order of ``curves`` whenever a slot is free (a stopped or finished run frees
    its slot at once); interval ``i`` of a run is logged ``seconds[run][i]`` seconds after the
    previous one (1 s each by default), and values that fall at the same time reach the policy in
    the order the runs started. A run that logs its last value ends right after it.

        >>> from hdnotebook.policy import TruncationSelectionPolicy
        >>> curves = {q: [q * i for i in range(1, 7)] for q in (1.0, 0.9, 0.95, 0.1, 0.2)}
        >>> report = simulate_policy(TruncationSelectionPolicy(30, 1, 3), curves, "maximize", 1)
        >>> sorted(report.stopped)
        [0.1]

    Args:
        policy: the early-termination policy.
        curves: run id -> every primary-metric value the run would log with no policy.
        goal: ``"maximize"``/``"minimize"`` or a ``PrimaryMetricGoal``.
        concurrency: how many runs run at once (``max_concurrent_runs``), an int >= 1.
        seconds: optional run id -> seconds each interval takes (same length as its curve).

    Returns:
        a :class:`ReplayReport`; its ``seconds_*`` fields hold the compute (run-seconds) used.
    """
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError(f"simulate_policy: concurrency must be an int >= 1, got {concurrency!r}")
    goal = check_goal(goal)
    tracker = policy.tracker(goal)
    order = list(curves)
    full = {rid: [float(v) for v in curves[rid]] for rid in order}
    step = {rid: list(seconds[rid]) if seconds is not None else [1.0] * len(full[rid]) for rid in order}
    used: dict[Hashable, int] = {rid: 0 for rid in order}
    kept: list[float] = []
    spent: dict[Hashable, float] = {rid: 0.0 for rid in order}
    heap: list[tuple[float, int, int, Hashable]] = []  # (time, start position, interval index, run)
    waiting = iter(range(len(order)))

    def start(now: float) -> None:
        for position in waiting:
            rid = order[position]
            if full[rid]:
                heapq.heappush(heap, (now + step[rid][0], position, 0, rid))
                return
            tracker.end(rid)  # a run that logs nothing ends at once

    for _ in range(concurrency):
        start(0.0)
    while heap:
        now, position, index, rid = heapq.heappop(heap)
        value = full[rid][index]
        used[rid] += 1
        spent[rid] += step[rid][index]
        kept.append(value)
        if tracker.log(rid, value) is not None:
            start(now)
        elif index + 1 == len(full[rid]):
            tracker.end(rid)
            start(now)
        else:
            heapq.heappush(heap, (now + step[rid][index + 1], position, index + 1, rid))
    report = _report(policy, goal, full, used, kept, tracker.stopped, None)
    total = sum(sum(step[rid]) for rid in order)
    spent_total = sum(spent.values())
    return ReplayReport(
        **{
            **report.__dict__,
            "seconds_total": total,
            "seconds_used": spent_total,
            "saved_time_fraction": 1.0 - spent_total / total if total > 0 else 0.0,
        }
    )


def _report(
    policy: EarlyTerminationPolicy,
    goal: str,
    curves: Mapping[Hashable, Sequence[float]],
    used: Mapping[Hashable, int],
    kept: Sequence[float],
    stopped: Mapping[Hashable, StopDecision],
    durations: Mapping[Hashable, float] | None,
    truncated: Collection[Hashable] = (),
) -> ReplayReport:
    total = sum(len(c) for c in curves.values())
    spent = sum(used.values())
    longest = max((len(c) for c in curves.values()), default=0)
    early = []
    for rid, decision in stopped.items():
        length = len(curves.get(rid, ()))
        if rid in truncated and decision.interval == length:
            length = longest  # unknown: estimated as the widget does
            total += longest - decision.interval
        if decision.interval < length:
            early.append(rid)
    best_per_run = {rid: best_value(vals, goal) for rid, vals in curves.items() if vals}
    best_run_id = None
    for rid, best in best_per_run.items():
        if best_run_id is None or metric_key(best, goal) > metric_key(best_per_run[best_run_id], goal):  # type: ignore[arg-type]
            best_run_id = rid
    seconds_total = seconds_used = saved_time = None
    if durations is not None:
        counts = {rid: len(c) for rid, c in curves.items() if c}
        seconds_total, seconds_used = _seconds(durations, counts, used)
        saved_time = 1.0 - seconds_used / seconds_total if seconds_total > 0 else 0.0
    return ReplayReport(
        policy=repr(policy),
        stopped=dict(stopped),
        stopped_early=tuple(early),
        intervals_total=total,
        intervals_used=spent,
        saved_fraction=1.0 - spent / total if total else 0.0,
        best_run_id=best_run_id,
        best_run_stopped=best_run_id in stopped,
        best_value_kept=best_value(kept, goal),
        best_value=None if best_run_id is None else best_per_run[best_run_id],
        seconds_total=seconds_total,
        seconds_used=seconds_used,
        saved_time_fraction=saved_time,
    )


def compare_policies(
    policies: Iterable[EarlyTerminationPolicy],
    events: Sequence[tuple[Hashable, float] | RunEnded],
    goal: Any,
    durations: Mapping[Hashable, float] | None = None,
) -> list[ReplayReport]:
    """Replay each policy over the same events; one report per policy, in the order given."""
    events = list(events)
    return [replay_policy(p, events, goal, durations) for p in policies]


def comparison_table(reports: Sequence[ReplayReport]) -> str:
    """One line per report: policy, runs stopped, saved fraction, best run kept, best value kept."""
    header = ("policy", "stopped", "saved", "best run", "best kept")
    rows = [
        (
            r.policy,
            str(len(r.stopped)),
            f"{r.saved_fraction:.1%}",
            "stopped" if r.best_run_stopped else "kept",
            _fmt(r.best_value_kept),
        )
        for r in reports
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in [header, *rows]
    )

