"""The runs a policy compares against: one population rule for every policy (SPEC §4).

At interval ``k`` the run being judged is compared with every *other* run of the experiment that
logged the primary metric and either

- reached interval ``k`` (running or ended): it counts with its value at ``k`` (Median: its running
  average over ``1..k``), or
- ended before ``k`` (completed, stopped by the policy, failed or canceled) after logging at least
  one value: it counts with what it had, its last value (Median: its running average over all it
  logged).

A run still running that has not reached ``k`` yet is left out: what it will log at ``k`` is not
known. Without the second group, stopping the bad runs would remove them from later comparisons,
so with few runs at a time the good runs would become "the worst" (survivor drift); with it the
answer no longer depends on how many runs ran at once.

:class:`Population` keeps, per run, its values, their prefix sums and its best value so far, so
adding a value is O(1) and a running average over ``1..k`` is one division: a judgement costs
O(number of runs), whatever the length of the runs.

    >>> population = Population("maximize")
    >>> for value in (0.2, 0.4, 0.6):
    ...     _ = population.add("a", value)
    >>> _ = population.add("b", 0.1)
    >>> population.end("b")                      # b ended after one interval
    >>> _ = population.add("c", 0.3)             # c is running at interval 1
    >>> sorted(population.values_at(3, exclude="a"))   # b carries its last value; c is not there yet
    [0.1]
    >>> population.running_average("a", 2)
    0.30000000000000004
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .._vocab import check_goal, metric_key

if TYPE_CHECKING:
    from .base import EarlyTerminationPolicy, StopDecision

__all__ = ["Population", "PolicyTracker"]


@dataclass
class _Curve:
    values: list[float] = field(default_factory=list)
    #: sums[i] = values[0] + ... + values[i]
    sums: list[float] = field(default_factory=list)
    best: float | None = None
    ended: bool = False


class Population:
    """Every run's primary-metric values and whether it ended, for one experiment and goal.

    Args:
        goal: ``"maximize"`` or ``"minimize"`` (decides what "best so far" means).
    """

    def __init__(self, goal: str) -> None:
        self.goal = check_goal(goal)
        self._curves: dict[Hashable, _Curve] = {}

    # -- updates ---------------------------------------------------------------------------------
    def add(self, run_id: Hashable, value: float) -> int:
        """Append ``value`` to ``run_id``'s curve; returns its interval (1-based). O(1)."""
        curve = self._curves.get(run_id)
        if curve is None:
            curve = self._curves[run_id] = _Curve()
        value = float(value)
        curve.values.append(value)
        curve.sums.append(value + curve.sums[-1] if curve.sums else value)
        if curve.best is None or metric_key(value, self.goal) > metric_key(curve.best, self.goal):
            curve.best = value
        return len(curve.values)

    def end(self, run_id: Hashable) -> None:
        """``run_id`` ended (completed, stopped, failed or canceled): from now on it counts with
        what it had at every later interval."""
        curve = self._curves.get(run_id)
        if curve is None:
            curve = self._curves[run_id] = _Curve()
        curve.ended = True

    def forget(self, run_id: Hashable) -> None:
        """Drop ``run_id``'s values (its retry starts again from interval 1)."""
        self._curves.pop(run_id, None)

    # -- reads -----------------------------------------------------------------------------------
    def __contains__(self, run_id: object) -> bool:
        return run_id in self._curves

    def has_ended(self, run_id: Hashable) -> bool:
        curve = self._curves.get(run_id)
        return curve is not None and curve.ended

    def intervals(self, run_id: Hashable) -> int:
        curve = self._curves.get(run_id)
        return 0 if curve is None else len(curve.values)

    def value(self, run_id: Hashable, interval: int) -> float:
        """The value ``run_id`` logged at ``interval`` (1-based)."""
        return self._curves[run_id].values[interval - 1]

    def best(self, run_id: Hashable) -> float:
        """``run_id``'s best value so far under the goal (NaN counts as worst)."""
        best = self._curves[run_id].best
        assert best is not None, f"{run_id!r} has logged no value"
        return best

    def running_average(self, run_id: Hashable, interval: int) -> float:
        """The average of ``run_id``'s values over intervals ``1..interval``. O(1)."""
        return self._curves[run_id].sums[interval - 1] / interval

    def ids(self) -> list[Hashable]:
        return list(self._curves)

    # -- the population rule ---------------------------------------------------------------------
    def members(
        self,
        interval: int,
        exclude: Hashable,
        include_ended: bool = True,
        keep: Callable[[Hashable], bool] | None = None,
    ) -> list[tuple[Hashable, int]]:
        """The runs compared at ``interval`` and the interval each counts with.

        Every run but ``exclude`` that reached ``interval`` counts with ``interval``; one that
        ended before it, after logging, counts with its last interval. ``include_ended=False``
        leaves out every run that has ended (``TruncationSelectionPolicy(exclude_finished_jobs=True)``);
        ``keep`` narrows the runs further (ASHA's brackets).
        """
        out = []
        for run_id, curve in self._curves.items():
            if run_id == exclude:
                continue
            n = len(curve.values)
            if n == 0 or (curve.ended and not include_ended):
                continue
            if n >= interval:
                at = interval
            elif curve.ended:
                at = n
            else:
                continue  # running, not there yet
            if keep is None or keep(run_id):
                out.append((run_id, at))
        return out

    def values_at(
        self,
        interval: int,
        exclude: Hashable,
        include_ended: bool = True,
        keep: Callable[[Hashable], bool] | None = None,
    ) -> list[float]:
        """The other runs' values at ``interval`` (an ended shorter run: its last value)."""
        curves = self._curves
        return [curves[rid].values[at - 1] for rid, at in self.members(interval, exclude, include_ended, keep)]

    def averages_at(self, interval: int, exclude: Hashable) -> list[float]:
        """The other runs' running averages over ``1..interval`` (an ended shorter run: over all
        it logged)."""
        curves = self._curves
        return [curves[rid].sums[at - 1] / at for rid, at in self.members(interval, exclude)]


