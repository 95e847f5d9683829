#!/usr/bin/env bash
# A user's first install: build the wheel from this tree, install it with no
# extras into a fresh virtual environment, and run a small downstream project
# whose tests use every fixture (fake_clock with datetime on, gated_fake,
# gated_encoder, no_leaks, interleavings, a contract class), then the demo.
# Whatever they need beyond pytest must come from the runtime dependencies.
# On the way it checks that the sdist and the wheel both carry the LICENSE.
#
# usage: .ci/wheel_smoke.sh [python]   (default: python3)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
python=${1:-python3}
work=$(mktemp -d "${TMPDIR:-/tmp}/pc-wheel.XXXXXX")
trap 'rm -rf "$work"' EXIT

# build the sdist and the wheel in an environment of their own (the user's stays clean)
"$python" -m venv "$work/buildenv"
"$work/buildenv/bin/python" -m pip install -q build
"$work/buildenv/bin/python" -m build --outdir "$work/dist" "$root" >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
wheel=$(ls "$work"/dist/pytest_concurrency_kit-*.whl)
sdist=$(ls "$work"/dist/pytest_concurrency_kit-*.tar.gz)
echo "built $(basename "$sdist") and $(basename "$wheel")"
# the license travels with both
"$work/buildenv/bin/python" -m zipfile -l "$wheel" | grep -E 'dist-info/licenses/LICENSE\b'
tar -tzf "$sdist" | grep -E '^[^/]+/LICENSE$'
echo "sdist: $(tar -tzf "$sdist" | wc -l) files"
"$work/buildenv/bin/python" -m zipfile -e "$wheel" "$work/unpacked"
grep -E '^(License-Expression: |License-File: |Classifier: (Development Status|Framework)|Project-URL: |Requires-Dist: )' \
  "$work"/unpacked/*.dist-info/METADATA

"$python" -m venv "$work/venv"
# shellcheck disable=SC1091
source "$work/venv/bin/activate"
python -m pip install -q --upgrade pip >/dev/null
python -m pip install -q "$wheel"
python -m pip list --format=freeze

# the project runs from a copy outside this tree, so only the installed wheel is importable
cp -r "$root/.ci/smoke_project" "$work/project"
cd "$work/project"
python - <<'PY'
import pytest_concurrency, sys
assert "/site-packages/" in pytest_concurrency.__file__, pytest_concurrency.__file__
print("pytest_concurrency from", pytest_concurrency.__file__)
PY
python -m pytest -q -p no:randomly
python -m pytest_concurrency demo
