#!/usr/bin/env bash
# The operator pages through the shipped nginx locations:
# /_fcgi_app/metrics parsed by Debian's python3-prometheus-client, its
# counters against the traffic the test sends (deltas between scrapes),
# its gauges against the status page and /proc; /_fcgi_app/ping;
# /_fcgi_app/status?json; and the FCGI_APP_STATUS gate.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3 # Debian's, with python3-prometheus-client
PARSE="$PY $IT_DIR_SELF/metrics.py"
PEER="$PY $IT_DIR_SELF/peer.py"
it_start --max-pending 2 --pending-timeout 2

# scrape FILE: the metrics, parsed, into FILE; sets STATUS and CTYPE.
scrape() {
	get /_fcgi_app/metrics
	printf '%s' "$BODY" >"$1.raw"
	$PARSE <"$1.raw" >"$1"
}
# val FILE SERIES: the value of one series (as metrics.py prints it), or
# 0 when absent.
val() { awk -v k="$2" '$1 == k { v = $2 } END { print v == "" ? 0 : v }' "$1"; }
# delta SERIES: its growth from $IT_TMP/m0 to $IT_TMP/m1.
delta() { echo $(($(val "$IT_TMP/m1" "$1") - $(val "$IT_TMP/m0" "$1"))); }
req() { echo "fcgi_app_requests_total{route=\"$1\",status=\"$2\"}"; }
bucket() { echo "fcgi_app_request_duration_seconds_bucket{le=\"$2\",route=\"$1\"}"; }

# ---- the format -------------------------------------------------------------
scrape "$IT_TMP/m0"
check "metrics status" 200 "$STATUS"
check "metrics Content-Type" "text/plain; version=0.0.4; charset=utf-8" "$CTYPE"
check_true "metrics parse" grep -q "^cumulative " "$IT_TMP/m0"
check "every family has the fcgi_app_ prefix" "" \
	"$(awk '$1 == "family" && $2 !~ /^fcgi_app_/' "$IT_TMP/m0")"
check "every family has HELP and a TYPE" "" \
	"$(awk '$1 == "family" && ($3 == "unknown" || $4 != "yes")' "$IT_TMP/m0")"
for f in fcgi_app_pending_requests:gauge fcgi_app_requests_total:counter \
	fcgi_app_request_duration_seconds:histogram fcgi_app_pool_workers:gauge \
	fcgi_app_pool_queue_length:gauge fcgi_app_idle_connections:gauge \
	fcgi_app_rejected_total:counter fcgi_app_timed_out_total:counter \
	fcgi_app_aborted_total:counter fcgi_app_max_pending:gauge \
	fcgi_app_open_fds:gauge fcgi_app_max_fds:gauge fcgi_app_build_info:gauge \
	fcgi_app_start_time_seconds:gauge; do
	check "family ${f%:*} is a ${f#*:}" "family ${f%:*} ${f#*:} yes" \
		"$(grep "^family ${f%:*} " "$IT_TMP/m0")"
done
check "HELP and TYPE lines name the series' family" "" \
	"$(grep '^# ' "$IT_TMP/m0.raw" | awk '$2 != "HELP" && $2 != "TYPE" || $3 !~ /^fcgi_app_/')"

# ---- counters against traffic ---------------------------------------------
for i in 1 2 3; do curl -s -o /dev/null "$IT_URL/coro"; done
for i in 1 2; do curl -s -o /dev/null "$IT_URL/async/error"; done
curl -s -o /dev/null "$IT_URL/nope"
start=$(now_ms)
curl -s -o /dev/null "$IT_URL/sleep/1"
slept_ms=$(($(now_ms) - start))
scrape "$IT_TMP/m1"
check "coro 200 counted" 3 "$(delta "$(req coro 200)")"
check "error 400 counted" 2 "$(delta "$(req error 400)")"
check "not_found 404 counted" 1 "$(delta "$(req not_found 404)")"
check "sleep 200 counted" 1 "$(delta "$(req sleep 200)")"
check "the previous scrape counted under _fcgi_app" 1 "$(delta "$(req _fcgi_app 200)")"
check "histograms cumulative, +Inf = _count" "cumulative yes" "$(tail -n 1 "$IT_TMP/m1")"
check "coro's histogram counts what requests_total does" \
	"$(val "$IT_TMP/m1" "$(req coro 200)")" \
	"$(val "$IT_TMP/m1" 'fcgi_app_request_duration_seconds_count{route="coro"}')"
