#!/usr/bin/env bash
# `make run`: fcgi_app behind a private nginx on 127.0.0.1:$PORT, in the
# foreground (STACK_APP picks the app, the demo by default: stack.sh).
# Ctrl-C stops both.  When either one exits on its own (the app crashed,
# say), the other is stopped too and this script exits with the app's
# status (nginx's when nginx went first), instead of nginx answering 502
# until Ctrl-C.
set -euo pipefail
. "$(dirname "$0")/stack.sh"
PORT=${PORT:-8000}
dir=$(mktemp -d /tmp/fcgi_app-run.XXXXXX)
STACK_APP_LOG=/dev/stderr
STACK_NGINX_LOG=/dev/stderr
stack_init "$dir" "$PORT"
trap 'stack_stop; rm -rf "$dir"' EXIT
trap 'exit 0' INT TERM
# The terminal closing: the app would take its SIGHUP as a log reopen, and
# nginx as a reload; stop both instead.
trap 'exit 129' HUP
stack_start_app "$@"
stack_start_nginx
if [ "$(basename "$(stack_app)")" = channels ]; then
	cat <<MSG

channels is up behind nginx on http://localhost:$PORT (Ctrl-C stops both).
Try:
  curl -i localhost:$PORT/sub/news &
  curl -H 'Content-Type: text/plain' -d 'hello' localhost:$PORT/pub/news
  curl localhost:$PORT/_fcgi_app/status

MSG
else
	cat <<MSG

fcgi_app is up behind nginx on http://localhost:$PORT (Ctrl-C stops both).
Try:
  curl localhost:$PORT/simple &
  curl localhost:$PORT/simple/fire
  curl localhost:$PORT/coro
  curl -i localhost:$PORT/error
  curl localhost:$PORT/sleep/2
  curl localhost:$PORT/_fcgi_app/status
  curl 'localhost:$PORT/_fcgi_app/status?json'
  curl localhost:$PORT/_fcgi_app/metrics
  curl localhost:$PORT/_fcgi_app/ping

MSG
fi
rc=0
wait -n "$STACK_APP_PID" "$STACK_NGINX_PID" || rc=$?
if ! kill -0 "$STACK_APP_PID" 2>/dev/null; then
	echo "run.sh: fcgi_app exited (status $rc); stopping nginx" >&2
else
	echo "run.sh: nginx exited (status $rc); stopping fcgi_app" >&2
	[ "$rc" != 0 ] || rc=1
fi
exit "$rc"
