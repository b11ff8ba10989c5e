"""mlflow inside a trial: metrics logged with mlflow reach the run, through mlflow's own plugin point.

The training script uses plain mlflow (no tracking URI of its own), as an Azure ML script would;
the trials run in real processes and mlflow finds the store by the entry point
``mlflow.tracking_store: hdnotebook``.
"""

from __future__ import annotations

import importlib.metadata
import os
import sys
import tomllib
from pathlib import Path

import pytest

pytest.importorskip("mlflow")

from hdnotebook.azureml.core import Experiment, ScriptRunConfig, Workspace  # noqa: E402
from hdnotebook.azureml.train.hyperdrive import (  # noqa: E402
    BanditPolicy, GridParameterSampling, HyperDriveConfig, PrimaryMetricGoal, choice,
)

ROOT = Path(__file__).resolve().parent.parent
ENTRY_POINT = "hdnotebook.mlflow_store:TrialTrackingStore"

TRAIN = '''
import argparse
import mlflow

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float)
args = parser.parse_args()
mlflow.log_param("lr", args.lr)
mlflow.set_tag("framework", "plain-mlflow")
for epoch in range(4):
    mlflow.log_metric("accuracy", args.lr * (epoch + 1), step=epoch)
mlflow.log_metrics({"loss": 1 - args.lr})
'''


def _installed() -> bool:
    return any(ep.value == ENTRY_POINT for ep in importlib.metadata.entry_points(group="mlflow.tracking_store"))


def test_pyproject_registers_the_tracking_store_plugin():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["entry-points"]["mlflow.tracking_store"] == {"hdnotebook": ENTRY_POINT}


def test_mlflow_metrics_of_a_trial_reach_its_run_and_drive_the_best_run(tmp_path, monkeypatch):
    src = tmp_path / "src"
    src.mkdir()
    (src / "train.py").write_text(TRAIN)
    if not _installed():  # an install older than the entry point: declare it where the script's path finds it
        info = src / "hdnotebook_mlflow_plugin-0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: hdnotebook-mlflow-plugin\nVersion: 0\n")
        (info / "entry_points.txt").write_text(f"[mlflow.tracking_store]\nhdnotebook = {ENTRY_POINT}\n")
    monkeypatch.chdir(tmp_path)
    ws = Workspace.from_config()
    config = HyperDriveConfig(
        run_config=ScriptRunConfig(source_directory="src", script="train.py"),
        hyperparameter_sampling=GridParameterSampling({"lr": choice(0.1, 0.2, 0.05)}),
        policy=BanditPolicy(slack_factor=0.01, evaluation_interval=1, delay_evaluation=10),
        primary_metric_name="accuracy", primary_metric_goal=PrimaryMetricGoal.MAXIMIZE,
        max_total_runs=3, max_concurrent_runs=3)
    run = Experiment(ws, "mlflow").submit(config)
    run.wait_for_completion()
    children = run.get_children()
    assert [c.get_status() for c in children] == ["Completed"] * 3
    for child in children:
        lr = float(child.get_details()["runDefinition"]["arguments"][-1])
        metrics = child.get_metrics()
        assert metrics["accuracy"] == pytest.approx([lr, 2 * lr, 3 * lr, 4 * lr])
        assert metrics["loss"] == pytest.approx(1 - lr)
        assert child.tags["framework"] == "plain-mlflow"
    best = run.get_best_run_by_primary_metric()
    assert best.get_metrics()["accuracy"][-1] == pytest.approx(0.8)
