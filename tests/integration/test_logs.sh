#!/usr/bin/env bash
# Logs: nginx's $request_id on every line about a request, the optional
# access log, rate-limited lines about 503 and 504 answers (every one
# either logged or counted), hostile REQUEST_ID and method values, and
# syslog priority prefixes when (and only when) stderr is the journal.
. "$(dirname "$0")/lib.sh"
HEX32='[0-9a-f]{32}'
JLOG=$IT_TMP/journal.log
: >"$JLOG"
# Instance 1: JOURNAL_STREAM names another file than its stderr (as for a
# child of a journald service whose stderr was redirected): no prefixes.
export JOURNAL_STREAM
JOURNAL_STREAM=$(stat -c %d:%i "$JLOG")
it_start --access-log --error-log-rate 3 --max-pending 2 --pending-timeout 3 \
	--log-level debug
unset JOURNAL_STREAM
LOG=$STACK_DIR/app.log

# The last access line for route $1 (after the request that made it).
access() { grep -E "msg=access .*route=$1 " "$LOG" | tail -1; }
# Waits up to 5 s for a line matching ERE $1.
wait_line() { stack_wait "grep -qE '$1' '$LOG'" 5; }

get /coro
check_true "an access line for /coro: method, route, status, duration, nginx's request id" \
	grep -qE "^ts=[^ ]+ level=info msg=access method=GET route=coro status=200 duration_ms=[0-9]+\.[0-9]{3} request_id=$HEX32\$" <<<"$(access coro)"
curl -s -o /dev/null -I --max-time 5 "$IT_URL/error"
check_true "HEAD /error: method=HEAD status=400" grep -qE "method=HEAD route=error status=400 .*request_id=$HEX32\$" <<<"$(access error)"
curl -s -o /dev/null -X POST --max-time 5 "$IT_URL/nope"
check_true "POST /nope: route=not_found status=404" grep -qE "method=POST route=not_found status=404 " <<<"$(access not_found)"
get /sleep/1
line=$(access sleep)
ms=$(sed -E 's/.* duration_ms=([0-9]+)\..*/\1/' <<<"$line")
check_true "/sleep/1's duration is 1000-1900 ms ($ms)" eval '[ "$ms" -ge 1000 ] && [ "$ms" -lt 1900 ]'
curl -s -o /dev/null --max-time 5 "$IT_URL/_fcgi_app/status"
check_true "the status page: route=status" grep -qE "route=status status=200 " <<<"$(access status)"
n=$(grep -c 'msg=access' "$LOG")
u=$(grep 'msg=access' "$LOG" | grep -oE 'request_id=[^ ]+' | sort -u | wc -l)
check "every request has its own id ($n lines)" "$n" "$u"

# On stderr, SIGHUP has nothing to reopen: it says so, and nothing else.
kill -HUP "$STACK_APP_PID"
check_true "SIGHUP on stderr: a line, nothing to reopen" wait_line 'level=info msg="log on stderr, nothing to reopen" signal=HUP$'
get /coro
check "SIGHUP on stderr: the app serves on" 200 "$STATUS"

# A client that gives up: 499 (nginx's code for it), and the debug line
# about it carries the same id.
curl -s --max-time 1 -o /dev/null "$IT_URL/simple"
check_true "an aborted /simple is logged with status 499" wait_line "msg=access method=GET route=simple status=499 "
id=$(access simple | grep -oE "request_id=$HEX32")
check_true "the 'client went away' line has its request id (${id:-none})" \
	grep -qE "level=debug msg=\"client went away\" route=simple $id\$" "$LOG"

# Hostile values straight on the socket: kept when they are tokens, else
# left out, never written raw.
peer() { python3 "$IT_DIR_SELF/peer.py" get "$STACK_SOCK" /coro "$@" >/dev/null; }
peer GET 'abc-123.X_y~'
check_true "a token REQUEST_ID is logged as sent" grep -qE 'method=GET route=coro status=200 .* request_id=abc-123\.X_y~$' <<<"$(access coro)"
peer GET 'x\nts=forged level=error msg=injected'
check_true "a REQUEST_ID with a newline is left out" grep -qE 'route=coro status=200 .* request_id=-$' <<<"$(access coro)"
peer GET "$(printf 'a%.0s' $(seq 1 65))"
check_true "a 65-byte REQUEST_ID is left out" grep -qE 'route=coro .* request_id=-$' <<<"$(access coro)"
peer 'G"ET x=1' 'ok1'
check_true "a method that is not a token is left out" grep -qE 'method=- route=coro status=200 .* request_id=ok1$' <<<"$(access coro)"
check "no line was injected" 0 "$(grep -c 'injected' "$LOG")"

