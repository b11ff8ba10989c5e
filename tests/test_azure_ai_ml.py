"""SDK v2 sweep jobs (``hdnotebook.azure.ai.ml``): the translation onto the engine, and real sweeps.

The unit tests pin each mapping (template, distributions, sampling, policies, limits); the sweep
tests submit real jobs whose trials are real processes running a small script, and count what
came back.
"""

from __future__ import annotations

import json
import math
import os
import textwrap

import numpy as np
import pytest

from hdnotebook.azure.ai.ml import Input, MLClient, Output, command
from hdnotebook.azure.ai.ml._jobs import find_job_run
from hdnotebook.azure.ai.ml._launch import parse_arguments
from hdnotebook.azure.ai.ml._sweep_settings import to_engine_policy, to_engine_sampling
from hdnotebook.azure.ai.ml._template import references, render
from hdnotebook.azure.ai.ml._translate import COMMAND_JOB_METRIC, plan_job
from hdnotebook.azure.ai.ml.entities import CommandJob
from hdnotebook.azure.ai.ml.exceptions import JobException, ResourceNotFoundError, ValidationException
from hdnotebook.azure.ai.ml.sweep import (
    BanditPolicy,
    BayesianSamplingAlgorithm,
    Choice,
    GridSamplingAlgorithm,
    LogNormal,
    LogUniform,
    MedianStoppingPolicy,
    Normal,
    QLogNormal,
    QLogUniform,
    QNormal,
    QUniform,
    Randint,
    RandomSamplingAlgorithm,
    SweepJob,
    SweepJobLimits,
    TruncationSelectionPolicy,
    Uniform,
)
from hdnotebook.azure.identity import DefaultAzureCredential
from hdnotebook.config import HyperDriveConfig
from hdnotebook.policy.bandit import BanditPolicy as EngineBandit
from hdnotebook.policy.median import MedianStoppingPolicy as EngineMedian
from hdnotebook.policy.none import NoTerminationPolicy
from hdnotebook.policy.truncation import TruncationSelectionPolicy as EngineTruncation
from hdnotebook.sampling.bayesian import BayesianParameterSampling
from hdnotebook.sampling.grid import GridParameterSampling
from hdnotebook.sampling.random import RandomParameterSampling
from hdnotebook.sampling.sobol import SobolParameterSampling
from hdnotebook.space import (
    choice,
    lognormal,
    loguniform,
    normal,
    qlognormal,
    qloguniform,
    qnormal,
    quniform,
    sample_configuration,
    uniform,
)


# ---------------------------------------------------------------------------------------------
# the ${{inputs.x}} template
# ---------------------------------------------------------------------------------------------
class TestTemplate:
    def test_inputs_and_outputs_are_filled_in_with_or_without_spaces_in_the_braces(self):
        text = render("python t.py --C ${{inputs.C}} --k ${{ inputs.kernel }} --out ${{outputs.model}}",
                      {"C": "0.5", "kernel": "rbf"}, {"model": "/tmp/m"})
        assert text == "python t.py --C 0.5 --k rbf --out /tmp/m"

    def test_search_space_references_read_the_inputs(self):
        assert render("python t.py --lr ${{search_space.lr}}", {"lr": "0.01"}) == "python t.py --lr 0.01"

    def test_the_same_input_twice_and_values_that_look_like_flags(self):
        assert render("echo ${{inputs.x}} ${{inputs.x}}", {"x": "-1e-05"}) == "echo -1e-05 -1e-05"

    def test_optional_part_is_kept_when_its_inputs_have_values_and_dropped_otherwise(self):
        template = "python t.py $[[--seed ${{inputs.seed}}]] --C ${{inputs.C}}"
        assert render(template, {"C": "1", "seed": "7"}) == "python t.py --seed 7 --C 1"
        assert render(template, {"C": "1", "seed": None}) == "python t.py --C 1"
        assert render(template, {"C": "1"}) == "python t.py --C 1"

    def test_a_missing_input_is_named_with_the_inputs_there_are(self):
        with pytest.raises(ValueError, match=r"\$\{\{inputs.lr\}\}.*no input 'lr'.*\['learning_rate'\]"):
            render("python t.py --lr ${{inputs.lr}}", {"learning_rate": "0.1"})

    def test_a_reference_of_another_kind_is_refused(self):
        with pytest.raises(ValueError, match=r"'\$\{\{parent.inputs.x\}\}' is not a reference"):
            references("python t.py ${{parent.inputs.x}}")

    def test_references_report_kind_and_optional(self):
        refs = references("a ${{inputs.x}} $[[b ${{inputs.y}}]] ${{outputs.z}}")
        assert [(r.kind, r.name, r.optional) for r in refs] == [
            ("inputs", "x", False), ("inputs", "y", True), ("outputs", "z", False)]

    def test_command_checks_its_template_against_its_inputs_when_built(self):
        with pytest.raises(ValueError, match="no input 'penalty'"):
            command(command="python t.py --penalty ${{inputs.penalty}}", inputs={"C": 1.0})

    def test_launcher_arguments_keep_values_that_start_with_a_dash(self):
        assert parse_arguments(["--job-spec", "/s.json", "--lr", "-0.5", "--k", "rbf"]) == (
            "/s.json", {"lr": "-0.5", "k": "rbf"})
        with pytest.raises(SystemExit):
            parse_arguments(["--lr", "1"])


