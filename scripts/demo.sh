#!/usr/bin/env bash
# make demo: the license workflow end to end.
set -euo pipefail
build=${1:-build}
exec "$build/bin/demo_ledger"
