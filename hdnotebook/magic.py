"""``%%hyperdrive`` and ``%hyperdrive``: declare a search space inline and submit (SPEC §8).

Load it with ``%load_ext hdnotebook`` (or list ``hdnotebook`` in an IPython profile's
``c.InteractiveShellApp.extensions``). Then, in a cell::

    %%hyperdrive train --metric accuracy --policy "bandit(slack_factor=0.1, delay_evaluation=5)" -o run
    {"learning_rate": loguniform(-6, -1), "batch_size": choice(16, 32)}

``train`` is a function of the notebook (called with the sampled values as keyword arguments) or a
script path (``scripts/train.py``). The cell submits the experiment, shows ``RunDetails(run)`` and
returns at once; the run is bound to ``run`` (``-o``) and always to ``_hyperdrive_run``.

``%hyperdrive list`` tables the experiments of the workspace, ``%hyperdrive show NAME`` reopens
the latest run of one, ``%hyperdrive cancel NAME`` stops it. ``%%hyperdrive?`` prints every option.
"""

from __future__ import annotations

import functools
import html
import math
import os
import threading
import time
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import display

from ._format import format_number
from ._magic_options import (
    MAGIC_LINE,
    make_sampling,
    option_error,
    parse_goal,
    parse_policy,
    resolve_trial,
)
from ._magic_space import HyperDriveMagicError, parse_space, suggest_name

__all__ = [
    "HyperDriveMagics",
    "HyperDriveMagicError",
    "load_ipython_extension",
    "unload_ipython_extension",
]

#: runs the cell magic submits when the space is unbounded and no limit is given
DEFAULT_MAX_TOTAL_RUNS = 20
#: the name the latest run is always bound to
RUN_VARIABLE = "_hyperdrive_run"


def _plain_usage_error(func: Any) -> Any:
    """Re-raise :class:`HyperDriveMagicError` as IPython's own ``UsageError``.

    IPython prints a clean one-line message only for ``UsageError`` itself (not subclasses); the
    raised error keeps ``line`` and ``option`` as attributes.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except HyperDriveMagicError as exc:
            error = UsageError(str(exc))
            error.line = exc.line  # type: ignore[attr-defined]
            error.option = exc.option  # type: ignore[attr-defined]
            raise error from None

    return wrapper


def _unquote(value: Any) -> Any:
    """IPython splits the magic line keeping quotes: ``"bandit(0.1)"`` -> ``bandit(0.1)``."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _parse(func: Any, line: str) -> Any:
    """``parse_argstring`` whose errors point at line 1 and show how to get help."""
    try:
        args = parse_argstring(func, line)
    except Exception as exc:  # argparse errors arrive as UsageError
        message = str(exc).strip()
        option = None
        if message.startswith("argument "):
            option = message[len("argument "):].split(":", 1)[0].split("/")[0]
        hint = "%%hyperdrive? lists every option" if func.__name__.endswith("cell") else "%hyperdrive? lists the commands"
        raise HyperDriveMagicError(f"{message}; {hint}", line=MAGIC_LINE, option=option) from None
    for key, value in vars(args).items():
        setattr(args, key, _unquote(value))
    return args


def _number(option: str, value: str | None, kind: type, low: float, high: float | None = None,
            low_open: bool = False) -> Any:
    if value is None:
        return None
    try:
        number = kind(value)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise option_error(option, f"{value!r} is not {what}") from None
    if isinstance(number, float) and not math.isfinite(number):
        raise option_error(option, f"must be finite, got {value!r}")
    too_low = number <= low if low_open else number < low
    if too_low or (high is not None and number > high):
        bound = f"> {low:g}" if low_open else f"from {low:g}" + (f" to {high:g}" if high is not None else " up")
        raise option_error(option, f"must be {bound}, got {value!r}")
    return number


