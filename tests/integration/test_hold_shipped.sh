#!/usr/bin/env bash
# `make run`'s stack as shipped (nginx/nginx.conf untouched but for its
# private paths, the app's defaults) under an fd hard limit of 20,000:
# 10,000 and then 15,000 held /simple through nginx all complete with the
# fired body after one /simple/fire, with no reset and no empty reply,
# nginx never short of connections and the app never short of fds.
. "$(dirname "$0")/lib.sh"
HOLDCLIENT=$STACK_ROOT/$BUILD/bench/holdclient
[ -x "$HOLDCLIENT" ] || { fail "no $HOLDCLIENT (make bench-bins)"; it_done; exit 1; }
# The limit the shipped config is sized for.  A process may lower its hard
# limit, never raise it (without CAP_SYS_RESOURCE), so below 20,000 this
# cannot be run.
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt 20000 ]; then
	echo "skip $IT_NAME: the fd hard limit here is $hard, under 20,000"
	exit 0
fi
ulimit -Sn 20000 && ulimit -Hn 20000
check "fd hard limit of this test and everything it starts" 20000 "$(ulimit -Hn)"

it_start
# What sets capacity is exactly what nginx/ ships.
capacity() { grep -E '^ *(worker_processes|worker_rlimit_nofile|worker_connections|listen|keepalive) ' "$@" |
	sed 's/127\.0\.0\.1:[0-9]*/127.0.0.1:PORT/'; }
check "the stack's nginx.conf keeps nginx/nginx.conf's capacity settings" \
	"$(capacity "$STACK_ROOT/nginx/nginx.conf")" "$(capacity "$STACK_DIR/nginx.conf")"
check "and the upstream's keepalive" \
	"$(capacity "$STACK_ROOT/nginx/fcgi_app_upstream.conf")" "$(capacity "$STACK_DIR/fcgi_app_upstream.conf")"
workers=$(pgrep -c -P "$STACK_NGINX_PID")
cap=$(sed -n 's/.*--max-pending lowered.* max_pending=\([0-9]*\) .*/\1/p' "$IT_TMP/stack/app.log")
check_true "the app's pending cap under 20,000 fds (${cap:-none}) is above 15,000" \
	[ "${cap:-0}" -gt 15000 ]

kv() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p" | head -1; }

# hold N: N /simple held at once, then one fire (bench/holdclient).
hold() {
	local n=$1 out
	out=$(timeout 180 "$HOLDCLIENT" --port "$IT_PORT" --n "$n" --mode fire --timeout 150)
	echo "     ${out:0:300}"
	check "$n: all sent and held until the fire" "$n $n" "$(kv "$out" sent) $(kv "$out" held)"
	check "$n: /simple/fire" 200 "$(kv "$out" fire_status)"
	check "$n: every one 200" "200:$n" "$(kv "$out" codes)"
	check "$n: every one with the fired body" "$n" "$(kv "$out" body_ok)"
	check "$n: no reset, no empty reply" 0 "$(kv "$out" errors)"
	check_true "$n: pending back to 0" wait_counter pending 10 0
}

hold 10000
# On one core `worker_processes auto` starts one worker, which holds at
# most worker_connections / 2 (nginx/nginx.conf's header).
if [ "$workers" -ge 2 ]; then
	hold 15000
else
	echo "skip $IT_NAME: 15,000 held needs two nginx workers; this machine starts $workers"
fi

nlog=$IT_TMP/stack/nginx.log
check "nginx never ran short of connections" 0 "$(grep -c "worker_connections are not enough" "$nlog")"
check "nginx logged no alert, error or worse" 0 "$(grep -cE '\[(alert|crit|emerg|error)\]' "$nlog")"
check "the app never ran out of fds (nothing shed)" 0 \
	"$(grep -cE "shedding|cannot shed" "$IT_TMP/stack/app.log")"
it_done