# ---------------------------------------------------------------------------------------------
# distributions
# ---------------------------------------------------------------------------------------------
class TestDistributions:
    @pytest.mark.parametrize("v2, ours", [
        (Choice(values=["linear", "rbf"]), choice("linear", "rbf")),
        (Choice([0.5, 1, 1.5]), choice(0.5, 1, 1.5)),
        (Randint(upper=4), choice(0, 1, 2, 3)),
        (Uniform(min_value=0.5, max_value=1.5), uniform(0.5, 1.5)),
        (LogUniform(min_value=-6, max_value=-1), loguniform(-6, -1)),
        (QUniform(min_value=16, max_value=128, q=16), quniform(16, 128, 16)),
        (QLogUniform(min_value=1, max_value=5, q=2), qloguniform(1, 5, 2)),
        (Normal(mu=0, sigma=1), normal(0, 1)),
        (LogNormal(mu=0, sigma=1), lognormal(0, 1)),
        (QNormal(mu=10, sigma=3, q=2), qnormal(10, 3, 2)),
        (QLogNormal(mu=1, sigma=0.5, q=1), qlognormal(1, 0.5, 1)),
    ])
    def test_each_v2_distribution_is_one_hdnotebook_expression(self, v2, ours):
        assert repr(v2.to_expression()) == repr(ours)

    def test_loguniform_takes_exponents_like_v1(self):
        expr = LogUniform(min_value=-6, max_value=-1).to_expression()
        rng = np.random.default_rng(0)
        values = [sample_configuration({"lr": expr}, rng)["lr"] for _ in range(200)]
        assert min(values) >= math.exp(-6) and max(values) <= math.exp(-1)

    def test_v2_attribute_names_are_kept(self):
        dist = QUniform(min_value=1, max_value=9, q=2)
        assert (dist.min_value, dist.max_value, dist.q, dist.type) == (1, 9, 2, "quniform")
        assert Choice(values=[1, 2]).values == [1, 2] and Randint(upper=3).upper == 3

    @pytest.mark.parametrize("make, message", [
        (lambda: Uniform(min_value=2, max_value=1), r"Uniform\(min_value=2, max_value=1\).*low must be < high.*min_value is low"),
        (lambda: QUniform(min_value=0, max_value=1, q=0), r"QUniform\(.*q=0\).*q must be > 0"),
        (lambda: Normal(mu=0, sigma=-1), r"Normal\(mu=0, sigma=-1\).*sigma must be > 0"),
        (lambda: Choice(values=[]), r"Choice\(values=\[\]\).*at least one value"),
        (lambda: Randint(upper=0), r"Randint\(upper=...\): upper must be >= 1"),
        (lambda: Choice(values=[{"a": Uniform(0, 1)}]), "nested search spaces"),
        (lambda: Choice("abc"), r"values must be a list"),
        (lambda: Uniform(0, 1, low=3), r"unexpected argument\(s\) \['low'\]"),
    ])
    def test_bad_arguments_raise_naming_v2s_argument(self, make, message):
        with pytest.raises((TypeError, ValueError), match=message):
            make()

    def test_logbase_rescales_the_exponents_of_log_distributions_only(self):
        space = {"lr": LogUniform(min_value=-3, max_value=-1), "n": Uniform(min_value=1, max_value=2)}
        sampler = to_engine_sampling(RandomSamplingAlgorithm(logbase=10, seed=1), space)
        lr = sampler.parameter_space["lr"]
        assert math.isclose(math.exp(lr.low), 1e-3) and math.isclose(math.exp(lr.high), 1e-1)
        assert repr(sampler.parameter_space["n"]) == "uniform(1, 2)"
        assert repr(to_engine_sampling(RandomSamplingAlgorithm(logbase="e"), space).parameter_space["lr"]) == \
            "loguniform(-3, -1)"
        with pytest.raises(ValueError, match="logbase must be a positive number other than 1"):
            RandomSamplingAlgorithm(logbase=1)


