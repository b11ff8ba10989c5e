"""The ``%%hyperdrive`` line: what to run, the goal, the sampler and the policy, checked safely.

Every error is a :class:`~hdnotebook._magic_space.HyperDriveMagicError` on line 1 that names the
option and says what is allowed.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Mapping
from typing import Any

from ._magic_space import HyperDriveMagicError, suggest_name

__all__ = ["resolve_trial", "parse_goal", "parse_policy", "make_sampling", "option_error"]

MAGIC_LINE = 1

_LOSS_WORDS = ("loss", "error", "err", "mse", "rmse", "mae", "perplexity", "regret", "cost")


def option_error(option: str, message: str) -> HyperDriveMagicError:
    """An error about ``option`` of the ``%%hyperdrive`` line (line 1 of the cell)."""
    return HyperDriveMagicError(f"{option}: {message}", line=MAGIC_LINE, option=option)


# ---------------------------------------------------------------------------------------------
# TRIAL: a callable of the notebook, an estimator object, or a script path
# ---------------------------------------------------------------------------------------------
def resolve_trial(text: str, namespace: Mapping[str, Any], cwd: str | None = None) -> tuple[Any, str]:
    """What ``TRIAL`` names, and the default experiment name for it.

    * a name (or ``module.name``) in the notebook that is a function, or a ``ScriptRunConfig`` /
      ``Estimator`` object: used as the estimator;
    * a path to a ``.py`` file: ``ScriptRunConfig(source_directory=its folder, script=its name)``.
    """
    from .estimator import ScriptRunConfig

    text = text.strip()
    if not text:
        raise option_error("TRIAL", "give a function of the notebook or a script path first")
    obj, found = _lookup(text, namespace)
    if found:
        if isinstance(obj, ScriptRunConfig):
            return obj, os.path.splitext(os.path.basename(obj.script))[0]
        if callable(obj) and not isinstance(obj, type):
            name = getattr(obj, "__name__", None) or text.rsplit(".", 1)[-1]
            return obj, name if name != "<lambda>" else text.rsplit(".", 1)[-1]
        raise option_error(
            "TRIAL",
            f"{text!r} is a {type(obj).__name__}, not a function or script; give a function "
            "defined in the notebook (called with the hyperparameters as keyword arguments), a "
            "ScriptRunConfig/Estimator, or a .py script path",
        )
    path = os.path.expanduser(text)
    if not os.path.isabs(path):
        path = os.path.join(cwd or os.getcwd(), path)
    if text.endswith(".py") or os.sep in text or "/" in text:
        if not os.path.isfile(path):
            raise option_error(
                "TRIAL",
                f"script {text!r} not found (looked for {path}); give a path relative to "
                f"the notebook's folder {cwd or os.getcwd()} or an absolute one",
            )
        if not path.endswith(".py"):
            raise option_error("TRIAL", f"{text!r} is not a Python script; give a .py file")
        folder, script = os.path.split(os.path.abspath(path))
        return ScriptRunConfig(source_directory=folder, script=script), os.path.splitext(script)[0]
    functions = [k for k, v in namespace.items() if callable(v) and not k.startswith("_")]
    raise option_error(
        "TRIAL",
        f"unknown trial {text!r}{suggest_name(text, functions)}: it is neither a function in the "
        "notebook nor a .py file; define the function in a cell above (run that cell first), or "
        "give a script path such as scripts/train.py",
    )


def _lookup(text: str, namespace: Mapping[str, Any]) -> tuple[Any, bool]:
    head, *rest = text.split(".")
    if not head.isidentifier() or head not in namespace:
        return None, False
    obj = namespace[head]
    for attr in rest:
        if not attr.isidentifier() or not hasattr(obj, attr):
            return None, False
        obj = getattr(obj, attr)
    return obj, True


# ---------------------------------------------------------------------------------------------
# --goal
# ---------------------------------------------------------------------------------------------
def parse_goal(text: str | None, metric: str) -> tuple[str, bool]:
    """``("maximize"|"minimize", guessed)``; with no ``--goal`` it is guessed from the metric name."""
    if text is None:
        lowered = metric.lower()
        guessed = "minimize" if any(w in lowered for w in _LOSS_WORDS) else "maximize"
        return guessed, True
    value = text.strip().lower()
    goals = {"max": "maximize", "maximize": "maximize", "maximise": "maximize",
             "min": "minimize", "minimize": "minimize", "minimise": "minimize"}
    if value not in goals:
        raise option_error(
            "--goal", f"{text!r} is not a goal; use max/maximize or min/minimize{suggest_name(value, goals)}"
        )
    return goals[value], False


# ---------------------------------------------------------------------------------------------
# --sampling
# ---------------------------------------------------------------------------------------------
SAMPLERS = ("random", "grid", "bayesian", "sobol")


def make_sampling(kind: str, entries: list[Any], seed: int | None) -> Any:
    """Build the sampler; a grid over a non-``choice`` expression names the parameter and its line."""
    from .space import Choice

    name = kind.strip().lower()
    if name not in SAMPLERS:
        raise option_error(
            "--sampling",
            f"unknown sampler {kind!r}{suggest_name(name, SAMPLERS)}; choose one of {', '.join(SAMPLERS)}",
        )
    space = {e.name: e.expression for e in entries}
    if name == "grid":
        for entry in entries:
            if not isinstance(entry.expression, Choice):
                raise HyperDriveMagicError(
                    f"grid sampling takes choice() only, but {entry.name!r} is {entry.expression!r}; "
                    f"list the values to try, e.g. {entry.name}: choice(...), or use --sampling random",
                    line=entry.line,
                )
    try:
        if name == "random":
            from .sampling.random import RandomParameterSampling as cls
        elif name == "grid":
            from .sampling.grid import GridParameterSampling as cls
        elif name == "sobol":
            from .sampling.sobol import SobolParameterSampling as cls
        else:
            from .sampling.bayesian import BayesianParameterSampling as cls
    except ImportError as exc:  # pragma: no cover - every sampler ships with the package
        raise option_error("--sampling", f"{name} sampling is not available here: {exc}") from None
    try:
        return cls(space, seed=seed)
    except (TypeError, ValueError) as exc:
        raise option_error("--sampling", str(exc)) from None


# ---------------------------------------------------------------------------------------------
# --policy: a name or a call with literal arguments, never evaluated as code
# ---------------------------------------------------------------------------------------------
_POLICY_NAMES = {
    "bandit": "BanditPolicy",
    "median": "MedianStoppingPolicy",
    "medianstopping": "MedianStoppingPolicy",
    "truncation": "TruncationSelectionPolicy",
    "truncationselection": "TruncationSelectionPolicy",
    "none": "NoTerminationPolicy",
    "no": "NoTerminationPolicy",
    "notermination": "NoTerminationPolicy",
    "asha": "ASHAPolicy",
    "hyperband": "HyperbandPolicy",
    "default": None,
}
#: what a bare name fills in when the class needs an argument
_POLICY_DEFAULTS: dict[str, dict[str, Any]] = {
    "BanditPolicy": {"slack_factor": 0.1},
    "TruncationSelectionPolicy": {"truncation_percentage": 20},
}
_POLICY_HELP = (
    "e.g. --policy \"bandit(slack_factor=0.1, delay_evaluation=5)\", median, truncation(20), asha, "
    "hyperband, none or default"
)


def _policy_key(name: str) -> str:
    key = name.lower().replace("_", "")
    if key.endswith("policy") and key != "policy":
        key = key[: -len("policy")]
    return key


def parse_policy(text: str | None, namespace: Mapping[str, Any] | None = None) -> Any:
    """The policy a ``--policy`` string names; ``None`` for the default (``default`` or absent).

    Accepted: a policy name (``bandit``, ``median``, ``truncation``, ``none``, ``asha``,
    ``hyperband``, ``default``; class names such as ``BanditPolicy`` too), a call of one with
    literal arguments (``bandit(slack_factor=0.1, delay_evaluation=5)``, ``truncation(20)``), or
    the name of a policy object defined in the notebook.
    """
    from . import policy as policies

    if text is None or not text.strip():
        return None
    source = text.strip()
    try:
        node = ast.parse(source, mode="eval").body
    except SyntaxError as exc:
        raise option_error("--policy", f"cannot read {source!r} ({exc.msg}); {_POLICY_HELP}") from None
    if isinstance(node, ast.Name):
        name, args, kwargs = node.id, [], {}
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        name = node.func.id
        try:
            args = [_literal(a) for a in node.args]
            kwargs = {}
            for kw in node.keywords:
                if kw.arg is None:
                    raise ValueError("** unpacking")
                kwargs[kw.arg] = _literal(kw.value)
        except ValueError as exc:
            raise option_error(
                "--policy",
                f"arguments must be plain numbers or strings ({exc}), got {source!r}; {_POLICY_HELP}",
            ) from None
    else:
        raise option_error("--policy", f"cannot read {source!r}; {_POLICY_HELP}")
    key = _policy_key(name)
    if key not in _POLICY_NAMES:
        found = (namespace or {}).get(name)
        if isinstance(found, policies.EarlyTerminationPolicy) and isinstance(node, ast.Name):
            return found
        raise option_error(
            "--policy", f"unknown policy {name!r}{suggest_name(key, _POLICY_NAMES)}; {_POLICY_HELP}"
        )
    cls_name = _POLICY_NAMES[key]
    if cls_name is None:
        if args or kwargs:
            raise option_error("--policy", "'default' takes no arguments")
        return None
    cls = getattr(policies, cls_name)
    defaults = _POLICY_DEFAULTS.get(cls_name, {})
    if not args and not any(k in kwargs for k in ("slack_factor", "slack_amount", "truncation_percentage")):
        kwargs = {**defaults, **kwargs}
    try:
        return cls(*args, **kwargs)
    except (TypeError, ValueError) as exc:
        raise option_error("--policy", f"{exc}; {_POLICY_HELP}") from None


def _literal(node: ast.expr) -> Any:
    try:
        value = ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError):
        raise ValueError(f"{ast.unparse(node)} is not a literal") from None
    return value
