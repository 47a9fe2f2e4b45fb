# Shell functions that run fcgi_app behind a private nginx; sourced by
# scripts/run.sh (`make run`) and the integration tests, so both start the
# stack the same way.  Nothing here touches the system nginx.
#
# stack_init DIR PORT    private dir (socket, logs, generated nginx.conf)
# stack_start_app ARGS   start $BUILD/fcgi_app on DIR/app.sock, wait for it
# stack_start_app_activated MODE ARGS   the same on a socket it inherits
#                        (systemd socket activation or fd 0)
# stack_start_nginx      start nginx on 127.0.0.1:PORT, wait for it
# stack_stop             SIGTERM both, wait; safe to call twice
# stack_free_port        a free port for nginx to listen on
# stack_schedstat        CPU and run-queue wait of every app thread and
#                        nginx worker so far
#
# STACK_KEEPALIVE=N turns on FastCGI keep-alive (`fastcgi_keep_conn on` and
# `keepalive N` in the upstream); STACK_KEEPALIVE=0 turns it off.
#
# STACK_CLIENT_MAX_BODY=SIZE replaces nginx's client_max_body_size (64k).
#
# STACK_VALGRIND=1 runs the app under valgrind (memcheck); errors or
# definite leaks make it exit 99, which the tests' exit check catches.
#
# STACK_APP=PATH runs another program built on the library (fcgi_app_run
# takes the same flags, --health among them) instead of $BUILD/fcgi_app.
#
# STACK_APP_NOFILE=N starts the app under an fd limit of N (soft and hard;
# nginx keeps the shell's), e.g. to reach the app's fd budget with a few
# hundred requests.
#
# When run as root, nginx's workers run as www-data: the private dir and the
# socket get that group (0750 / 0660), so only nginx may connect.

STACK_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
: "${BUILD:=build}"
STACK_APP_PID=""
STACK_NGINX_PID=""

# A port on 127.0.0.1 no socket uses, below the kernel's ephemeral range
# (outgoing connections take ports from that range, and a listener cannot
# bind a port a connection holds).
stack_free_port() {
	local low p
	low=$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null)
	[ -n "$low" ] && [ "$low" -gt 12000 ] || low=32768
	while :; do
		p=$((10000 + RANDOM % (low - 10000)))
		[ -z "$(ss -Htan "sport = :$p")" ] && { echo "$p"; return; }
	done
}

stack_init() {
	STACK_DIR=$1
	STACK_PORT=$2
	mkdir -p "$STACK_DIR"
	STACK_SOCK=$STACK_DIR/app.sock
	STACK_GROUP=""
	if [ "$(id -u)" = 0 ]; then
		STACK_GROUP=www-data
		chgrp "$STACK_GROUP" "$STACK_DIR"
		chmod 0750 "$STACK_DIR"
		# nginx's workers must also reach the dir through its parents.
		local d=$STACK_DIR
		while d=$(dirname "$d") && [ "$d" != / ]; do
			chmod o+x "$d" 2>/dev/null || true
		done
	fi
	stack_write_nginx_conf
}

# The project's nginx.conf and snippets, with the port, socket, pid file,
# logs and temp paths moved into STACK_DIR.  Nothing that sets capacity or
# speed is changed (worker_*, reuseport, backlog, keepalive unless
# STACK_KEEPALIVE says): tests and benchmarks run what is shipped.
stack_write_nginx_conf() {
	local n=$STACK_ROOT/nginx d=$STACK_DIR
	sed "s#unix:/run/fcgi_app/app.sock#unix:$STACK_SOCK#" \
		"$n/fcgi_app_upstream.conf" >"$d/fcgi_app_upstream.conf"
	cp "$n/fcgi_app_locations.conf" "$n/fcgi_app_params.conf" "$d/"
	# STACK_CLIENT_MAX_BODY=SIZE: nginx lets bodies up to SIZE through (the
	# shipped 64k otherwise), e.g. to reach the app's own --max-body.
	local body=${STACK_CLIENT_MAX_BODY:-64k}
	sed -i "s#client_max_body_size 64k;#client_max_body_size $body;#" "$d/fcgi_app_locations.conf"
	if [ -n "${STACK_KEEPALIVE:-}" ]; then
		# Replace whatever the shipped files say with the requested mode.
		sed -i '/^ *keepalive /d' "$d/fcgi_app_upstream.conf"
		sed -i '/^fastcgi_keep_conn /d' "$d/fcgi_app_params.conf"
		if [ "$STACK_KEEPALIVE" -gt 0 ]; then
			sed -i "s#^\(    server unix:.*\)#\1\n    keepalive $STACK_KEEPALIVE;#" "$d/fcgi_app_upstream.conf"
			echo "fastcgi_keep_conn on;" >>"$d/fcgi_app_params.conf"
		fi
	fi
	{
		[ -n "$STACK_GROUP" ] && echo "user www-data $STACK_GROUP;"
		sed -e "s#listen 127.0.0.1:8000#listen 127.0.0.1:$STACK_PORT#" \
			-e "s#^pid .*#pid $d/nginx.pid;#" \
			-e "s#^error_log .*#error_log ${STACK_NGINX_LOG:-$d/nginx.log} notice;#" \
			-e "s#^http {#http {\n    client_body_temp_path $d/tmp_body;\n    fastcgi_temp_path $d/tmp_fastcgi;\n    proxy_temp_path $d/tmp_proxy;\n    scgi_temp_path $d/tmp_scgi;\n    uwsgi_temp_path $d/tmp_uwsgi;#" \
			-e "s#client_max_body_size 64k;#client_max_body_size $body;#" \
			"$n/nginx.conf"
	} >"$d/nginx.conf"
}

