#!/usr/bin/env bash
# At its fd limit the app sheds new connections with a 503 + Retry-After
# (its reserve fd) instead of leaving them in the backlog until nginx times
# out; nginx relays that 503 (no 502), the requests already held still
# complete, and shedding works again the next time (the reserve came back).
# And held requests never get that far: started under a low fd limit, the
# app lowers --max-pending to what fits with --fd-reserve fds free (one
# warn line), answers a /simple past it with its own 503, and /simple/fire
# and the status page still get through.
. "$(dirname "$0")/lib.sh"
HOLDCLIENT=$STACK_ROOT/$BUILD/bench/holdclient
[ -x "$HOLDCLIENT" ] || { fail "no $HOLDCLIENT (make bench-bins)"; it_done; exit 1; }
# Rounds 1 and 2 without upstream keep-alive: every request needs a
# connection of its own, so how many fit under the limit does not depend on
# nginx's cache.  Round 3 on a new stack with the shipped keep-alive.
export STACK_KEEPALIVE=0
it_start
pid=$STACK_APP_PID
N=40
SIMPLE='<u><i>This is a simple callback...FIRE!</i></u>'

# round R: limits the app to 20 fds more than it has open, sends N /simple
# at once, checks the answers, lifts the limit and fires.
round() {
	local r=$1 lim hard i done_n prev s n503=0 nbad=0 nother=0 held conn
	hard=$(prlimit --pid "$pid" --nofile --noheadings --output HARD)
	lim=$(( $(ls /proc/"$pid"/fd | wc -l) + 20 ))
	# Only the soft limit: lifting a hard limit again needs CAP_SYS_RESOURCE.
	prlimit --pid "$pid" --nofile="$lim:$hard"
	for i in $(seq 1 "$N"); do
		curl -s --max-time 30 -D "$IT_TMP/h$r.$i" -o "$IT_TMP/b$r.$i" \
			-w '%{http_code}\n' "$IT_URL/simple" >"$IT_TMP/s$r.$i" &
	done
	# The shed ones answer at once.  Wait until every client has either
	# its answer or a connection to nginx, then until no answer has come
	# for 1 s.
	prev=-1
	for i in $(seq 1 100); do
		done_n=$(cat "$IT_TMP"/s"$r".* 2>/dev/null | grep -c .)
		conn=$(ss -HtnO state established "dport = :$IT_PORT" | wc -l)
		if [ $((done_n + conn)) -ge "$N" ] && [ $((i % 10)) = 0 ]; then
			[ "$done_n" = "$prev" ] && break
			prev=$done_n
		fi
		sleep 0.1
	done
	for i in $(seq 1 "$N"); do
		s=$(cat "$IT_TMP/s$r.$i")
		case $s in
		503)
			n503=$((n503 + 1))
			if ! tr -d '\r' <"$IT_TMP/h$r.$i" | grep -qi '^Retry-After: 1$' ||
				! grep -q "run out of file descriptors" "$IT_TMP/b$r.$i"; then
				nbad=$((nbad + 1))
			fi ;;
		"") ;;
		*) nother=$((nother + 1)); echo "     request $i answered $s" ;;
		esac
	done
	held=$((N - n503 - nother))
	check_true "round $r: some of $N over a limit of $lim fds are shed ($n503)" [ "$n503" -ge 5 ]
	check_true "round $r: some of $N fit and stay pending ($held)" [ "$held" -ge 5 ]
	check "round $r: every shed one has Retry-After and the app's page" 0 "$nbad"
	check "round $r: none answered anything but a 503" 0 "$nother"
	# A connection the app could neither take nor shed would wait in its
	# listen backlog (and be taken, and count as held, once fds are free).
	check "round $r: nothing is left waiting in the app's listen backlog" 0 \
		"$(ss -xlH src "$STACK_SOCK" | awk '{ print $3 }')"
	prlimit --pid "$pid" --nofile="$hard:$hard"
	check "round $r: the held ones are pending once fds are free" "$held" "$(counter pending)"
	get /simple/fire
	check "round $r: fire" 200 "$STATUS"
	wait_clients
	local ok200=0
	for i in $(seq 1 "$N"); do
		[ "$(cat "$IT_TMP/s$r.$i")" = 200 ] && [ "$(cat "$IT_TMP/b$r.$i")" = "$SIMPLE" ] && ok200=$((ok200 + 1))
	done
	check "round $r: every held one completes with the fired body" "$held" "$ok200"
}

# logs_clean LABEL: the app shed and said so, never failed to; nginx saw no
# connection closed too early (a 502: its write failed, or a reset).
logs_clean() {
	check_true "$1: the app logged the shedding" \
		grep -q "out of file descriptors, shedding connections" "$IT_TMP/stack/app.log"
	check "$1: no 'cannot shed' error in the app log" 0 \
		"$(grep -c "cannot shed" "$IT_TMP/stack/app.log")"
	check "$1: nginx logged no failed upstream read or write" 0 \
		"$(grep -cE "Broken pipe|reset by peer|prematurely closed" "$IT_TMP/stack/nginx.log")"
	get /coro
	check "$1: /coro after the limit is lifted" 200 "$STATUS"
}

