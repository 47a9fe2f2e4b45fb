#!/usr/bin/env bash
# Every limit answers with its own status instead of growing: pending cap
# (503), pending timeout (504), full worker queue (503), body size (413),
# /sleep maximum (400).
. "$(dirname "$0")/lib.sh"
# nginx lets bodies far past the app's --max-body through, so that the
# app's own 413 is what answers them.
export STACK_CLIENT_MAX_BODY=32m
it_start --max-pending 3 --pending-timeout 3 --workers 1 --queue 1 \
	--max-sleep 2 --max-body 100

# Pending cap.
for i in 1 2 3; do curl -s --max-time 10 -o "$IT_TMP/p$i" "$IT_URL/simple" & done
check_true "3 pending at the cap" wait_counter pending 5 3
hdr=$(curl -s -D - -o "$IT_TMP/capbody" --max-time 5 "$IT_URL/simple" | tr -d '\r')
check_true "4th /simple over the cap is 503" grep -q "^HTTP/1.1 503 Service Unavailable" <<<"$hdr"
check_true "cap 503 has Retry-After" grep -qi "^Retry-After: 1" <<<"$hdr"
check_true "cap 503 body names the limit" grep -q "the limit is 3" "$IT_TMP/capbody"
get /coro
check "/coro still served at the pending cap" 200 "$STATUS"
get /simple/fire
wait_clients
check "a capped-out pending /simple still completes on fire" '<u><i>This is a simple callback...FIRE!</i></u>' "$(cat "$IT_TMP/p1")"

# Pending timeout: the app, not nginx, answers 504.
t0=$(now_ms)
get /simple
t=$(( $(now_ms) - t0 ))
check "pending timeout is 504" 504 "$STATUS"
check_true "504 body says how long" grep -q "more than 3 seconds" <<<"$BODY"
check_true "504 came after ${t} ms, between 2900 and 5000 (timeout 3 s)" [ "$t" -ge 2900 -a "$t" -lt 5000 ]
check "pending is 0 after the timeout" 0 "$(counter pending)"
check "timed_out_total counted it" 1 "$(counter timed_out_total)"

# Worker queue: 1 worker + 1 waiting job; the third gets 503 at once.
curl -s --max-time 10 -o /dev/null "$IT_URL/sleep/2" &
check_true "the worker is busy" wait_counter pool_busy 5 1
# /sleep/0: it waits ~2 s for the worker, well inside the 3 s pending timeout.
curl -s --max-time 10 -o "$IT_TMP/q2" "$IT_URL/sleep/0" &
check_true "one job queued" wait_counter pool_queued 5 1
t0=$(now_ms)
hdr=$(curl -s -D - -o "$IT_TMP/qbody" --max-time 5 "$IT_URL/sleep/1" | tr -d '\r')
t=$(( $(now_ms) - t0 ))
check_true "full queue is 503" grep -q "^HTTP/1.1 503 " <<<"$hdr"
check_true "full-queue 503 has Retry-After" grep -qi "^Retry-After: 1" <<<"$hdr"
check_true "full-queue 503 says why" grep -q "worker threads are busy" "$IT_TMP/qbody"
check_true "full-queue 503 is immediate (${t} ms < 500)" [ "$t" -lt 500 ]
wait_clients
check "the queued job still ran" "Slept for 0 seconds" "$(cat "$IT_TMP/q2")"

# Body limit (nginx allows 32m here; the app's own cap is 100 bytes).
get -X POST --data-binary "$(head -c 1000 /dev/zero | tr '\0' a)" /coro
check "body over --max-body is 413" 413 "$STATUS"
check_true "413 body names the limit" grep -q "larger than 100 bytes" <<<"$BODY"
get -X POST --data-binary "$(head -c 50 /dev/zero | tr '\0' a)" /coro
check "body under --max-body is served" 200 "$STATUS"
# A body larger than the socket's buffers: the app must read it all before
# it answers and closes, or the kernel resets the connection and nginx turns
# the 413 into a 502.  Both with a Content-Length and chunked (which nginx
# buffers and passes on with one).
check_true "nginx lets 32m bodies through here" grep -q "client_max_body_size 32m;" "$STACK_DIR/fcgi_app_locations.conf"
head -c 4000000 /dev/zero >"$IT_TMP/big"
nlog=${STACK_NGINX_LOG:-$STACK_DIR/nginx.log}
log_from=$(($(wc -l <"$nlog") + 1))
codes=""
for i in 1 2 3 4; do
	codes+=$(curl -s -o "$IT_TMP/big413" -w '%{http_code} ' --max-time 10 -X POST --data-binary @"$IT_TMP/big" "$IT_URL/coro")
	codes+=$(curl -s -o /dev/null -w '%{http_code} ' --max-time 10 -H 'Transfer-Encoding: chunked' \
		-X POST --data-binary @"$IT_TMP/big" "$IT_URL/coro")
