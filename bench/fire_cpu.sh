#!/usr/bin/env bash
# Where the CPU of one fire goes: holds N /simple through a private nginx +
# fcgi_app (no probes, nothing else), fires, and prints for every app thread
# and nginx worker the CPU time and the run-queue wait during the fire (from
# /proc/*/schedstat, ns), plus the hold client's own figures.
#
#   bench/fire_cpu.sh [N]        (default 10000; KA=8192 for keep-alive mode;
#                                 APPARGS="--fire-batch 64" etc. for the app;
#                                 PERF=1 adds a perf profile of the app)
. "$(dirname "$0")/common.sh"
N=${1:-10000}
bench_private_stack firecpu
# shellcheck disable=SC2086
stack_start_app ${APPARGS:-} || exit 1
stack_start_nginx || exit 1
"$BUILD/bench/holdclient" --port "$PORT" --n "$N" --mode fire --hold-seconds 3 --timeout 60 >"$DIR/out" &
hc=$!
# Snapshot once everything is held (the client fires 3 s after that).
stack_wait '[ "$(bench_counter pending)" = "$N" ]' 10
sleep 1
stack_schedstat >"$DIR/before"
if [ -n "${PERF:-}" ]; then # PERF=1: a profile of the app across the fire
	timeout 20 perf record -e cpu-clock -F 4999 -g -p "$STACK_APP_PID" -o "$DIR/perf.data" -- sleep 3 \
		>/dev/null 2>&1 &
	perf_pid=$!
fi
wait "$hc"
[ -n "${PERF:-}" ] && wait "$perf_pid"
stack_schedstat >"$DIR/after"
echo "fire of $N (keep-alive ${KA:-0}); app pid $STACK_APP_PID (its first tid is the loop thread)"
join -j 2 <(sort -k2 "$DIR/before") <(sort -k2 "$DIR/after") |
	awk '{ run = ($6 - $3) / 1e6; wait = ($7 - $4) / 1e6
	       if (run > 0.05) printf "  %-6s tid %-8s CPU %7.1f ms   run-queue wait %7.1f ms\n", $2, $1, run, wait }'
tr ' ' '\n' <"$DIR/out" | grep -E '^(held|body_ok|fire_to_first_ms|fire_to_p50_ms|fire_to_last_ms|client_cpu_after_fire_ms)=' |
	sed 's/^/  client: /'
if [ -n "${PERF:-}" ]; then
	echo "app profile (perf, cpu-clock, self time):"
	perf report -i "$DIR/perf.data" --no-children --sort sym --stdio 2>/dev/null |
		grep -E '^ +[0-9.]+%' | head -25
fi
