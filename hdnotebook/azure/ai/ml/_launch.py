"""The process each v2 trial starts as: fill in the command template, then become that command.

The engine runs this file as a script trial (see :mod:`hdnotebook.azure.ai.ml._translate`) with
``--job-spec SPEC.json`` first, then ``--NAME VALUE`` for each sampled input. It fills the
``${{inputs.x}}``/``${{outputs.x}}`` references in, makes each output folder, sets
``AZUREML_SWEEP_<name>`` for every input and output (as Azure ML does for sweep trials), puts this
interpreter's folder first on ``PATH`` (so ``python`` in the command is the kernel's Python), and
``exec``s the command through the shell: the command keeps this process (and so the engine's
control over it) and the trial's connection settings in the environment.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from typing import Any

# run as a script (the engine starts a file), so the import is absolute
from hdnotebook.azure.ai.ml._template import render

__all__ = ["main", "parse_arguments", "output_folder"]

SPEC_FLAG = "--job-spec"
#: where the engine tells a script trial its run id (hdnotebook.run.ENV_RUN_ID; not imported, to start fast)
RUN_ID_VARIABLE = "HDNOTEBOOK_RUN_ID"


def parse_arguments(argv: list[str]) -> tuple[str, dict[str, str]]:
    """``[--job-spec PATH, --a 1, --b x]`` -> ``(PATH, {"a": "1", "b": "x"})`` (values may start with ``-``)."""
    if len(argv) < 2 or argv[0] != SPEC_FLAG or len(argv) % 2:
        raise SystemExit(f"hdnotebook v2 trial launcher: expected {SPEC_FLAG} PATH then --NAME VALUE pairs, got {argv}")
    sampled = {}
    for flag, value in zip(argv[2::2], argv[3::2]):
        if not flag.startswith("--"):
            raise SystemExit(f"hdnotebook v2 trial launcher: expected --NAME before {value!r}, got {flag!r}")
        sampled[flag[2:]] = value
    return argv[1], sampled


def output_folder(outputs_root: str, run_id: str, name: str) -> str:
    """Where trial ``run_id`` writes output ``name`` when the job gave it no path."""
    return os.path.join(outputs_root, run_id, name)


def resolve(spec: dict[str, Any], sampled: dict[str, str], run_id: str) -> tuple[str, dict[str, str]]:
    """The command to run and the variables to add, for this trial."""
    inputs = {**spec["inputs"], **sampled}
    outputs = {
        name: path if path is not None else output_folder(spec["outputs_root"], run_id, name)
        for name, path in spec["outputs"].items()
    }
    text = render(spec["command"], inputs, outputs)
    variables = {f"AZUREML_SWEEP_{k}": str(v) for k, v in {**inputs, **outputs}.items() if v is not None}
    variables.update(spec.get("environment_variables", {}))
    return text, variables


def main(argv: list[str] | None = None) -> None:
    spec_path, sampled = parse_arguments(sys.argv[1:] if argv is None else argv)
    with open(spec_path, encoding="utf-8") as f:
        spec = json.load(f)
    run_id = os.environ.get(RUN_ID_VARIABLE, "offline")
    text, variables = resolve(spec, sampled, run_id)
    for name, path in spec["outputs"].items():
        os.makedirs(path if path is not None else output_folder(spec["outputs_root"], run_id, name), exist_ok=True)
    env = dict(os.environ)
    env.update(variables)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    print(f"[hdnotebook] trial {run_id}: {text}", flush=True)
    shell = shutil.which("bash") or "/bin/sh"
    os.execve(shell, [shell, "-c", text], env)


if __name__ == "__main__":
    main()
