#!/usr/bin/env bash
# Cross-checks every built-in scenario exported as SBML against libRoadRunner.
#
#   bash tests/sbml/run.sh [crosscheck.py options]
#
# Creates (once) a virtual environment with the pinned packages of requirements.txt, builds the
# tabula command, then runs crosscheck.py. Environment:
#   TABULA_SBML_VENV   where the virtual environment lives (default: target/sbml-venv)
#   TABULA_BIN         an already built tabula binary (default: build with cargo, dev profile)
#   PYTHON             the interpreter that creates the environment (default: python3)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
venv="${TABULA_SBML_VENV:-$root/target/sbml-venv}"
req="$root/tests/sbml/requirements.txt"
if [ ! -x "$venv/bin/python" ] || ! cmp -s "$req" "$venv/requirements.txt"; then
    echo "creating $venv"
    "${PYTHON:-python3}" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
    cp "$req" "$venv/requirements.txt"
fi
if [ -z "${TABULA_BIN:-}" ]; then
    cargo build --quiet -p tabula-cli
    target="${CARGO_TARGET_DIR:-$root/target}"
    TABULA_BIN="$target/debug/tabula"
fi
exec "$venv/bin/python" "$root/tests/sbml/crosscheck.py" --tabula "$TABULA_BIN" "$@"
