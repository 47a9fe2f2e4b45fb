# Helpers for the integration tests: a private app + nginx per test file,
# curl through nginx, and checks that print one line each.
#
# A test file: . lib.sh; it_start [app args]; checks...; it_done.
set -uo pipefail
IT_DIR_SELF=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$IT_DIR_SELF/../../scripts/stack.sh"

IT_NAME=${IT_NAME:-$(basename "$0" .sh)}
IT_PASS=0
IT_FAIL=0
IT_TMP=$(mktemp -d /tmp/fcgi_app-it.XXXXXX)
trap 'it_cleanup' EXIT

it_cleanup() {
	stack_stop
	jobs -p | xargs -r kill 2>/dev/null
	wait 2>/dev/null
	if [ "$IT_FAIL" -gt 0 ]; then
		echo "--- $IT_NAME: app log (tail)"; tail -n 30 "$IT_TMP/stack/app.log" 2>/dev/null
		echo "--- $IT_NAME: nginx log (tail)"; tail -n 30 "$IT_TMP/stack/nginx.log" 2>/dev/null
	fi
	rm -rf "$IT_TMP"
}

# IT_START_APP=FUNCTION: how the app starts (default stack_start_app, e.g.
# "stack_start_app_activated systemd").
it_start() {
	local attempt
	for attempt in 1 2 3; do
		IT_PORT=$(stack_free_port)
		rm -rf "$IT_TMP/stack"
		stack_init "$IT_TMP/stack" "$IT_PORT"
		${IT_START_APP:-stack_start_app} "$@" || { IT_FAIL=$((IT_FAIL + 1)); exit 1; }
		# Another process may take the port between the check and bind.
		stack_start_nginx && break
		stack_stop
		[ "$attempt" = 3 ] && { IT_FAIL=$((IT_FAIL + 1)); exit 1; }
	done
	IT_URL=http://127.0.0.1:$IT_PORT
}


ok() { IT_PASS=$((IT_PASS + 1)); echo "ok   $IT_NAME: $1"; }
fail() { IT_FAIL=$((IT_FAIL + 1)); echo "FAIL $IT_NAME: $1"; }

# check NAME EXPECTED ACTUAL
check() {
	if [ "$2" == "$3" ]; then ok "$1"; else
		fail "$1"; printf '     expected: %q\n     actual:   %q\n' "$2" "$3"
	fi
}

# check_true NAME COMMAND...
check_true() {
	local name=$1; shift
	if "$@"; then ok "$name"; else fail "$name"; fi
}

# get [curl args] PATH: sets STATUS, CTYPE, BODY (exact bytes, via a file)
get() {
	local path=${!#} args=("${@:1:$#-1}")
	local out
	out=$(curl -s --max-time 30 "${args[@]}" -o "$IT_TMP/body" \
		-w '%{http_code}\n%{content_type}' "$IT_URL$path")
	STATUS=$(sed -n 1p <<<"$out")
	CTYPE=$(sed -n 2p <<<"$out")
	BODY=$(cat "$IT_TMP/body"; printf x)
	BODY=${BODY%x} # keep trailing newlines: bodies are compared exactly
	rm -f "$IT_TMP/body"
}

# The app's counter NAME from its status page.
counter() {
	curl -s --max-time 5 "$IT_URL/_fcgi_app/status" | awk -v k="$1" '$1 == k { print $2 }'
}

# Waits up to $2 s until counter $1 equals $3.
wait_counter() {
	local i
	for i in $(seq 1 $(($2 * 10))); do
		[ "$(counter "$1")" = "$3" ] && return 0
		sleep 0.1
	done
	return 1
}

now_ms() { date +%s%3N; }

# Stops the app: it must exit cleanly, status 0 on SIGTERM and, in
# sanitizer and valgrind builds, no report in its log (LeakSanitizer runs
# at exit).  Every instance a test starts goes through this.
it_stop_app() {
	local log=$IT_TMP/stack/app.log
	if [ -n "$STACK_APP_PID" ]; then
		local pid=$STACK_APP_PID rc
		kill -TERM "$pid" 2>/dev/null
		wait "$pid"; rc=$?
		STACK_APP_PID=""
		check "app exits 0 on SIGTERM" 0 "$rc"
	fi
	if [ ! -f "$log" ]; then
		fail "no app log at $log"
	elif grep -qE "Sanitizer|runtime error:|^==[0-9]+== " "$log"; then
		fail "sanitizer or valgrind report in the app log"
		grep -E -A20 "Sanitizer|runtime error:|^==[0-9]+== " "$log" | head -80
	else
		ok "no sanitizer or valgrind report in the app log"
	fi
}

it_done() {
	it_stop_app
	echo "$IT_NAME: $IT_PASS passed, $IT_FAIL failed"
	[ "$IT_FAIL" -eq 0 ]
}

# Waits for the test's own background clients, not the app or nginx.
wait_clients() {
	local pid
	for pid in $(jobs -p); do
		[ "$pid" = "$STACK_APP_PID" ] || [ "$pid" = "$STACK_NGINX_PID" ] || wait "$pid"
	done
}