# ---------------------------------------------------------------------------------------------
# sampling, policies, objective, limits
# ---------------------------------------------------------------------------------------------
SPACE = {"C": Uniform(min_value=0.5, max_value=1.5), "kernel": Choice(values=["linear", "rbf"])}


class TestSampling:
    @pytest.mark.parametrize("algorithm, cls", [
        ("random", RandomParameterSampling), ("Random", RandomParameterSampling),
        (RandomSamplingAlgorithm(), RandomParameterSampling),
        (RandomSamplingAlgorithm(rule="random"), RandomParameterSampling),
        (RandomSamplingAlgorithm(rule="sobol"), SobolParameterSampling),
        ("bayesian", BayesianParameterSampling), (BayesianSamplingAlgorithm(), BayesianParameterSampling),
    ])
    def test_each_algorithm_is_one_engine_sampler(self, algorithm, cls):
        sampler = to_engine_sampling(algorithm, SPACE)
        assert type(sampler) is cls
        assert list(sampler.parameter_space) == ["C", "kernel"]

    def test_grid_enumerates_choices_and_randint(self):
        sampler = to_engine_sampling(GridSamplingAlgorithm(), {"k": Choice(["a", "b"]), "n": Randint(upper=3)})
        assert type(sampler) is GridParameterSampling and sampler.max_configurations == 6

    def test_the_seed_reaches_the_sampler(self):
        assert to_engine_sampling(RandomSamplingAlgorithm(rule="sobol", seed=11), SPACE).seed == 11
        first = to_engine_sampling(RandomSamplingAlgorithm(seed=5), SPACE).suggest([], "maximize", 3)
        again = to_engine_sampling(RandomSamplingAlgorithm(seed=5), SPACE).suggest([], "maximize", 3)
        assert first == again

    @pytest.mark.parametrize("bad", ["hyperband", 3, None])
    def test_unknown_algorithms_are_refused(self, bad):
        with pytest.raises(ValueError, match="sampling_algorithm must be 'random', 'grid', 'bayesian'"):
            to_engine_sampling(bad, SPACE)

    def test_sweep_refuses_an_unknown_algorithm_and_rule(self):
        job = command(command="python t.py", inputs={"C": Uniform(0, 1)})
        with pytest.raises(ValueError, match="sampling_algorithm must be"):
            job.sweep(primary_metric="a", goal="maximize", sampling_algorithm="hyperband")
        with pytest.raises(ValueError, match="rule must be 'random' or 'sobol'"):
            RandomSamplingAlgorithm(rule="lhs")


