#!/usr/bin/env bash
# What target 4's held state costs the machine when nothing else runs: N
# /simple + 20 /sleep/30 held through a private nginx + fcgi_app (no
# probe), then for SECS seconds the CPU time of every app thread, every
# nginx worker and the hold client (/proc/*/schedstat, so nanoseconds, not
# ticks), and the memory it holds: VmRSS of the app and of each nginx
# worker, the kernel's sockets and slab.  Idle before, held, and after the
# fire.
#
#   bench/held_cost.sh [N]     (default 10000; KA=8192 (default) or KA=0 for
#                               the upstream mode; SECS=5)
# Loopback only; the hold client is bounded by its --timeout.
. "$(dirname "$0")/common.sh"
N=${1:-10000}
SECS=${SECS:-5}
KA=${KA:-8192}
export KA
[ -x "$ROOT/$BUILD/bench/holdclient" ] || { echo "missing $BUILD/bench/holdclient: run make bench-bins" >&2; exit 1; }
bench_private_stack heldcost
stack_start_app --max-pending 20000 || exit 1
stack_start_nginx || exit 1

mem() { # LABEL
	local p
	echo "$1:"
	echo "  app VmRSS $(awk '/^VmRSS/ { print $2 }' /proc/"$STACK_APP_PID"/status) kB"
	for p in $(pgrep -P "$STACK_NGINX_PID"); do
		echo "  nginx worker $p VmRSS $(awk '/^VmRSS/ { print $2 }' /proc/"$p"/status) kB"
	done
	echo "  kernel: $(awk '$1 == "sockets:" { print "sockets", $3 } $1 == "TCP:" { print "tcp", $3, "time_wait", $7 }' /proc/net/sockstat | paste -sd' ') slab $(awk '$1 == "Slab:" { print $2 }' /proc/meminfo) kB"
}

# Run time in ns of a schedstat file's task (0 if it is gone meanwhile).
run_ns() { local v; v=$(cut -d' ' -f1 "$1" 2>/dev/null); echo "${v:-0}"; }

# Run time in ns of the app (all threads), the nginx workers and the hold client.
cpu() {
	local t s=0 n=0 h=0
	for t in /proc/"$STACK_APP_PID"/task/*/schedstat; do s=$((s + $(run_ns "$t"))); done
	for t in $(pgrep -P "$STACK_NGINX_PID"); do n=$((n + $(run_ns /proc/"$t"/schedstat))); done
	if [ -n "${1:-}" ]; then
		for t in /proc/"$1"/task/*/schedstat; do h=$((h + $(run_ns "$t"))); done
	fi
	echo "$s $n $h"
}

ms() { awk -v v="$1" 'BEGIN { printf "%.1f", v / 1e6 }'; }

window() { # [HOLD_CLIENT_PID]
	local a b
	read -ra a <<<"$(cpu "${1:-}")"
	sleep "$SECS"
	read -ra b <<<"$(cpu "${1:-}")"
	echo "  CPU over $SECS s: app $(ms $((b[0] - a[0]))) ms, nginx workers $(ms $((b[1] - a[1]))) ms${1:+, hold client $(ms $((b[2] - a[2]))) ms}"
}

echo "held_cost: N=$N, keep-alive $KA, $(damon_state)"
mem "idle (nothing held)"
window
"$ROOT/$BUILD/bench/holdclient" --port "$PORT" --n "$N" --extra-path /sleep/30 --extra-n 20 \
	--mode fire --hold-seconds $((SECS + 4)) --timeout 90 >"$DIR/out" &
hc=$!
stack_wait '[ "$(bench_counter pending)" -ge "$N" ]' 30 ||
	{ echo "held_cost: only $(bench_counter pending) of $N pending after 30 s" >&2; exit 1; }
sleep 2 # the held window of bench/run.sh starts 2 s after all are held
mem "held ($N /simple pending, 10 workers busy, 10 jobs queued)"
window "$hc"
wait "$hc"
echo "  hold client: $(tr ' ' '\n' <"$DIR/out" | grep -E '^(held|body_ok|pool_busy_held|pool_queued_held|fire_to_last_ms)=' | paste -sd' ')"
mem "after the fire (the 20 /sleep still running; with keep-alive, nginx's cached connections idle in the app)"
echo "  status: pending $(bench_counter pending) idle_connections $(bench_counter idle_connections)"
window