class PolicyTracker:
    """One policy applied to one experiment, value by value: what the engine and the replay run.

    Made by :meth:`EarlyTerminationPolicy.tracker`. Feed it every primary-metric value in the order
    it arrived (:meth:`log`) and tell it when a run ends (:meth:`end`); it keeps the
    :class:`Population` up to date and returns a :class:`StopDecision` when the policy stops the
    run that just logged. A stopped run counts as ended from that moment, and values it logs after
    the stop are ignored (they never reach the policy, live or replayed).

        >>> from hdnotebook.policy import BanditPolicy
        >>> tracker = BanditPolicy(slack_amount=0.2).tracker("maximize")
        >>> tracker.log("a", 0.9) is None, tracker.log("b", 0.5).interval
        (True, 1)
        >>> tracker.log("b", 0.95) is None   # b was stopped: later values are ignored
        True
    """

    def __init__(self, policy: EarlyTerminationPolicy, goal: str) -> None:
        self.policy = policy
        self.goal = check_goal(goal)
        self.population = Population(self.goal)
        self.stopped: dict[Hashable, StopDecision] = {}

    def log(self, run_id: Hashable, value: float) -> StopDecision | None:
        """Record ``run_id``'s next value; the decision when the policy stops it now."""
        if self.population.has_ended(run_id):
            return None
        interval = self.population.add(run_id, value)
        if not self.policy.is_evaluation_point(interval):
            return None
        decision = self.policy._decide(run_id, interval, self.population, self.goal)
        if decision is not None:
            self.stopped[run_id] = decision
            self.population.end(run_id)
        return decision

    def load(self, run_id: Hashable, values: list[float], ended: bool = True) -> None:
        """Take over a run's past values without judging them (a resumed experiment's finished runs)."""
        for value in values:
            self.population.add(run_id, value)
        if ended:
            self.population.end(run_id)

    def end(self, run_id: Hashable) -> None:
        """``run_id`` ended (completed, failed, canceled): it counts with what it had."""
        self.population.end(run_id)

    def restart(self, run_id: Hashable) -> None:
        """``run_id`` runs again from its first interval (a retry after a lost worker)."""
        self.population.forget(run_id)
        self.stopped.pop(run_id, None)
