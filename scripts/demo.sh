#!/usr/bin/env bash
# The main job: a real tuning demo (scikit-learn digits, random sampling, the default early-termination
# policy, a live text progress table, then the best run and its parameters).
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS=examples bash scripts/setup.sh
exec .venv/bin/python -m hdnotebook.demo "$@"
