"""The %%hyperdrive cell magic and the %hyperdrive line magic (SPEC §8), driven through a real shell.

Most tests stop at the submit (``Experiment.submit`` is replaced by a recorder) and check the
config the magic built; the end-to-end tests submit real experiments and wait for them.
"""

from __future__ import annotations

import os
import textwrap
import time
from types import SimpleNamespace

import pytest

pytest.importorskip("IPython")

from IPython.core.error import UsageError  # noqa: E402
from IPython.testing.globalipapp import get_ipython  # noqa: E402
from IPython.utils.capture import capture_output  # noqa: E402

import hdnotebook  # noqa: E402
from hdnotebook import magic as magic_module  # noqa: E402
from hdnotebook.workspace import Experiment, Workspace  # noqa: E402

TRAIN = '''
from hdnotebook import Run

def train(lr, bs=1):
    run = Run.get_context()
    for epoch in range(4):
        run.log("accuracy", 1 - lr * (4 - epoch) / bs)
'''


@pytest.fixture(scope="module")
def ip():
    shell = get_ipython()
    shell.run_line_magic("load_ext", "hdnotebook")
    yield shell
    shell.run_line_magic("unload_ext", "hdnotebook")


@pytest.fixture
def magics(ip, tmp_path):
    instance = ip.magics_manager.registry["HyperDriveMagics"]
    instance._workspace = Workspace(tmp_path / "ws")
    ip.run_cell(TRAIN)
    ip.user_ns.pop("run", None)
    return instance


@pytest.fixture
def submitted(monkeypatch, magics):
    """Record what the magic would submit instead of running it."""
    calls: list[SimpleNamespace] = []

    def fake_submit(self, config, **kwargs):
        run = SimpleNamespace(id=f"HD_fake{len(calls)}", experiment_name=self.name, config=config,
                              workspace=self.workspace)
        calls.append(run)
        return run

    monkeypatch.setattr(Experiment, "submit", fake_submit)
    monkeypatch.setattr(magic_module.HyperDriveMagics, "_show", lambda self, run, headline=None: None)
    return calls


def cell(ip, line, body='{"lr": uniform(0.1, 1)}'):
    return ip.run_cell_magic("hyperdrive", line, textwrap.dedent(body))


def config_of(ip, submitted, line, body='{"lr": uniform(0.1, 1)}'):
    cell(ip, line, body)
    return submitted[-1].config


def shown(out):
    """Everything a captured cell printed or displayed, as text."""
    texts = [out.stdout] + [o.data.get("text/plain", "") for o in out.outputs]
    return "\n".join(texts)


def usage_error(ip, line, body='{"lr": uniform(0.1, 1)}'):
    with pytest.raises(UsageError) as info:
        cell(ip, line, body)
    assert type(info.value) is UsageError  # IPython prints exactly UsageError without a traceback
    return info.value


# ---------------------------------------------------------------------------------------------
# loading
# ---------------------------------------------------------------------------------------------
def test_load_ext_registers_the_line_and_cell_magic(ip):
    assert ip.find_cell_magic("hyperdrive") is not None
    assert ip.find_line_magic("hyperdrive") is not None


def test_unload_removes_the_magics_and_load_brings_them_back(ip):
    ip.run_line_magic("unload_ext", "hdnotebook")
    assert ip.find_cell_magic("hyperdrive") is None
    assert ip.find_line_magic("hyperdrive") is None
    ip.run_line_magic("load_ext", "hdnotebook")
    assert ip.find_cell_magic("hyperdrive") is not None


def test_package_entry_point_delegates_to_the_magic_module(ip):
    assert hdnotebook.load_ipython_extension is not magic_module.load_ipython_extension
    hdnotebook.load_ipython_extension(ip)  # loading twice is harmless
    assert ip.find_cell_magic("hyperdrive") is not None


def test_help_lists_every_option(ip):
    with capture_output() as out:
        ip.run_cell("%%hyperdrive?")
    text = out.stdout
    assert "%%hyperdrive" in text
    for option in ("--metric", "--goal", "--sampling", "--policy", "--max-total-runs",
                   "--max-concurrent-runs", "--max-duration-minutes", "--gpus", "--seed",
                   "--experiment", "--workspace", "-o VAR", "TRIAL"):
        assert option in text


