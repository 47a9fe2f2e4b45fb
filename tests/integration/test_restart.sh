#!/usr/bin/env bash
# Zero-downtime restarts: the app on a listening socket it inherits (systemd
# socket activation through Debian's systemd-socket-activate, then fd 0 as
# spawn-fcgi passes it), behind the real nginx with the shipped config
# (FastCGI keep-alive on).  scripts/socket_holder.sh holds the socket, as
# the .socket unit does, and starts the app again each time it exits.  While
# clients loop on /coro through nginx, the app is restarted (SIGTERM, then a
# new instance on the same socket): no 502, no error, every reply 200 with
# the exact body.  Also the sd_notify messages of Type=notify: READY=1,
# STATUS= with the pending count, WATCHDOG=1 at half of WATCHDOG_USEC, and
# STOPPING=1.
. "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)

CORO='<html><body><strong><i>This is a coroutine-like function!</i></strong></body></html>'
printf '%s' "$CORO" >"$IT_TMP/coro.body"
CLIENTS=4

# systemd's side of sd_notify: a datagram socket named by NOTIFY_SOCKET.
notify_sock=$IT_TMP/notify.sock
notify_log=$IT_TMP/notify.log
: >"$notify_log"
python3 "$here/restart_tools.py" notify "$notify_sock" "$notify_log" &
stack_wait "[ -S '$notify_sock' ]" 5 || fail "notify listener did not start"

app_pid() { cat "$IT_TMP/stack/app.pid" 2>/dev/null; }
notify_count() { grep -c "$1" "$notify_log"; }

# restart_under_load NAME RESTARTS: clients loop through nginx while the
# app is restarted RESTARTS times; checks every reply.
restart_under_load() {
	local name=$1 n=$2 stop=$IT_TMP/stop.$1 out=$IT_TMP/loop.$1 i old new
	local ino0 ino1
	ino0=$(stat -c %i "$STACK_SOCK")
	python3 "$here/restart_tools.py" loop "$IT_URL/coro" "$IT_TMP/coro.body" \
		"$CLIENTS" "$stop" 120 >"$out" &
	local loop_pid=$!
	sleep 1
	for i in $(seq 1 "$n"); do
		old=$(app_pid)
		kill -TERM "$old"
		# The holder starts the next instance once this one has exited.
		if stack_wait "[ \"\$(app_pid)\" != '$old' ] && '$STACK_ROOT/$BUILD/fcgi_app' --health --socket '$STACK_SOCK'" 20; then
			ok "$name: restart $i: instance $old replaced by $(app_pid)"
		else
			fail "$name: restart $i: no new instance after $old"
		fi
		sleep 1
	done
	touch "$stop"
	wait "$loop_pid"
	local line total exact errors mismatched status
	line=$(cat "$out")
	read -r _ total _ exact _ status _ mismatched _ errors <<<"$line"
	echo "     $name: $line"
	check "$name: every reply during $n restarts is 200" "200:$total" "$status"
	check "$name: no reply differs from the exact /coro body" 0 "$mismatched"
	check "$name: no request failed without a reply" 0 "$errors"
	check_true "$name: the clients made requests throughout ($total >= $((n * 100)))" \
		[ "${total:-0}" -ge $((n * 100)) ]
	ino1=$(stat -c %i "$STACK_SOCK" 2>/dev/null)
	check "$name: the socket file is the one the holder created" "$ino0" "$ino1"
	local exits
	exits=$(awk '$2 != 0' "$IT_TMP/stack/app.pid.exits")
	check "$name: each stopped instance exited 0" "" "$exits"
	check "$name: $n instances stopped" "$n" "$(wc -l <"$IT_TMP/stack/app.pid.exits")"
	if grep -Eq 'upstream|connect\(\)' "$IT_TMP/stack/nginx.log"; then
		fail "$name: nginx logged upstream errors"
		grep -E 'upstream|connect\(\)' "$IT_TMP/stack/nginx.log" | head -5
	else
		ok "$name: nginx logged no upstream error"
	fi
}

# ---- systemd socket activation, Type=notify
export NOTIFY_SOCKET=$notify_sock WATCHDOG_USEC=400000
IT_START_APP="stack_start_app_activated systemd" it_start
check_true "the app took the socket from systemd (LISTEN_FDS)" \
	grep -q 'msg=listening inherited=systemd fd=3 ' "$IT_TMP/stack/app.log"
get /coro
check "/coro through nginx on the activated socket" "200 $CORO" "$STATUS $BODY"

check_true "READY=1 with a STATUS= line" \
	stack_wait "grep -q 'READY=1;STATUS=Serving: 0 pending requests' '$notify_log'" 5
# Pings at half of WATCHDOG_USEC (400 ms): about 10 in 2 s.
p0=$(notify_count 'WATCHDOG=1')
sleep 2
p1=$(notify_count 'WATCHDOG=1')
check_true "WATCHDOG=1 every ~200 ms: $((p1 - p0)) in 2 s (7..13)" \
	[ $((p1 - p0)) -ge 7 -a $((p1 - p0)) -le 13 ]
curl -s --max-time 20 -o "$IT_TMP/simple.body" "$IT_URL/simple" &
simple_pid=$!
check_true "STATUS= reports a held request" \
	stack_wait "grep -q 'STATUS=Serving: 1 pending requests' '$notify_log'" 5
get /simple/fire
wait "$simple_pid"
check "the held /simple completes" '<u><i>This is a simple callback...FIRE!</i></u>' "$(cat "$IT_TMP/simple.body")"

restart_under_load systemd 3
check "STOPPING=1 once per restart" 3 "$(notify_count 'STOPPING=1')"
check "READY=1 once per instance" 4 "$(notify_count 'READY=1')"
check_true "the stopped instances handed over" \
	grep -q 'msg="handing over"' "$IT_TMP/stack/app.log"
unset NOTIFY_SOCKET WATCHDOG_USEC
stack_stop
check "the socket holder exits 0 with the last instance" "" \
	"$(awk '$2 != 0' "$IT_TMP/stack/app.pid.exits")"

# ---- fd 0 (spawn-fcgi)
IT_START_APP="stack_start_app_activated stdin" it_start
check_true "the app took the socket on fd 0" \
	grep -q 'msg=listening inherited=stdin fd=' "$IT_TMP/stack/app.log"
get /coro
check "/coro through nginx on the fd 0 socket" "200 $CORO" "$STATUS $BODY"
restart_under_load stdin 2

it_done
