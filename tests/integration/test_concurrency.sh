#!/usr/bin/env bash
# The loop never blocks: sleeps run on the pool in parallel, /coro answers
# while the pool is busy, and clients that go away leave nothing behind.
. "$(dirname "$0")/lib.sh"
it_start

# 4 concurrent /sleep/1 take about one second, not four.
t0=$(now_ms)
for i in 1 2 3 4; do curl -s --max-time 10 -o "$IT_TMP/s$i" "$IT_URL/sleep/1" & done
wait_clients
t=$(( $(now_ms) - t0 ))
check_true "4 concurrent /sleep/1 took ${t} ms: >= 1000 (they slept)" [ "$t" -ge 1000 ]
check_true "4 concurrent /sleep/1 took ${t} ms: < 2000, under half of 4 serial seconds" [ "$t" -lt 2000 ]
for i in 1 2 3 4; do check "/sleep/1 #$i body" "Slept for 1 seconds" "$(cat "$IT_TMP/s$i")"; done

# /coro answers promptly while all 10 workers sleep 3 s.
for i in $(seq 1 10); do curl -s --max-time 10 -o /dev/null "$IT_URL/sleep/3" & done
check_true "pool is saturated (10 busy)" wait_counter pool_busy 5 10
best=999999
for i in 1 2 3 4 5; do
	t0=$(now_ms); get /coro; t=$(( $(now_ms) - t0 ))
	[ "$t" -lt "$best" ] && best=$t
	check "/coro #$i during sleeps" 200 "$STATUS"
done
# Ratio to the 3000 ms the workers are blocked: a blocked loop would be 1.
check_true "/coro best latency ${best} ms is < 1/10 of the 3000 ms sleep" [ "$((best * 10))" -lt 3000 ]
check "pool still busy after the /coro requests" 10 "$(counter pool_busy)"
wait_clients

# Clients that give up while pending leave no pending request behind.
before=$(counter aborted_total)
for i in $(seq 1 5); do curl -s --max-time 1 -o /dev/null "$IT_URL/simple" & done
curl -s --max-time 1 -o /dev/null "$IT_URL/sleep/3" &
check_true "6 requests pending" wait_counter pending 5 6
wait_clients
check_true "pending drops to 0 after the clients abort" wait_counter pending 5 0
check "no /simple left waiting for a fire" 0 "$(counter simple_waiting)"
check "aborted_total counted 6" $((before + 6)) "$(counter aborted_total)"
get /simple/fire
check "fire after aborts finds nothing pending" 200 "$STATUS"
check_true "fire after aborts: nothing-pending body" grep -q "already been fired or not set" <<<"$BODY"
# Idle kept connections wait with the acceptors, not as loop requests: the
# only live request is the status page's own.
check "no live requests but the status page's own" 1 "$(counter live_requests)"

# SIGTERM: pending requests get 503 with Retry-After; the app exits 0
# and removes its socket.
curl -s --max-time 10 -D "$IT_TMP/h" -o "$IT_TMP/b" -w '%{http_code}' "$IT_URL/simple" >"$IT_TMP/st" &
cpid=$!
check_true "one /simple pending before SIGTERM" wait_counter pending 5 1
kill -TERM "$STACK_APP_PID"
wait "$cpid"
check "pending /simple answered 503 on SIGTERM" 503 "$(cat "$IT_TMP/st")"
check_true "503 carries Retry-After" grep -qi '^Retry-After: 1' "$IT_TMP/h"
for _ in $(seq 1 50); do kill -0 "$STACK_APP_PID" 2>/dev/null || break; sleep 0.1; done
wait "$STACK_APP_PID"; rc=$?
check "app exit status after SIGTERM" 0 "$rc"
check_true "socket removed on exit" [ ! -e "$STACK_SOCK" ]
STACK_APP_PID=""

it_done