# ---------------------------------------------------------------------------------------------
# options
# ---------------------------------------------------------------------------------------------
def test_defaults_random_sampling_default_policy_twenty_runs_maximize(ip, submitted):
    config = config_of(ip, submitted, "train --metric accuracy")
    assert config.hyperparameter_sampling.name == "random"
    assert repr(config.policy) == "MedianStoppingPolicy(evaluation_interval=1, delay_evaluation=5)"
    assert config.max_total_runs == 20
    assert config.max_concurrent_runs is None
    assert config.goal == "maximize"
    assert config.primary_metric_name == "accuracy"
    assert submitted[-1].experiment_name == "train"


def test_metric_is_required(ip, submitted):
    error = usage_error(ip, "train")
    assert "line 1" in str(error) and "--metric" in str(error)
    assert error.option == "--metric"


@pytest.mark.parametrize("text, goal", [("max", "maximize"), ("MIN", "minimize"),
                                        ("maximize", "maximize"), ("minimize", "minimize")])
def test_goal_option(ip, submitted, text, goal):
    assert config_of(ip, submitted, f"train --metric accuracy --goal {text}").goal == goal


def test_goal_defaults_to_minimize_for_a_loss(ip, submitted):
    assert config_of(ip, submitted, "train --metric val_loss").goal == "minimize"


def test_bad_goal_says_what_is_allowed(ip, submitted):
    error = usage_error(ip, "train --metric accuracy --goal up")
    assert "line 1" in str(error) and "--goal" in str(error) and "max" in str(error)


@pytest.mark.parametrize("kind", ["random", "grid", "sobol", "bayesian"])
def test_sampling_option(ip, submitted, kind):
    config = config_of(ip, submitted, f"train --metric accuracy --sampling {kind}",
                       "lr: choice(0.1, 0.2)\nbs: choice(1, 2)")
    assert config.hyperparameter_sampling.name == kind


def test_grid_runs_the_whole_grid_by_default(ip, submitted):
    config = config_of(ip, submitted, "train --metric accuracy --sampling grid",
                       "lr: choice(0.1, 0.2, 0.3)\nbs: choice(16, 32)")
    assert config.max_total_runs == 6


def test_unknown_sampling_suggests_the_closest(ip, submitted):
    error = usage_error(ip, "train --metric accuracy --sampling bayes")
    assert "line 1" in str(error) and "--sampling" in str(error) and "'bayesian'" in str(error)


def test_bayesian_sampling_defaults_to_no_termination(ip, submitted):
    config = config_of(ip, submitted, "train --metric accuracy --sampling bayesian")
    assert repr(config.policy) == "NoTerminationPolicy()"


@pytest.mark.parametrize("text, expected", [
    ('"bandit(slack_factor=0.1, delay_evaluation=5)"',
     "BanditPolicy(slack_factor=0.1, evaluation_interval=1, delay_evaluation=5)"),
    ("'bandit(slack_amount=0.2)'", "BanditPolicy(slack_amount=0.2, evaluation_interval=1, delay_evaluation=0)"),
    ("BanditPolicy(slack_factor=0.2)", "BanditPolicy(slack_factor=0.2, evaluation_interval=1, delay_evaluation=0)"),
    ("median", "MedianStoppingPolicy(evaluation_interval=1, delay_evaluation=0)"),
    ('"median(evaluation_interval=2, delay_evaluation=4)"',
     "MedianStoppingPolicy(evaluation_interval=2, delay_evaluation=4)"),
    ("truncation(20)", "TruncationSelectionPolicy(truncation_percentage=20, evaluation_interval=1, delay_evaluation=0)"),
    ("none", "NoTerminationPolicy()"),
    ("default", "MedianStoppingPolicy(evaluation_interval=1, delay_evaluation=5)"),
])
def test_policy_option(ip, submitted, text, expected):
    assert repr(config_of(ip, submitted, f"train --metric accuracy --policy {text}").policy) == expected


