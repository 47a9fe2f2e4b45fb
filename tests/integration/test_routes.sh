#!/usr/bin/env bash
# Every route and case of ../shared/spec/ROUTES.md through a real nginx:
# exact status, Content-Type and body bytes.
. "$(dirname "$0")/lib.sh"
it_start

HTML="text/html; charset=utf-8"
SIMPLE_BODY='<u><i>This is a simple callback...FIRE!</i></u>'
FIRED_BODY='Look at the <a href="/simple">/simple</a> request tab.'
NOT_SET_BODY='The callback has already been fired or not set! Go back to <a href="/async/simple" target="new">/async/simple</a> and initiate the Deferred.'
ERROR_BODY="<strong>Uh oh spaghetti-Os!<br><br>ERROR: [Failure instance: Traceback (failure with no frames): <class 'ValueError'>: invalid literal for int() with base 10: 'hello'
]</strong>"
CORO_BODY='<html><body><strong><i>This is a coroutine-like function!</i></strong></body></html>'

for prefix in "" /async; do
	get "$prefix/coro"
	check "$prefix/coro status" 200 "$STATUS"
	check "$prefix/coro content-type" "$HTML" "$CTYPE"
	check "$prefix/coro body" "$CORO_BODY" "$BODY"

	get "$prefix/error"
	check "$prefix/error status" 400 "$STATUS"
	check "$prefix/error content-type" "$HTML" "$CTYPE"
	check "$prefix/error body" "$ERROR_BODY" "$BODY"

	get "$prefix/simple/fire"
	check "$prefix/simple/fire with nothing pending: status" 200 "$STATUS"
	check "$prefix/simple/fire with nothing pending: body" "$NOT_SET_BODY" "$BODY"

	get "$prefix/sleep/1"
	check "$prefix/sleep/1 status" 200 "$STATUS"
	check "$prefix/sleep/1 body" "Slept for 1 seconds" "$BODY"
done

# Three pending /simple, one fire: all three get the body.
for i in 1 2 3; do
	curl -s --max-time 20 -o "$IT_TMP/simple$i" -w '%{http_code}' "$IT_URL/simple" >"$IT_TMP/status$i" &
done
check_true "three /simple are pending" wait_counter pending 10 3
get /simple/fire
check "/simple/fire with three pending: status" 200 "$STATUS"
check "/simple/fire with three pending: body" "$FIRED_BODY" "$BODY"
wait_clients
for i in 1 2 3; do
	check "pending /simple #$i status" 200 "$(cat "$IT_TMP/status$i")"
	check "pending /simple #$i body" "$SIMPLE_BODY" "$(cat "$IT_TMP/simple$i")"
done
get /simple/fire
check "second fire finds nothing pending" "$NOT_SET_BODY" "$BODY"

# The demo's own link: /async/simple, fired from /simple/fire.
curl -s --max-time 20 -o "$IT_TMP/async_simple" "$IT_URL/async/simple" &
check_true "/async/simple is pending" wait_counter pending 10 1
get /simple/fire
wait_clients
check "/async/simple body after fire" "$SIMPLE_BODY" "$(cat "$IT_TMP/async_simple")"

# /sleep/<n> validation: digits only, leading zeros allowed.
get /sleep/01
check "/sleep/01 status" 200 "$STATUS"
check "/sleep/01 body (plain decimal)" "Slept for 1 seconds" "$BODY"
get /sleep/0
check "/sleep/0 body" "Slept for 0 seconds" "$BODY"
get /sleep/0000000000000000000000000
check "/sleep/ with 25 zeros is 0" "Slept for 0 seconds" "$BODY"
for bad in /sleep/abc /sleep/-1 /sleep/1.5 /sleep/ /sleep /sleep/+1 /sleep/1a "/sleep/%201" /sleep/1/ /async/sleep/x; do
	get "$bad"
	check "$bad is 404" 404 "$STATUS"
done
get /sleep/61
check "/sleep/61 is 400 (default max 60)" 400 "$STATUS"
check_true "/sleep/61 body names the maximum" grep -q "at most 60 seconds" <<<"$BODY"
get /sleep/99999999999999999999
check "/sleep/<20 digits> is 400, no overflow" 400 "$STATUS"
get /sleep/184467440737095516161844674407370955161
check "/sleep/<39 digits> is 400" 400 "$STATUS"

# Exact matching: no prefix, no trailing slash, any method.
for bad in / /nope /simple/ /coro/ /corox /async /async/ /async/async/coro /SIMPLE /simple/fire/x; do
	get "$bad"
	check "$bad is 404" 404 "$STATUS"
done
get /nope
check "404 content-type" "$HTML" "$CTYPE"
check_true "404 body is a short HTML page" grep -q "<h1>404 Not Found</h1>" <<<"$BODY"

get -X POST /coro
check "POST /coro status" 200 "$STATUS"
check "POST /coro body" "$CORO_BODY" "$BODY"
get -X DELETE /error
check "DELETE /error status" 400 "$STATUS"
get -X POST --data-binary 'a=1' /coro
check "POST with a body" "$CORO_BODY" "$BODY"

# HEAD: the headers of GET, no body.
hdrs=$(curl -s -I --max-time 10 "$IT_URL/coro" | tr -d '\r')
check_true "HEAD /coro is 200" grep -q "^HTTP/1.1 200 OK" <<<"$hdrs"
check_true "HEAD /coro has GET's Content-Length" grep -qi "^Content-Length: ${#CORO_BODY}$" <<<"$hdrs"
raw=$(exec 3<>"/dev/tcp/127.0.0.1/$IT_PORT"; printf 'HEAD /coro HTTP/1.0\r\nHost: x\r\n\r\n' >&3; timeout 5 cat <&3; printf x)
raw=${raw%x} # keep the bytes command substitution would strip
check "HEAD /coro has no body" "" "${raw#*$'\r\n\r\n'}"

# The upstream mode really is the one configured: the shipped config keeps
# connections alive; STACK_KEEPALIVE=0 is one connection per request.
kept=$(counter kept_alive_total)
if [ "${STACK_KEEPALIVE:-}" = 0 ]; then
	check "no request came on a kept connection" 0 "$kept"
else
	check_true "requests came on kept connections ($kept)" [ "$kept" -gt 10 ]
fi

# Status line carries the reason phrase.
check_true "status line has a reason phrase" grep -q "^HTTP/1.1 400 Bad Request" <<<"$(curl -s -i "$IT_URL/error" | tr -d '\r')"

# The same, from the app itself (nginx would fill in a reason phrase and
# drop a HEAD body on its own).
PEER="python3 $IT_DIR_SELF/peer.py"
out=$($PEER get "$STACK_SOCK" /error)
check "the app's own status line for /error" "Status: 400 Bad Request" "$(head -n 1 <<<"$out" | tr -d '\r')"
$PEER get "$STACK_SOCK" /coro HEAD >"$IT_TMP/head"
check "the app's HEAD /coro: status" "Status: 200 OK" "$(head -n 1 "$IT_TMP/head" | tr -d '\r')"
check_true "the app's HEAD /coro: GET's Content-Length" grep -q "^Content-Length: ${#CORO_BODY}"$'\r'"$" "$IT_TMP/head"
# Bytes after the blank line that ends the headers (-1: no blank line).
after=$(python3 -c 'import sys; d = open(sys.argv[1], "rb").read(); i = d.find(b"\r\n\r\n"); print(-1 if i < 0 else len(d) - i - 4)' "$IT_TMP/head")
check "the app's HEAD /coro: nothing after the headers" 0 "$after"

it_done
