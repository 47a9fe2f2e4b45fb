#!/usr/bin/env bash
# At its fd limit the app sheds new connections with a 503 + Retry-After
# (its reserve fd) instead of leaving them in the backlog until nginx times
# out; nginx relays that 503 (no 502), the requests already held still
# complete, and shedding works again the next time (the reserve came back).
. "$(dirname "$0")/lib.sh"
# Without upstream keep-alive every request needs a connection of its own,
# so the number that fit under the limit does not depend on nginx's cache.
export STACK_KEEPALIVE=0
it_start
pid=$STACK_APP_PID
N=40
SIMPLE='<u><i>This is a simple callback...FIRE!</i></u>'

# round R: limits the app to 20 fds more than it has open, sends N /simple
# at once, checks the answers, lifts the limit and fires.
round() {
	local r=$1 lim hard i done_n prev s n503=0 nother=0 held
	hard=$(prlimit --pid "$pid" --nofile --noheadings --output HARD)
	lim=$(( $(ls /proc/"$pid"/fd | wc -l) + 20 ))
	# Only the soft limit: lifting a hard limit again needs CAP_SYS_RESOURCE.
	prlimit --pid "$pid" --nofile="$lim:$hard"
	for i in $(seq 1 "$N"); do
		curl -s --max-time 30 -D "$IT_TMP/h$r.$i" -o "$IT_TMP/b$r.$i" \
			-w '%{http_code}\n' "$IT_URL/simple" >"$IT_TMP/s$r.$i" &
	done
	# The shed ones answer at once; wait until no more answers come for 1 s.
	prev=-1
	for i in $(seq 1 50); do
		done_n=$(cat "$IT_TMP"/s"$r".* 2>/dev/null | grep -c .)
		[ "$done_n" = "$prev" ] && [ $((i % 10)) = 0 ] && break
		[ $((i % 10)) = 0 ] && prev=$done_n
		sleep 0.1
	done
	for i in $(seq 1 "$N"); do
		s=$(cat "$IT_TMP/s$r.$i")
		case $s in
		503)
			n503=$((n503 + 1))
			if ! tr -d '\r' <"$IT_TMP/h$r.$i" | grep -qi '^Retry-After: 1$' ||
				! grep -q "run out of file descriptors" "$IT_TMP/b$r.$i"; then
				nother=$((nother + 1))
			fi ;;
		"") ;;
		*) nother=$((nother + 1)); echo "     request $i answered $s" ;;
		esac
	done
	held=$((N - n503 - nother))
	check_true "round $r: some of $N over a limit of $lim fds are shed ($n503)" [ "$n503" -ge 5 ]
	check_true "round $r: some of $N fit and stay pending ($held)" [ "$held" -ge 5 ]
	check "round $r: every shed one is a 503 with Retry-After and the app's page, none else answered" 0 "$nother"
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

round 1
round 2
check_true "the app logged the shedding" grep -q "out of file descriptors, shedding connections" "$IT_TMP/stack/app.log"
check "no 'no reserve' error in the app log" 0 "$(grep -c "no reserve" "$IT_TMP/stack/app.log")"
# A 502 would show here: nginx writing into, or reading from, a connection
# the app closed too early.
check "nginx logged no failed upstream read or write" 0 \
	"$(grep -cE "Broken pipe|reset by peer|prematurely closed" "$IT_TMP/stack/nginx.log")"
get /coro
check "/coro after the limit is lifted" 200 "$STATUS"
it_done
