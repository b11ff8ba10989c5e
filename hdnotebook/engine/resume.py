"""Resume and warm start: an experiment's past, read back from the store for a new driver.

**Resume** (``experiment.resume()`` or ``hyperdrive_run.resume()``) continues an unfinished
experiment run under the same parent run id, so every view that reads runs by parent id keeps
working:

- trials that finished (Completed, Canceled, Failed by their own error) count toward
  ``max_total_runs``; their primary-metric values rebuild the policy's histories, and their
  records (parameters, state, value, curve) are what the sampler is given, in creation order, so
  a seeded sampler goes on where it was (random, grid and Sobol continue their sequences; Bayesian
  conditions on everything it learned);
- trials that were Queued or Running when the kernel died (Failed with ``interrupted``) are run
  again with the same parameters as **new runs** (next free number, ``rerun_of`` in their
  details); the interrupted run keeps its partial metrics and gets ``superseded_by``, and no
  longer counts toward the budget nor feeds the policy or the sampler. A new run id keeps each
  run's metrics one clean curve (a run id never mixes two attempts);
- ``max_duration_minutes`` counts the time the earlier sessions ran.

**Warm start** (``HyperDriveConfig(..., warm_start=[earlier_run])`` or
``submit(config, warm_start=earlier_run)``) hands the finished trials of earlier runs over the
same space to the sampler, before this experiment's own trials. They are not runs of the new
experiment and do not count toward its budget. Grid sampling ignores them (it enumerates its
grid whatever happened before).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._vocab import TERMINAL_STATUSES, best_value, trial_state
from ..sampling.base import TrialRecord
from ..store import RunRow, Store

__all__ = ["PastTrial", "ResumeState", "load_state", "warm_start_records", "is_interrupted"]


@dataclass
class PastTrial:
    """One stored child run, as a resumed driver takes it over."""

    run_id: str
    number: int
    params: dict[str, Any]
    status: str
    values: list[float] = field(default_factory=list)
    arguments: list[str] = field(default_factory=list)
    attempts: int = 1
    #: arguments added after the hyperparameters (``--resume-from <outputs>`` for a resumed child)
    extra_arguments: list[str] = field(default_factory=list)
    #: a run of an earlier experiment this trial resumes (``resume_child_runs``)
    resumed_from: str | None = None


@dataclass
class ResumeState:
    """What a resumed driver starts from."""

    finished: list[PastTrial]
    rerun: list[PastTrial]
    next_number: int
    used_seconds: float = 0.0


def is_interrupted(row: RunRow) -> bool:
    """A child run the kernel left unfinished (and not already re-run)."""
    if row.details.get("superseded_by"):
        return False
    return row.status not in TERMINAL_STATUSES or bool(row.details.get("interrupted"))


def _primary_values(store: Store, run_ids: Sequence[str], primary: str) -> tuple[dict[str, list[float]], float]:
    out: dict[str, list[float]] = {rid: [] for rid in run_ids}
    last = 0.0
    for m in store.metrics(list(run_ids), primary):
        last = max(last, m.time)
        if m.value is not None:
            out[m.run_id].append(m.value)
    return out, last


def load_state(store: Store, parent: RunRow) -> ResumeState:
    """Read an experiment run's children back: finished ones, interrupted ones, the time used."""
    store.flush()
    primary = parent.details["primary_metric_name"]
    children = store.child_runs(parent.id)
    values, last_metric = _primary_values(store, [c.id for c in children], primary)
    finished: list[PastTrial] = []
    rerun: list[PastTrial] = []
    for row in children:
        past = PastTrial(
            run_id=row.id, number=int(row.number or 0), params=dict(row.params), status=row.status,
            values=values[row.id], arguments=list(row.details.get("arguments", [])),
            attempts=int(row.details.get("attempts", 1) or 1),
        )
        if row.details.get("superseded_by"):
            continue  # re-run by an earlier resume: its re-run is the one that counts
        (rerun if is_interrupted(row) else finished).append(past)
    next_number = 1 + max((int(c.number or 0) for c in children), default=-1)
    # time the earlier sessions ran: what earlier resumes recorded, plus the last session up to
    # the last thing it wrote
    session_start = parent.details.get("session_started") or parent.started or parent.created
    last = max([last_metric, *(t for c in children for t in (c.started, c.ended) if t)], default=0.0)
    if parent.status in TERMINAL_STATUSES and parent.ended and not parent.details.get("interrupted"):
        last = max(last, parent.ended)
    used = float(parent.details.get("used_seconds", 0.0)) + max(0.0, last - session_start)
    return ResumeState(finished=finished, rerun=rerun, next_number=next_number, used_seconds=used)


def record_of(past: PastTrial, goal: str, number: int | None = None) -> TrialRecord:
    """A finished stored trial as a sampler sees it."""
    return TrialRecord(
        number=past.number if number is None else number, params=past.params, state=trial_state(past.status),
        value=best_value(past.values, goal), intervals=len(past.values), curve=tuple(past.values),
    )


def warm_start_records(
    store: Store | None, sources: Iterable[Any], names: Sequence[str], primary: str, goal: str
) -> list[TrialRecord]:
    """The finished trials of earlier experiment runs (or ready-made records), for a new sampler.

    Args:
        store: the store of the new experiment (earlier runs carry their own).
        sources: ``HyperDriveRun`` objects, parent run ids in ``store``, or :class:`TrialRecord`.
        names: the parameter names of the new search space; every earlier trial must have them.
        primary: the new experiment's primary metric (the earlier runs must log it).
        goal: its goal.
    """
    records: list[TrialRecord] = []
    for source in sources:
        if isinstance(source, TrialRecord):
            _check_names(source.params, names, "a warm-start record")
            records.append(source)
            continue
        src_store = getattr(source, "store", None) or store
        parent_id = getattr(source, "id", source)
        if src_store is None or not isinstance(parent_id, str):
            raise TypeError(
                "warm_start takes HyperDriveRun objects (e.g. experiment.get_runs()[0]), their ids, or "
                f"TrialRecords; got {source!r}"
            )
        src_store.flush()
        parent = src_store.run(parent_id)
        if parent is None or parent.parent_id is not None:
            raise ValueError(f"warm_start: {parent_id!r} is not an experiment run in {src_store.path}")
        their_primary = parent.details.get("primary_metric_name")
        if their_primary != primary:
            raise ValueError(
                f"warm_start: run {parent_id} optimised {their_primary!r}, this experiment {primary!r}; "
                "warm start needs the same primary metric"
            )
        state = load_state(src_store, parent)
        for past in state.finished:
            _check_names(past.params, names, f"warm_start run {parent_id}")
            records.append(record_of(past, goal, number=len(records)))
    return records


def _check_names(params: Any, names: Sequence[str], what: str) -> None:
    if set(params) != set(names):
        raise ValueError(
            f"{what} has parameters {sorted(params)}, this search space has {sorted(names)}; "
            "warm start needs the same space"
        )