@magics_class
class HyperDriveMagics(Magics):
    """The ``%%hyperdrive`` cell magic and the ``%hyperdrive`` line magic."""

    def __init__(self, shell: Any = None) -> None:
        super().__init__(shell)
        self._workspace: Any = None  # the last workspace used: the default of later calls

    # -- helpers --------------------------------------------------------------------------------
    @property
    def _ns(self) -> dict[str, Any]:
        return self.shell.user_ns if self.shell is not None else {}

    def _workspace_for(self, value: str | None) -> Any:
        from .workspace import Workspace

        if value is None:
            return self._workspace if self._workspace is not None else Workspace()
        found = self._ns.get(value) if value.isidentifier() else None
        if isinstance(found, Workspace):
            workspace = found
        else:
            try:
                workspace = Workspace(os.path.expanduser(value))
            except OSError as exc:
                raise option_error("--workspace", f"cannot use folder {value!r}: {exc}") from None
        self._workspace = workspace
        return workspace

    def _bind(self, name: str | None, run: Any) -> None:
        if name is not None:
            self._ns[name] = run
        self._ns[RUN_VARIABLE] = run

    # -- %%hyperdrive ---------------------------------------------------------------------------
    @magic_arguments("%hyperdrive")
    @argument("trial", metavar="TRIAL",
              help="a function of the notebook (called with the hyperparameters as keyword "
                   "arguments; a number it returns is logged as the metric), a ScriptRunConfig/"
                   "Estimator object, or a .py script path (run with --name value arguments)")
    @argument("--metric", "-m", metavar="NAME",
              help="primary metric: the exact name the trial logs with run.log (required)")
    @argument("--goal", "-g", metavar="GOAL",
              help="max/maximize or min/minimize (default: minimize for a metric named like "
                   "loss/error/mse, else maximize)")
    @argument("--sampling", "-s", default="random", metavar="KIND",
              help="random (default), grid, bayesian or sobol")
    @argument("--policy", "-p", metavar="POLICY",
              help='early termination: "bandit(slack_factor=0.1, delay_evaluation=5)", median, '
                   '"truncation(20)", asha, hyperband, none, or default (MedianStoppingPolicy(1, 5); '
                   "none under bayesian); arguments must be literals")
    @argument("--max-total-runs", "-n", metavar="N",
              help=f"at most N runs, 1..1000 (default: the grid size, else {DEFAULT_MAX_TOTAL_RUNS})")
    @argument("--max-concurrent-runs", "-c", metavar="N",
              help="at most N runs at once, 1..100 (default: as many as the machine allows)")
    @argument("--max-duration-minutes", "-t", metavar="MIN",
              help="stop after MIN minutes (may be fractional: 0.5 = 30 s)")
    @argument("--gpus", metavar="G", help="GPUs per trial: 0 (default), 1, 2, ... or 0.5 to share one")
    @argument("--seed", metavar="SEED", help="sampler seed (an int >= 0) for reproducible configurations")
    @argument("--experiment", "-e", metavar="NAME", help="experiment name (default: the trial's name)")
    @argument("--workspace", "-w", metavar="PATH",
              help="workspace folder, or the name of a Workspace of the notebook (default: the "
                   "last one used, else ./.hdnotebook)")
    @argument("--args", dest="script_args", metavar='"ARGS"',
              help='fixed arguments passed to a script trial first, e.g. --args "--data-folder data"')
    @argument("-o", "--out", metavar="VAR",
              help=f"bind the HyperDriveRun to VAR in the notebook (it is always in {RUN_VARIABLE})")
    @cell_magic("hyperdrive")
    @_plain_usage_error
    def hyperdrive_cell(self, line: str, cell: str) -> None:
        """Declare a search space in the cell and submit a HyperDrive experiment; returns at once.

        The cell body is the search space, as a dict literal or one ``name: expression`` per line::

            %%hyperdrive train --metric accuracy --max-total-runs 20 -o run
            learning_rate: loguniform(-6, -1)
            batch_size: choice(16, 32, 64)      # comments are fine
            momentum: uniform(0.8, 0.99)

        Expressions are choice, uniform, loguniform, normal, lognormal, quniform, qloguniform,
        qnormal and qlognormal; their arguments may use the notebook's names
        (``choice(*my_sizes)``). The run is shown in ``RunDetails`` and bound to ``-o VAR`` and
        ``_hyperdrive_run``.
        """
        args = _parse(self.hyperdrive_cell, line)
        run, config, guessed = self._submit(args, cell)
        self._bind(args.out, run)
        self._show(run, _announcement(run, config, guessed, args.out))

    def _submit(self, args: Any, cell: str) -> tuple[Any, Any, bool]:
        import shlex

        from .config import HyperDriveConfig
        from .estimator import ScriptRunConfig
        from .workspace import Experiment

        if args.out is not None and not args.out.isidentifier():
            raise option_error("-o", f"{args.out!r} is not a variable name")
        if not args.metric or not args.metric.strip():
            raise option_error(
                "--metric", "required: the exact name the trial logs, e.g. --metric accuracy"
            )
        goal, guessed = parse_goal(args.goal, args.metric)
        total = _number("--max-total-runs", args.max_total_runs, int, 1, 1000)
        concurrent = _number("--max-concurrent-runs", args.max_concurrent_runs, int, 1, 100)
        minutes = _number("--max-duration-minutes", args.max_duration_minutes, float, 0, None, low_open=True)
        gpus = _number("--gpus", args.gpus, float, 0)
        seed = _number("--seed", args.seed, int, 0)
        policy = parse_policy(args.policy, self._ns)
        estimator, trial_name = resolve_trial(args.trial, self._ns, os.getcwd())
        if args.script_args is not None:
            if not isinstance(estimator, ScriptRunConfig):
                raise option_error("--args", "fixed arguments are for script trials; a function gets keyword arguments")
            try:
                extra = shlex.split(args.script_args)
            except ValueError as exc:
                raise option_error("--args", f"cannot split {args.script_args!r}: {exc}") from None
            estimator = ScriptRunConfig(estimator.source_directory, estimator.script,
                                        [*estimator.arguments, *extra], gpus=estimator.gpus)
        entries = parse_space(cell or "", self._ns)
        sampling = make_sampling(args.sampling, entries, seed)
        need = gpus if gpus is not None else float(getattr(estimator, "gpus", 0) or 0)
        if need:
            # checked here, before the experiment is created in the store
            from .engine.gpus import detect_gpus

            found = len(detect_gpus())
            if found < math.ceil(need):
                raise option_error(
                    "--gpus", f"the trials ask for {need:g} GPU each but this machine has {found} "
                    "(as CUDA_VISIBLE_DEVICES or nvidia-smi report); leave --gpus out (or --gpus 0) "
                    "to run on the CPU"
                )
        if total is None and sampling.max_configurations is None and minutes is None:
            total = DEFAULT_MAX_TOTAL_RUNS
        try:
            config = HyperDriveConfig(
                estimator=estimator, hyperparameter_sampling=sampling, policy=policy,
                primary_metric_name=args.metric.strip(), primary_metric_goal=goal,
                max_total_runs=total, max_concurrent_runs=concurrent,
                max_duration_minutes=minutes, gpus_per_trial=gpus,
            )
        except (TypeError, ValueError) as exc:
            raise _config_error(exc) from None
        workspace = self._workspace_for(args.workspace)
        name = (args.experiment or trial_name).strip()
        try:
            experiment = Experiment(workspace, name)
        except (TypeError, ValueError) as exc:
            raise option_error("--experiment", str(exc)) from None
        try:
            run = experiment.submit(config)
        except (TypeError, ValueError) as exc:
            raise _config_error(exc) from None
        return run, config, guessed

    # -- showing a run --------------------------------------------------------------------------
    def _show(self, run: Any, headline: str | None = None) -> None:
        status = _Status(run, headline)
        handle = display(status, display_id=True)
        show_run_details(run)
        if handle is not None:
            _Watcher(run, status, handle).start()

    # -- %hyperdrive ----------------------------------------------------------------------------
    @magic_arguments("hyperdrive")
    @argument("command", nargs="?", default="list", metavar="COMMAND",
              help="list (default): the experiments with status and best value; show NAME: reopen "
                   "the latest run of experiment NAME; cancel NAME: stop its running runs")
    @argument("name", nargs="?", metavar="NAME", help="experiment name (show, cancel)")
    @argument("--workspace", "-w", metavar="PATH",
              help="workspace folder or a Workspace of the notebook (default: the last one used, "
                   "else ./.hdnotebook)")
    @argument("-o", "--out", metavar="VAR", help="show: bind the run to VAR in the notebook")
    @line_magic("hyperdrive")
    @_plain_usage_error
    def hyperdrive_line(self, line: str) -> None:
        """List, reopen or cancel the experiments of a workspace.

        ``%hyperdrive list``, ``%hyperdrive show NAME``, ``%hyperdrive cancel NAME``; each takes
        ``--workspace PATH``.
        """
        args = _parse(self.hyperdrive_line, line)
        command = args.command.lower()
        commands = ("list", "show", "cancel")
        if command not in commands:
            raise option_error(
                "COMMAND", f"unknown command {args.command!r}{suggest_name(command, commands)}; "
                "use list, show NAME or cancel NAME"
            )
        workspace = self._workspace_for(args.workspace)
        if command == "list":
            display(_ExperimentTable(experiment_rows(workspace), workspace.path))
            return
        if not args.name:
            raise option_error("NAME", f"{command} needs an experiment name: %hyperdrive {command} NAME")
        runs = _experiment_runs(workspace, args.name)
        if command == "show":
            run = runs[0]
            self._bind(args.out, run)
            self._show(run)
            return
        from ._vocab import TERMINAL_STATUSES

        live = [r for r in runs if r.get_status() not in TERMINAL_STATUSES]
        if not live:
            print(f"Nothing to cancel: no run of experiment {args.name!r} is running "
                  f"(latest {runs[0].id} is {runs[0].get_status()}).")
            return
        for run in live:
            run.cancel()
            print(f"Canceled {run.id} of experiment {args.name!r}.")


