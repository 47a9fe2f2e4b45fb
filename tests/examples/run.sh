#!/usr/bin/env bash
# Runs each example program of examples/ and compares what it prints with
# what the page's Python prints (tests/examples/*.expected).  WRAP (e.g.
# "valgrind -q --error-exitcode=99 --leak-check=full") runs each under a
# checker; a checker's report fails the case through its exit status.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${BUILD:-build}
WRAP=${WRAP:-}
pass=0
fail=0

# case NAME EXPECTED_FILE PROGRAM ARGS...
case_() {
	local name=$1 expected=$2 out rc
	shift 2
	out=$($WRAP "$@" 2>"$BUILD/examples/stderr.log"; echo "rc=$?")
	rc=${out##*rc=}
	out=${out%rc=*}
	if [ "$rc" = 0 ] && [ "$out" == "$(cat "$expected")"$'\n' ] && ! [ -s "$BUILD/examples/stderr.log" ]; then
		pass=$((pass + 1)); echo "ok   examples: $name"
	else
		fail=$((fail + 1)); echo "FAIL examples: $name (exit $rc)"
		diff <(cat "$expected") <(printf '%s' "$out") | head -20
		head -20 "$BUILD/examples/stderr.log"
	fi
}

O=$BUILD/examples/overview
case_ "overview: d.callback(100) prints 110" "$here/overview-100.expected" "$O" callback 100
case_ "overview: d.callback(\"one hundred\") takes the errback path" \
	"$here/overview-one-hundred.expected" "$O" callback "one hundred"
case_ "overview: succeed(200) and fail(Exception())" "$here/overview-succeed-fail.expected" "$O" succeed-fail
echo "examples ($BUILD): $pass passed, $fail failed"
[ "$fail" -eq 0 ]