class TestPolicies:
    def test_v2_defaults_map_to_every_interval(self):
        # v2: Bandit and TruncationSelection default evaluation_interval=0, Median 1
        assert BanditPolicy(slack_factor=0.1).evaluation_interval == 0
        assert to_engine_policy(BanditPolicy(slack_factor=0.1)) == EngineBandit(slack_factor=0.1)
        assert to_engine_policy(MedianStoppingPolicy()) == EngineMedian(evaluation_interval=1, delay_evaluation=0)
        assert to_engine_policy(TruncationSelectionPolicy(truncation_percentage=20)) == EngineTruncation(20)

    def test_v2_parameter_names_map_one_to_one(self):
        assert to_engine_policy(BanditPolicy(slack_amount=0.2, evaluation_interval=2, delay_evaluation=4)) == \
            EngineBandit(slack_amount=0.2, evaluation_interval=2, delay_evaluation=4)
        assert to_engine_policy(MedianStoppingPolicy(delay_evaluation=5, evaluation_interval=1)) == \
            EngineMedian(evaluation_interval=1, delay_evaluation=5)
        assert to_engine_policy(TruncationSelectionPolicy(
            truncation_percentage=30, evaluation_interval=3, delay_evaluation=6)) == EngineTruncation(30, 3, 6)

    def test_exclude_finished_jobs_reaches_the_engine(self):
        assert to_engine_policy(TruncationSelectionPolicy(truncation_percentage=25, exclude_finished_jobs=True)) == \
            EngineTruncation(25, exclude_finished_jobs=True)
        with pytest.raises(TypeError, match="exclude_finished_jobs must be True or False"):
            to_engine_policy(TruncationSelectionPolicy(truncation_percentage=25, exclude_finished_jobs="yes"))

    def test_no_policy_means_every_trial_runs_to_the_end_as_in_v2(self):
        assert to_engine_policy(None) == NoTerminationPolicy()

    @pytest.mark.parametrize("name, cls", [
        ("median_stopping", EngineMedian), ("MedianStopping", EngineMedian),
        ("truncation_selection", EngineTruncation), ("bandit", EngineBandit)])
    def test_policy_names_are_accepted_and_their_defaults_checked(self, name, cls):
        if cls is EngineMedian:
            assert to_engine_policy(name) == EngineMedian()
        else:  # v2's defaults (slack 0, percentage 0) cannot run: the error names what to set
            with pytest.raises(ValueError, match="slack_factor or slack_amount|truncation_percentage"):
                to_engine_policy(name)

    def test_bad_policies_are_refused_with_what_is_allowed(self):
        with pytest.raises(ValueError, match="not both"):
            BanditPolicy(slack_factor=0.1, slack_amount=0.2)
        with pytest.raises(ValueError, match=r"delay_evaluation=...\): must be an int >= 0"):
            MedianStoppingPolicy(delay_evaluation=-1)
        with pytest.raises(ValueError, match="early_termination_policy must be"):
            to_engine_policy("asha")
        with pytest.raises(TypeError):
            BanditPolicy(0.1)  # keyword-only, as in v2


