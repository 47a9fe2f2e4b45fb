#!/usr/bin/env bash
# A/B of two app builds through the same nginx settings, interleaved:
# for each pair, a fresh stack with build A then a fresh stack with build
# B, one `wrk -t2 -c64 -d${SECS}s` run of PATH on each, then the req/s,
# non-2xx and the CPU per request of every app thread and nginx worker
# (from /proc/<tid>/schedstat, over the measured run only).
#
#   bench/ab.sh BUILD_A BUILD_B [PAIRS]      (default 3 pairs)
#
# Environment: KA (8192; 0 = no upstream keep-alive), SECS (5), PATH_AB
# (/coro).  Each BUILD is a build directory with fcgi_app in it, e.g.
#   git stash; make BUILD=build-old; git stash pop; make
#   bench/ab.sh build-old build
# Loopback only; every run is bounded by wrk's duration.
. "$(dirname "$0")/common.sh"
[ $# -ge 2 ] || { echo "usage: bench/ab.sh BUILD_A BUILD_B [PAIRS]" >&2; exit 2; }
A=$1 B=$2 PAIRS=${3:-3}
KA=${KA:-8192} SECS=${SECS:-5} PATH_AB=${PATH_AB:-/coro}
for b in "$A" "$B"; do
	[ -x "$b/fcgi_app" ] || { echo "missing $b/fcgi_app" >&2; exit 1; }
done
command -v wrk >/dev/null || { echo "wrk missing: make deps-bench" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
DIR=$(mktemp -d /tmp/fcgi_app-ab.XXXXXX)
trap 'stack_stop; rm -rf "$DIR"' EXIT
trap 'exit 130' INT TERM
export STACK_KEEPALIVE=$KA

one() { # BUILD LABEL
	local port out rps n2
	port=$(stack_free_port)
	BUILD=$1
	rm -rf "$DIR/stack"
	stack_init "$DIR/stack" "$port"
	stack_start_app >/dev/null || return 1
	stack_start_nginx >/dev/null || return 1
	# Warm-up, not measured.
	timeout 20 wrk -t2 -c64 -d1s "http://127.0.0.1:$port$PATH_AB" >/dev/null
	stack_schedstat >"$DIR/a"
	out=$(timeout $((SECS + 20)) wrk -t2 -c64 -d"${SECS}s" "http://127.0.0.1:$port$PATH_AB")
	stack_schedstat >"$DIR/b"
	stack_stop
	rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
	n2=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' <<<"$out")
	echo "$2 $1: ${rps:-0} req/s, non-2xx ${n2:-0}"
	# CPU per request, per thread that used more than 1 ms.
	# join on the tid: "tid name run wait name run wait".
	join -j 2 <(sort -k2 "$DIR/a") <(sort -k2 "$DIR/b") |
		awk -v n="$(awk -v r="${rps:-0}" -v s="$SECS" 'BEGIN { print r * s }')" '
		{ d = ($6 - $3) / 1e6; if (d > 1 && n > 0) printf "    %-9s tid %-7s %7.1f ms  %5.1f us/request\n", $2, $1, d, d * 1000 / n }'
}

echo "ab: $(date -u +%FT%TZ) $PATH_AB, keep-alive $KA, wrk -t2 -c64 ${SECS}s, $PAIRS pairs, A=$A B=$B"
for i in $(seq 1 "$PAIRS"); do
	one "$A" "pair $i A" || exit 1
	one "$B" "pair $i B" || exit 1
done