done
check "a 4 MB body over --max-body is 413, 8 times out of 8" "413 413 413 413 413 413 413 413 " "$codes"
check_true "the 413 is the app's page" grep -q "larger than 100 bytes" "$IT_TMP/big413"
check "nginx logged no reset or broken pipe from the app" 0 \
	"$(tail -n +"$log_from" "$nlog" | grep -cE 'Connection reset by peer|Broken pipe')"
# Past --max-discard (16 MiB) the app stops reading: the answer may be lost
# (nginx then says 502), but nothing hangs and the app keeps serving.
head -c 17000000 /dev/zero >"$IT_TMP/huge"
t0=$(now_ms)
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 -X POST --data-binary @"$IT_TMP/huge" "$IT_URL/coro")
t=$(( $(now_ms) - t0 ))
check_true "a 17 MB body gets 413 or 502 ($code) within 5 s (${t} ms)" \
	eval '[ "$code" = 413 -o "$code" = 502 ] && [ "$t" -lt 5000 ]'
get /coro
check "/coro is served after the big bodies" 200 "$STATUS"

# Configured /sleep maximum.
get /sleep/3
check "/sleep/3 over --max-sleep 2 is 400" 400 "$STATUS"
check_true "400 body names the maximum" grep -q "at most 2 seconds" <<<"$BODY"
get /sleep/2
check "/sleep/2 at the maximum is served" "Slept for 2 seconds" "$BODY"

# Bad configuration is refused with a clear message and status 2.
out=$("$STACK_ROOT/$BUILD/fcgi_app" --workers 0 2>&1); rc=$?
check "--workers 0 exits 2" 2 "$rc"
check_true "--workers 0 says the range" grep -q "from 1 to 1024" <<<"$out"
out=$(FCGI_APP_MAX_SLEEP=abc "$STACK_ROOT/$BUILD/fcgi_app" 2>&1); rc=$?
check "FCGI_APP_MAX_SLEEP=abc exits 2" 2 "$rc"
# README's configuration table says what --help says: every setting, its
# variable and its range (the one table in config.c drives --help and the
# checks above).
bad=0
while read -r name env rng; do
	row=$(grep -E "^\| \`--$name[ \`]" "$STACK_ROOT/README.md" | head -1)
	if [ -z "$row" ]; then echo "     README has no row for --$name"; bad=$((bad + 1)); continue; fi
	if [ "$env" != - ] && ! grep -qF "\`$env\`" <<<"$row"; then
		echo "     README's --$name row does not name $env"; bad=$((bad + 1))
	fi
	r=$(awk -F' [|] ' '{ print $4 }' <<<"$row" | tr -d ',' | sed 's/–/-/')
	if [ "$rng" != - ] && [ "$r" != "$rng" ]; then
		echo "     README gives --$name the range '$r', --help '$rng'"; bad=$((bad + 1))
	fi
done < <("$STACK_ROOT/$BUILD/fcgi_app" --help | awk '/^  --/ {
	env = ($2 ~ /^FCGI_/) ? $2 : "-"; rng = "-"
	if (match($0, /\[[0-9]+-[0-9]+\]$/)) rng = substr($0, RSTART + 1, RLENGTH - 2)
	print substr($1, 3), env, rng }')
check "README's configuration table matches --help" 0 "$bad"
out=$("$STACK_ROOT/$BUILD/fcgi_app" --socket "$STACK_SOCK" 2>&1); rc=$?
check "a second instance on a live socket exits 1" 1 "$rc"
check_true "it says another process listens" grep -q "another process is listening" <<<"$out"
check_true "the first instance's socket is still there" [ -S "$STACK_SOCK" ]
# --health opens a fresh connection (nginx's kept ones prove nothing).
check_true "the first instance still answers on a new connection" \
	"$STACK_ROOT/$BUILD/fcgi_app" --health --socket "$STACK_SOCK"
get /coro
check "the first instance still serves" 200 "$STATUS"

it_done