class TestObjectiveAndLimits:
    def _sweep(self, **kwargs):
        job = command(command="python t.py --C ${{inputs.C}} --k ${{inputs.kernel}}", inputs={"C": 1.0, "kernel": "a"})
        return job(C=SPACE["C"], kernel=SPACE["kernel"]).sweep(primary_metric="Accuracy", goal="Maximize", **kwargs)

    def _config(self, job, tmp_path) -> HyperDriveConfig:
        (tmp_path / "code").mkdir(exist_ok=True)
        job.trial.code = str(tmp_path / "code")
        return plan_job(job, spec_path=str(tmp_path / "s.json"), outputs_root=str(tmp_path / "o"),
                        cwd=str(tmp_path)).config

    def test_goal_and_metric_reach_the_config(self, tmp_path):
        config = self._config(self._sweep(), tmp_path)
        assert (config.primary_metric_name, config.goal) == ("Accuracy", "maximize")
        with pytest.raises(ValueError, match="goal must be 'maximize' or 'minimize'"):
            command(command="x", inputs={"C": Uniform(0, 1)}).sweep(primary_metric="a", goal="up")
        with pytest.raises(ValueError, match="primary_metric must be the exact name"):
            command(command="x", inputs={"C": Uniform(0, 1)}).sweep(primary_metric="", goal="max" + "imize")

    def test_limits_map_to_the_engine_and_timeout_is_seconds(self, tmp_path):
        config = self._config(self._sweep(max_total_trials=12, max_concurrent_trials=4, timeout=90), tmp_path)
        assert (config.max_total_runs, config.max_concurrent_runs, config.max_duration_minutes) == (12, 4, 1.5)

    def test_unset_limits_are_1000_trials_or_the_grid_and_all_at_once(self, tmp_path):
        config = self._config(self._sweep(), tmp_path)
        assert (config.max_total_runs, config.max_concurrent_runs, config.max_duration_minutes) == (1000, None, None)
        grid = self._sweep(sampling_algorithm="grid")
        grid.search_space = {"kernel": Choice(["a", "b", "c"]), "C": Choice([1, 2])}
        assert self._config(grid, tmp_path).max_total_runs == 6

    def test_set_limits_changes_only_what_it_is_given(self):
        job = self._sweep(max_total_trials=20, max_concurrent_trials=10)
        job.set_limits(timeout=7200)
        assert (job.limits.max_total_trials, job.limits.max_concurrent_trials, job.limits.timeout) == (20, 10, 7200)
        job.set_limits(max_concurrent_trials=2)
        assert (job.limits.max_total_trials, job.limits.max_concurrent_trials) == (20, 2)

    @pytest.mark.parametrize("kwargs, message", [
        ({"max_total_trials": 0}, "max_total_trials must be from 1 to 1000"),
        ({"max_total_trials": 1001}, "max_total_trials must be from 1 to 1000"),
        ({"max_concurrent_trials": 2.5}, "max_concurrent_trials must be an int"),
        ({"timeout": -5}, "timeout must be a number of seconds > 0"),
        ({"trial_timeout": 0}, "trial_timeout must be a number of seconds > 0"),
    ])
    def test_bad_limits_are_refused_naming_the_limit(self, kwargs, message):
        with pytest.raises((TypeError, ValueError), match=message):
            SweepJobLimits(**kwargs)
        with pytest.raises((TypeError, ValueError), match=message):
            self._sweep().set_limits(**kwargs)

    def test_trial_timeout_maps_to_the_engines_per_trial_limit(self, tmp_path):
        job = self._sweep(trial_timeout=120)
        assert self._config(job, tmp_path).max_run_duration_seconds == 120

    def test_sweep_takes_distributions_from_inputs_and_search_space(self):
        job = command(command="python t.py --C ${{inputs.C}} --lr ${{inputs.lr}}", inputs={"C": 1.0, "lr": 0.1})
        sweep = job(C=Uniform(0, 1)).sweep(primary_metric="a", goal="minimize",
                                           search_space={"lr": LogUniform(-6, -1)})
        assert list(sweep.search_space) == ["C", "lr"] and sweep.inputs == {"lr": 0.1}
        assert isinstance(sweep, SweepJob) and sweep.name is None and sweep.status is None

    def test_calling_a_command_checks_the_input_names(self):
        job = command(command="python t.py --C ${{inputs.C}}", inputs={"C": 1.0})
        with pytest.raises(TypeError, match=r"\['c'\] are not inputs of this command; its inputs: \['C'\]"):
            job(c=Uniform(0, 1))
        assert job.inputs == {"C": 1.0}, "calling returns a copy"

    def test_cloud_inputs_are_refused_at_submit_naming_the_input(self, tmp_path, monkeypatch):
        monkeypatch.chdir(tmp_path)
        ml_client = MLClient(DefaultAzureCredential(), "s", "rg", "ws")
        job = command(command="python t.py --data ${{inputs.data}} --C ${{inputs.C}}",
                      inputs={"data": Input(type="uri_file", path="wasbs://datasets@x.blob.core.windows.net/iris.csv"),
                              "C": Uniform(0, 1)})
        with pytest.raises(ValidationException, match="input 'data'.*cloud location"):
            ml_client.jobs.create_or_update(job.sweep(primary_metric="a", goal="maximize", max_total_trials=1))
        assert not (tmp_path / ".hdnotebook" / "azure-ml" / "specs").exists() or \
            not list((tmp_path / ".hdnotebook" / "azure-ml" / "specs").glob("*.json")), "nothing written"


# ---------------------------------------------------------------------------------------------
# real sweeps: trials are processes running a script
# ---------------------------------------------------------------------------------------------
TRAIN = textwrap.dedent("""
    import argparse, json, os, sys
    parser = argparse.ArgumentParser()
    parser.add_argument("--C", type=float)
    parser.add_argument("--kernel")
    parser.add_argument("--data")
    parser.add_argument("--model_dir")
    parser.add_argument("--fail", default="no")
    parser.add_argument("--logger", default="mlflow")
    args = parser.parse_args()
    if args.fail == "yes":
        sys.exit("failing on purpose")
    rows = open(args.data).read().split()
    if args.logger == "mlflow":  # as v2 scripts log
        import mlflow
        mlflow.start_run()
        mlflow.log_param("kernel", args.kernel)
    else:  # hdnotebook's own run API: starts faster (mlflow takes seconds to import)
        from hdnotebook import Run
        mlflow = None
    for epoch in range(1, 4):
        value = args.C * epoch / 3 + (0.5 if args.kernel == "rbf" else 0.0) + len(rows) * 0
        if mlflow is not None:
            mlflow.log_metric("Accuracy", value, step=epoch)
        else:
            Run.get_context().log("Accuracy", value)
    os.makedirs("outputs", exist_ok=True)
    with open(os.path.join("outputs", "note.txt"), "w") as f:
        f.write(str(args.C))
    print("trained with C", args.C)
    with open(os.path.join(args.model_dir, "model.json"), "w") as f:
        json.dump({"C": args.C, "kernel": args.kernel, "env_C": os.environ["AZUREML_SWEEP_C"],
                   "python": sys.executable, "cwd": os.getcwd()}, f)
    if mlflow is not None:
        mlflow.end_run()
""")


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A folder with src/train.py and data/rows.txt, made the current folder (the workspace lands there)."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text(TRAIN)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "rows.txt").write_text("a b c")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _job(**inputs):
    return command(
        code="./src",
        command="python train.py --C ${{inputs.C}} --kernel ${{inputs.kernel}} --data ${{inputs.data}} "
                "--model_dir ${{outputs.model}} --fail ${{inputs.fail}} --logger ${{inputs.logger}}",
        inputs={"C": 1.0, "kernel": "linear", "data": Input(type="uri_file", path="data/rows.txt"), "fail": "no",
                "logger": "hdnotebook", **inputs},
        outputs={"model": Output(type="uri_folder")},
        environment="sklearn-env@latest", compute="cpu-cluster", experiment_name="v2-test",
    )


