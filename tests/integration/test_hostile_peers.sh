#!/usr/bin/env bash
# Peers that are not nginx: silent or trickling connections, junk bytes,
# peers outside FCGI_WEB_SERVER_ADDRS.  None may hang the app, block its
# shutdown, or get an answer it should not.
. "$(dirname "$0")/lib.sh"
PEER="python3 $IT_DIR_SELF/peer.py"
it_start --read-timeout-ms 1000 --pending-timeout 30

# silent_pair SECONDS: two silent connections, each seen connected.
silent_pair() {
	rm -f "$IT_TMP/sp1" "$IT_TMP/sp2"
	$PEER silent "$STACK_SOCK" "$1" >"$IT_TMP/sp1" &
	$PEER silent "$STACK_SOCK" "$1" >"$IT_TMP/sp2" &
	stack_wait "grep -q connected '$IT_TMP/sp1' && grep -q connected '$IT_TMP/sp2'" 10
}

# Two silent connections occupy both acceptor threads; /coro still gets
# through once the read timeout (1 s) drops them.
check_true "two silent peers connected" silent_pair 20
t0=$(now_ms); get /coro; t=$(( $(now_ms) - t0 ))
check "/coro behind two silent peers" 200 "$STATUS"
# Below 1600: the read timeout freed them, not the watchdog (2 s).
check_true "/coro waited ${t} ms behind them (> 400), bounded by the 1 s read timeout (< 1600)" \
	[ "$t" -gt 400 -a "$t" -lt 1600 ]

# A peer that trickles one byte every 0.4 s keeps resetting SO_RCVTIMEO;
# the watchdog cuts it at twice the read timeout.
took=$($PEER trickle "$STACK_SOCK" 0.4)
check_true "trickling peer cut after ${took} s (watchdog: 2 s, well before its ~40 s request)" \
	awk -v t="$took" 'BEGIN { exit !(t >= 1.5 && t < 4.5) }'

# Junk is a protocol error: closed, no reply, app unharmed.
# At once: not left to the 1 s read timeout.
junk=$($PEER garbage "$STACK_SOCK")
check_true "junk bytes get the connection closed at once ($junk)" \
	awk -v a="$junk" 'BEGIN { split(a, f, " "); exit !(f[1] == "closed" && f[2] < 0.5) }'
get /coro
check "/coro after junk" 200 "$STATUS"

# Records nginx never sends, straight to the socket.  libfcgi parsed them
# before the app did: the CVE-2025-23016 remnant aborted the app, and
# FCGI_GET_VALUES overflowed its stack.  Each refused record closes the
# connection at once, with one warn line naming the class; management
# records get the spec's answer (zero padding: nothing uninitialised); and
# the same process answers the next request through nginx.
app_pid=$STACK_APP_PID
app_log=$IT_TMP/stack/app.log
# The values the app says it runs with.
max_conns=$(sed -n 's/.*msg=listening .* max_conns=\([0-9]*\).*/\1/p' "$app_log" | head -1)
max_reqs=$(sed -n 's/.*msg=listening .* max_pending=\([0-9]*\) .*/\1/p' "$app_log" | head -1)
[ "${max_conns:-0}" -gt 0 ] || max_conns=$(sed -n 's/.*msg="fd limit" nofile=\([0-9]*\).*/\1/p' "$app_log" | head -1)
still_serving() { # CASE
	get /coro
	check "/coro through nginx after $1: 200 from the same process" \
		"200 $app_pid" "$STATUS $(kill -0 "$app_pid" 2>/dev/null && echo "$STACK_APP_PID")"
}
reasons=""
for c in cve_remnant:bad_length cve_params:bad_length bad_version:bad_version \
	unknown_type:unknown_type app_type:unknown_type bad_length:bad_length \
	bad_padding:bad_length other_id:bad_request_id no_begin:bad_request_id \
	second_begin:bad_request_id params_cap:params_too_large; do
	case=${c%%:*} reasons+=" ${c#*:}"
	out=$($PEER raw "$STACK_SOCK" "$case")
	check_true "$case: closed at once, nothing answered ($out)" \
		awk -v a="$out" 'BEGIN { split(a, f, " "); exit !(f[1] == "closed" && f[2] < 0.5) }'
	still_serving "$case"
done
# Rate-limited per class: the same class twice within a second is one line.
for r in $(tr ' ' '\n' <<<"$reasons" | sort -u); do
	check_true "the log has a warn line for $r" \
		grep -q "level=warn msg=\"FastCGI input refused, connection closed\" reason=$r\$" "$app_log"