# /sleep/1 took a second or more: not in le=1, in +Inf; its _sum grew by
# at least 1 s and at most what the client saw.
check "sleep's 1 s is above le=1" 0 "$(val "$IT_TMP/m1" "$(bucket sleep 1)")"
check "sleep's 1 s is in +Inf" 1 "$(val "$IT_TMP/m1" "$(bucket sleep +Inf)")"
sum=$(val "$IT_TMP/m1" 'fcgi_app_request_duration_seconds_sum{route="sleep"}')
check_true "sleep's _sum $sum s is within [1, $slept_ms ms]" \
	awk -v s="$sum" -v c="$slept_ms" 'BEGIN { exit !(s >= 1 && s * 1000 <= c) }'
# A /coro is answered well under 100 ms here.
check "coro's replies all in le=0.1" 3 "$(delta "$(bucket coro 0.1)")"

# ---- aborted, rejected, timed out ------------------------------------------
cp "$IT_TMP/m1" "$IT_TMP/m0"
curl -s -o /dev/null --max-time 1 "$IT_URL/simple"
check_true "aborted /simple seen" wait_counter aborted_total 5 1
curl -s -o /dev/null "$IT_URL/simple" &
curl -s -o /dev/null "$IT_URL/simple" &
check_true "two /simple pending" wait_counter pending 5 2
scrape "$IT_TMP/m1"
check "pending_requests gauge" 2 "$(val "$IT_TMP/m1" 'fcgi_app_pending_requests{}')"
check "max_pending gauge" 2 "$(val "$IT_TMP/m1" 'fcgi_app_max_pending{}')"
get /simple
check "third /simple: 503" 503 "$STATUS"
# Both held /simple time out (2 s): 504.
wait_clients
check_true "two timed out" wait_counter timed_out_total 5 2
scrape "$IT_TMP/m1"
check "aborted_total" 1 "$(delta 'fcgi_app_aborted_total{}')"
check "rejected_total{max_pending}" 1 "$(delta 'fcgi_app_rejected_total{reason="max_pending"}')"
check "rejected_total{queue_full}" 0 "$(delta 'fcgi_app_rejected_total{reason="queue_full"}')"
check "simple 503 counted" 1 "$(delta "$(req simple 503)")"
check "timed_out_total" 2 "$(delta 'fcgi_app_timed_out_total{}')"
check "simple 504 counted" 2 "$(delta "$(req simple 504)")"
check "pending back to 0" 0 "$(val "$IT_TMP/m1" 'fcgi_app_pending_requests{}')"

# ---- gauges ----------------------------------------------------------------------
curl -s -o /dev/null "$IT_URL/sleep/2" &
check_true "a worker busy" wait_counter pool_busy 5 1
scrape "$IT_TMP/m1"
check "pool_workers busy" 1 "$(val "$IT_TMP/m1" 'fcgi_app_pool_workers{state="busy"}')"
check "pool_workers idle" $(($(counter pool_size) - 1)) "$(val "$IT_TMP/m1" 'fcgi_app_pool_workers{state="idle"}')"
check "pool_queue_length" 0 "$(val "$IT_TMP/m1" 'fcgi_app_pool_queue_length{}')"
wait_clients
soft=$(awk '/^Max open files/ { print $4 }' "/proc/$STACK_APP_PID/limits")
if [ -n "${STACK_VALGRIND:-}" ]; then
	# valgrind keeps some fds for itself and reports a lower limit.
	check_true "max_fds is within the app's soft limit" \
		test "$(val "$IT_TMP/m1" 'fcgi_app_max_fds{}')" -le "$soft"
