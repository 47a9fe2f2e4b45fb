#!/usr/bin/env bash
# A peer's end of a kept-alive connection: when it closes an idle one, the
# app closes its end at once (not at --idle-timeout), and a request sent
# just before a half-close is still answered.  nginx keep-alive is off
# here, so idle_connections counts only this peer's connection.
. "$(dirname "$0")/lib.sh"
PEER="python3 $IT_DIR_SELF/peer.py"
STACK_KEEPALIVE=0
it_start --idle-timeout 60 --read-timeout-ms 3000 --acceptors 2

# The app's open sockets, its listener included: only the difference
# across the peer's close is compared.
app_socks() { find "/proc/$STACK_APP_PID/fd" -lname 'socket:*' 2>/dev/null | wc -l; }

$PEER kept "$STACK_SOCK" close "$IT_TMP/go1" >"$IT_TMP/kept" &
ppid=$!
check_true "the peer's /coro was answered on a kept connection" \
	stack_wait "grep -q kept '$IT_TMP/kept'" 10
check_true "the app holds it idle" wait_counter idle_connections 5 1
before=$(app_socks)
touch "$IT_TMP/go1"
wait $ppid
t0=$(now_ms)
check_true "the app closed its end once the peer closed (idle timeout: 60 s)" \
	stack_wait "[ \$(app_socks) -eq $((before - 1)) ]" 5
t=$(( $(now_ms) - t0 ))
check_true "within ${t} ms (< 1000)" [ "$t" -lt 1000 ]
check "not counted idle any more" 0 "$(counter idle_connections)"

# Two silent peers hold both acceptor threads (3 s read timeout) before
# the request and the half-close are sent, so the thread that takes the
# connection sees both at once: data unread and the peer's FIN.
$PEER kept "$STACK_SOCK" halfclose "$IT_TMP/go2" >"$IT_TMP/half" &
ppid=$!
check_true "a second peer kept" stack_wait "grep -q kept '$IT_TMP/half'" 10
$PEER silent "$STACK_SOCK" 5 >"$IT_TMP/sp1" &
s1=$!
$PEER silent "$STACK_SOCK" 5 >"$IT_TMP/sp2" &
s2=$!
check_true "two silent peers connected" \
	stack_wait "grep -q connected '$IT_TMP/sp1' && grep -q connected '$IT_TMP/sp2'" 10
touch "$IT_TMP/go2"
wait $ppid
check "a request followed by a half-close is answered" "kept
Status: 200 OK" "$(cat "$IT_TMP/half")"
wait $s1 $s2
check "nothing left idle" 0 "$(counter idle_connections)"
get /coro
check "/coro afterwards" 200 "$STATUS"

# A peer that reads no reply: /coro is answered on the acceptor thread
# until the app's send buffer is full; the reply that does not fit goes
# to the loop to finish (EV_WRITE), and the connection carries on once the
# peer reads.
before=$(counter requests_total)
$PEER unread "$STACK_SOCK" 5000 >"$IT_TMP/unread"
read -r _ sent _ answered _ stalled <"$IT_TMP/unread"
# The peer's requests, its last one and the counters page: each once.
check "each request counted once" $((sent + 2)) $(( $(counter requests_total) - before ))
check "the replies stopped coming: the app's send buffer filled" yes "$stalled"
check_true "hundreds of unread replies before that ($sent)" [ "$sent" -ge 100 ]
check "every request was answered 200 once the peer read" "$sent" "$answered"
check "the connection carries the next request" "Status: 200 OK" "$(sed -n 2p "$IT_TMP/unread")"
check "nothing left in the loop" 1 "$(counter live_requests)"
it_done
