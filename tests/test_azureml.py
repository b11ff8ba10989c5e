"""hdnotebook.azureml: the SDK v1 names, shapes and defaults, on real script trials.

The training script below is written as for Azure ML with the one substitution
(``from hdnotebook.azureml.core.run import Run``); every experiment runs it in real processes.
"""

from __future__ import annotations

import importlib
import json
import os
import textwrap
import warnings

import pytest

from hdnotebook.azureml.core import Environment, Experiment, Model, Run, ScriptRunConfig, Workspace
from hdnotebook.azureml.core.compute import AmlCompute, ComputeTarget
from hdnotebook.azureml.exceptions import ActivityFailedException
from hdnotebook.azureml.train.estimator import Estimator
from hdnotebook.azureml.train.hyperdrive import (
    GridParameterSampling, HyperDriveConfig, NoTerminationPolicy, PrimaryMetricGoal, RandomParameterSampling,
    choice, randint,
)

TRAIN = '''
import argparse, json, os
from hdnotebook.azureml.core.run import Run

parser = argparse.ArgumentParser()
parser.add_argument("--kernel", default="linear")
parser.add_argument("--penalty", type=float, default=1.0)
parser.add_argument("--data-folder", default="")
parser.add_argument("--resume-from", default=None)
parser.add_argument("--metric", default="Accuracy")
args = parser.parse_args()
run = Run.get_context()
start = 0
if args.resume_from:
    with open(os.path.join(args.resume_from, "checkpoint.json")) as fh:
        start = json.load(fh)["epoch"]
score = {"linear": 0.8, "rbf": 0.9, "poly": 0.6}.get(args.kernel, 0.5) * args.penalty
for epoch in range(start, start + 3):
    run.log(args.metric, score + epoch / 1000)
run.log_row("loss", epoch=1, value=0.5)
run.log_row("loss", epoch=2, value=0.25)
run.log_table("curve", {"x": [1, 2], "y": [0.1, 0.2]})
run.log_image("confusion", path="no-such-image.png")   # must not fail the trial
run.tag("kernel", args.kernel)
run.parent.tag("seen_by_" + run.id.rsplit("_", 1)[1], "yes")
with open("scratch.txt", "w") as fh:
    fh.write(run.id)
run.upload_file("extra/scratch.txt", "scratch.txt")
os.makedirs("outputs", exist_ok=True)
with open("outputs/model.json", "w") as fh:
    json.dump({"kernel": args.kernel, "penalty": args.penalty, "run": run.id, "data": args.data_folder}, fh)
with open("outputs/checkpoint.json", "w") as fh:
    json.dump({"epoch": start + 3}, fh)
if args.kernel == "sigmoid":
    raise ValueError("sigmoid kernel is not supported")
'''


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("azureml")
    (root / "src").mkdir()
    (root / "src" / "train.py").write_text(TRAIN)
    old = os.getcwd()
    os.chdir(root)
    try:
        yield root
    finally:
        os.chdir(old)


@pytest.fixture(scope="module")
def ws(project):
    return Workspace.from_config()


@pytest.fixture(scope="module")
def src(project):
    return ScriptRunConfig(source_directory="src", script="train.py", arguments=["--data-folder", "data"])


@pytest.fixture(scope="module")
def tuned(ws, src):
    """A HyperDrive experiment over four kernels; sigmoid fails."""
    sampling = GridParameterSampling({"--kernel": choice("linear", "rbf", "poly", "sigmoid"),
                                      "--penalty": choice(1.0)})
    config = HyperDriveConfig(run_config=src, hyperparameter_sampling=sampling, primary_metric_name="Accuracy",
                              primary_metric_goal=PrimaryMetricGoal.MAXIMIZE, max_total_runs=4,
                              max_concurrent_runs=2)
    run = Experiment(ws, "tuned").submit(config)
    run.wait_for_completion(raise_on_error=False)
    return run