@pytest.mark.slow
def test_a_sweep_runs_every_trial_with_its_values_in_the_command_and_its_own_outputs(project):
    """The script logs with plain mlflow, as v2 scripts do; hdnotebook's tracking-store plugin takes
    the values to the trial's run."""
    pytest.importorskip("mlflow")
    ml_client = MLClient(DefaultAzureCredential(), "<SUBSCRIPTION_ID>", "<RESOURCE_GROUP>", "<WORKSPACE>")
    sweep_job = _job(logger="mlflow")(C=Uniform(min_value=0.5, max_value=1.5), kernel=Choice(values=["linear", "rbf"])).sweep(
        compute="cpu-cluster", sampling_algorithm=RandomSamplingAlgorithm(seed=3), primary_metric="Accuracy",
        goal="Maximize", max_total_trials=6, max_concurrent_trials=2)
    returned = ml_client.jobs.create_or_update(sweep_job)
    assert returned.name and returned.status in ("Running", "Completed") and returned.experiment_name == "v2-test"
    ml_client.jobs.stream(returned.name)
    done = ml_client.jobs.get(returned.name)
    assert done.status == "Completed"

    trials = list(ml_client.jobs.list(parent_job_name=returned.name))
    assert len(trials) == 6 and all(isinstance(t, CommandJob) for t in trials)
    assert sum(t.status == "Completed" for t in trials) == 6
    folders, working_dirs = set(), set()
    for trial in trials:
        assert trial.name.startswith(returned.name + "_")
        model = json.loads((open(os.path.join(trial.outputs["model"].path, "model.json"))).read())
        assert f"--C {trial.inputs['C']} --kernel {trial.inputs['kernel']} " in trial.command
        assert float(trial.inputs["C"]) == model["C"] and model["kernel"] == trial.inputs["kernel"]
        assert model["env_C"] == trial.inputs["C"], "AZUREML_SWEEP_<input> is set for the trial"
        assert os.path.samefile(os.path.dirname(model["python"]), os.path.dirname(os.sys.executable))
        folders.add(trial.outputs["model"].path)
        working_dirs.add(model["cwd"])
    assert len(folders) == 6, "each trial writes its own output folder"
    assert len(working_dirs) == 6, "each trial runs in its own copy of the code folder"

    # every value logged with mlflow reached the trial's run, in order
    engine_run = returned._run
    for child in engine_run.get_children():
        C = float(child.get_parameters()["C"])
        bonus = 0.5 if child.get_parameters()["kernel"] == "rbf" else 0.0
        assert child.get_metrics()["Accuracy"] == pytest.approx([C / 3 + bonus, 2 * C / 3 + bonus, C + bonus])

    # v2's best-trial properties agree with the engine's best run
    best = engine_run.get_best_run_by_primary_metric()
    assert done.properties["best_child_run_id"] == best.id
    assert float(done.properties["score"]) == max(best.get_metrics()["Accuracy"])

    ml_client.jobs.download(returned.name, output_name="model", download_path=str(project / "dl"))
    downloaded = json.loads((project / "dl" / "named-outputs" / "model" / "model.json").read_text())
    best_trial = ml_client.jobs.get(best.id)
    assert str(downloaded["C"]) == best_trial.inputs["C"], "download takes the best trial's output"

    ml_client.jobs.download(returned.name, download_path=str(project / "dl2"))
    assert (project / "dl2" / "artifacts" / "outputs" / "note.txt").read_text() == best_trial.inputs["C"]
    assert not (project / "dl2" / "named-outputs").exists(), "named outputs only with all=True or output_name"
    logs = [p for p in (project / "dl2" / "artifacts").rglob("*.txt") if "trained with C" in p.read_text()]
    assert len(logs) == 1, "the trial's output log comes along"
    ml_client.jobs.download(returned.name, download_path=str(project / "dl3"), all=True)
    assert (project / "dl3" / "named-outputs" / "model" / "model.json").exists()

    from hdnotebook.azure.ai.ml.entities import Model
    model = ml_client.models.create_or_update(Model(
        path=f"azureml://jobs/{best.id}/outputs/artifacts/paths/outputs/", name="m", type="custom_model"))
    assert open(os.path.join(model.path, "note.txt")).read() == best_trial.inputs["C"] and model.version == "1"
    with pytest.raises(ResourceNotFoundError, match="no file 'outputs/missing.pt'"):
        ml_client.models.create_or_update(Model(path=f"azureml://jobs/{best.id}/outputs/artifacts/paths/outputs/missing.pt"))

    # a new kernel finds the job by name in the store
    import subprocess
    import sys

    script = (
        "from hdnotebook.azure.ai.ml import MLClient\n"
        "from hdnotebook.azure.identity import DefaultAzureCredential\n"
        f"job = MLClient.from_config(DefaultAzureCredential()).jobs.get({returned.name!r})\n"
        "print(job.status, job.properties['best_child_run_id'], job.properties['score'])\n"
    )
    shown = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert shown.stdout.split() == ["Completed", best.id, done.properties["score"]]
    assert shown.stderr.count("MLClient is a local stand-in") == 1


