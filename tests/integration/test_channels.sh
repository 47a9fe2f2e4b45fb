#!/usr/bin/env bash
# examples/channels, the long-poll pub/sub app, through nginx with the
# shipped config: routes and methods (405 with Allow), channel names (404),
# a publish reaching exactly its channel's subscribers with the exact body
# and Content-Type, HEAD, the subscriber caps (503 + Retry-After), the
# pending timeout (504), an aborted subscriber leaving its channel, and
# 10,000 subscribers over 100 channels each getting its own channel's
# message (bench/holdclient).
#
# Under STACK_VALGRIND the big run is 200 subscribers over 10 channels.
. "$(dirname "$0")/lib.sh"
STACK_APP=$STACK_ROOT/$BUILD/examples/channels
HOLDCLIENT=$STACK_ROOT/$BUILD/bench/holdclient
[ -x "$STACK_APP" ] || { fail "no $STACK_APP (make)"; it_done; exit 1; }

# sub NAME PATH [curl args]: a subscriber in the background; its status,
# headers and body go to $IT_TMP/NAME.{code,head,body}.
sub() {
	local name=$1 path=$2
	shift 2
	curl -s --max-time 20 "$@" -D "$IT_TMP/$name.head" -o "$IT_TMP/$name.body" \
		-w '%{http_code}' "$IT_URL$path" >"$IT_TMP/$name.code" &
}
# header NAME FIELD: a header's value from $IT_TMP/NAME.head.
header() {
	awk -v k="$2" 'BEGIN { IGNORECASE = 1 } { sub(/\r$/, "") }
		tolower($0) ~ "^" tolower(k) ":" { sub(/^[^:]*: */, ""); print; exit }' "$IT_TMP/$1.head"
}
# req NAME [curl args] PATH: one request in the foreground, saved as sub's.
req() {
	local name=$1
	shift
	local path=${!#} args=("${@:1:$#-1}")
	curl -s --max-time 20 "${args[@]}" -D "$IT_TMP/$name.head" -o "$IT_TMP/$name.body" \
		-w '%{http_code}' "$IT_URL$path" >"$IT_TMP/$name.code"
}
# waiting N: waits until N subscribers wait on their channels.  The status
# page's simple_waiting counts the requests waiting on any of the app's
# events (the demo's /simple is one); `pending` also counts a request
# read but not yet given to its handler, which a publish may overtake.
waiting() { wait_counter simple_waiting 10 "$1"; }
code() { cat "$IT_TMP/$1.code"; }
body() { cat "$IT_TMP/$1.body"; }
# pub CHANNEL BODY [curl args]: publishes; sets STATUS, CTYPE, BODY.
pub() {
	local ch=$1 data=$2
	shift 2
	get -X POST --data-binary "$data" "$@" "/pub/$ch"
}

# ---- the app's own options (fcgi_app_add_option) -----------------------------
out=$(CHANNELS_MAX_WAITERS=0 "$STACK_APP" --socket "$IT_TMP/none.sock" 2>&1)
check "CHANNELS_MAX_WAITERS=0 stops it at start: exit 2" 2 "$?"
check "and says why" "channels: CHANNELS_MAX_WAITERS: '0' is not a number from 1 to 10000000" "$out"
out=$(CHANNELS_MAX_PER_CHANNEL=12x "$STACK_APP" --socket "$IT_TMP/none.sock" 2>&1)
check "CHANNELS_MAX_PER_CHANNEL=12x: exit 2" 2 "$?"
out=$("$STACK_APP" --max-per-channel 10000001 --socket "$IT_TMP/none.sock" 2>&1)
check "--max-per-channel 10000001: exit 2" 2 "$?"
check "and says why" "channels: --max-per-channel: '10000001' is not a number from 1 to 10000000" "$out"
help=$("$STACK_APP" --help)
check_true "--help lists both options with their variables" eval \
	"grep -qE '^  --max-per-channel +CHANNELS_MAX_PER_CHANNEL .*default 10000]' <<<\"\$help\" &&
	 grep -qE '^  --max-waiters +CHANNELS_MAX_WAITERS .*default 100000]' <<<\"\$help\""
check_true "--help names the program" grep -q '^usage: channels ' <<<"$help"
# README's table of them says what --help says (default and range).
bad=0
for opt in max-per-channel max-waiters; do
	h=$(sed -n "s/^  --$opt .*\[\([0-9]*\)-\([0-9]*\), default \([0-9]*\)\]$/\3 \1-\2/p" <<<"$help")
	r=$(grep -E "^\| \`--$opt\` \|" "$STACK_ROOT/README.md" |
		awk -F'|' '{ d = $4; g = $5; gsub(/[ ,]/, "", d); gsub(/[ ,]/, "", g); sub(/–/, "-", g); print d, g }')
	[ -n "$h" ] && [ "$h" = "$r" ] || { echo "     --$opt: --help '$h', README '$r'"; bad=$((bad + 1)); }
done
check "README's channels option rows match --help" 0 "$bad"

# ---- small caps, a short pending timeout -----------------------------------
export CHANNELS_MAX_WAITERS=5
it_start --pending-timeout 2 --max-per-channel 3
unset CHANNELS_MAX_WAITERS

# Methods: the framework's 405, with the route's methods in Allow.
req m1 /pub/news
check "GET /pub/news: 405" 405 "$(code m1)"
check "GET /pub/news: Allow: POST" POST "$(header m1 Allow)"
req m2 -X PUT -d x /pub/news
check "PUT /pub/news: 405" 405 "$(code m2)"
req m3 -X POST -d x /sub/news
check "POST /sub/news: 405" 405 "$(code m3)"
check "POST /sub/news: Allow: GET, HEAD" "GET, HEAD" "$(header m3 Allow)"

# Names: [A-Za-z0-9_-]{1,64}; anything else is the app's 404 page.
long64=$(printf 'a%.0s' $(seq 1 64))
long65=${long64}b
bad_name='<p>A channel name is 1 to 64 letters, digits, &#39;_&#39; or &#39;-&#39;.</p>'
for p in "/sub/$long65" /sub/a.b /sub/caf%C3%A9 "/pub/$long65" /pub/a.b; do
	if [ "${p:0:4}" = /pub ]; then get -X POST -d x "$p"; else get "$p"; fi
	check "${p:0:12}... (bad name): 404" 404 "$STATUS"
	check_true "${p:0:12}... (bad name): the app's page says why" \
		grep -qF "$bad_name" <<<"$BODY"
done
for p in /sub/ /pub/ /sub/a/b; do
	get "$p"
	check "$p (no channel): 404" 404 "$STATUS"
	check_true "$p: the app's 404 page" grep -qF '<title>404 Not Found</title>' <<<"$BODY"
done
pub "$long64" x
check "a 64-byte name is a channel: 200" 200 "$STATUS"
pub A-z_09 x
check "letters, digits, '_' and '-': 200" 200 "$STATUS"

# Nobody waiting.
pub news hello -H 'Content-Type: text/plain'
check "pub with nobody waiting: 200" 200 "$STATUS"
check "pub with nobody waiting: application/json" application/json "$CTYPE"
check "pub with nobody waiting: delivered 0" '{"delivered":0}' "$BODY"

# One subscriber: the exact bytes and Content-Type (trailing newlines and
# bytes >= 0x80 included).
printf 'line one\nline two \xc3\xa9\xff\n\n' >"$IT_TMP/msg"
sub s1 /sub/news
check_true "a subscriber is pending" waiting 1
get -X POST --data-binary "@$IT_TMP/msg" -H 'Content-Type: text/plain; charset=utf-8' /pub/news
check "pub to one subscriber: delivered 1" '{"delivered":1}' "$BODY"
wait_clients
check "the subscriber: 200" 200 "$(code s1)"
check_true "the subscriber got the exact body" cmp -s "$IT_TMP/msg" "$IT_TMP/s1.body"
check "the subscriber got the publisher's Content-Type" "text/plain; charset=utf-8" \
	"$(header s1 Content-Type)"

# Only the channel's subscribers, and the next message only.
sub a1 /sub/red
sub a2 /sub/red
sub b1 /sub/blue
check_true "three subscribers pending" waiting 3
pub red 'for red' -H 'Content-Type: application/x-red'
check "pub red: delivered 2" '{"delivered":2}' "$BODY"
check_true "red's two answered, blue's still waiting" wait_counter pending 10 1
check "one waiter left over every channel" 1 "$(counter simple_waiting)"
pub red again
check "pub red again: delivered 0" '{"delivered":0}' "$BODY"
pub blue 'for blue' -H 'Content-Type:'
check "pub blue: delivered 1" '{"delivered":1}' "$BODY"
wait_clients
check "red 1: 200 'for red' application/x-red" "200 for red application/x-red" \
	"$(code a1) $(body a1) $(header a1 Content-Type)"
check "red 2: 200 'for red' application/x-red" "200 for red application/x-red" \
	"$(code a2) $(body a2) $(header a2 Content-Type)"
check "blue (no Content-Type): 200 'for blue' application/octet-stream" \
	"200 for blue application/octet-stream" \
	"$(code b1) $(body b1) $(header b1 Content-Type)"

# A 60,000-byte message to 3 subscribers (this instance's per-channel
# cap): each reply its own whole copy.
head -c 60000 /dev/urandom >"$IT_TMP/big"
for i in 1 2 3; do sub big$i /sub/big; done
check_true "3 subscribers waiting" waiting 3
get -X POST --data-binary "@$IT_TMP/big" -H 'Content-Type: application/x-big' /pub/big
check "pub 60,000 bytes: delivered 3" '{"delivered":3}' "$BODY"
wait_clients
good=0
for i in 1 2 3; do
	[ "$(code big$i)" = 200 ] && cmp -s "$IT_TMP/big" "$IT_TMP/big$i.body" &&
		[ "$(header big$i Content-Type)" = application/x-big ] && good=$((good + 1))
done
check "all 3 got 200 with the 60,000 bytes and the type" 3 "$good"

# An empty message.
sub e1 /sub/empty
check_true "a subscriber pending" waiting 1
get -X POST -H 'Content-Type: text/x-empty' /pub/empty
check "empty pub: delivered 1" '{"delivered":1}' "$BODY"
wait_clients
check "empty message: 200, no body, its type" "200 0 text/x-empty" \
	"$(code e1) $(stat -c %s "$IT_TMP/e1.body") $(header e1 Content-Type)"

# HEAD waits like GET and gets the message's headers without its body.
sub h1 /sub/head -I
sub h2 /sub/head
check_true "HEAD and GET subscribers pending" waiting 2
pub head abc -H 'Content-Type: text/x-head'
check "pub: delivered 2" '{"delivered":2}' "$BODY"
wait_clients
check "HEAD: 200, the message's type and length" "200 text/x-head 3" \
	"$(code h1) $(header h1 Content-Type) $(header h1 Content-Length)"
# (curl -I writes the headers where the body would go: nothing else.)
check_true "HEAD: no body" cmp -s "$IT_TMP/h1.head" "$IT_TMP/h1.body"
check "GET beside it: 200 abc" "200 abc" "$(code h2) $(body h2)"

# A Content-Type the server could not send back is refused up front.
get -X POST -d x -H $'Content-Type: text/\x01plain' /pub/news
check "a Content-Type with a control byte: 400" 400 "$STATUS"

# Caps: 3 per channel, 5 in all (env), 503 + Retry-After past them.
for i in 1 2 3; do sub c$i /sub/capped; done
check_true "3 subscribers on one channel" waiting 3
req c4 /sub/capped
check "a 4th on the channel: 503" 503 "$(code c4)"
check "a 4th on the channel: Retry-After: 1" 1 "$(header c4 Retry-After)"
check_true "the 503 says which cap" grep -qF 'This channel has 3 subscribers waiting' "$IT_TMP/c4.body"
sub d1 /sub/other
sub d2 /sub/other
check_true "5 subscribers in all" waiting 5
req d3 /sub/third
check "a 6th on a third channel: 503" 503 "$(code d3)"
check "a 6th: Retry-After: 1" 1 "$(header d3 Retry-After)"
check_true "the 503 says which cap" grep -qF '5 subscribers are waiting' "$IT_TMP/d3.body"
pub capped x
check "pub capped: delivered 3 (the refused 4th never waited)" '{"delivered":3}' "$BODY"
pub other y
check "pub other: delivered 2" '{"delivered":2}' "$BODY"
wait_clients
check "the capped channel's subscribers got the message" "200x 200x 200x" \
	"$(code c1)$(body c1) $(code c2)$(body c2) $(code c3)$(body c3)"
req c5 --max-time 1 /sub/capped
check "room again after the fire: the next subscriber waits (curl gives up: 000)" 000 "$(code c5)"

# The pending timeout: 504 after --pending-timeout (2 s), and the waiter
# is gone.
check_true "nothing pending" wait_counter pending 10 0
t0=$(now_ms)
req t1 /sub/slow
t=$(($(now_ms) - t0))
check "a subscriber nobody publishes to: 504" 504 "$(code t1)"
check_true "after ${t} ms, 0.75x to 3x the 2 s --pending-timeout" [ "$t" -ge 1500 -a "$t" -le 6000 ]
pub slow late
check "pub after the 504: delivered 0" '{"delivered":0}' "$BODY"

# A client that goes away: its waiter leaves the channel.
aborted0=$(counter aborted_total)
sub g1 /sub/gone --max-time 1
check_true "the subscriber is pending" waiting 1
wait_clients
check "the client gave up (curl: 000)" 000 "$(code g1)"
check_true "the app saw the abort" wait_counter aborted_total 10 $((aborted0 + 1))
check_true "nothing pending" wait_counter pending 10 0
check "no waiter left" 0 "$(counter simple_waiting)"
pub gone late
check "pub after the abort: delivered 0" '{"delivered":0}' "$BODY"

# A stop answers the subscribers still waiting (503) and frees the channels
# (a leak would show under ASan or valgrind).
sub z1 /sub/bye
sub z2 /sub/bye
check_true "two subscribers waiting at the stop" waiting 2
it_stop_app
wait_clients
check "subscribers waiting at SIGTERM: 503, 503" "503 503" "$(code z1) $(code z2)"
stack_stop

# ---- many subscribers over many channels, the shipped defaults -----------
if [ -n "${STACK_VALGRIND:-}" ]; then N=200 K=10; else N=10000 K=100; fi
per=$((N / K))
hard=$(ulimit -Hn)
if [ ! -x "$HOLDCLIENT" ]; then
	fail "no $HOLDCLIENT (make $BUILD/bench/holdclient)"
elif [ "$N" -gt 1000 ] && [ "$hard" != unlimited ] && [ "$hard" -lt 20000 ]; then
	# holdclient and the app hold one fd per subscriber, an nginx worker
	# two; nginx/nginx.conf is sized for a hard limit of 20,000
	# (test_hold_shipped.sh).
	echo "skip $IT_NAME: $N subscribers need an fd hard limit of 20,000; it is $hard"
else
	rm -rf "$IT_TMP/stack"
	it_start
	out=$(timeout 180 "$HOLDCLIENT" --port "$IT_PORT" --n "$N" --spread "$K" --timeout 150 \
		--path /sub/ch --wait-key simple_waiting --mode fire --fire-method POST --fire-path /pub/ch \
		--fire-body "message for channel " --fire-type 'text/plain; charset=utf-8' \
		--expect "message for channel " --expect-type 'text/plain; charset=utf-8' \
		--fire-expect "{\"delivered\":$per}")
	echo "     ${out:0:400}"
	kv() { tr ' ' '\n' <<<"$out" | sed -n "s/^$1=//p" | head -1; }
	check "$N over $K channels: all sent and held until the publishes" "$N $N" "$(kv sent) $(kv held)"
	check "$K publishes: 200, each delivered $per" "200 $K $K" "$(kv fire_status) $(kv fires) $(kv fire_ok)"
	check "every subscriber 200" "200:$N" "$(kv codes)"
	check "every subscriber got its own channel's exact body" "$N 0" "$(kv body_ok) $(kv bad_body)"
	check "and the publisher's Content-Type" 0 "$(kv bad_type)"
	check "no reset, no empty reply" 0 "$(kv errors)"
	echo "     $N subscribers: publish to last reply $(kv fire_to_last_ms) ms, non-2xx $(kv non2xx)"
	check_true "nothing pending afterwards" wait_counter pending 10 0
	check "no waiter left" 0 "$(counter simple_waiting)"
	check "nginx never ran short of connections" 0 \
		"$(grep -c "worker_connections are not enough" "$IT_TMP/stack/nginx.log")"
fi
it_done