# -- the module tree ---------------------------------------------------------------------------
@pytest.mark.parametrize("module, names", [
    ("hdnotebook.azureml.core", ["Workspace", "Experiment", "Run", "ScriptRunConfig", "Environment", "Model",
                                 "ComputeTarget", "Dataset", "VERSION"]),
    ("hdnotebook.azureml.core.workspace", ["Workspace"]),
    ("hdnotebook.azureml.core.run", ["Run", "get_run"]),
    ("hdnotebook.azureml.core.compute", ["ComputeTarget", "AmlCompute"]),
    ("hdnotebook.azureml.core.compute_target", ["ComputeTargetException"]),
    ("hdnotebook.azureml.core.environment", ["Environment"]),
    ("hdnotebook.azureml.core.conda_dependencies", ["CondaDependencies"]),
    ("hdnotebook.azureml.core.dataset", ["Dataset"]),
    ("hdnotebook.azureml.core.model", ["Model"]),
    ("hdnotebook.azureml.telemetry", ["set_diagnostics_collection"]),
    ("hdnotebook.azureml.train.hyperdrive", ["HyperDriveConfig", "HyperDriveRun", "randint", "BanditPolicy"]),
    ("hdnotebook.azureml.train.hyperdrive.runconfig", ["HyperDriveConfig", "PrimaryMetricGoal"]),
    ("hdnotebook.azureml.train.hyperdrive.sampling", ["RandomParameterSampling", "BayesianParameterSampling"]),
    ("hdnotebook.azureml.train.hyperdrive.policy", ["BanditPolicy", "MedianStoppingPolicy"]),
    ("hdnotebook.azureml.train.hyperdrive.parameter_expressions", ["choice", "randint", "loguniform"]),
    ("hdnotebook.azureml.train.hyperdrive.run", ["HyperDriveRun", "PrimaryMetricGoal"]),
    ("hdnotebook.azureml.train.estimator", ["Estimator"]),
    ("hdnotebook.azureml.train.sklearn", ["SKLearn"]),
    ("hdnotebook.azureml.train.dnn", ["PyTorch", "TensorFlow", "Chainer"]),
    ("hdnotebook.azureml.widgets", ["RunDetails"]),
])
def test_every_module_a_hyperdrive_notebook_imports_is_there(module, names):
    loaded = importlib.import_module(module)
    assert [n for n in names if not hasattr(loaded, n)] == []


def test_the_mirror_reuses_hdnotebooks_own_samplers_and_policies():
    import hdnotebook
    from hdnotebook.azureml.train import hyperdrive

    assert hyperdrive.RandomParameterSampling is hdnotebook.RandomParameterSampling
    assert hyperdrive.BanditPolicy is hdnotebook.BanditPolicy


# -- stand-ins ---------------------------------------------------------------------------------
def test_from_config_reads_the_names_of_config_json(tmp_path, monkeypatch, capsys):
    (tmp_path / ".azureml").mkdir()
    (tmp_path / ".azureml" / "config.json").write_text(json.dumps(
        {"subscription_id": "sub-1", "resource_group": "rg-1", "workspace_name": "ws-1"}))
    (tmp_path / "deep").mkdir()
    monkeypatch.chdir(tmp_path / "deep")
    ws = Workspace.from_config()
    assert (ws.name, ws.subscription_id, ws.resource_group, ws.location) == ("ws-1", "sub-1", "rg-1", "local")
    assert ws.path == str(tmp_path / "deep" / ".hdnotebook")
    assert "workspace 'ws-1'" in capsys.readouterr().out


def test_compute_targets_are_this_machine_and_say_so_once(ws, capsys):
    config = AmlCompute.provisioning_configuration(vm_size="STANDARD_D2_V2", max_nodes=4)
    target = ComputeTarget.create(ws, "cpu-cluster-t", config)
    target.wait_for_completion(show_output=True, min_node_count=None, timeout_in_minutes=20)
    assert ComputeTarget(workspace=ws, name="cpu-cluster-t") is target
    status = target.get_status().serialize()
    assert status["provisioningState"] == "Succeeded" and status["vmSize"] == "STANDARD_D2_V2"
    out = capsys.readouterr().out
    assert out.count("compute target 'cpu-cluster-t': trials run on this machine") == 1