@pytest.mark.slow
def test_failing_trials_fail_the_stream_and_each_counts(project):
    ml_client = MLClient(DefaultAzureCredential())
    sweep_job = _job()(fail=Choice(["yes"]), C=Choice([1.0, 2.0])).sweep(
        primary_metric="Accuracy", goal="maximize", sampling_algorithm="grid", max_concurrent_trials=2)
    returned = ml_client.jobs.create_or_update(sweep_job)
    returned._run.wait_for_completion()
    trials = list(ml_client.jobs.list(parent_job_name=returned.name))
    assert [t.status for t in trials] == ["Failed", "Failed"]
    assert "best_child_run_id" not in ml_client.jobs.get(returned.name).properties
    with pytest.raises(JobException):
        ml_client.jobs.download(returned.name, output_name="model")
    assert ml_client.jobs.get(returned.name).status == "Failed", "every trial failed"
    with pytest.raises(JobException, match="failed: every trial failed"):
        ml_client.jobs.stream(returned.name)


@pytest.mark.slow
def test_a_policy_stops_trials_and_begin_cancel_stops_the_sweep(project):
    ml_client = MLClient(DefaultAzureCredential())
    # Bandit with a tiny slack: a linear trial lies 0.5 below an rbf one at the same C
    sweep_job = _job()(kernel=Choice(["rbf", "linear"]), C=Choice([1.0])).sweep(
        primary_metric="Accuracy", goal="maximize", sampling_algorithm="grid", max_concurrent_trials=1,
        early_termination_policy=BanditPolicy(slack_amount=0.01, evaluation_interval=1))
    returned = ml_client.jobs.create_or_update(sweep_job)
    ml_client.jobs.stream(returned.name)
    statuses = {t.inputs["kernel"]: t.status for t in ml_client.jobs.list(parent_job_name=returned.name)}
    assert statuses == {"rbf": "Completed", "linear": "Canceled"}

    long_job = command(code="./src", command="python -c 'import time; time.sleep(60)' ${{inputs.x}}",
                       inputs={"x": Choice([1, 2, 3, 4])})
    running = ml_client.jobs.create_or_update(long_job.sweep(primary_metric="a", goal="maximize",
                                                             max_concurrent_trials=2, sampling_algorithm="grid"))
    ml_client.jobs.begin_cancel(running.name).result()
    running._run.wait_for_completion()
    assert ml_client.jobs.get(running.name).status == "Canceled"
    assert all(t.status == "Canceled" for t in ml_client.jobs.list(parent_job_name=running.name))


