# Sourced by the bench scripts (run.sh, ab.sh, fire_cpu.sh, fires.sh): strict
# mode, the checkout's root as the working directory, BUILD, the stack
# functions of scripts/stack.sh, and the bench's own nginx settings.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
: "${BUILD:=build}"
export BUILD
. scripts/stack.sh

# bench_tune_nginx CONF: the settings 10-15k held requests need on this
# machine (docs/BENCHMARKS.md, "Settings changed"): `reuseport` spreads the
# connection burst evenly over the two workers, and worker_connections is
# raised to what one worker's fd limit allows.  BENCH_NGINX_PRIORITY=N puts
# nginx's workers at nice N (worker_priority).
bench_tune_nginx() {
	sed -i -e "s#backlog=4096;#backlog=4096 reuseport;#" \
		-e "s#worker_connections .*#worker_connections $(($(ulimit -Hn) - 1000));#" "$1"
	if [ -n "${BENCH_NGINX_PRIORITY:-}" ]; then
		sed -i "s#^worker_processes .*#&\nworker_priority $BENCH_NGINX_PRIORITY;#" "$1"
	fi
}

# bench_private_stack NAME: for a script with one stack of its own.  Sets
# DIR (a private dir, removed at exit after the stack and any background
# job are stopped) and PORT (free, on 127.0.0.1), raises the fd limit, and
# writes the stack's configs for STACK_KEEPALIVE=${KA:-0} with the bench's
# nginx settings.
bench_private_stack() {
	DIR=$(mktemp -d "/tmp/fcgi_app-$1.XXXXXX")
	trap 'stack_stop; kill $(jobs -p) 2>/dev/null; rm -rf "$DIR"' EXIT
	ulimit -n "$(ulimit -Hn)"
	PORT=$(stack_free_port)
	STACK_KEEPALIVE=${KA:-0} stack_init "$DIR/stack" "$PORT"
	bench_tune_nginx "$DIR/stack/nginx.conf"
}