def test_an_environment_names_the_packages_this_python_lacks(tmp_path, capsys):
    spec = tmp_path / "env.yml"
    spec.write_text("channels:\n  - conda-forge\ndependencies:\n  - python=3.8\n  - numpy\n  - pip:\n"
                    "    - no-such-package-hdn==1.0\n")
    env = Environment.from_conda_specification("t-env", str(spec))
    assert env.missing_packages() == ["no-such-package-hdn"]
    assert "not installed here: no-such-package-hdn" in capsys.readouterr().out


def test_randint_is_the_sdks_integer_expression():
    assert repr(randint(5)) == "randint(5)"
    with pytest.raises(ValueError, match="upper must be a positive int"):
        randint(0)


# -- configuration ------------------------------------------------------------------------------
def test_hyperdrive_config_defaults_are_the_sdks(src):
    config = HyperDriveConfig(run_config=src, hyperparameter_sampling=RandomParameterSampling({"--kernel": choice("a")}),
                              primary_metric_name="Accuracy", primary_metric_goal=PrimaryMetricGoal.MAXIMIZE,
                              max_total_runs=3)
    assert isinstance(config.policy, NoTerminationPolicy)   # the SDK: no policy given, none used
    assert config.max_concurrent_runs is None and config.max_duration_minutes == 10080
    with pytest.raises(Exception, match="exactly one of estimator= and run_config="):
        HyperDriveConfig(hyperparameter_sampling=config.hyperparameter_sampling, primary_metric_name="A",
                         primary_metric_goal=PrimaryMetricGoal.MAXIMIZE, max_total_runs=1)


def test_an_estimators_fixed_argument_repeated_by_the_space_is_dropped_with_a_warning(project):
    estimator = Estimator(source_directory="src", entry_script="train.py",
                          script_params={"--data-folder": "data", "--kernel": "linear"})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        config = HyperDriveConfig(estimator=estimator,
                                  hyperparameter_sampling=RandomParameterSampling({"kernel": choice("rbf")}),
                                  primary_metric_name="Accuracy", primary_metric_goal=PrimaryMetricGoal.MAXIMIZE,
                                  max_total_runs=1)
    assert config.estimator.arguments == ["--data-folder", "data"]
    assert estimator.arguments == ["--data-folder", "data", "--kernel", "linear"]   # the user's object is kept
    assert any("['--kernel']" in str(w.message) for w in caught)


# -- a single script run ------------------------------------------------------------------------
def test_a_script_run_submitted_alone(ws, src):
    run = Experiment(ws, "single").submit(src)
    details = run.wait_for_completion()
    assert details["status"] == "Completed"
    assert details["runDefinition"]["arguments"] == ["--data-folder", "data"]
    assert run.get_metrics()["Accuracy"] == [0.8, 0.801, 0.802]
    assert {"outputs/model.json", "azureml-logs/70_driver_log.txt", "extra/scratch.txt"} <= set(run.get_file_names())


def test_wait_for_completion_raises_on_a_failed_run_by_default(ws, project):
    failing = ScriptRunConfig(source_directory="src", script="train.py", arguments=["--kernel", "sigmoid"])
    run = Experiment(ws, "single-fail").submit(failing)
    with pytest.raises(ActivityFailedException, match="exited with code 1"):
        run.wait_for_completion()
    assert run.wait_for_completion(raise_on_error=False)["status"] == "Failed"


# -- a HyperDrive run ---------------------------------------------------------------------------
def test_each_trial_keeps_its_own_outputs(tuned):
    models = {}
    for child in tuned.get_children():
        path = os.path.join(str(child.id) + ".json")
        child.download_file("outputs/model.json", path)
        with open(path) as fh:
            models[child.id] = json.load(fh)
    assert len(models) == 4
    assert all(model["run"] == run_id for run_id, model in models.items())
    assert sorted(m["kernel"] for m in models.values()) == ["linear", "poly", "rbf", "sigmoid"]


