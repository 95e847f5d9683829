#!/usr/bin/env bash
# A user's first install: build the wheel from this tree, install it with no
# extras into a fresh virtual environment, and run a small downstream project
# whose tests use every fixture (fake_clock with datetime on, gated_fake,
# gated_encoder, no_leaks, interleavings, a contract class), then the demo.
# Whatever they need beyond pytest must come from the runtime dependencies.
#
# usage: .ci/wheel_smoke.sh [python]   (default: python3)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
python=${1:-python3}
work=$(mktemp -d "${TMPDIR:-/tmp}/pc-wheel.XXXXXX")
trap 'rm -rf "$work"' EXIT

"$python" -m venv "$work/venv"
# shellcheck disable=SC1091
source "$work/venv/bin/activate"
python -m pip install -q --upgrade pip >/dev/null
python -m pip wheel -q --no-deps -w "$work/dist" "$root"
wheel=$(ls "$work"/dist/pytest_concurrency_kit-*.whl)
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