done
# zeros N: the hex of N zero bytes; pad_for LEN: the zero padding to 8.
zeros() { printf '%0*d' $(( $1 * 2 )) 0; }
pad_for() { zeros $(( (8 - $1 % 8) % 8 )); }
out=$($PEER raw "$STACK_SOCK" mgmt_overflow)
check "FCGI_GET_VALUES naming FCGI_MAX_CONNS 4 times: one answer, zero padding, the connection serves /coro" \
	"record 10 FCGI_MAX_CONNS=$max_conns pad $(pad_for $((16 + ${#max_conns}))) Status: 200 OK" "$(tr '\n' ' ' <<<"$out" | sed 's/ $//')"
still_serving mgmt_overflow
out=$($PEER raw "$STACK_SOCK" mgmt_values)
check "FCGI_GET_VALUES: the real values, unknown names left out, zero padding" \
	"record 10 FCGI_MAX_CONNS=$max_conns,FCGI_MAX_REQS=$max_reqs,FCGI_MPXS_CONNS=0 pad $(pad_for $((16 + ${#max_conns} + 15 + ${#max_reqs} + 18))) Status: 200 OK" \
	"$(tr '\n' ' ' <<<"$out" | sed 's/ $//')"
out=$($PEER raw "$STACK_SOCK" mgmt_unknown)
check "an unknown management type: FCGI_UNKNOWN_TYPE naming it, zeros after" \
	"record 11 c800000000000000 pad  Status: 200 OK" "$(tr '\n' ' ' <<<"$out" | sed 's/ $//')"
still_serving "the management records"
# One warn line per class per second, however many peers repeat it.
before=$(grep -c "reason=bad_version" "$app_log")
t0=$(now_ms)
out=$($PEER raw "$STACK_SOCK" bad_version 50 | awk '{ print $1 }' | sort | uniq -c | awk '{ print $1, $2 }')
t=$(( $(now_ms) - t0 ))
check "50 bad-version peers each closed" "50 closed" "$out"
n=$(( $(grep -c "reason=bad_version" "$app_log") - before ))
check_true "they logged $n warn lines in ${t} ms (at most one a second)" \
	[ "$n" -ge 0 -a "$n" -le $(( t / 1000 + 1 )) ]
still_serving "50 bad-version peers"

# CONTENT_LENGTH is digits or nothing (what nginx sends); junk is a 400,
# not a 413 or a 0.  A request read to its end keeps a kept connection,
# whatever its answer: a close that nginx has not seen when it reuses the
# connection would turn its next request into a 502.  One announced past
# --max-body + --max-discard is not read, so its connection is closed.
for cl in -1 abc 12x " 5"; do
	out=$($PEER body "$STACK_SOCK" "$cl" 0 | tr '\n' '|')
	check "CONTENT_LENGTH '$cl': 400, and the kept connection serves the next request" \
		"Status: 400 Bad Request|Status: 200 OK|" "$out"
done
out=$($PEER body "$STACK_SOCK" 70000 70000 | tr '\n' '|')
check "a 70,000-byte body over the 65,536 --max-body, read whole: 413, and the connection is kept" \
	"Status: 413 Payload Too Large|Status: 200 OK|" "$out"
out=$($PEER body "$STACK_SOCK" 99999999999999999999999 0 | tr '\n' '|')
check "a CONTENT_LENGTH past what fits: 413 unread, and the connection is closed" \
	"Status: 413 Payload Too Large|closed|" "$out"

# SIGTERM while both acceptors are stuck on silent peers and a /simple is
# pending: the pending request still gets its 503 promptly, and the app
# exits 0.
# A fresh instance with a 10 s read timeout, so that a stop that waited
# for the stuck reads would take 10 s, not a fraction of one.
it_stop_app
stack_start_app --read-timeout-ms 10000 --pending-timeout 30 || exit 1
# The /simple first: with both acceptors stuck it could not be read.  The
# peers then hold both acceptors, well within the read timeout.
curl -s --max-time 20 -o /dev/null -w '%{http_code}' "$IT_URL/simple" >"$IT_TMP/st" &
cpid=$!
check_true "a /simple is pending" wait_counter pending 5 1
check_true "two more silent peers connected" silent_pair 30
sleep 0.1
t0=$(now_ms)
kill -TERM "$STACK_APP_PID"
wait "$cpid"
t=$(( $(now_ms) - t0 ))
check "pending /simple gets 503 on SIGTERM with stuck acceptors" 503 "$(cat "$IT_TMP/st")"
check_true "the 503 came in ${t} ms (< 1500)" [ "$t" -lt 1500 ]
wait "$STACK_APP_PID"; rc=$?
t=$(( $(now_ms) - t0 ))
STACK_APP_PID=""
check "app exits 0" 0 "$rc"
check_true "it exited in ${t} ms, not after the stuck reads' 10 s timeout (< 1500)" [ "$t" -lt 1500 ]
check_true "socket removed" [ ! -e "$STACK_SOCK" ]