def test_run_details_have_the_sdks_shape(tuned):
    best = tuned.get_best_run_by_primary_metric()
    details = best.get_details()
    assert details["runDefinition"]["arguments"] == ["--data-folder", "data", "--kernel", "rbf", "--penalty", "1.0"]
    assert details["runDefinition"]["Arguments"] == details["runDefinition"]["arguments"]
    assert best.status == "Completed" and best.tags["kernel"] == "rbf"
    assert isinstance(best, Run) and best.parent.id == tuned.id
    assert isinstance(tuned.get_portal_url(), str) and tuned.hyperdrive_config.primary_metric_name == "Accuracy"


def test_trial_side_calls_reach_the_run(tuned):
    best = tuned.get_best_run_by_primary_metric()
    metrics = best.get_metrics()
    assert metrics["loss"] == {"epoch": [1, 2], "value": [0.5, 0.25]}
    assert metrics["curve"] == {"x": [1, 2], "y": [0.1, 0.2]}
    assert "confusion" not in metrics          # the image was missing: not kept, trial not failed
    statuses = sorted(c.get_status() for c in tuned.get_children())
    assert statuses == ["Completed", "Completed", "Completed", "Failed"]
    assert "extra/scratch.txt" in best.get_file_names()
    assert sum(1 for key in tuned.tags if key.startswith("seen_by_")) == 4


def test_best_run_and_sorted_children_use_the_sdks_defaults(tuned):
    failed = [c for c in tuned.get_children() if c.get_status() == "Failed"][0]
    assert failed.get_metrics()["Accuracy"][-1] == pytest.approx(0.502)   # logged before it failed
    ranked = tuned.get_children_sorted_by_primary_metric()
    assert [r["best_primary_metric"] for r in ranked] == pytest.approx([0.902, 0.802, 0.602, 0.502])
    assert set(ranked[0]) == {"run_id", "hyperparameters", "best_primary_metric", "status"}
    assert json.loads(ranked[0]["hyperparameters"]) == {"--kernel": "rbf", "--penalty": 1.0}
    assert len(tuned.get_children_sorted_by_primary_metric(top=2)) == 2
    assert set(tuned.get_hyperparameters()) == {c.id for c in tuned.get_children()}


def test_include_failed_decides_whether_a_failed_run_can_be_best(ws, src):
    sampling = GridParameterSampling({"--kernel": choice("sigmoid", "poly")})
    run = Experiment(ws, "failed-best").submit(HyperDriveConfig(
        run_config=src, hyperparameter_sampling=sampling, primary_metric_name="Accuracy",
        primary_metric_goal=PrimaryMetricGoal.MINIMIZE, max_total_runs=2))
    run.wait_for_completion(raise_on_error=False)
    # minimising: sigmoid (0.500, then it fails) beats poly (0.600)
    assert run.get_best_run_by_primary_metric().get_status() == "Failed"        # the SDK's default
    assert run.get_best_run_by_primary_metric(include_failed=False).get_status() == "Completed"


def test_show_output_prints_each_failure_once_with_its_error_line_and_the_warning_once(ws, src, capsys):
    sampling = GridParameterSampling({"--kernel": choice("sigmoid", "linear", "rbf"), "--metric": choice("acc")})
    run = Experiment(ws, "noisy").submit(HyperDriveConfig(
        run_config=src, hyperparameter_sampling=sampling, primary_metric_name="Accuracy",
        primary_metric_goal=PrimaryMetricGoal.MAXIMIZE, max_total_runs=3, max_concurrent_runs=1))
    run.wait_for_completion(show_output=True, raise_on_error=False)
    out = capsys.readouterr().out
    assert out.count("Failed: ValueError: sigmoid kernel is not supported") == 1
    assert out.count("Warning: run ") == 1 and "'Accuracy'" in out


def test_an_experiment_whose_every_trial_failed_raises(ws, src):
    sampling = GridParameterSampling({"--kernel": choice("sigmoid")})
    run = Experiment(ws, "all-fail").submit(HyperDriveConfig(
        run_config=src, hyperparameter_sampling=sampling, primary_metric_name="Accuracy",
        primary_metric_goal=PrimaryMetricGoal.MAXIMIZE, max_total_runs=1))
    with pytest.raises(ActivityFailedException, match="sigmoid kernel is not supported"):
        run.wait_for_completion()


