#!/usr/bin/env bash
# Runs every tests/integration/test_*.sh (each starts its own app + nginx
# on private ports) and prints one total line.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export BUILD=${BUILD:-build}
pass=0
fail=0
# Every process a test starts inherits this token, so whatever a test
# leaves running (an app with any arguments, nginx, a client) is told from
# anyone else's (a `make run` beside the tests) by its environment.
export FCGI_APP_IT_RUN="$$.$(date +%s%N)"
strays() {
	local d p
	for d in /proc/[0-9]*; do
		p=${d#/proc/}
		[ "$p" = $$ ] || [ "$p" = "$BASHPID" ] && continue
		grep -qzx "FCGI_APP_IT_RUN=$FCGI_APP_IT_RUN" "$d/environ" 2>/dev/null && echo "$p"
	done
}
for t in "$here"/test_*.sh; do
	name=$(basename "$t" .sh)
	echo "== $name ($BUILD)"
	if timeout 600 bash "$t"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "== $name FAILED"; fi
	# No process may survive its test file.
	s=$(strays)
	if [ -n "$s" ]; then
		echo "FAIL $name left processes behind:"
		for p in $s; do ps -o pid=,args= -p "$p"; done
		kill -9 $s 2>/dev/null
		fail=$((fail + 1))
	fi
done
echo "integration ($BUILD): $pass passed, $fail failed"
[ "$fail" -eq 0 ]
