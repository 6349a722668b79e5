#!/bin/sh
# run.sh BUILD [FILTER]: run the unit tests, the end-to-end tests and the
# browser tests against BUILD/gatehouse and print one summary line
# "N passed, N failed".
set -u
build=${1:-build}
filter=${2:-}
top=$(cd "$(dirname "$0")/.." && pwd)
log="$build/test.log"
: > "$log"

case "$build" in */san*) sanitized=1 ;; *) sanitized=0 ;; esac
export GH_BUILD="$top/$build" GH_SANITIZED=$sanitized
# Sanitizer reports fail the run: any ASan/UBSan finding aborts the process.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:halt_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

echo "# unit tests ($build/unit-tests)"
"$build/unit-tests" $filter 2>&1 | tee -a "$log"
echo "# end-to-end tests (tests/e2e)"
/usr/bin/python3 "$top/tests/e2e/run.py" $filter 2>&1 | tee -a "$log"
# Browser tests: Debian's Chromium driven by playwright-core (build/npm),
# node:test with TAP output ("ok N - ..." lines, counted below). A filter
# that does not name them ("browser", "console") leaves them out.
case "browser console" in
*"$filter"*)
	echo "# browser tests (tests/browser, screenshots in $build/screenshots)"
	# Each file runs as its own program, so its tests are top-level TAP lines
	# with Node 18 (Debian 12) as with later versions.
	for f in "$top"/tests/browser/*.test.mjs; do
		GH_SCREENSHOTS="$top/$build/screenshots" node --test-reporter=tap "$f" 2>&1 | tee -a "$log"
	done
	;;
esac

passed=$(grep -c '^ok ' "$log")
failed=$(grep -c '^not ok ' "$log")
if grep -q -e 'ERROR: AddressSanitizer' -e 'runtime error:' -e 'ERROR: LeakSanitizer' "$log"; then
	echo "# sanitizer reports found in $log"
	failed=$((failed + 1))
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
