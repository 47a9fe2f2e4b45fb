#!/usr/bin/env bash
# Stands in for a systemd .socket unit and its service with Restart=always:
# holds the listening socket it was started with and runs the app on it,
# again each time the app exits, until it gets SIGTERM itself (which it
# passes on to the app).  Started by systemd-socket-activate, which passes
# the socket as fd 3 (LISTEN_FDS=1); see stack_start_app_activated.
#
#   socket_holder.sh MODE PIDFILE APP [ARGS...]
#     MODE systemd: the app gets fd 3 with LISTEN_FDS=1 and its own
#                   LISTEN_PID, as systemd passes it (sd_listen_fds);
#     MODE stdin:   the app gets the socket as fd 0 (the spawn-fcgi way).
#   PIDFILE         the running app's pid; PIDFILE.exits gets one line
#                   "PID STATUS" per app that exited.
# Exits with the last app's status.
set -u
mode=$1 pidfile=$2
shift 2
if [ "${LISTEN_FDS:-}" != 1 ] || [ "${LISTEN_PID:-}" != $$ ]; then
	echo "socket_holder: no socket from systemd-socket-activate" >&2
	exit 2
fi
unset LISTEN_FDS LISTEN_PID LISTEN_FDNAMES
stop=0 pid="" rc=0
trap 'stop=1; [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null' TERM INT
while [ "$stop" = 0 ]; do
	if [ "$mode" = systemd ]; then
		# The subshell's pid is the app's once it execs.
		(export LISTEN_FDS=1 LISTEN_PID=$BASHPID; exec "$@") &
	else
		(exec "$@" <&3 3<&-) &
	fi
	pid=$!
	echo "$pid" >"$pidfile.tmp" && mv "$pidfile.tmp" "$pidfile"
	# A trapped signal ends the first wait early; the second gets the status.
	wait "$pid"
	wait "$pid"
	rc=$?
	echo "$pid $rc" >>"$pidfile.exits"
	pid=""
done
exit "$rc"
