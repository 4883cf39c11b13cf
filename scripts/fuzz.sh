#!/bin/sh
# Run libFuzzer targets (make check-fuzz, make fuzz): scripts/fuzz.sh
# BUILD_DIR SECONDS TARGET...  Each fuzz_<target> starts from its committed
# seeds (tests/fuzz/corpus/<target>, only read) and a working corpus in
# BUILD_DIR/corpus/<target> (kept between runs, written by libFuzzer); runs
# for SECONDS; prints its executions.  Crashes, leaks, timeouts (25 s an
# input) and broken invariants land in BUILD_DIR/artifacts; the first
# failing target stops the run with its log.
set -u
build=$1
secs=$2
shift 2
src=$(cd "$(dirname "$0")/.." && pwd)
total=0
for t in "$@"; do
	bin=$build/fuzz/fuzz_$t
	work=$build/corpus/$t
	log=$build/fuzz-$t.log
	mkdir -p "$work" "$build/artifacts"
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  "$bin" -max_total_time="$secs" -timeout=25 -rss_limit_mb=2048 -print_final_stats=1 \
	  -artifact_prefix="$build/artifacts/$t-" "$work" "$src/tests/fuzz/corpus/$t" >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -1)
	files=$(ls "$work" | wc -l)
	printf 'fuzz_%-8s %10s executions in %s s (%s, working corpus %s files)\n' \
	  "$t" "${runs:-?}" "$secs" "${cov:-cov: ?}" "$files"
	if [ $rc -ne 0 ]; then
		tail -60 "$log"
		echo "fuzz_$t failed: $log; the input is in $build/artifacts/"
		exit 1
	fi
	total=$((total + ${runs:-0}))
done
echo "fuzzing: $total executions in all, no finding"