# 503s at the pending cap (2): three lines a second at most, the rest
# counted; each line has the route, the status, the id and the reason.
for i in 1 2; do curl -s --max-time 10 -o "$IT_TMP/held$i" -w '%{http_code}' "$IT_URL/simple" >"$IT_TMP/held$i.st" & done
check_true "two /simple held (the cap)" wait_counter pending 5 2
# One curl, 20 requests at once (-Z; each its own -o).
urls=(); for i in $(seq 1 20); do urls+=(-o /dev/null "$IT_URL/simple"); done
t0=$(now_ms)
codes=$(curl -s -Z --parallel-immediate -w '%{http_code} ' --max-time 10 "${urls[@]}")
t=$(( $(now_ms) - t0 ))
check "20 /simple over the cap are 503" "$(printf '503 %.0s' $(seq 1 20))" "$codes"
lines=$(grep -c 'msg="answered 503"' "$LOG")
if [ "$t" -lt 900 ]; then
	check "a burst of 20 in ${t} ms gives 3 lines (--error-log-rate 3)" 3 "$lines"
else
	check_true "a burst of 20 in ${t} ms gives at most 3 lines a second ($lines)" [ "$lines" -le $(( (t / 1000 + 1) * 3 )) ]
fi
line=$(grep 'msg="answered 503"' "$LOG" | head -1)
check_true "the 503 line: status, route, request id, reason" grep -qE \
	"^ts=[^ ]+ level=warn msg=\"answered 503\" status=503 route=simple request_id=$HEX32 reason=\"Too many pending requests \(the limit is 2\)\.\"\$" <<<"$line"
id=$(grep -oE "request_id=$HEX32" <<<"$line")
check_true "the 503 line's id is that request's (access line)" grep -qE "route=simple status=503 .*$id\$" "$LOG"
# The held two time out: 504s, logged the same way.
wait_clients
check "the held two are answered 504" "504 504" "$(cat "$IT_TMP/held1.st") $(cat "$IT_TMP/held2.st")"
check "two lines about the 504s" 2 "$(grep -cE "level=warn msg=\"answered 504\" status=504 route=simple request_id=$HEX32 reason=\"The request was pending for more than 3 seconds\.\"\$" "$LOG")"
# A second later, the next 503 line reports how many were held back.
for i in 1 2; do curl -s --max-time 10 -o /dev/null "$IT_URL/simple" & done
check_true "two /simple held again" wait_counter pending 5 2
get /simple
check "one more over the cap is 503" 503 "$STATUS"
if [ "$t" -lt 900 ]; then
	check_true "the next 503 line says 17 were suppressed" wait_line 'msg="answered 503" .* suppressed=17$'
fi
get /simple/fire
wait_clients
# Accounting: every 503 (the access log has them all, the drain's too) is
# a line or counted in one, up to the stop.
for i in 1 2; do curl -s --max-time 10 -o /dev/null "$IT_URL/simple" & done
check_true "two /simple held before the stop" wait_counter pending 5 2
sleep 1.1 # a fresh window: 3 lines, then 7 + the drain's 2 held back
t0=$(now_ms)
codes=$(curl -s -Z --parallel-immediate -w '%{http_code} ' --max-time 10 "${urls[@]:0:30}")
it_stop_app
t=$(( $(now_ms) - t0 ))
wait_clients
answered=$(grep -c 'msg=access .* status=503 ' "$LOG")
logged=$(grep -c 'msg="answered 503"' "$LOG")
counted=$(grep -E 'status=503 .*suppressed=[0-9]+$' "$LOG" | sed -E 's/.*suppressed=//' | awk '{ n += $1 } END { print n + 0 }')
check "every 503 is a line or counted: $answered = $logged + $counted" "$answered" "$((logged + counted))"
if [ "$t" -lt 900 ]; then
	check_true "a line at exit counts the 9 held back since the last one" \
		grep -qE '^ts=[^ ]+ level=warn msg="lines about answers suppressed" status=503 suppressed=9$' "$LOG"
fi
check "no line carries a prefix" 0 "$(grep -vc '^ts=' "$LOG")"

# Instance 2: stderr is the journal (JOURNAL_STREAM names it): every line
# starts with its priority.
export JOURNAL_STREAM
JOURNAL_STREAM=$(stat -c %d:%i "$JLOG")
STACK_APP_LOG=$JLOG stack_start_app --pending-timeout 1 --log-level debug || fail "the journal instance starts"
# An error line: a second instance refuses the live socket.
"$STACK_ROOT/$BUILD/fcgi_app" --socket "$STACK_SOCK" 2>>"$JLOG"
unset JOURNAL_STREAM
get /simple
check "a pending timeout (a warn line)" 504 "$STATUS"
curl -s --max-time 0.5 -o /dev/null "$IT_URL/simple" # a debug line
stack_wait "grep -q 'client went away' '$JLOG'" 5
kill -TERM "$STACK_APP_PID"; wait "$STACK_APP_PID"; rc=$?
STACK_APP_PID=""
check "the journal instance exits 0" 0 "$rc"
for p in "3 error" "4 warn" "6 info" "7 debug"; do
	set -- $p
	check_true "<$1> on $2 lines" grep -qE "^<$1>ts=[^ ]+ level=$2 " "$JLOG"
done
check "every line has the prefix of its level" 0 \
	"$(grep -vcE '^(<3>ts=[^ ]+ level=error|<4>ts=[^ ]+ level=warn|<6>ts=[^ ]+ level=info|<7>ts=[^ ]+ level=debug) ' "$JLOG")"
if grep -qE "Sanitizer|runtime error:" "$JLOG"; then fail "sanitizer report in the journal instance's log"; fi

it_done
