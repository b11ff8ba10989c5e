#!/usr/bin/env bash
# The GPU checks, as one script for a lent CUDA machine (run from the repository root there):
# bench/gpu_check.py (4 torch trials at 0.5 GPU each) and notebook 06 executed on CUDA with nbclient.
# Such a machine has torch but not the widget packages: carry wheels for ipywidgets, anywidget,
# plotly, nbclient, nbformat, ipykernel and what they need (pip download --only-binary=:all:
# --python-version 3.12 ... -d .whl) and pass WHEELS=.whl. Results go to $OUT (or ./device-out).
set -u
OUT=${OUT:-device-out}
mkdir -p "$OUT"
if [ -n "${WHEELS:-}" ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site "$WHEELS"/*.whl || exit 1
  export PYTHONPATH=/tmp/site:$PWD
else
  export PYTHONPATH=$PWD
fi
export PYTHONUNBUFFERED=1
nvidia-smi -L
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.device_count())"
(cd /tmp && timeout 150 python3 "$OLDPWD/bench/gpu_check.py") 2>&1 | tee "$OUT/gpu_check.txt"
timeout 240 python3 - <<'PY' 2>&1 | tee "$OUT/nb06.txt"
import os, time
import nbformat
from nbclient import NotebookClient
nb = nbformat.read("notebooks/06_pytorch_gpu.ipynb", as_version=4)
os.makedirs("/tmp/nb06", exist_ok=True)
start = time.time()
NotebookClient(nb, timeout=200, kernel_name="python3", resources={"metadata": {"path": "/tmp/nb06"}}).execute()
print("notebook 06 executed in", round(time.time() - start, 1), "s")
for cell in nb.cells:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            print(output["text"][-2000:])
nbformat.write(nb, os.path.join(os.environ.get("OUT", "device-out"), "06_executed.ipynb"))
PY
