#!/usr/bin/env bash
# Several fires on one stack, with a /coro probe running throughout: the
# p99 of /coro during each fire, for A/B runs of the fire clause of
# target 4 that need many samples quickly (one `bench/run.sh` latency pass
# gives one fire in ~35 s; this gives ROUNDS fires in ~6 s each).
#
#   bench/fires.sh               env: KA (upstream keepalive, 0 = off; 0),
#                                ROUNDS (5), N (10000 held per fire),
#                                APPARGS (app flags), BENCH_NGINX_PRIORITY
#                                (nginx worker_priority), HCWRAP (a command put
#                                before the hold client, e.g. "nice -n 10"),
#                                PROBEWRAP (the same for the /coro probe),
#                                HOLD_S (seconds held before each fire; 1.5),
#                                FIRES_KEEP (a dir: keep the probe's samples
#                                and the client's lines there), LABEL
#                                (printed first)
#
# Prints one line: the idle p99 (first 3 s), then per fire "p99/fire->last
# (exact bodies, probe samples)", times in ms.  Loopback only; bounded by the probe's duration
# and the client's --timeout.
. "$(dirname "$0")/common.sh"
BIN=$ROOT/$BUILD/bench
N=${N:-10000}
ROUNDS=${ROUNDS:-5}
HOLD_S=${HOLD_S:-1.5}
bench_private_stack fires
# shellcheck disable=SC2086
stack_start_app --max-pending 20000 ${APPARGS:-} >/dev/null || exit 1
stack_start_nginx || exit 1
# shellcheck disable=SC2086
${PROBEWRAP:-} "$BIN/latprobe" --port "$PORT" --path /coro --rate 1000 --conns 4 --duration $((6 + ROUNDS * (5 + ${HOLD_S%.*}))) \
	--out "$DIR/lat.txt" --label whole >/dev/null &
probe=$!
sleep 3
for _ in $(seq 1 "$ROUNDS"); do
	# shellcheck disable=SC2086
	${HCWRAP:-} timeout 60 "$BIN/holdclient" --port "$PORT" --n "$N" --mode fire --hold-seconds "$HOLD_S" \
		--timeout 50 >>"$DIR/hc.txt"
	sleep 0.5
done
wait "$probe"
[ -n "${FIRES_KEEP:-}" ] && mkdir -p "$FIRES_KEEP" && cp "$DIR/lat.txt" "$DIR/hc.txt" "$FIRES_KEEP/"
t0=$(awk 'NR == 1 { print $1 }' "$DIR/lat.txt")
idle=$("$BIN/latprobe" --analyze "$DIR/lat.txt" --to $((t0 + 2900000000)) --label idle)
printf '%s | idle p99 %s ms | fires (p99/last ms (bodies ok, samples)):' "${LABEL:-ka=${KA:-0}}" "$(kv "$idle" p99_ms)"
while read -r line; do
	f=$("$BIN/latprobe" --analyze "$DIR/lat.txt" --from "$(kv "$line" t_fire_ns)" \
		--to $(($(kv "$line" t_last_ns) + 100000000)) --label fire)
	# n=0: the probe had stopped before this fire (rounds ran long).
	printf ' %s/%s(%s,n=%s)' "$(kv "$f" p99_ms)" "$(kv "$line" fire_to_last_ms)" "$(kv "$line" body_ok)" "$(kv "$f" n)"
done <"$DIR/hc.txt"
echo
