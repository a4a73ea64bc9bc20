#!/usr/bin/env bash
# Builds and installs the Python package into a fresh virtual environment, then runs its tests.
#
#   bash scripts/test_python.sh [pytest options]
#
# Environment: TABULA_PY_VENV (default target/python-venv), PYTHON (default python3),
# MATURIN_PEP517_ARGS (default "--profile dev": a debug build, which shares compiled
# dependencies with `cargo test` and takes minutes rather than the quarter of an hour an
# optimised build takes on 2 cores; set it to "" to test the release build users get).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
venv="${TABULA_PY_VENV:-$root/target/python-venv}"
if [ ! -x "$venv/bin/python" ]; then
    "${PYTHON:-python3}" -m venv "$venv"
fi
export MATURIN_PEP517_ARGS="${MATURIN_PEP517_ARGS---profile dev}"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "./python[test,dask]"
"$venv/bin/python" -m pytest "$root/python/tests" "$@"