# Waits up to $2 seconds for command $1 to succeed.
stack_wait() {
	local i
	for i in $(seq 1 $(($2 * 20))); do
		eval "$1" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	return 1
}

# stack_ready NAME LOG SECONDS COMMAND: waits for COMMAND to succeed; if
# it does not, shows NAME's log and fails.
stack_ready() {
	stack_wait "$4" "$3" && return 0
	echo "$1 did not come up; its log:" >&2
	cat "$2" >&2
	return 1
}

# The program stack_start_app* runs.
stack_app() { echo "${STACK_APP:-$STACK_ROOT/$BUILD/fcgi_app}"; }

stack_start_app() {
	ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
	local group_arg=()
	[ -n "$STACK_GROUP" ] && group_arg=(--socket-group "$STACK_GROUP")
	local wrap=()
	[ -n "${STACK_VALGRIND:-}" ] && wrap=(valgrind -q --error-exitcode=99
		--leak-check=full --errors-for-leak-kinds=definite,indirect)
	[ -n "${STACK_APP_NOFILE:-}" ] &&
		wrap=(prlimit --nofile="$STACK_APP_NOFILE:$STACK_APP_NOFILE" "${wrap[@]}")
	"${wrap[@]}" "$(stack_app)" --socket "$STACK_SOCK" --socket-mode 0660 \
		"${group_arg[@]}" "$@" 2>>"${STACK_APP_LOG:-$STACK_DIR/app.log}" &
	STACK_APP_PID=$!
	stack_ready fcgi_app "${STACK_APP_LOG:-$STACK_DIR/app.log}" 30 \
		"'$(stack_app)' --health --socket '$STACK_SOCK'"
}

stack_start_nginx() {
	nginx -p "$STACK_DIR" -c "$STACK_DIR/nginx.conf" -e "${STACK_NGINX_LOG:-$STACK_DIR/nginx.log}" \
		-g 'daemon off;' &
	STACK_NGINX_PID=$!
	stack_ready nginx "${STACK_NGINX_LOG:-$STACK_DIR/nginx.log}" 10 \
		"curl -s -o /dev/null http://127.0.0.1:$STACK_PORT/coro"
}

# One line per app thread and nginx worker: "app|nginx TID RUN_NS WAIT_NS"
# (CPU time and run-queue wait so far, /proc/*/schedstat), for the bench
# scripts' before/after CPU figures.
stack_schedstat() {
	local t w
	for t in /proc/"$STACK_APP_PID"/task/*; do
		echo "app ${t##*/} $(cut -d' ' -f1,2 "$t/schedstat")"
	done
	for w in $(pgrep -P "$STACK_NGINX_PID"); do
		echo "nginx $w $(cut -d' ' -f1,2 /proc/"$w"/schedstat)"
	done
}

stack_stop() {
	# The app first: its drain answers pending requests with a 503, which
	# nginx, still running, relays to their clients.  Each process gets
	# 15 s before SIGKILL.
	local pid
	for pid in $STACK_APP_PID $STACK_NGINX_PID; do
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 1 150); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	STACK_NGINX_PID=""
	STACK_APP_PID=""
}

# stack_start_app_activated MODE ARGS: the app on a listening socket it
# inherits instead of creating it, as under a systemd .socket unit: Debian's
# systemd-socket-activate creates STACK_SOCK and execs scripts/
# socket_holder.sh, which holds the socket and (re)starts the app on it,
# passed the systemd way (MODE systemd: LISTEN_FDS) or as fd 0 (MODE stdin).
# STACK_APP_PID is the holder's: SIGTERM stops it and the app.  The running
# app's pid is in STACK_DIR/app.pid (STACK_DIR/app.pid.exits: "PID STATUS"
# of each that exited).  systemd-socket-activate execs on the first
# connection: the health check below makes it.  It passes on only the
# environment it is told to (-E), so every exported variable is named.
stack_start_app_activated() {
	local mode=$1 name envs=()
	shift
	ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
	rm -f "$STACK_SOCK" "$STACK_DIR/app.pid" "$STACK_DIR/app.pid.exits"
	for name in $(compgen -e); do
		[[ $name =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] && envs+=(-E "$name")
	done
	systemd-socket-activate -l "$STACK_SOCK" "${envs[@]}" \
		"$STACK_ROOT/scripts/socket_holder.sh" "$mode" "$STACK_DIR/app.pid" \
		"$(stack_app)" "$@" 2>>"${STACK_APP_LOG:-$STACK_DIR/app.log}" &
	STACK_APP_PID=$!
	stack_wait "[ -S '$STACK_SOCK' ]" 10 || { echo "no socket $STACK_SOCK" >&2; return 1; }
	# What the .socket unit's SocketMode= and SocketGroup= do.
	chmod 0660 "$STACK_SOCK"
	[ -n "$STACK_GROUP" ] && chgrp "$STACK_GROUP" "$STACK_SOCK"
	stack_ready fcgi_app "${STACK_APP_LOG:-$STACK_DIR/app.log}" 30 \
		"'$(stack_app)' --health --socket '$STACK_SOCK'"
}