def _config_error(exc: Exception) -> HyperDriveMagicError:
    message = str(exc)
    for needle, option in (("max_total_runs", "--max-total-runs"), ("max_concurrent_runs", "--max-concurrent-runs"),
                           ("max_duration_minutes", "--max-duration-minutes"), ("GPU", "--gpus"),
                           ("gpus", "--gpus"), ("primary_metric", "--metric"), ("policy", "--policy"),
                           ("backend", "--workspace")):
        if needle in message:
            return option_error(option, message)
    return HyperDriveMagicError(message, line=MAGIC_LINE)


def _experiment_runs(workspace: Any, name: str) -> list[Any]:
    from .workspace import Experiment

    names = workspace.store.experiments()
    if name not in names:
        raise option_error(
            "NAME", f"no experiment {name!r} in {workspace.path}{suggest_name(name, names)}; "
            "%hyperdrive list shows them"
        )
    runs = Experiment(workspace, name).get_runs()
    if not runs:
        raise option_error("NAME", f"experiment {name!r} has no runs yet")
    return runs


def show_run_details(run: Any) -> None:
    """Display ``RunDetails(run)``; without the widget package, the run's text summary."""
    try:
        from .widgets import RunDetails
    except ImportError:
        display(run)
        return
    RunDetails(run).show()


