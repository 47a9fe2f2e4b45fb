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

# An empty socket path is a clear error, not a crash.
out=$(FCGI_APP_SOCKET= "$STACK_ROOT/$BUILD/fcgi_app" 2>&1); rc=$?
check "empty FCGI_APP_SOCKET exits 2" 2 "$rc"
check_true "it says the socket path is empty" grep -q "socket path is empty" <<<"$out"

it_done