# -- models ---------------------------------------------------------------------------------------
def test_register_model_keeps_that_runs_own_file_with_versions(ws, tuned, tmp_path):
    best = tuned.get_best_run_by_primary_metric()
    first = best.register_model(model_name="svm-t", model_path="outputs/model.json", tags={"area": "iris"})
    second = best.register_model(model_name="svm-t", model_path="outputs/model.json")
    assert (first.version, second.version) == (1, 2) and first.id == "svm-t:1"
    assert Model(ws, "svm-t").version == 2 and Model(ws, name="svm-t", version=1).tags == {"area": "iris"}
    assert [m.version for m in Model.list(ws, name="svm-t")] == [1, 2]
    assert ws.models["svm-t"].version == 2
    with open(Model.get_model_path("svm-t", _workspace=ws)) as fh:
        assert json.load(fh)["run"] == best.id
    copy = Model(ws, "svm-t").download(target_dir=str(tmp_path))
    with open(copy) as fh:
        assert json.load(fh)["kernel"] == "rbf"
    assert first.run_id == best.id


# -- resume ---------------------------------------------------------------------------------------
def test_resume_child_runs_continue_from_their_outputs_and_resume_from_warm_starts(ws, src, tuned):
    best = tuned.get_best_run_by_primary_metric()
    config = HyperDriveConfig(run_config=src, hyperparameter_sampling=tuned.hyperdrive_config.hyperparameter_sampling,
                              primary_metric_name="Accuracy", primary_metric_goal=PrimaryMetricGoal.MAXIMIZE,
                              max_total_runs=1, resume_from=tuned, resume_child_runs=[best])
    run = Experiment(ws, "resumed").submit(config)
    run.wait_for_completion()
    (child,) = run.get_children()
    arguments = child.get_details()["runDefinition"]["arguments"]
    assert arguments[-2] == "--resume-from" and arguments[-1].endswith(os.path.join(best.id, "code", "outputs"))
    assert child.get_metrics()["Accuracy"] == pytest.approx([0.903, 0.904, 0.905])   # epochs 3..5
    assert run.get_best_run_by_primary_metric().id == child.id
    assert run.get_best_run_by_primary_metric(include_resume_from_runs=False).id == child.id


# -- time limit and snapshot ----------------------------------------------------------------------
def test_script_run_config_max_run_duration_seconds_cancels_a_run_that_reaches_it(ws, project):
    (project / "slow").mkdir(exist_ok=True)
    (project / "slow" / "sleep.py").write_text(
        "import time\nfrom hdnotebook.azureml.core.run import Run\nrun = Run.get_context()\n"
        "for i in range(600):\n    run.log('tick', i)\n    time.sleep(0.1)\n")
    src = ScriptRunConfig(source_directory="slow", script="sleep.py", max_run_duration_seconds=6)
    run = Experiment(ws, "time-limit").submit(src)
    details = run.wait_for_completion(raise_on_error=False)
    assert details["status"] == "Canceled"
    assert 1 <= len(run.get_metrics()["tick"]) < 600       # it ran, and it was stopped long before its end


def test_a_trial_runs_the_snapshot_taken_at_submit_not_later_edits(ws, project):
    (project / "snap").mkdir(exist_ok=True)
    script = project / "snap" / "train.py"
    script.write_text("import time\nfrom hdnotebook.azureml.core.run import Run\nRun.get_context().log('v', 1)\n")
    run = Experiment(ws, "snapshot").submit(ScriptRunConfig(source_directory="snap", script="train.py"))
    script.write_text("from hdnotebook.azureml.core.run import Run\nRun.get_context().log('v', 2)\n")
    run.wait_for_completion()
    assert run.get_metrics()["v"] == 1


