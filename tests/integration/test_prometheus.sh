#!/usr/bin/env bash
# A real Prometheus (Debian's `prometheus`) scrapes /_fcgi_app/metrics
# through the shipped nginx location every second, on loopback, with a
# private config and storage dir; its HTTP API must then return what the
# app's own page says.  Prometheus is stopped at the end (bounded waits
# throughout).
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
command -v prometheus >/dev/null || { fail "prometheus missing: make deps-test"; it_done; exit 1; }
it_start

PROM_DIR=$IT_TMP/prometheus
mkdir -p "$PROM_DIR/data"
PROM_PORT=$(stack_free_port)
cat >"$PROM_DIR/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: fcgi_app
    metrics_path: /_fcgi_app/metrics
    static_configs:
      - targets: ['127.0.0.1:$IT_PORT']
EOF
prometheus --config.file="$PROM_DIR/prometheus.yml" \
	--storage.tsdb.path="$PROM_DIR/data" \
	--web.listen-address="127.0.0.1:$PROM_PORT" \
	--log.level=warn >"$PROM_DIR/log" 2>&1 &
PROM_PID=$!
PROM=http://127.0.0.1:$PROM_PORT

stop_prometheus() {
	[ -n "$PROM_PID" ] || return 0
	kill -TERM "$PROM_PID" 2>/dev/null
	local i
	for i in $(seq 1 100); do
		kill -0 "$PROM_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$PROM_PID" 2>/dev/null
	wait "$PROM_PID" 2>/dev/null
	PROM_PID=""
}
trap 'stop_prometheus; it_cleanup' EXIT

# query EXPR: the value of the first series EXPR returns through the HTTP
# API, "none" when it returns none, "error ..." when the call fails.
query() {
	curl -s --max-time 5 -G "$PROM/api/v1/query" --data-urlencode "query=$1" |
		$PY -c 'import json, sys
try:
    d = json.load(sys.stdin)
except ValueError:
    print("error: not JSON"); sys.exit()
if d.get("status") != "success":
    print("error", d.get("error")); sys.exit()
r = d["data"]["result"]
print(r[0]["value"][1] if r else "none")'
}
# wait_query SECONDS EXPR WANT: polls until EXPR's value is WANT; prints
# the last value seen.
wait_query() {
	local i v
	for i in $(seq 1 $(($1 * 5))); do
		v=$(query "$2")
		[ "$v" = "$3" ] && break
		sleep 0.2
	done
	echo "$v"
}

check_true "prometheus ready" stack_wait "curl -sf --max-time 2 $PROM/-/ready" 30
check "the app's target is up" 1 "$(wait_query 20 'up{job="fcgi_app"}' 1)"

for i in $(seq 1 7); do curl -s -o /dev/null "$IT_URL/coro"; done
for i in 1 2; do curl -s -o /dev/null "$IT_URL/error"; done
curl -s -o /dev/null "$IT_URL/nope"
# What the app says now; Prometheus must reach the same on a later scrape
# (the scrapes themselves count under route="_fcgi_app" only).
page=$(curl -s "$IT_URL/_fcgi_app/metrics")
want() { awk -v k="$1" '$1 == k { print $2 }' <<<"$page"; }
coro=$(want 'fcgi_app_requests_total{route="coro",status="200"}')
check_true "the app counted the /coro ($coro)" test "${coro:-0}" -ge 7
check "fcgi_app_requests_total{route=coro,status=200}" "$coro" \
	"$(wait_query 20 'fcgi_app_requests_total{route="coro",status="200"}' "$coro")"
check "fcgi_app_requests_total{route=error,status=400}" 2 \
	"$(wait_query 10 'fcgi_app_requests_total{route="error",status="400"}' 2)"
check "fcgi_app_requests_total{route=not_found,status=404}" 1 \
	"$(wait_query 10 'fcgi_app_requests_total{route="not_found",status="404"}' 1)"
check "every series of fcgi_app_requests_total (but the scrapes')" \
	"$(grep '^fcgi_app_requests_total{' <<<"$page" | grep -v _fcgi_app | wc -l)" \
	"$(query 'count(fcgi_app_requests_total{route!="_fcgi_app"})')"
check "the coro histogram's count" "$coro" \
	"$(query 'fcgi_app_request_duration_seconds_count{route="coro"}')"
q=$(query 'histogram_quantile(0.5, fcgi_app_request_duration_seconds_bucket{route="coro"})')
check_true "histogram_quantile(0.5) of /coro ($q s) is at most 0.1 s" \
	awk -v q="$q" 'BEGIN { exit !(q + 0 > 0 && q + 0 <= 0.1) }'
# (--max-pending as fitted to the fd limit: the page's own value.)
check "max_pending gauge" "$(want fcgi_app_max_pending)" "$(query 'fcgi_app_max_pending')"
check_true "max_pending is a number" test -n "$(want fcgi_app_max_pending)"
check "build_info" 1 "$(query "fcgi_app_build_info{version=\"$("$BUILD/fcgi_app" --version | awk '{ print $2 }')\"}")"
check "Prometheus read no scrape errors" "" "$(grep -iE 'level=(warn|error)' "$PROM_DIR/log" | grep -i scrape)"

stop_prometheus
check_true "prometheus stopped" test -z "$PROM_PID"
it_done
