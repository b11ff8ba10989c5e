#!/usr/bin/env bash
# Set up everything hdnotebook needs on a fresh machine: a virtualenv in .venv, the front-end
# bundles (npm), and the package itself (editable) with the extras named in $EXTRAS.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
EXTRAS=${EXTRAS:-examples}

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip

# Front-end bundles: built from js/ into hdnotebook/static (never committed).
for dir in js js/labextension; do
  if [ -f "$dir/package.json" ]; then
    echo "[setup] building $dir"
    (cd "$dir" && { [ -f package-lock.json ] && npm ci --no-audit --no-fund --loglevel=error || npm install --no-audit --no-fund --loglevel=error; } && npm run build --silent)
  fi
done

echo "[setup] installing hdnotebook[$EXTRAS]"
# the bundles are built above (npm ci: the lockfiles exactly), so the build hook need not build them again
SKIP_JUPYTER_BUILDER=1 .venv/bin/python -m pip install -q -e ".[$EXTRAS]"
