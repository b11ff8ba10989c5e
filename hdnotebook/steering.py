"""Steering a running experiment through its store: requests and the driver's answers.

Whoever steers (``hyperdrive_run.pause()`` in any kernel, the server's REST API, the widget) writes
a ``steer_requested`` event on the experiment run; the driver running it picks the request up within
half a second, applies it, and answers with a ``steered`` event (what it did) or a
``steer_rejected`` event (why not). Requests and answers stay in the store, so a reopened widget,
the sidebar and a resumed driver all see every change. The driver is the one place a request is
applied (:meth:`hdnotebook.engine.scheduler.ExperimentDriver._steer`).

This module imports only the store and the vocabulary, so the server extension uses it as is.

>>> SteerAction("pause"), SteerAction.SET_LIMITS.value
(<SteerAction.PAUSE: 'pause'>, 'set_limits')
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from ._vocab import StrEnum
from .store import Store

__all__ = [
    "SteerAction",
    "AnswerState",
    "SteerAnswer",
    "STEER_REQUESTED",
    "STEERED",
    "STEER_REJECTED",
    "LIMIT_NAMES",
    "send_request",
    "find_answer",
    "wait_answer",
    "steering_events",
    "AppliedSteering",
    "applied_steering",
]

#: the event kinds (on the experiment run's id)
STEER_REQUESTED = "steer_requested"
STEERED = "steered"
STEER_REJECTED = "steer_rejected"

#: the limits ``set_limits`` changes, as HyperDriveConfig names them
LIMIT_NAMES = ("max_total_runs", "max_concurrent_runs", "max_duration_minutes")


class SteerAction(StrEnum):
    """What a steering request asks of the driver."""

    #: no new trials start; running ones finish
    PAUSE = "pause"
    #: new trials start again
    RESUME = "resume"
    #: change ``max_total_runs``, ``max_concurrent_runs`` and/or ``max_duration_minutes``
    SET_LIMITS = "set_limits"
    #: run this configuration next, before new samples (``{"params": {...}}``)
    ENQUEUE = "enqueue"
    #: a new run with the parameters of ``{"run_id": ...}``, linked to it (a running one is stopped)
    RESTART = "restart"


class AnswerState(StrEnum):
    """How the driver answered a request."""

    APPLIED = "applied"
    REJECTED = "rejected"
    #: no answer yet: no driver is running the experiment now, or it has not got to it yet
    PENDING = "pending"


@dataclass
class SteerAnswer:
    """The driver's answer to one request: ``state``, a sentence ``message`` and what it did."""

    request_id: str
    action: str
    state: AnswerState
    message: str = ""
    result: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"request_id": self.request_id, "action": self.action, "state": str(self.state),
                "message": self.message, "result": dict(self.result)}


def send_request(store: Store, parent_id: str, action: SteerAction | str, args: dict[str, Any] | None = None,
                 source: str = "python") -> str:
    """Write a request for the driver of ``parent_id``; returns its request id.

    ``args``: what the action needs (``params`` for enqueue, ``run_id`` for restart, the limits
    for set_limits). ``source`` says who asked (shown in the widget's log).
    """
    request_id = uuid.uuid4().hex[:12]
    payload = {"action": str(SteerAction(action)), "request_id": request_id, "args": dict(args or {}),
               "source": source}
    store.add_event(parent_id, STEER_REQUESTED, payload)
    store.flush()
    return request_id


def find_answer(store: Store, parent_id: str, request_id: str) -> SteerAnswer | None:
    """The driver's answer to ``request_id``, or ``None`` when there is none yet."""
    for _id, _run, kind, payload, _t in store.events([parent_id]):
        if kind in (STEERED, STEER_REJECTED) and payload.get("request_id") == request_id:
            return _answer(kind, payload)
    return None


def wait_answer(store: Store, parent_id: str, request_id: str, timeout: float = 5.0,
                poll_seconds: float = 0.05) -> SteerAnswer:
    """Wait up to ``timeout`` seconds for the answer; :attr:`AnswerState.PENDING` when none came."""
    end = time.monotonic() + timeout
    action = ""
    while True:
        found = find_answer(store, parent_id, request_id)
        if found is not None:
            return found
        if time.monotonic() >= end:
            for _id, _run, kind, payload, _t in store.events([parent_id]):
                if kind == STEER_REQUESTED and payload.get("request_id") == request_id:
                    action = payload.get("action", "")
            return SteerAnswer(request_id, action, AnswerState.PENDING,
                               "no driver answered yet; the request is stored and applied when the experiment runs")
        time.sleep(poll_seconds)


def _answer(kind: str, payload: dict[str, Any]) -> SteerAnswer:
    return SteerAnswer(
        request_id=payload.get("request_id", ""), action=payload.get("action", ""),
        state=AnswerState.APPLIED if kind == STEERED else AnswerState.REJECTED,
        message=payload.get("message", ""), result=dict(payload.get("result") or {}),
    )


def steering_events(store: Store, parent_id: str) -> list[dict[str, Any]]:
    """Every request with its answer, in order: what the widget's steering log and the sidebar show.

    Each item: ``request_id``, ``action``, ``args``, ``source``, ``time``, ``state`` and, once
    answered, ``message``, ``result`` and ``answered`` (time).
    """
    out: dict[str, dict[str, Any]] = {}
    for _id, _run, kind, payload, t in store.events([parent_id]):
        rid = payload.get("request_id") if isinstance(payload, dict) else None
        if not rid:
            continue
        if kind == STEER_REQUESTED:
            out[rid] = {"request_id": rid, "action": payload.get("action"), "args": payload.get("args") or {},
                        "source": payload.get("source"), "time": t, "state": str(AnswerState.PENDING)}
        elif kind in (STEERED, STEER_REJECTED) and rid in out:
            answer = _answer(kind, payload)
            out[rid].update(state=str(answer.state), message=answer.message, result=answer.result, answered=t)
    return list(out.values())


@dataclass
class AppliedSteering:
    """What the drivers of a run applied so far: a resumed driver starts from it."""

    #: request ids answered (applied or rejected): never applied twice
    answered: set[str] = field(default_factory=set)
    paused: bool = False
    #: the limits ``set_limits`` changed, latest value of each
    limits: dict[str, Any] = field(default_factory=dict)


def applied_steering(store: Store, parent_id: str) -> AppliedSteering:
    """Read back what was applied to ``parent_id`` (pause state, changed limits, answered requests).

    Requests not answered yet (written while no driver ran the experiment) are not in it: the next
    driver applies them.
    """
    state = AppliedSteering()
    for _id, _run, kind, payload, _t in store.events([parent_id]):
        if kind not in (STEERED, STEER_REJECTED):
            continue
        state.answered.add(payload.get("request_id"))
        result = payload.get("result") or {}
        if kind == STEERED and "paused" in result:
            state.paused = bool(result["paused"])
        if kind == STEERED:
            state.limits.update({k: v for k, v in (result.get("limits") or {}).items() if k in LIMIT_NAMES})
    return state
