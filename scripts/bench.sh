#!/usr/bin/env bash
# make bench: run every benchmark under build/bench; each prints a RESULT line
# last, and they are repeated together at the end.
set -euo pipefail
build=${1:-build}
status=0
results=()
for b in "$build"/bench/bench_*; do
  [ -x "$b" ] || continue
  echo "== $(basename "$b")"
  out=$("$b" 2>&1 | tee /dev/stderr) || status=1
  results+=("$(printf '%s\n' "$out" | grep '^RESULT' | tail -1)")
done
echo "== RESULT lines"
printf '%s\n' "${results[@]}"
exit $status
