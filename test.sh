#!/usr/bin/env bash
# Runs every test of Tabula on a fresh machine: the Rust workspace (unit, property, reference,
# behaviour and end-to-end tests), the Python package's tests and the SBML cross-check against
# libRoadRunner. Installs what it needs (Python packages go into .venv, which is git-ignored).
set -euo pipefail
cd "$(dirname "$0")"

step() { printf '\n==> %s\n' "$*"; }

step "Rust: format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

step "Rust: tests"
cargo test --workspace --locked

if [ -x scripts/test-python.sh ]; then
  step "Python package and SBML cross-check"
  scripts/test-python.sh
fi

step "All tests passed"
