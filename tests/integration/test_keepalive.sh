#!/usr/bin/env bash
# FastCGI keep-alive (fastcgi_keep_conn on + upstream keepalive): many
# requests share one upstream connection, idle connections wait in the
# acceptors' epoll set (no thread), and pending requests, aborts and fire still behave.
. "$(dirname "$0")/lib.sh"
STACK_KEEPALIVE=4
it_start
check_true "generated upstream has keepalive" grep -q "keepalive 4;" "$STACK_DIR/fcgi_app_upstream.conf"
check_true "generated params have fastcgi_keep_conn on" grep -q "^fastcgi_keep_conn on;" "$STACK_DIR/fcgi_app_params.conf"

CORO_BODY='<html><body><strong><i>This is a coroutine-like function!</i></strong></body></html>'
before=$(counter kept_alive_total)
reqs=$(counter requests_total)
okc=0
for i in $(seq 1 200); do
	get /coro
	[ "$STATUS" = 200 ] && [ "$BODY" = "$CORO_BODY" ] && okc=$((okc + 1))
done
check "200 sequential /coro over keep-alive all correct" 200 "$okc"
# Answered on the acceptor threads, yet counted: 200 + this counters page.
check "each /coro counted once" 201 $(( $(counter requests_total) - reqs ))
kept=$(( $(counter kept_alive_total) - before ))
check_true "most of them reused a kept connection ($kept of 200)" [ "$kept" -ge 150 ]
idle=$(counter idle_connections)
workers=$(pgrep -c -P "$STACK_NGINX_PID")
check_true "idle kept connections are counted ($idle, at most keepalive 4 x $workers workers)" \
	[ "$idle" -ge 1 -a "$idle" -le $((4 * workers)) ]
threads=$(ls /proc/$STACK_APP_PID/task | wc -l)
# 1 loop + 2 acceptors + their watchdog + 10 workers: idle connections
# cost no thread.
check "thread count is fixed" 14 "$threads"

# Pending requests on kept connections, then one fire.
for i in 1 2 3 4 5 6; do curl -s --max-time 20 -o "$IT_TMP/k$i" "$IT_URL/simple" & done
check_true "6 pending over keep-alive" wait_counter pending 10 6
get /simple/fire
check "fire over keep-alive" 200 "$STATUS"
wait_clients
for i in 1 2 3 4 5 6; do
	check "kept pending #$i body" '<u><i>This is a simple callback...FIRE!</i></u>' "$(cat "$IT_TMP/k$i")"
done

# An abort on a kept connection frees the request.
aborted=$(counter aborted_total)
curl -s --max-time 2 -o /dev/null "$IT_URL/simple" &
check_true "a /simple is pending" wait_counter pending 5 1
wait_clients # curl gives up after 2 s: the client aborts
check_true "aborted pending request freed" wait_counter pending 5 0
check "the abort was counted" $((aborted + 1)) "$(counter aborted_total)"
check "nothing waiting after the abort" 0 "$(counter simple_waiting)"

# Errors keep the connection usable: 10 error replies in a row, and the
# connections they came on carry the next requests.
before=$(counter kept_alive_total)
errs=0
for i in 1 2 3 4 5; do
	get /error; [ "$STATUS" = 400 ] && errs=$((errs + 1))
	get /nope; [ "$STATUS" = 404 ] && errs=$((errs + 1))
done
check "10 error replies over keep-alive" 10 "$errs"
kept=$(( $(counter kept_alive_total) - before ))
check_true "the connections stayed kept after errors ($kept of 11 reused)" [ "$kept" -ge 8 ]
get /sleep/1
check "/sleep/1 over keep-alive" "Slept for 1 seconds" "$BODY"
get /coro
check "/coro after errors" "$CORO_BODY" "$BODY"
it_done
