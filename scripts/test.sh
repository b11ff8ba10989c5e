#!/usr/bin/env bash
# The test command: sets up everything (Python packages, the JS build, Debian's chromium for the
# browser tests), then runs the whole test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS=test,examples bash scripts/setup.sh

if ! command -v chromium >/dev/null 2>&1; then
  echo "[test] installing Debian's chromium for the browser tests"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

# PyTorch, for the PyTorch notebook: only where a CPU build lies on this machine's disk (a PyPI
# download would be a CUDA build of several GB); elsewhere that notebook's test is skipped.
if ! .venv/bin/python -c "import torch" >/dev/null 2>&1; then
  for wheel in /opt/wheels/torch-*+cpu-*.whl; do
    [ -f "$wheel" ] || continue
    echo "[test] installing $(basename "$wheel") for the PyTorch notebook"
    .venv/bin/python -m pip install -q "$wheel" || echo "[test] torch did not install; its notebook test will be skipped"
    break
  done
fi

exec .venv/bin/python -m pytest "$@"