# TCP peers are checked against FCGI_WEB_SERVER_ADDRS, including IPv4
# peers of a dual-stack listener and IPv6 peers.
port=$(stack_free_port)
FCGI_WEB_SERVER_ADDRS=10.9.9.9 "$STACK_ROOT/$BUILD/fcgi_app" --listen "127.0.0.1:$port" 2>"$IT_TMP/tcp1.log" &
tpid=$!
stack_wait "$PEER coro 127.0.0.1:$port | grep -q ." 10
check "TCP peer outside FCGI_WEB_SERVER_ADDRS gets no answer" closed "$($PEER coro "127.0.0.1:$port")"
kill -TERM $tpid; wait $tpid; rc=$?
check "first TCP app exits 0" 0 "$rc"
port=$(stack_free_port)
FCGI_WEB_SERVER_ADDRS=127.0.0.1 "$STACK_ROOT/$BUILD/fcgi_app" --listen "[::]:$port" 2>"$IT_TMP/tcp2.log" &
tpid=$!
stack_wait "$PEER coro 127.0.0.1:$port | grep -q Status" 10
check "listed IPv4 peer of a dual-stack listener is served" "Status: 200 OK" "$($PEER coro "127.0.0.1:$port")"
# Containers and hosts without IPv6 have no ::1 to connect from.
if python3 -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null; then
	check "IPv6 peer refused when the list is set" closed "$($PEER coro "[::1]:$port")"
else
	echo "skip $IT_NAME: IPv6 peer refused when the list is set (no IPv6 loopback here)"
fi
kill -TERM $tpid; wait $tpid; rc=$?
check "TCP app exits 0" 0 "$rc"
check_true "no sanitizer report from the TCP instances" bash -c "! grep -qE 'Sanitizer|runtime error:' '$IT_TMP'/tcp*.log"

# A socket others may write to is refused at start, unless forced.
out=$("$STACK_ROOT/$BUILD/fcgi_app" --socket "$IT_TMP/ow.sock" --socket-mode 0666 2>&1); rc=$?
check "--socket-mode 0666 exits 2" 2 "$rc"
check_true "it says why and names the override" grep -q "lets every local user write.*--socket-mode-force" <<<"$out"
check_true "no socket was created" [ ! -e "$IT_TMP/ow.sock" ]
out=$(FCGI_APP_SOCKET_MODE=0602 "$STACK_ROOT/$BUILD/fcgi_app" --socket "$IT_TMP/ow.sock" 2>&1); rc=$?
check "FCGI_APP_SOCKET_MODE=0602 (o+w) exits 2 too" 2 "$rc"
for force in "--socket-mode-force" "env"; do
	rm -f "$IT_TMP/ow.sock"
	if [ "$force" = env ]; then
		FCGI_APP_SOCKET_MODE_FORCE=1 "$STACK_ROOT/$BUILD/fcgi_app" --socket "$IT_TMP/ow.sock" \
			--socket-mode 0666 2>"$IT_TMP/ow.log" &
	else
		"$STACK_ROOT/$BUILD/fcgi_app" --socket "$IT_TMP/ow.sock" --socket-mode 0666 \
			--socket-mode-force 2>"$IT_TMP/ow.log" &
	fi
	opid=$!
	stack_wait "[ -S '$IT_TMP/ow.sock' ]" 10
	check "with $force, 0666 is allowed" "666 Status: 200 OK" \
		"$(stat -c %a "$IT_TMP/ow.sock") $($PEER coro "$IT_TMP/ow.sock")"
	kill -TERM $opid; wait $opid; rc=$?
	check "the forced instance exits 0" 0 "$rc"
done
out=$(FCGI_APP_SOCKET_MODE_FORCE=yes "$STACK_ROOT/$BUILD/fcgi_app" --socket "$IT_TMP/ow.sock" 2>&1); rc=$?
check "FCGI_APP_SOCKET_MODE_FORCE=yes (not 0 or 1) exits 2" 2 "$rc"

# An empty socket path is a clear error, not a crash.
out=$(FCGI_APP_SOCKET= "$STACK_ROOT/$BUILD/fcgi_app" 2>&1); rc=$?
check "empty FCGI_APP_SOCKET exits 2" 2 "$rc"
check_true "it says the socket path is empty" grep -q "socket path is empty" <<<"$out"

it_done
