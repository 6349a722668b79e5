#!/bin/sh
# run.sh BUILD: build every benchmark program and run them in turn, printing
# one table. Called by `make bench`.
#
# A benchmark is a file tests/bench/bench_NAME.c, built by the Makefile as
# BUILD/bench-NAME; adding one needs nothing here. Each program prints one
# line per figure on stdout, four tab-separated fields:
#     benchmark <TAB> figure <TAB> unit <TAB> ratio (may be empty)
# and its diagnostics on stderr. Benchmarks report figures and ratios and
# never judge timings; this script exits non-zero only when a benchmark
# cannot be built or a program fails (exit status other than 0).
# BENCH_SECONDS (default 0.5) is each throughput figure's time budget.
set -u
build=${1:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1

programs=
for src in tests/bench/bench_*.c; do
	[ -e "$src" ] || continue
	name=$(basename "$src" .c)
	programs="$programs $build/bench-${name#bench_}"
done
[ -n "$programs" ] || { echo "run.sh: no benchmark in tests/bench" >&2; exit 1; }

# shellcheck disable=SC2086 # the list is split on purpose
${MAKE:-make} -s --no-print-directory BUILD="$build" $programs || exit 1

status_file=$(mktemp) || exit 1
trap 'rm -f "$status_file"' EXIT
failed=0
printf '%-46s %12s  %-10s %s\n' benchmark figure unit ratio
for prog in $programs; do
	echo 0 > "$status_file"
	{ "$prog" || echo $? > "$status_file"; } |
		awk -F '\t' 'NF < 3 { print; fflush(); next }
			{ line = sprintf("%-46s %12s  %-10s %s", $1, $2, $3, $4); sub(/ +$/, "", line); print line; fflush() }'
	status=$(cat "$status_file")
	if [ "$status" -ne 0 ]; then
		echo "run.sh: $prog failed (exit status $status)" >&2
		failed=$((failed + 1))
	fi
done
# Benchmarks that need a running appliance and real peers are scripts.
for script in tests/bench/bench_*.py; do
	[ -x "$script" ] || continue
	echo 0 > "$status_file"
	{ "$script" "$build" || { echo "run.sh: $script failed" >&2; echo 1 > "$status_file"; }; } |
		awk -F '\t' 'NF < 3 { print; fflush(); next }
			{ line = sprintf("%-46s %12s  %-10s %s", $1, $2, $3, $4); sub(/ +$/, "", line); print line; fflush() }'
	[ "$(cat "$status_file")" -eq 0 ] || failed=$((failed + 1))
done
# Benchmarks in a real browser (Debian's Chromium through playwright-core,
# installed by `make test-run` into build/npm) are Node scripts.
for script in tests/bench/bench_*.mjs; do
	[ -e "$script" ] || continue
	${MAKE:-make} -s --no-print-directory build/npm/.ok || exit 1
	echo 0 > "$status_file"
	{ node "$script" "$build" || { echo "run.sh: $script failed" >&2; echo 1 > "$status_file"; }; } |
		awk -F '\t' 'NF < 3 { print; fflush(); next }
			{ line = sprintf("%-46s %12s  %-10s %s", $1, $2, $3, $4); sub(/ +$/, "", line); print line; fflush() }'
	[ "$(cat "$status_file")" -eq 0 ] || failed=$((failed + 1))
done
[ "$failed" -eq 0 ]
