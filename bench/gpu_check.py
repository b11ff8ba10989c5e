"""GPU check for a machine with CUDA: 4 torch trials with gpus_per_trial=0.5, what each one used.

Usage: python bench/gpu_check.py      (needs torch with CUDA; prints one line per trial)

Each trial reports CUDA_VISIBLE_DEVICES, torch.cuda.current_device(), the device name and the
time it held the GPU, so sharing (two trials per GPU) and isolation (a trial sees only its GPU)
can be read off directly.
"""

from __future__ import annotations

import os
import tempfile
import time

from hdnotebook import Experiment, HyperDriveConfig, NoTerminationPolicy, RandomParameterSampling, Run, Workspace, choice


def torch_trial(size: int, seed: int) -> float:
    import torch

    run = Run.get_context()
    run.log("visible", os.environ.get("CUDA_VISIBLE_DEVICES", "unset"))
    run.log("device_count", torch.cuda.device_count())
    device = torch.device("cuda:0")
    run.log("device_name", torch.cuda.get_device_name(device))
    run.log("start", time.time())
    torch.manual_seed(seed)
    x = torch.randn(size, size, device=device)
    for _ in range(20):
        x = torch.tanh(x @ x / size)
    torch.cuda.synchronize()
    run.log("end", time.time())
    return float(x.abs().mean())


def main() -> None:
    config = HyperDriveConfig(
        estimator=torch_trial,
        hyperparameter_sampling=RandomParameterSampling({"size": choice(2048, 4096), "seed": choice(0, 1, 2, 3)}, seed=0),
        policy=NoTerminationPolicy(), primary_metric_name="score", primary_metric_goal="maximize",
        max_total_runs=4, gpus_per_trial=0.5,
    )
    run = Experiment(Workspace(tempfile.mkdtemp()), "gpu-check").submit(config)
    run.wait_for_completion()
    t0 = min(c.get_metrics().get("start", time.time()) for c in run.get_children())
    for child in run.get_children():
        m = child.get_metrics()
        details = child.get_details()
        print(f"{child.id}: status {details['status']}, assigned {details['properties'].get('gpus')}, "
              f"CUDA_VISIBLE_DEVICES={m.get('visible')}, sees {m.get('device_count')} device(s): "
              f"{m.get('device_name')}, on GPU {m.get('start', 0) - t0:.2f}-{m.get('end', 0) - t0:.2f} s"
              + (f", error {details['error']['message']}" if "error" in details else ""))


if __name__ == "__main__":
    main()