@pytest.mark.parametrize("text, cls", [("asha", "ASHAPolicy"), ("hyperband", "HyperbandPolicy")])
def test_policy_option_asha_and_hyperband(ip, submitted, text, cls):
    assert type(config_of(ip, submitted, f"train --metric accuracy --policy {text}").policy).__name__ == cls


def test_policy_object_of_the_notebook(ip, submitted):
    ip.run_cell("from hdnotebook import BanditPolicy\nmy_policy = BanditPolicy(slack_amount=0.3)")
    config = config_of(ip, submitted, "train --metric accuracy --policy my_policy")
    assert config.policy is ip.user_ns["my_policy"]


def test_unknown_policy_suggests_the_closest(ip, submitted):
    error = usage_error(ip, 'train --metric accuracy --policy "bandt(slack_factor=0.1)"')
    assert "line 1" in str(error) and "--policy" in str(error) and "'bandit'" in str(error)


def test_policy_arguments_are_never_evaluated(ip, submitted, tmp_path):
    marker = tmp_path / "evaluated"
    error = usage_error(ip, f"""train --metric accuracy --policy "bandit(slack_factor=open('{marker}', 'w'))" """)
    assert "--policy" in str(error) and "literal" in str(error)
    assert not marker.exists()


def test_bad_policy_arguments_say_why(ip, submitted):
    error = usage_error(ip, '--metric accuracy --policy "bandit(slack_factor=0.1, slack_amount=0.2)" train')
    assert "line 1" in str(error) and "--policy" in str(error) and "slack" in str(error)
    error = usage_error(ip, "train --metric accuracy --policy truncation(150)")
    assert "--policy" in str(error) and "1 to 99" in str(error)


def test_limits_reach_the_config(ip, submitted):
    config = config_of(ip, submitted, "train --metric accuracy --max-total-runs 7 "
                                      "--max-concurrent-runs 3 --max-duration-minutes 0.5 --seed 11")
    assert config.max_total_runs == 7
    assert config.max_concurrent_runs == 3
    assert config.max_duration_minutes == 0.5
    assert config.hyperparameter_sampling.seed == 11


def test_duration_alone_lifts_the_run_limit(ip, submitted):
    assert config_of(ip, submitted, "train --metric accuracy -t 1").max_total_runs == 1000


@pytest.mark.parametrize("option, value, words", [
    ("--max-total-runs", "abc", "not a whole number"),
    ("--max-total-runs", "0", "from 1 to 1000"),
    ("--max-total-runs", "1001", "from 1 to 1000"),
    ("--max-concurrent-runs", "101", "from 1 to 100"),
    ("--max-duration-minutes", "0", "> 0"),
    ("--max-duration-minutes", "soon", "not a number"),
    ("--gpus", "-1", "from 0"),
    ("--seed", "1.5", "not a whole number"),
])
def test_bad_numbers_name_the_option(ip, submitted, option, value, words):
    error = usage_error(ip, f"train --metric accuracy {option} {value}")
    assert "line 1" in str(error) and option in str(error) and words in str(error)
    assert error.option == option


def test_gpus_beyond_the_machine_fail_before_anything_is_stored(ip, submitted, monkeypatch):
    monkeypatch.setenv("HDNOTEBOOK_GPUS", "0")
    error = usage_error(ip, "train --metric accuracy --gpus 1")
    assert "--gpus" in str(error) and "CPU" in str(error)
    assert not submitted


def test_gpus_reach_the_config(ip, submitted, monkeypatch):
    monkeypatch.setenv("HDNOTEBOOK_GPUS", "2")
    assert config_of(ip, submitted, "train --metric accuracy --gpus 0.5").gpus_per_trial == 0.5


def test_unknown_option_points_at_the_magic_line(ip, submitted):
    error = usage_error(ip, "train --metric accuracy --bogus 3")
    assert "line 1" in str(error) and "--bogus" in str(error) and "%%hyperdrive?" in str(error)


