#!/usr/bin/env bash
# Runs every tests/integration/test_*.sh (each starts its own app + nginx
# on private ports) and prints one total line.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export BUILD=${BUILD:-build}
pass=0
fail=0
for t in "$here"/test_*.sh; do
	name=$(basename "$t" .sh)
	echo "== $name ($BUILD)"
	if timeout 600 bash "$t"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "== $name FAILED"; fi
done
# No stray processes may survive a test file.
if pgrep -f "$BUILD/fcgi_app --socket /tmp/fcgi_app-it" >/dev/null; then
	echo "FAIL stray fcgi_app processes:"; pgrep -af "$BUILD/fcgi_app --socket /tmp/fcgi_app-it"
	fail=$((fail + 1))
fi
echo "integration ($BUILD): $pass passed, $fail failed"
[ "$fail" -eq 0 ]
