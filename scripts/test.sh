#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what it needs, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --test
node scripts/run-tests.mjs "$@"