def test_experiment_and_workspace_options(ip, submitted, tmp_path):
    cell(ip, f"train --metric accuracy --experiment digits --workspace {tmp_path / 'other'}")
    run = submitted[-1]
    assert run.experiment_name == "digits"
    assert run.workspace.path == str(tmp_path / "other")


def test_workspace_may_name_a_workspace_of_the_notebook(ip, submitted, tmp_path):
    ip.user_ns["my_ws"] = Workspace(tmp_path / "mine")
    cell(ip, "train --metric accuracy --workspace my_ws")
    assert submitted[-1].workspace is ip.user_ns["my_ws"]


def test_out_binds_the_run_and_underscore_name_always(ip, submitted):
    cell(ip, "train --metric accuracy -o run")
    assert ip.user_ns["run"] is submitted[-1]
    assert ip.user_ns["_hyperdrive_run"] is submitted[-1]
    cell(ip, "train --metric accuracy")
    assert ip.user_ns["_hyperdrive_run"] is submitted[-1]
    assert ip.user_ns["run"] is submitted[-2]


def test_out_must_be_a_variable_name(ip, submitted):
    error = usage_error(ip, "train --metric accuracy -o 1run")
    assert "line 1" in str(error) and "-o" in str(error)


# ---------------------------------------------------------------------------------------------
# TRIAL
# ---------------------------------------------------------------------------------------------
def test_trial_script_path_becomes_a_script_run_config(ip, submitted, tmp_path):
    script = tmp_path / "scripts" / "fit.py"
    script.parent.mkdir()
    script.write_text("print('hi')\n")
    config = config_of(ip, submitted, f'{script} --metric accuracy --args "--data-folder data"')
    estimator = config.estimator
    assert estimator.source_directory == str(script.parent)
    assert estimator.script == "fit.py"
    assert estimator.arguments == ["--data-folder", "data"]
    assert submitted[-1].experiment_name == "fit"


def test_trial_script_path_relative_to_the_working_directory(ip, submitted, tmp_path, monkeypatch):
    (tmp_path / "train.py").write_text("print('hi')\n")
    monkeypatch.chdir(tmp_path)
    assert config_of(ip, submitted, "train.py --metric accuracy").estimator.script == "train.py"


def test_trial_estimator_object_of_the_notebook(ip, submitted, tmp_path):
    ip.user_ns["est"] = hdnotebook.ScriptRunConfig(str(tmp_path), "x.py", arguments=["--a", "1"])
    assert config_of(ip, submitted, "est --metric accuracy").estimator is ip.user_ns["est"]


def test_unknown_trial_suggests_the_closest_function(ip, submitted):
    error = usage_error(ip, "trian --metric accuracy")
    assert "line 1" in str(error) and "unknown trial 'trian'" in str(error) and "'train'" in str(error)


def test_missing_script_says_where_it_looked(ip, submitted, tmp_path):
    error = usage_error(ip, f"{tmp_path}/nope.py --metric accuracy")
    assert "line 1" in str(error) and "not found" in str(error)


def test_trial_that_is_not_callable(ip, submitted):
    ip.user_ns["not_a_function"] = 3
    error = usage_error(ip, "not_a_function --metric accuracy")
    assert "is a int" in str(error) and "function" in str(error)


def test_script_args_need_a_script(ip, submitted):
    error = usage_error(ip, 'train --metric accuracy --args "--x 1"')
    assert "--args" in str(error) and "script" in str(error)


# ---------------------------------------------------------------------------------------------
# the body
# ---------------------------------------------------------------------------------------------
def space_of(ip, submitted, body, line="train --metric accuracy"):
    return {k: repr(v) for k, v in config_of(ip, submitted, line, body).hyperparameter_sampling.parameter_space.items()}


def test_body_dict_literal_as_in_the_article(ip, submitted):
    space = space_of(ip, submitted, '{"learning_rate": loguniform(-6, -1), "batch_size": choice(16, 32)}')
    assert space == {"learning_rate": "loguniform(-6, -1)", "batch_size": "choice(16, 32)"}


