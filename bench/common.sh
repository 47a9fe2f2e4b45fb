# Sourced by the bench scripts (run.sh, ab.sh): strict mode, the checkout's root as the working
# directory, BUILD, the stack functions of scripts/stack.sh, kv, the status
# page's counters and the DAMON pause.  The stack runs nginx/nginx.conf as
# shipped (only its port, socket, pid and log paths are private), so the
# figures are what `make run` and users get.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
: "${BUILD:=build}"
export BUILD
. scripts/stack.sh

# kv LINE KEY: the value of KEY=... in a `key=value ...` line (the hold
# client's and latprobe's output).
kv() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p" | head -1; }

# bench_counter KEY: KEY's value on the app's status page, through the
# nginx on $PORT.
bench_counter() {
	curl -s --max-time 5 "http://127.0.0.1:$PORT/_fcgi_app/status" | awk -v k="$1" '$1 == k { print $2 }'
}

# DAMON (the kernel's data access monitor) runs on some VMs as the host's
# proactive reclaim.  On the machine of 2026-12-01 one kdamond sampled the
# physical address space every 500 ms and each sample stalled both cores
# for 5-25 ms once 10,000 requests were held (more memory mapped):
# periodic stalls in every probe, nginx's own `return 200` included.
# BENCH_PAUSE_DAMON=1 turns every running kdamond off for the run and back
# on at exit (root only); the header line says what was found and done.
DAMON_SYS=/sys/kernel/mm/damon/admin/kdamonds
DAMON_PAUSED=()
damon_state() {
	local k n=0 on=0
	for k in "$DAMON_SYS"/[0-9]*; do
		[ -r "$k/state" ] || continue
		n=$((n + 1))
		[ "$(cat "$k/state")" = on ] && on=$((on + 1))
	done
	echo "DAMON kdamonds $on/$n on"
}
damon_pause() {
	local k
	for k in "$DAMON_SYS"/[0-9]*; do
		[ -w "$k/state" ] && [ "$(cat "$k/state")" = on ] || continue
		echo off >"$k/state" && DAMON_PAUSED+=("$k")
	done
}
damon_restore() {
	local k
	for k in "${DAMON_PAUSED[@]}"; do echo on >"$k/state" || echo "bench: could not restart $k" >&2; done
	DAMON_PAUSED=()
}