else
	check "max_fds is the app's soft limit" "$soft" "$(val "$IT_TMP/m1" 'fcgi_app_max_fds{}')"
fi
fds=$(val "$IT_TMP/m1" 'fcgi_app_open_fds{}')
# The app's fds now, give or take the connections nginx opens and closes.
now=$(ls "/proc/$STACK_APP_PID/fd" | wc -l)
check_true "open_fds $fds near the app's $now" test "$fds" -ge 5 -a $((fds - now)) -le 4 -a $((now - fds)) -le 4
check "build_info's version" "$("$BUILD/fcgi_app" --version | awk '{ print $2 }')" \
	"$(sed -n 's/^fcgi_app_build_info{version="\(.*\)"} 1$/\1/p' "$IT_TMP/m1")"
st=$(val "$IT_TMP/m1" 'fcgi_app_start_time_seconds{}')
pstart=$(($(date +%s) - $(ps -o etimes= -p "$STACK_APP_PID")))
# (The app under valgrind takes seconds to reach server_new.)
check_true "start_time $st is the process' start ($pstart)" \
	awk -v a="$st" -v b="$pstart" -v late="${STACK_VALGRIND:+30}" \
	'BEGIN { d = a - b; exit !(d > -3 && d < (late ? late : 3)) }'

# ---- ping, json, the gate ----------------------------------------------------
get /_fcgi_app/ping
check "ping status" 200 "$STATUS"
check "ping Content-Type" "text/plain; charset=utf-8" "$CTYPE"
check "ping body" "pong" "$BODY"
get -I /_fcgi_app/ping
check "HEAD ping: no body" "200 " "$STATUS $(tr -d '\r' <<<"$BODY" | sed -n '/^$/,$p' | tail -n +2)"

get "/_fcgi_app/status?json"
check "status?json status" 200 "$STATUS"
check "status?json Content-Type" "application/json" "$CTYPE"
printf '%s' "$BODY" >"$IT_TMP/json"
text=$(curl -s "$IT_URL/_fcgi_app/status")
check "json has the status page's names" \
	"$(awk '{ print $1 }' <<<"$text" | sort | tr '\n' ' ')" \
	"$($PY -c 'import json, sys; print(" ".join(sorted(json.load(open(sys.argv[1])))), end=" ")' "$IT_TMP/json")"
check "json's values (the counters that did not move)" \
	"$(grep -E '^(pool_size|timed_out_total|aborted_total|rejected_total|failed_total) ' <<<"$text" | sort)" \
	"$($PY -c 'import json, sys
d = json.load(open(sys.argv[1]))
for k in sorted(("pool_size", "timed_out_total", "aborted_total", "rejected_total", "failed_total")): print(k, d[k])' "$IT_TMP/json")"
get "/_fcgi_app/status?a=b&json=1"
check "status?a=b&json=1 is JSON" "application/json" "$CTYPE"
get "/_fcgi_app/status?jsonx"
check "status?jsonx is text" "text/plain; charset=utf-8" "$CTYPE"

# Without nginx's FCGI_APP_STATUS the path is routed like any other: 404.
get /_fcgi_app/metricsx
check "an unknown page through nginx: 404" 404 "$STATUS"
out=$($PEER get "$STACK_SOCK" /_fcgi_app/metrics)
check "metrics path without FCGI_APP_STATUS: 404" "Status: 404 Not Found" "$(head -n 1 <<<"$out" | tr -d '\r')"
out=$($PEER get "$STACK_SOCK" /_fcgi_app/ping)
check "ping path without FCGI_APP_STATUS: 404" "Status: 404 Not Found" "$(head -n 1 <<<"$out" | tr -d '\r')"

it_done
