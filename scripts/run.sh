#!/usr/bin/env bash
# `make run`: fcgi_app behind a private nginx on 127.0.0.1:$PORT, in the
# foreground.  Ctrl-C stops both.
set -euo pipefail
. "$(dirname "$0")/stack.sh"
PORT=${PORT:-8000}
dir=$(mktemp -d /tmp/fcgi_app-run.XXXXXX)
STACK_APP_LOG=/dev/stderr
STACK_NGINX_LOG=/dev/stderr
stack_init "$dir" "$PORT"
trap 'stack_stop; rm -rf "$dir"' EXIT
trap 'exit 0' INT TERM
stack_start_app "$@"
stack_start_nginx
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
wait