# ---------------------------------------------------------------------------------------------
# text views
# ---------------------------------------------------------------------------------------------
def _best(run: Any) -> tuple[float | None, str | None]:
    from ._vocab import best_value

    best = run.get_best_run_by_primary_metric()
    if best is None:
        return None, None
    return best_value(run.primary_values().get(best.id, []), run.goal), best.id


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return format_number(value)
    return str(value)


class _Status:
    """One line about a submitted run; updated when a warning appears and when it ends."""

    def __init__(self, run: Any, headline: str | None = None) -> None:
        self.run = run
        self.lines = [headline or f"Experiment run {run.id} of {run.experiment_name!r}."]
        self.warning: str | None = None
        self.final: str | None = None
        self.refresh()

    def refresh(self) -> bool:
        """Read the run again; whether anything shown changed."""
        from ._vocab import TERMINAL_STATUSES

        changed = False
        details = self.run.get_details()["properties"]
        warning = details.get("warning")
        if warning and warning != self.warning:
            self.warning, changed = warning, True
        if self.final is None and self.run.get_status() in TERMINAL_STATUSES:
            self.final, changed = self.run.progress_line(), True
        return changed

    def text(self) -> str:
        out = list(self.lines)
        if self.warning:
            out.append(f"Warning: {self.warning}")
        if self.final:
            out.append(f"Finished: {self.final}")
        return "\n".join(out)

    def __repr__(self) -> str:
        return self.text()

    def _repr_html_(self) -> str:
        parts = [f"<div>{html.escape(line)}</div>" for line in self.lines]
        if self.warning:
            parts.append(
                '<div style="color:#b45309;font-weight:600">⚠ Warning: '
                f"{html.escape(self.warning)}</div>"
            )
        if self.final:
            parts.append(f"<div>Finished: {html.escape(self.final)}</div>")
        return '<div class="hdnotebook-status">' + "".join(parts) + "</div>"


def _announcement(run: Any, config: Any, goal_guessed: bool, bound: str | None) -> str:
    names = f"{bound} and {RUN_VARIABLE}" if bound else RUN_VARIABLE
    sampling = config.hyperparameter_sampling
    guessed = " (guessed from its name; --goal to change)" if goal_guessed else ""
    at_once = f", {config.max_concurrent_runs} at once" if config.max_concurrent_runs else ""
    return (
        f"Submitted {run.id} to experiment {run.experiment_name!r}: {config.goal} "
        f"{config.primary_metric_name!r}{guessed}; {sampling.name} sampling of "
        f"{', '.join(sampling.parameter_space)} (seed {sampling.seed}); {config.policy!r}; up to "
        f"{config.max_total_runs} runs{at_once}. The run is in {names}."
    )


