"""Replay a policy over the logged curves of a finished experiment: what would it have saved?

The engine calls :meth:`EarlyTerminationPolicy.check` once per primary-metric log, in the order the
logs reached it; the replay does exactly the same over the stored events, so a policy replayed on
an experiment that ran under it stops the same runs at the same intervals.

    >>> from hdnotebook.policy import BanditPolicy, NoTerminationPolicy
    >>> events = [("a", 0.8), ("b", 0.5), ("a", 0.9), ("b", 0.6)]
    >>> report = replay_policy(BanditPolicy(slack_amount=0.2), events, "maximize")
    >>> sorted(report.stopped), report.intervals_used, report.intervals_total
    (['b'], 3, 4)
    >>> replay_policy(NoTerminationPolicy(), events, "maximize").saved_fraction
    0.0
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from numbers import Real
from typing import Any

from .._vocab import best_value, check_goal, metric_key
from .base import EarlyTerminationPolicy, StopDecision

__all__ = ["ReplayReport", "replay_policy", "compare_policies", "comparison_table"]


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


@dataclass(frozen=True)
class ReplayReport:
    """What a policy would have done to a finished experiment.

    Attributes:
        policy: ``repr`` of the policy, e.g. ``"BanditPolicy(slack_factor=0.1, ...)"``.
        stopped: run id -> the :class:`StopDecision` that stopped it, in stopping order.
        intervals_total: primary-metric logs of the experiment (every run to its end).
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
            ("runs stopped", str(len(self.stopped))),
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


def _check_events(events: Iterable[Any]) -> list[tuple[Hashable, float]]:
    checked = []
    for i, event in enumerate(events):
        if not isinstance(event, (tuple, list)) or len(event) != 2:
            raise TypeError(f"replay: events must be (run_id, value) pairs; event {i} is {event!r}")
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
    events: Sequence[tuple[Hashable, float]],
    goal: Any,
    durations: Mapping[Hashable, float] | None = None,
) -> ReplayReport:
    """Replay ``policy`` over the primary-metric ``events`` of a finished experiment.

    Args:
        policy: the early-termination policy to try.
        events: ``(run_id, value)`` for every primary-metric log, in the order they reached the
            engine.
        goal: ``"maximize"``/``"minimize"`` or a ``PrimaryMetricGoal``.
        durations: optional run id -> seconds the whole run took; a stopped run is assumed to
            have spent them evenly over its intervals, which fills the ``seconds_*`` fields.

    Returns:
        a :class:`ReplayReport`.
    """
    if not isinstance(policy, EarlyTerminationPolicy):
        raise TypeError(f"replay_policy: policy must be an EarlyTerminationPolicy, got {policy!r}")
    goal = check_goal(goal)
    checked = _check_events(events)
    histories: dict[Hashable, list[float]] = {}
    counts: dict[Hashable, int] = {}
    final: dict[Hashable, list[float]] = {}
    stopped: dict[Hashable, StopDecision] = {}
    kept: list[float] = []
    for run_id, value in checked:
        counts[run_id] = counts.get(run_id, 0) + 1
        final.setdefault(run_id, []).append(value)
        histories.setdefault(run_id, [])
        if run_id in stopped:
            continue
        histories[run_id].append(value)
        kept.append(value)
        decision = policy.check(run_id, histories, goal)  # type: ignore[arg-type]
        if decision is not None:
            stopped[run_id] = decision
    used = len(kept)
    total = len(checked)
    best_per_run = {rid: best_value(vals, goal) for rid, vals in final.items()}
    best_run_id = None
    for rid, best in best_per_run.items():
        if best_run_id is None or metric_key(best, goal) > metric_key(best_per_run[best_run_id], goal):  # type: ignore[arg-type]
            best_run_id = rid
    seconds_total = seconds_used = saved_time = None
    if durations is not None:
        seconds_total, seconds_used = _seconds(
            durations, counts, {rid: len(h) for rid, h in histories.items()}
        )
        saved_time = 1.0 - seconds_used / seconds_total if seconds_total > 0 else 0.0
    return ReplayReport(
        policy=repr(policy),
        stopped=stopped,
        intervals_total=total,
        intervals_used=used,
        saved_fraction=1.0 - used / total if total else 0.0,
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
    events: Sequence[tuple[Hashable, float]],
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

