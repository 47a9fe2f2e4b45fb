#!/usr/bin/env bash
# Where the held window's stalls (target 4) come from: the same probes as
# the held window, with different things held.  For each load, on a fresh
# stack: /coro through nginx and /coro straight to the app's socket (1,000
# req/s each), plus `latprobe --stall` on every CPU (the machine's own
# stalls), for 10 + HOLD_S seconds.  At 6 s the load starts and holds for
# HOLD_S seconds:
#   bench N /simple + 20 /sleep/30 through nginx (bench/holdclient, then
#         a fire): the held window of bench/run.sh's target 4
#   hold  the same without the /sleep jobs
#   sleep only the 20 /sleep/30 (10 workers busy, 10 queued), then the
#         client disconnects
#   fcgi  N /simple straight to the app's socket; nginx holds nothing
#   tcp   N idle TCP connections to nginx (no request); the app holds
#         nothing
#   both  tcp and fcgi at once: the sockets of `hold`, no request in
#         flight through nginx
#   mem   MB of touched memory in another process
#   none  nothing: the windows' own difference, the control
# Prints, per load, the p99 (and max) of each probe in the idle window (0.5
# to 5.5 s) and the held one (2 s after the load is in place, to its end).
#
#   bench/held_noise.sh     env: KA (8192), LOADS ("none bench hold sleep fcgi tcp
#                           both mem"),
#                           ROUNDS (1), N (10000), HOLD_S (20), MB (1000),
#                           KEEP (a dir: keep the raw samples there),
#                           BENCH_PAUSE_DAMON=1 (as in bench/run.sh)
# Loopback only; every probe and load is bounded by its duration.
. "$(dirname "$0")/common.sh"
BIN=$ROOT/$BUILD/bench
KA=${KA:-8192} N=${N:-10000} HOLD_S=${HOLD_S:-20} MB=${MB:-1000}
LOADS=${LOADS:-none bench hold sleep fcgi tcp both mem} ROUNDS=${ROUNDS:-1}
PEER="python3 $ROOT/bench/held_noise.py"
for b in holdclient latprobe; do
	[ -x "$BIN/$b" ] || { echo "missing $BIN/$b: run make bench-bins" >&2; exit 1; }
done
command -v python3 >/dev/null || { echo "python3 missing: make deps-bench" >&2; exit 1; }
bench_private_stack held-noise
MACHINE=$(damon_state)
if [ "${BENCH_PAUSE_DAMON:-0}" = 1 ]; then
	damon_pause
	MACHINE="$MACHINE, ${#DAMON_PAUSED[@]} paused for the run"
fi
CPUS=$(seq 0 $(($(nproc) - 1)))

# p99/max of FILE over [FROM, TO) ns.
win() {
	local out
	out=$("$BIN/latprobe" --analyze "$1" --from "$2" --to "$3")
	echo "$(kv "$out" p99_ms)/$(kv "$out" max_ms)"
}

one() { # LOAD
	local load=$1 d=$DIR/$1 out t0 t_held t_end c line p
	mkdir -p "$d"
	stack_start_app --max-pending 20000 >/dev/null || exit 1
	stack_start_nginx || exit 1
	local secs=$((10 + ${HOLD_S%.*}))
	"$BIN/latprobe" --port "$PORT" --path /coro --rate 1000 --conns 4 --duration "$secs" \
		--out "$d/coro.txt" >/dev/null &
	"$BIN/latprobe" --fcgi "$STACK_SOCK" --path /coro --rate 1000 --conns 4 --duration "$secs" \
		--out "$d/direct.txt" >/dev/null &
	for c in $CPUS; do
		"$BIN/latprobe" --stall "$c" --duration "$secs" --out "$d/cpu$c.txt" >/dev/null &
	done
	sleep 6
	case $load in
	bench|hold|sleep)
		local args=(--n "$N" --mode fire)
		[ "$load" = bench ] && args+=(--extra-path /sleep/30 --extra-n 20)
		[ "$load" = sleep ] && args=(--path /sleep/30 --n 20 --mode disconnect)
		out=$(timeout $((${HOLD_S%.*} + 60)) "$BIN/holdclient" --port "$PORT" "${args[@]}" \
			--hold-seconds "$HOLD_S" --timeout 50)
		t_held=$(kv "$out" t_held_ns); t_end=$(kv "$out" t_fire_ns) ;;
	fcgi|tcp)
		local target=$STACK_SOCK
		[ "$load" = tcp ] && target=$PORT
		out=$($PEER "$load" "$target" "$N" "$HOLD_S")
		t_held=$(kv "$out" t_held_ns); t_end=$(kv "$out" t_end_ns) ;;
	both)
		$PEER tcp "$PORT" "$N" "$HOLD_S" >"$d/tcp.out" &
		out=$($PEER fcgi "$STACK_SOCK" "$N" "$HOLD_S")
		wait $!
		# Both in place: the later start; and the earlier end.
		local o2 a b
		o2=$(cat "$d/tcp.out")
		a=$(kv "$out" t_held_ns); b=$(kv "$o2" t_held_ns)
		t_held=$(( a > b ? a : b ))
		a=$(kv "$out" t_end_ns); b=$(kv "$o2" t_end_ns)
		t_end=$(( a < b ? a : b )) ;;
	mem|none)
		out=$($PEER "$load" - "$MB" "$HOLD_S")
		t_held=$(kv "$out" t_held_ns); t_end=$(kv "$out" t_end_ns) ;;
	*) echo "held_noise: unknown load $load" >&2; exit 2 ;;
	esac
	for p in $(jobs -p); do
		[ "$p" = "$STACK_APP_PID" ] || [ "$p" = "$STACK_NGINX_PID" ] || wait "$p"
	done
	stack_stop
	if [ -z "$t_held" ] || [ -z "$t_end" ]; then
		echo "$load: the load did not report ($out)" >&2
		return
	fi
	t0=$(awk 'NR == 1 { print $1 }' "$d/coro.txt")
	line="$load"
	for p in coro direct $(printf 'cpu%s ' $CPUS); do
		line="$line | $p $(win "$d/$p.txt" $((t0 + 500000000)) $((t0 + 5500000000))) -> $(win "$d/$p.txt" $((t_held + 2000000000)) "$t_end")"
	done
	echo "$line"
	[ -n "${KEEP:-}" ] && mkdir -p "$KEEP/$load.$round" && cp "$d"/*.txt "$KEEP/$load.$round/"
	rm -rf "$d"
}

echo "ka=$KA N=$N hold ${HOLD_S} s, $MACHINE; p99/max in ms, idle -> held"
round=0
for round in $(seq 1 "$ROUNDS"); do
	for load in $LOADS; do
		one "$load"
	done
done
