#!/usr/bin/env bash
# Runs every test of Tabula on a fresh machine: the Rust workspace (unit, property, reference,
# behaviour and end-to-end tests), the Python package's tests and the SBML cross-check against
# libRoadRunner. Installs what it needs: Python packages go into virtual environments under
# target/ (target/python-venv, target/sbml-venv), which is git-ignored.
set -euo pipefail
cd "$(dirname "$0")"
# A one-off build gains nothing from incremental caches, which are large.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

step() { printf '\n==> %s\n' "$*"; }

step "Rust: format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

step "Rust: tests"
cargo test --workspace --locked

step "Validation: every target, and the mechanism knock-outs break what biology says they must"
# The test profile (optimised a little) reuses what `cargo test` built.
cargo run --quiet --locked --profile test -p tabula-cli -- validate --knockouts --quiet --no-report

step "Python package: build with maturin, pytest (API, pickling, Dask example)"
bash scripts/test_python.sh -q

step "SBML export cross-checked against libRoadRunner on every built-in scenario"
bash tests/sbml/run.sh

step "All tests passed"