class _Watcher(threading.Thread):
    """Updates the status line when the engine warns (e.g. a metric never logged) and at the end."""

    POLL_SECONDS = 0.5

    def __init__(self, run: Any, status: _Status, handle: Any) -> None:
        super().__init__(name=f"hdnotebook-magic-{run.id}", daemon=True)
        self.hd_run, self.status, self.handle = run, status, handle

    def run(self) -> None:
        controller = getattr(self.hd_run, "_controller", None)
        while self.status.final is None:
            try:
                if controller is not None:
                    controller.wait_done(self.POLL_SECONDS)
                else:
                    time.sleep(self.POLL_SECONDS)
                if self.status.refresh():
                    self.handle.update(self.status)
            except Exception:  # the store went away (workspace deleted): stop watching
                return


def experiment_rows(workspace: Any) -> list[dict[str, Any]]:
    """One row per experiment of ``workspace``: its latest run, status, runs and best value."""
    from .workspace import Experiment

    rows = []
    for name in workspace.store.experiments():
        runs = Experiment(workspace, name).get_runs()
        if not runs:
            rows.append({"experiment": name, "runs": 0, "latest": None, "status": "-", "trials": "-",
                         "metric": "-", "best": None, "best_run": None, "warning": None})
            continue
        latest = runs[0]
        details = latest.get_details()["properties"]
        value, best_id = _best(latest)
        rows.append({
            "experiment": name,
            "runs": len(runs),
            "latest": latest.id,
            "status": latest.get_status(),
            "trials": f"{len(latest.get_children())}/{details.get('max_total_runs', '?')}",
            "metric": f"{details.get('primary_metric_name', '?')} ({details.get('goal', '?')[:3]})",
            "best": value,
            "best_run": best_id,
            "warning": details.get("warning"),
        })
    return rows


_COLUMNS = (("experiment", "experiment"), ("status", "status"), ("latest", "latest run"),
            ("trials", "trials"), ("metric", "metric"), ("best", "best"), ("best_run", "best run"),
            ("runs", "experiment runs"))


class _ExperimentTable:
    def __init__(self, rows: list[dict[str, Any]], path: str) -> None:
        self.rows, self.path = rows, path

    def __repr__(self) -> str:
        if not self.rows:
            return f"No experiments in {self.path} yet."
        table = [[title for _, title in _COLUMNS]]
        table += [[_fmt(r[key]) for key, _ in _COLUMNS] for r in self.rows]
        widths = [max(len(row[i]) for row in table) for i in range(len(_COLUMNS))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in table]
        lines += [f"warning ({r['experiment']}): {r['warning']}" for r in self.rows if r["warning"]]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        if not self.rows:
            return f"<p>No experiments in <code>{html.escape(self.path)}</code> yet.</p>"
        head = "".join(f"<th>{html.escape(t)}</th>" for _, t in _COLUMNS)
        body = ""
        for r in self.rows:
            cells = "".join(f"<td>{html.escape(_fmt(r[k]))}</td>" for k, _ in _COLUMNS)
            title = f' title="{html.escape(r["warning"])}"' if r["warning"] else ""
            body += f"<tr{title}>{cells}</tr>"
        return (f"<table class='hdnotebook-experiments'><thead><tr>{head}</tr></thead>"
                f"<tbody>{body}</tbody></table><small>{html.escape(self.path)}</small>")


# ---------------------------------------------------------------------------------------------
# extension entry points
# ---------------------------------------------------------------------------------------------
def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext hdnotebook``: register ``%%hyperdrive`` and ``%hyperdrive``."""
    ipython.register_magics(HyperDriveMagics)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext hdnotebook``: remove the magics again."""
    magics = ipython.magics_manager.magics
    for kind in ("line", "cell"):
        func = magics[kind].get("hyperdrive")
        if func is not None and isinstance(getattr(func, "__self__", None), HyperDriveMagics):
            del magics[kind]["hyperdrive"]
    registry = ipython.magics_manager.registry
    registry.pop(HyperDriveMagics.__name__, None)

