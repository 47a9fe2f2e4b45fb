#!/usr/bin/env bash
# --idle-timeout: a kept-alive upstream connection that nginx leaves idle
# longer is closed by the app, and nginx then simply opens a new one.
. "$(dirname "$0")/lib.sh"
STACK_KEEPALIVE=4
it_start --idle-timeout 1

CORO_BODY='<html><body><strong><i>This is a coroutine-like function!</i></strong></body></html>'
get /coro
check "/coro over keep-alive" "$CORO_BODY" "$BODY"
# Six at once need six upstream connections; afterwards all but the one
# the status read reuses sit idle.
for i in 1 2 3 4 5 6; do curl -s --max-time 10 -o /dev/null "$IT_URL/sleep/1" & done
wait_clients
idle=$(counter idle_connections)
check_true "kept connections idle after the requests ($idle)" [ "$idle" -ge 1 ]
# Nothing for 2.5 s (the watchdog checks every 0.25 s); then one read,
# whose own connection is busy, not idle, while it is answered.
sleep 2.5
check "all closed after the 1 s idle timeout" 0 "$(counter idle_connections)"
check_true "the app said it warned about a timeout below nginx's" grep -q "idle-timeout should exceed" "$STACK_DIR/app.log"
sleep 0.3
okc=0
for i in 1 2 3 4 5; do
	get /coro
	[ "$STATUS" = 200 ] && [ "$BODY" = "$CORO_BODY" ] && okc=$((okc + 1))
done
check "requests after the app closed nginx's idle connections" 5 "$okc"
check_true "no 502 in nginx's log" bash -c "! grep -q 'upstream prematurely closed' '$STACK_DIR/nginx.log'"
it_done