@pytest.mark.slow
def test_a_command_job_runs_once_with_its_inputs_as_parameters(project):
    ml_client = MLClient(DefaultAzureCredential())
    returned = ml_client.jobs.create_or_update(_job(C=0.75))
    assert isinstance(returned, CommandJob)
    ml_client.jobs.stream(returned.name)
    job = ml_client.jobs.get(returned.name)
    assert job.status == "Completed" and "--C 0.75 --kernel linear" in job.command
    (child,) = ml_client.jobs.list(parent_job_name=returned.name)
    assert child.inputs["C"] == "0.75"
    assert job.studio_url and job.experiment_name == "v2-test"
    assert COMMAND_JOB_METRIC.startswith("(command job")
    with pytest.raises(ResourceNotFoundError, match="no job named 'nope'"):
        ml_client.jobs.get("nope")

    # environment_variables reach the command; a job that exits non-zero is Failed
    check = "python -c 'import os, sys; sys.exit(os.environ[\"GREETING\"] != \"hi\")'"
    for greeting, status in (("hi", "Completed"), ("bye", "Failed")):
        named = ml_client.jobs.create_or_update(command(command=check, environment_variables={"GREETING": greeting}))
        named_run = find_job_run(ml_client.local_workspace, named.name)[0]
        named_run.wait_for_completion()
        assert ml_client.jobs.get(named.name).status == status


@pytest.mark.slow
def test_run_details_shows_a_sweep_job(project):
    from hdnotebook import RunDetails

    ml_client = MLClient(DefaultAzureCredential())
    returned = ml_client.jobs.create_or_update(_job()(C=Choice([0.5, 1.0, 1.5])).sweep(
        primary_metric="Accuracy", goal="maximize", sampling_algorithm="grid"))
    ml_client.jobs.stream(returned.name)
    widget = RunDetails(ml_client.jobs.get(returned.name))
    try:
        state = widget.state()
        assert len(state["runs"]) == 3 and all(state["series"][rid]["Accuracy"] for rid in state["runs"])
    finally:
        widget.close()


@pytest.mark.parametrize("module", [
    "_template", "_search_space", "_sweep_settings", "_command", "entities", "constants", "sweep"])
def test_docstring_examples_hold(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(f"hdnotebook.azure.ai.ml.{module}"))
    assert result.failed == 0 and result.attempted > 0


@pytest.mark.slow
def test_trial_timeout_cancels_the_trial_that_runs_too_long(project):
    ml_client = MLClient(DefaultAzureCredential())
    job = command(code="./src", command="python -c 'import sys, time; time.sleep(float(sys.argv[1]))' ${{inputs.seconds}}",
                  inputs={"seconds": Choice([0.2, 120])})
    returned = ml_client.jobs.create_or_update(job.sweep(
        primary_metric="a", goal="maximize", sampling_algorithm="grid", max_concurrent_trials=2, trial_timeout=2))
    returned._run.wait_for_completion()
    statuses = {t.inputs["seconds"]: t.status for t in ml_client.jobs.list(parent_job_name=returned.name)}
    assert statuses == {"0.2": "Completed", "120": "Canceled"}


@pytest.mark.slow
def test_gpus_reach_a_trial_only_when_its_command_asks(project, monkeypatch, capfd):
    monkeypatch.setenv("HDNOTEBOOK_GPUS", "2")  # the engine's stand-in for two GPUs on this machine
    ml_client = MLClient(DefaultAzureCredential())
    seen = {}
    for gpus in (1, 0):
        job = command(command='echo "[$CUDA_VISIBLE_DEVICES]" > ${{outputs.o}}/cvd.txt ${{inputs.x}}',
                      inputs={"x": Choice([1, 2])}, outputs={"o": Output()}, gpus=gpus)
        returned = ml_client.jobs.create_or_update(job.sweep(primary_metric="a", goal="maximize",
                                                             sampling_algorithm="grid"))
        returned._run.wait_for_completion()
        seen[gpus] = sorted(open(os.path.join(t.outputs["o"].path, "cvd.txt")).read().split()[0]
                            for t in ml_client.jobs.list(parent_job_name=returned.name))
    assert seen[1] == ["[0]", "[1]"], "each trial sees its own GPU"
    assert seen[0] == ["[]", "[]"], "a command that asks for no GPU sees none"
    assert capfd.readouterr().err.count("this machine has 2 GPU(s)") == 1
    with pytest.raises(ValueError, match="command: gpus must be >= 0"):
        command(command="python t.py", gpus=-1)
