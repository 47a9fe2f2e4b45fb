#!/usr/bin/env bash
# /simple/fire completes its waiters at --fire-rate, also when the rate is
# below one per timer interval (fractions carry over), and at
# --fire-rate-busy while other requests arrive.
. "$(dirname "$0")/lib.sh"
FIRED='<u><i>This is a simple callback...FIRE!</i></u>'

# fire_ten LABEL [PATH]: holds 10 /simple, GETs PATH if given, fires, and
# sets t to the fire's duration in ms.
fire_ten() {
	for i in $(seq 1 10); do
		curl -s --max-time 20 -o "$IT_TMP/f$i" "$IT_URL/simple" &
	done
	check_true "10 /simple pending ($1)" wait_counter pending 10 10
	if [ -n "${2:-}" ]; then
		get "$2"
		check "$2 before the fire ($1): 200" 200 "$STATUS"
	fi
	t0=$(now_ms)
	get /simple/fire
	wait_clients
	t=$(( $(now_ms) - t0 ))
	good=0
	for i in $(seq 1 10); do [ "$(cat "$IT_TMP/f$i")" = "$FIRED" ] && good=$((good + 1)); done
	check "all 10 got the fired body ($1)" 10 "$good"
}

# 20 per second: the first one at once, the other 9 over ~450 ms.
it_start --fire-rate 20
fire_ten "rate 20/s"
check_true "rate 20/s: the fire took ${t} ms, 0.75x to 3x the 450 ms the rate allows" \
	[ "$t" -ge 337 -a "$t" -le 1350 ]
it_stop_app
stack_stop

# Unpaced: everything in the first batch.
rm -rf "$IT_TMP/stack"
it_start --fire-rate 0
fire_ten "unpaced"
check_true "unpaced: the fire took ${t} ms (< 300)" [ "$t" -lt 300 ]
it_stop_app
stack_stop

# Unpaced, but a /coro came just before: the fire yields to such requests
# and goes at --fire-rate-busy, 20/s, like the first case.
rm -rf "$IT_TMP/stack"
it_start --fire-rate 0 --fire-rate-busy 20 --fire-busy-ms 30000
fire_ten "busy" /coro
check_true "busy: the fire took ${t} ms, 0.75x to 3x the 450 ms of 20/s" \
	[ "$t" -ge 337 -a "$t" -le 1350 ]
it_done