def test_body_one_entry_per_line_with_comments_and_blank_lines(ip, submitted):
    space = space_of(ip, submitted, """
        # the learning rate, as an exponent
        learning_rate: loguniform(-6, -1)

        batch_size: choice(16, 32,   # small ones
                           64)
        "keep_probability": uniform(0.05, 0.1),
    """)
    assert list(space) == ["learning_rate", "batch_size", "keep_probability"]
    assert space["batch_size"] == "choice(16, 32, 64)"


def test_body_the_articles_snippet_without_commas(ip, submitted):
    space = space_of(ip, submitted, """
        {
            "batch_size": choice(16, 32, 64, 128)
            "number_of_hidden_layers": choice(range(1,5))
        }
    """)
    assert space == {"batch_size": "choice(16, 32, 64, 128)", "number_of_hidden_layers": "choice(1, 2, 3, 4)"}


def test_body_uses_names_of_the_notebook(ip, submitted):
    ip.run_cell("my_sizes = [8, 16, 32]\nlow = -5")
    space = space_of(ip, submitted, "bs: choice(*my_sizes)\nlr: loguniform(low, -1)")
    assert space == {"bs": "choice(8, 16, 32)", "lr": "loguniform(-5, -1)"}


def test_body_expression_functions_win_over_shadowing_names(ip, submitted):
    ip.run_cell("from random import choice")
    try:
        assert space_of(ip, submitted, "bs: choice(1, 2)") == {"bs": "choice(1, 2)"}
    finally:
        ip.user_ns.pop("choice", None)


@pytest.mark.parametrize("body, line, words", [
    ("lr: loguniform(-6, -1)\nbs: choise(16, 32)", 3, ["unknown expression choise()", "did you mean 'choice'"]),
    ('{"lr": logunifrom(-6, -1)}', 2, ["unknown expression logunifrom()", "'loguniform'"]),
    ("lr: uniform(0.1, 1)\n\nbs: choice(16, 32\nx: choice(1)", 4, ["syntax error", "bs: choice(16, 32"]),
    ('{\n  "lr": uniform(0.1, 1),\n  "bs": choice(16, 32]\n}', 4, ["syntax error", '"bs": choice(16, 32]']),
    ("lr: uniform(1, 0.1)", 2, ["'lr'", "low must be < high"]),
    ("lr: uniform(0.1, 1)\nlr: uniform(0.2, 1)", 3, ["defined twice", "line 2"]),
    ("lr: 0.1", 2, ["must be a parameter expression", "choice(0.1)"]),
    ("lr: hd.uniform(0, 1)", 2, ["without the prefix"]),
    ("bs: choice(*undefined_sizes)", 2, ["'undefined_sizes' is not defined"]),
    ("this is not a space", 2, ["expected 'name: expression'"]),
    ("# only a comment", 2, ["body is empty"]),
    ('{1: choice(1)}', 2, ["quoted string"]),
])
def test_body_errors_point_at_the_line(ip, submitted, body, line, words):
    error = usage_error(ip, "train --metric accuracy", body)
    message = str(error)
    assert message.startswith(f"line {line}:"), message
    assert error.line == line
    for word in words:
        assert word in message, message


def test_grid_with_a_continuous_expression_names_the_parameter(ip, submitted):
    error = usage_error(ip, "train --metric accuracy --sampling grid",
                        "bs: choice(16, 32)\nlr: loguniform(-6, -1)")
    assert str(error).startswith("line 3:")
    assert "'lr'" in str(error) and "choice" in str(error) and "--sampling random" in str(error)


def test_usage_error_prints_as_one_line_in_the_shell(ip, magics, capsys):
    result = ip.run_cell("%%hyperdrive train --metric accuracy\nlr: choise(1, 2)\n")
    assert isinstance(result.error_in_exec, UsageError)
    err = capsys.readouterr().err
    assert "UsageError: line 2: unknown expression choise()" in err
    assert "Traceback" not in err


# ---------------------------------------------------------------------------------------------
# end to end
# ---------------------------------------------------------------------------------------------
def wait(run, seconds=60):
    run.wait_for_completion()
    deadline = time.time() + seconds
    while run.get_status() not in ("Completed", "Failed", "Canceled") and time.time() < deadline:
        time.sleep(0.1)
    return run