def test_datasets_and_datastores_are_local_paths_as_script_arguments(ws, project, tmp_path):
    from hdnotebook.azureml.core import Dataset

    (tmp_path / "iris").mkdir()
    (tmp_path / "iris" / "iris.csv").write_text("a,b\n1,2\n3,4\n")
    datastore = ws.get_default_datastore()
    reference = datastore.upload(src_dir=str(tmp_path / "iris"), target_path="iris", overwrite=True)
    dataset = Dataset.File.from_files(path=(datastore, "iris"))
    src = ScriptRunConfig(source_directory="src", script="train.py",
                          arguments=["--data-folder", dataset.as_named_input("iris").as_mount()])
    assert src.arguments == ["--data-folder", os.path.join(datastore.root, "iris")]
    assert str(reference.as_mount()) == os.path.join(datastore.root, "iris")
    assert dataset.to_path() == ["iris.csv"]
    table = Dataset.Tabular.from_delimited_files(path=(datastore, "iris/iris.csv")).to_pandas_dataframe()
    assert table["b"].tolist() == [2, 4]


def test_download_files_copies_a_runs_outputs(tuned, tmp_path):
    best = tuned.get_best_run_by_primary_metric()
    best.download_files(prefix="outputs", output_directory=str(tmp_path))
    assert sorted(os.listdir(tmp_path / "outputs")) == ["checkpoint.json", "model.json"]
    with pytest.raises(Exception, match="no file 'outputs/missing.pkl'"):
        best.download_file("outputs/missing.pkl")


# -- finding runs again, and images -------------------------------------------------------------
def test_runs_are_found_again_by_id_and_by_experiment(ws, tuned):
    from hdnotebook.azureml.core.run import get_run
    from hdnotebook.azureml.train.hyperdrive import HyperDriveRun
    from hdnotebook.azureml.widgets import RunDetails

    experiment = Experiment(ws, "tuned")
    again = HyperDriveRun(experiment, tuned.id)
    assert again.get_status() == "Completed" and again.hyperdrive_config.primary_metric_name == "Accuracy"
    assert isinstance(get_run(experiment, tuned.id), HyperDriveRun)
    child = tuned.get_children()[0]
    assert Run(experiment, child.id).get_metrics() == child.get_metrics()
    assert ws.get_run(child.id).id == child.id
    assert [r.id for r in experiment.get_runs()] == [tuned.id]
    assert "tuned" in ws.experiments
    assert RunDetails(again).run_id == tuned.id


def test_log_image_keeps_a_matplotlib_figure_and_an_image_file(ws, project):
    pytest.importorskip("matplotlib")
    (project / "images").mkdir(exist_ok=True)
    (project / "images" / "plot.py").write_text(textwrap.dedent("""
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from hdnotebook.azureml.core.run import Run
        run = Run.get_context()
        plt.plot([1, 2, 3])
        run.log_image("curve", plot=plt)
        plt.savefig("saved.png")
        run.log_image("file", path="saved.png")
        run.log("Accuracy", 1.0)
    """))
    run = Experiment(ws, "images").submit(ScriptRunConfig(source_directory="images", script="plot.py"))
    run.wait_for_completion()
    names = run.get_file_names()
    assert {"curve_1.png", "file_2.png"} <= set(names)
    assert run.get_metrics()["curve"].endswith("/curve_1.png")
    path = os.path.join("curve.png")
    run.download_file("curve_1.png", path)
    with open(path, "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"


def test_log_image_keeps_an_image_file_with_the_run(ws, project):
    (project / "pics").mkdir(exist_ok=True)
    (project / "pics" / "pic.py").write_text(textwrap.dedent("""
        from hdnotebook.azureml.core.run import Run
        with open("roc.png", "wb") as fh:
            fh.write(b"\\x89PNG\\r\\n\\x1a\\n" + bytes(16))
        run = Run.get_context()
        run.log_image("ROC", path="roc.png")
        Run.get_context().log_image("ROC", path="roc.png")   # a second handle: a new number still
    """))
    run = Experiment(ws, "pics").submit(ScriptRunConfig(source_directory="pics", script="pic.py"))
    run.wait_for_completion()
    assert {"ROC_1.png", "ROC_2.png"} <= set(run.get_file_names())
    assert [value.rsplit("/", 1)[1] for value in run.get_metrics()["ROC"]] == ["ROC_1.png", "ROC_2.png"]
