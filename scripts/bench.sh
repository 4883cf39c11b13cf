#!/usr/bin/env bash
# Run every benchmark under build/bench; each prints a RESULT line last.
set -euo pipefail
build=${1:-build}
status=0
for b in "$build"/bench/bench_*; do
  [ -x "$b" ] || continue
  echo "== $(basename "$b")"
  "$b" || status=1
done
echo "== RESULT lines"
exit $status
