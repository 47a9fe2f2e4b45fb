#!/usr/bin/env bash
# scripts/run.sh (`make run`) ends with the app: when the app dies, nginx is
# stopped and run.sh exits with the app's status, instead of nginx answering
# 502 until Ctrl-C.  Also: nginx dying stops the app, and stopping run.sh
# (Ctrl-C, SIGTERM) stops both with status 0, and so does SIGHUP (a closed
# terminal) with status 129.
. "$(dirname "$0")/lib.sh"

RUN_PID=""
RUN_PORT=""
RUN_APP=""
RUN_NGINX=""
RUN_DIR=""
RUN_WORKERS=""

# Starts run.sh on a free port; sets RUN_* once the stack answers.
run_start() {
	RUN_PORT=$(stack_free_port)
	PORT=$RUN_PORT "$STACK_ROOT/scripts/run.sh" >"$IT_TMP/run.out" 2>"$IT_TMP/run.err" &
	RUN_PID=$!
	if ! stack_wait "curl -sf -o /dev/null http://127.0.0.1:$RUN_PORT/coro" 30; then
		fail "run.sh came up on port $RUN_PORT"
		cat "$IT_TMP/run.err"
		return 1
	fi
	RUN_APP=$(pgrep -P "$RUN_PID" -x fcgi_app)
	RUN_NGINX=$(pgrep -P "$RUN_PID" -x nginx)
	RUN_WORKERS=$(pgrep -P "$RUN_NGINX" | tr '\n' ' ')
	RUN_DIR=$(ps -o args= -p "$RUN_NGINX" | sed -n 's#.* -c \(.*\)/nginx.conf .*#\1#p')
	[ -n "$RUN_APP" ] && [ -n "$RUN_NGINX" ] && [ -n "$RUN_WORKERS" ] && [ -d "$RUN_DIR" ]
}

# Waits up to 20 s for run.sh; sets RUN_RC and RUN_MS (time since $1).
run_wait() {
	local t0=$1 i rc hung=0
	for i in $(seq 1 200); do kill -0 "$RUN_PID" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$RUN_PID" 2>/dev/null; then
		# Hung: end it and what it started (its EXIT trap will not run).
		kill -KILL "$RUN_PID" $RUN_APP $RUN_NGINX $RUN_WORKERS 2>/dev/null
		case $RUN_DIR in /tmp/fcgi_app-run.*) rm -rf "$RUN_DIR" ;; esac
		hung=1
	fi
	wait "$RUN_PID"; rc=$?
	RUN_MS=$(($(now_ms) - t0))
	if [ "$hung" = 1 ]; then RUN_RC=timeout; else RUN_RC=$rc; fi
}

# Whether any of the pids in $1 still runs.
any_alive() {
	local p
	for p in $1; do kill -0 "$p" 2>/dev/null && return 0; done
	return 1
}

# The checks every ending shares: nothing of the stack is left.
run_gone() {
	local what=$1
	check_true "$what: the app is gone" eval "! kill -0 $RUN_APP 2>/dev/null"
	check_true "$what: nginx's master is gone" eval "! kill -0 $RUN_NGINX 2>/dev/null"
	check_true "$what: nginx's workers are gone" eval "! any_alive '$RUN_WORKERS'"
	check "$what: nothing listens on the port" "" "$(ss -Hltn "sport = :$RUN_PORT")"
	check_true "$what: run.sh's private dir is removed" [ ! -e "$RUN_DIR" ]
}

# 1. The app is killed (a crash): run.sh passes its status on, at once.
if run_start; then
	ok "run.sh serves /coro through nginx"
	curl -s --max-time 20 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$RUN_PORT/simple" >"$IT_TMP/held" &
	held=$!
	check_true "a /simple is held" stack_wait \
		"curl -s http://127.0.0.1:$RUN_PORT/_fcgi_app/status | grep -qx 'pending 1'" 10
	t0=$(now_ms)
	kill -KILL "$RUN_APP"
	run_wait "$t0"
	check "run.sh exits with the killed app's status (128 + 9)" 137 "$RUN_RC"
	check_true "run.sh exited ${RUN_MS} ms after the app died (< 5000)" [ "$RUN_MS" -lt 5000 ]
	run_gone "app killed"
	check_true "run.sh says the app exited" grep -q "fcgi_app exited (status 137); stopping nginx" "$IT_TMP/run.err"
	wait "$held"
	check_true "the held client got an answer, not a hang ($(cat "$IT_TMP/held"))" \
		grep -qE '^(502|000)$' "$IT_TMP/held"
fi

# 2. The app stops cleanly on its own (SIGTERM to it alone): status 0.
if run_start; then
	t0=$(now_ms)
	kill -TERM "$RUN_APP"
	run_wait "$t0"
	check "run.sh exits 0 after the app exits 0" 0 "$RUN_RC"
	# The app's own exit is in it (in sanitizer builds, LeakSanitizer's
	# scan: seconds on a loaded machine), hence more room than above.
	check_true "run.sh exited ${RUN_MS} ms after SIGTERM to the app (< 10000)" [ "$RUN_MS" -lt 10000 ]
	run_gone "app stopped"
fi

# 3. nginx dies: the app is stopped and run.sh fails.
if run_start; then
	t0=$(now_ms)
	kill -KILL "$RUN_NGINX"
	run_wait "$t0"
	check_true "run.sh exits non-zero after nginx died ($RUN_RC)" eval '[ "$RUN_RC" != 0 ] && [ "$RUN_RC" != timeout ]'
	check_true "run.sh exited ${RUN_MS} ms after nginx died (< 10000, the app's drain and exit included)" [ "$RUN_MS" -lt 10000 ]
	check_true "run.sh says nginx exited" grep -q "nginx exited (status 137); stopping fcgi_app" "$IT_TMP/run.err"
	check_true "nginx killed: the app is gone" eval "! kill -0 $RUN_APP 2>/dev/null"
	check_true "nginx killed: the app drained on its SIGTERM" grep -q 'msg=draining' "$IT_TMP/run.err"
	check_true "nginx killed: run.sh's private dir is removed" [ ! -e "$RUN_DIR" ]
	# A master killed with SIGKILL leaves its workers behind (nothing run.sh
	# can see): end them here.
	for p in $RUN_WORKERS; do kill -KILL "$p" 2>/dev/null; done
fi

# 4. run.sh itself is stopped (what Ctrl-C does): both go, status 0.
if run_start; then
	t0=$(now_ms)
	kill -TERM "$RUN_PID"
	run_wait "$t0"
	check "run.sh exits 0 when stopped" 0 "$RUN_RC"
	run_gone "run.sh stopped"
	check_true "the app exited 0 on its SIGTERM" eval "! grep -q 'fcgi_app exited' '$IT_TMP/run.err'"
fi

# 5. The terminal closes (SIGHUP to run.sh): both go, status 129.
if run_start; then
	t0=$(now_ms)
	kill -HUP "$RUN_PID"
	run_wait "$t0"
	check "run.sh exits 129 on SIGHUP" 129 "$RUN_RC"
	run_gone "run.sh hung up"
fi

if grep -qE "Sanitizer|runtime error:" "$IT_TMP/run.err"; then
	fail "sanitizer report in run.sh's output"
	grep -E -A20 "Sanitizer|runtime error:" "$IT_TMP/run.err" | head -60
else
	ok "no sanitizer report in run.sh's output"
fi
echo "$IT_NAME: $IT_PASS passed, $IT_FAIL failed"
[ "$IT_FAIL" -eq 0 ]