# cap_round LABEL: on a stack whose app started under an fd limit of
# $NOFILE with --fd-reserve $RESERVE, holds 30 /simple more than the cap
# (bench/holdclient); then the status page, a /simple past the cap and
# /simple/fire, each through nginx; then every held one must have its body.
NOFILE=300
RESERVE=64
in_range() { [ -n "$1" ] && [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]; }
kv() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p" | head -1; }
cap_round() {
	local l=$1 level=$2 log=$IT_TMP/stack/app.log cap n out held fds i p prev=-1 hdr
	# A --max-pending the user gave is lowered with a warning; the default
	# is fitted to the machine with an info line.
	check "$l: one $level line lowers --max-pending" 1 \
		"$(grep -c "level=$level msg=\"--max-pending lowered" "$log")"
	check "$l: and no other" 1 "$(grep -c 'msg="--max-pending lowered' "$log")"
	cap=$(sed -n 's/.*--max-pending lowered.* max_pending=\([0-9]*\) requested=20000 nofile='$NOFILE' .*fd_reserve='$RESERVE'$/\1/p' "$log")
	check_true "$l: the cap ($cap) is $NOFILE fds less the reserve and the app's own" \
		in_range "$cap" $((NOFILE - RESERVE - 60)) $((NOFILE - RESERVE - 10))
	n=$((cap + 30))
	timeout 90 "$HOLDCLIENT" --port "$IT_PORT" --n "$n" --mode wait --settle 1 \
		--timeout 60 >"$IT_TMP/hc" &
	# The held ones stay; those past the cap get their 503 at once.
	for i in $(seq 1 100); do
		p=$(counter pending)
		[ "$p" = "$prev" ] && in_range "$p" $((cap - 4)) "$cap" && break
		prev=$p
		sleep 0.2
	done
	held=$(counter pending)
	if [ "$STACK_KEEPALIVE" = 0 ]; then
		check "$l: exactly the cap is held" "$cap" "$held"
	else
		# Idle kept connections take fds of the budget too.
		check_true "$l: the cap less the idle kept connections is held ($held)" \
			in_range "$held" $((cap - 4)) "$cap"
	fi
	# Without keep-alive every connection past the cap is closed after its
	# 503; with it, nginx keeps each in its cache (idle here too, on an
	# fd of the reserve) until it reuses it or its keepalive_timeout.
	local kept=0
	[ "$STACK_KEEPALIVE" = 0 ] || kept=$((n - held))
	fds=$(ls /proc/"$STACK_APP_PID"/fd | wc -l)
	check_true "$l: the app has $fds fds open: $RESERVE of $NOFILE stay free, less $kept kept after a 503" \
		[ "$fds" -le $((NOFILE - RESERVE + kept)) ]
	get /_fcgi_app/status
	check "$l: the status page at the cap" 200 "$STATUS"
	get /_fcgi_app/metrics
	check "$l: the metrics at the cap" 200 "$STATUS"
	get /_fcgi_app/ping
	check "$l: ping at the cap" "200 pong" "$STATUS $BODY"
	hdr=$(curl -s -D - -o "$IT_TMP/capbody" --max-time 5 "$IT_URL/simple" | tr -d '\r')
	check_true "$l: a /simple past the cap is 503" grep -q "^HTTP/1.1 503 " <<<"$hdr"
	check_true "$l: with Retry-After" grep -qi "^Retry-After: 1" <<<"$hdr"
	check_true "$l: the 503 is the app's cap page, not shedding" \
		grep -qE "the limit is $cap|file descriptor limit \($cap\)" "$IT_TMP/capbody"
	get /simple/fire
	check "$l: /simple/fire at the cap" 200 "$STATUS"
	check "$l: the fire's body" 'Look at the <a href="/simple">/simple</a> request tab.' "$BODY"
	wait_clients
	out=$(cat "$IT_TMP/hc")
	echo "     ${out:0:240}"
	check "$l: every held one 200, the rest 503" "200:$held,503:$((n - held))" "$(kv "$out" codes)"
	check "$l: every held one has the fired body" "$held" "$(kv "$out" body_ok)"
	check "$l: every 503 has Retry-After" "$((n - held))" "$(kv "$out" retry_after)"
	check "$l: no connection error" 0 "$(kv "$out" errors)"
	check "$l: the app never ran out of fds (nothing shed)" 0 \
		"$(grep -cE "shedding|cannot shed" "$log")"
	check_true "$l: pending back to 0" wait_counter pending 10 0
	# Every 503 so far was the cap's: the metrics' two reasons for it add
	# up to the status page's rejected_total.
	local m
	m=$(curl -s --max-time 5 "$IT_URL/_fcgi_app/metrics")
	check "$l: metrics: rejected max_pending + fd_limit = rejected_total" "$(counter rejected_total)" \
		"$(awk '/^fcgi_app_rejected_total\{reason="(max_pending|fd_limit)"\}/ { n += $2 } END { print n + 0 }' <<<"$m")"
}

round 1
round 2
logs_clean "keep-alive off"
it_stop_app
stack_stop
export STACK_KEEPALIVE=8192
it_start
pid=$STACK_APP_PID
round 3
logs_clean "keep-alive on"
it_stop_app
stack_stop
export STACK_APP_NOFILE=$NOFILE STACK_KEEPALIVE=0
it_start --fd-reserve "$RESERVE" --max-pending 20000
cap_round "cap, keep-alive off" warn
it_stop_app
stack_stop
export STACK_KEEPALIVE=8192
it_start --fd-reserve "$RESERVE"
cap_round "cap, keep-alive on" info
it_done