def test_end_to_end_function_in_the_shell_namespace(ip, magics):
    with capture_output() as out:
        ip.run_cell("%%hyperdrive train --metric accuracy --policy none -n 4 -c 2 --seed 3 -o run\n"
                    '{"lr": uniform(0.1, 1), "bs": choice(1, 2, 4)}\n')
    run = ip.user_ns["run"]
    assert ip.user_ns["_hyperdrive_run"] is run
    assert "Submitted" in shown(out) and run.id in shown(out)
    wait(run)
    assert run.get_status() == "Completed"
    children = run.get_children()
    assert len(children) == 4 and {c.get_status() for c in children} == {"Completed"}
    best = run.get_best_run_by_primary_metric()
    assert set(best.get_details()["parameters"]) == {"lr", "bs"}
    assert len(best.get_metrics()["accuracy"]) == 4


def test_end_to_end_missing_metric_warning_is_surfaced(ip, magics):
    ip.run_cell("%%hyperdrive train --metric acc --policy none -n 1 -o run\nlr: uniform(0.1, 1)\n")
    run = wait(ip.user_ns["run"])
    status = magic_module._Status(run)
    assert "Warning:" in status.text() and "'acc'" in status.text() and "'accuracy'" in status.text()
    assert "Warning" in status._repr_html_()
    with capture_output() as out:
        ip.run_line_magic("hyperdrive", "list")
    assert "warning (train)" in shown(out)


def test_line_magic_list_show_and_cancel(ip, magics):
    ip.run_cell(textwrap.dedent('''
        import time
        def slow(x):
            from hdnotebook import Run
            run = Run.get_context()
            for i in range(200):
                run.log("score", x + i)
                time.sleep(0.05)
        '''))
    ip.run_cell("%%hyperdrive slow --metric score --policy none -n 2 -c 1 --experiment slowpoke\nx: uniform(0, 1)\n")
    ip.run_cell("%%hyperdrive train --metric accuracy --policy none -n 2 --experiment quick -o quick\nlr: uniform(0.1, 1)\n")
    wait(ip.user_ns["quick"])
    with capture_output() as out:
        ip.run_line_magic("hyperdrive", "list")
    table = shown(out)
    assert "experiment" in table and "best" in table
    quick_line = next(line for line in table.splitlines() if line.startswith("quick"))
    assert "Completed" in quick_line and "2/2" in quick_line and "accuracy (max)" in quick_line
    assert any(line.startswith("slowpoke") and "Running" in line for line in table.splitlines())

    ip.user_ns.pop("again", None)
    with capture_output() as out:
        ip.run_line_magic("hyperdrive", "show quick -o again")
    assert ip.user_ns["again"].id == ip.user_ns["quick"].id
    assert ip.user_ns["_hyperdrive_run"].id == ip.user_ns["quick"].id

    with capture_output() as out:
        ip.run_line_magic("hyperdrive", "cancel slowpoke")
    assert "Canceled" in out.stdout
    slow_run = Experiment(magics._workspace, "slowpoke").get_runs()[0]
    wait(slow_run, 30)
    assert slow_run.get_status() == "Canceled"


def test_line_magic_errors(ip, magics):
    with pytest.raises(UsageError, match="unknown command 'lsit'.*'list'"):
        ip.run_line_magic("hyperdrive", "lsit")
    with pytest.raises(UsageError, match="needs an experiment name"):
        ip.run_line_magic("hyperdrive", "show")
    ip.run_cell("%%hyperdrive train --metric accuracy --policy none -n 1 --experiment digits -o run\nlr: uniform(0.1, 1)\n")
    wait(ip.user_ns["run"])
    with pytest.raises(UsageError, match="no experiment 'digts'.*did you mean 'digits'"):
        ip.run_line_magic("hyperdrive", "show digts")


def test_line_magic_list_of_an_empty_workspace(ip, magics, tmp_path):
    with capture_output() as out:
        ip.run_line_magic("hyperdrive", f"list --workspace {tmp_path / 'empty'}")
    assert "No experiments" in shown(out)
    assert os.path.isdir(tmp_path / "empty")
