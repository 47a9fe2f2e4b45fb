#!/usr/bin/env bash
# Signals as php-fpm users expect them: HUP and USR1 reopen the log file,
# USR2 is logged and ignored; none of them kills the app or loses a held
# request.  TERM, INT and QUIT drain: a held request is answered 503 and
# the app exits 0.
. "$(dirname "$0")/lib.sh"
FIRE_BODY='<u><i>This is a simple callback...FIRE!</i></u>'
LOGS=$IT_TMP/logs
mkdir -p "$LOGS"
# As root, the app runs as root here too: the log dir is its own.
LOG=$LOGS/app.log
it_start --log-file "$LOG"

# Waits up to 5 s for a line matching ERE $2 in file $1.
wait_line() { stack_wait "grep -qE '$2' '$1'" 5; }

check_true "the log goes to --log-file" grep -q 'msg=listening' "$LOG"
check "nothing but sanitizer output on stderr" "" "$(grep -v -E 'Sanitizer|runtime error' "$STACK_DIR/app.log")"
check "no access lines by default (--access-log is off)" 0 "$(grep -c 'msg=access' "$LOG")"

pid=$STACK_APP_PID
curl -s --max-time 30 -o "$IT_TMP/held" -w '%{http_code}' "$IT_URL/simple" >"$IT_TMP/held.st" &
held=$!
check_true "a /simple is held" wait_counter pending 5 1
before=$(counter requests_total)

# Each one: a line naming it, and the app goes on with the request held.
for sig in HUP USR1 USR2; do
	kill -"$sig" "$pid"
	check_true "SIG$sig is logged" wait_line "$LOG" "signal=$sig( |\$)"
	check_true "the app is alive after SIG$sig" kill -0 "$pid"
	check "the /simple is still held after SIG$sig" 1 "$(counter pending)"
	get /coro
	check "/coro is served after SIG$sig" 200 "$STATUS"
done
check_true "SIGHUP reopened the log" grep -qE 'level=info msg="log reopened" signal=HUP to=file' "$LOG"
check_true "SIGUSR1 reopened the log" grep -qE 'level=info msg="log reopened" signal=USR1 to=file' "$LOG"
check_true "SIGUSR2 says it is ignored" grep -qE 'level=warn msg="signal ignored: .*" signal=USR2$' "$LOG"
after=$(counter requests_total)
# The counters carry on: the same process, not a restarted one.
check_true "requests_total went on counting ($before -> $after)" [ "$after" -gt "$before" ]
get /simple/fire
wait "$held"
check "the held /simple completes after HUP, USR1 and USR2" "200 $FIRE_BODY" "$(cat "$IT_TMP/held.st") $(cat "$IT_TMP/held")"
check_true "the same process serves (pid $pid)" eval "[ $STACK_APP_PID = $pid ] && kill -0 $pid"

# logrotate: rename, signal, and the next lines land in a new file at the
# path.  The old file gets nothing more.
for sig in HUP USR1; do
	mv "$LOG" "$LOG.$sig"
	lines=$(wc -l <"$LOG.$sig")
	kill -"$sig" "$pid"
	check_true "SIG$sig: a new file at the path" wait_line "$LOG" "msg=\"log reopened\" signal=$sig"
	kill -USR2 "$pid" # one more line, after the reopen
	check_true "SIG$sig: later lines land in the new file" wait_line "$LOG" "signal ignored.*signal=USR2"
	check "SIG$sig: the renamed file got nothing more" "$lines" "$(wc -l <"$LOG.$sig")"
done
# A reopen that fails keeps the old file and says so in it.
mv "$LOG" "$LOG.keep"
mkdir "$LOG"
kill -HUP "$pid"
check_true "a failed reopen is logged in the old file" wait_line "$LOG.keep" \
	'level=error msg="cannot reopen the log file, still writing the old one" signal=HUP'
get /coro
check "/coro is served after a failed reopen" 200 "$STATUS"
rmdir "$LOG"
kill -HUP "$pid"
check_true "the next HUP reopens it" wait_line "$LOG" 'msg="log reopened" signal=HUP'

# The unit's ExecReload, run as systemd would (it sets MAINPID), reopens.
reload=$(sed -n 's/^ExecReload=//p' "$STACK_ROOT/dist/systemd/fcgi_app.service")
check_true "the unit has an ExecReload ($reload)" [ -n "$reload" ]
mv "$LOG" "$LOG.reload"
MAINPID=$pid eval "$reload"
check_true "ExecReload reopens the log" wait_line "$LOG" 'msg="log reopened" signal=HUP'
check_true "the app is alive after ExecReload" kill -0 "$pid"

# Drains: QUIT, then INT on a second instance (TERM: it_done, every test).
drain_check() {
	local sig=$1 rc
	curl -s --max-time 10 -D "$IT_TMP/h" -o /dev/null -w '%{http_code}' "$IT_URL/simple" >"$IT_TMP/st" &
	local c=$!
	check_true "SIG$sig: one /simple held" wait_counter pending 5 1
	kill -"$sig" "$STACK_APP_PID"
	wait "$c"
	check "SIG$sig: the held /simple is answered 503" 503 "$(cat "$IT_TMP/st")"
	check_true "SIG$sig: the 503 carries Retry-After" grep -qi '^Retry-After: 1' "$IT_TMP/h"
	wait "$STACK_APP_PID"; rc=$?
	check "SIG$sig: the app exits 0" 0 "$rc"
	check_true "SIG$sig: the socket is removed" [ ! -e "$STACK_SOCK" ]
	check_true "SIG$sig: the drain is logged" grep -qE "signal=$sig\$" "$LOG"
	STACK_APP_PID=""
}
drain_check QUIT
stack_start_app --log-file "$LOG" || fail "a second instance starts"
drain_check INT
# The access log from its variable, this time.
FCGI_APP_ACCESS_LOG=1 stack_start_app --log-file "$LOG" || fail "a third instance starts"
get /coro
check "the third instance serves" 200 "$STATUS"
check_true "FCGI_APP_ACCESS_LOG=1 turns the access log on" wait_line "$LOG" 'msg=access method=GET route=coro status=200 '

it_done
