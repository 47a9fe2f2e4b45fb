#!/bin/sh
# Entrypoint of the nginx image: sizes nginx's fd settings to what this
# container was given, then runs the command (nginx).
#
# The compose file asks for no `ulimits`: an engine whose own hard limit is
# lower than a requested one refuses to start the container ("error setting
# rlimit type 7").  Instead the soft limit is raised to the hard one here
# (never above it, which needs no privilege), and nginx is told what it has:
#   worker_rlimit_nofile  the hard limit, at most 65536
#   worker_connections    500 under that: a worker also has fds that are
#                         not connections (logs, epoll); a pending request
#                         is two connections (client and upstream)
# (the arithmetic of nginx/nginx.conf's header).
# Both go to /run/nginx (a tmpfs: the root filesystem is read-only), which
# docker/nginx.conf includes.
set -eu

hard=$(ulimit -Hn)
[ "$hard" = unlimited ] && hard=1048576
ulimit -Sn "$hard"
nofile=$hard
[ "$nofile" -gt 65536 ] && nofile=65536

conns=$((nofile - 500))
[ "$conns" -lt $((nofile / 2)) ] && conns=$((nofile / 2))

mkdir -p /run/nginx
printf 'worker_rlimit_nofile %s;\n' "$nofile" >/run/nginx/rlimit.conf
printf 'worker_connections %s;\n' "$conns" >/run/nginx/events.conf
echo "nginx-entrypoint: hard open-file limit $hard: worker_rlimit_nofile $nofile, worker_connections $conns" >&2

exec "$@"
