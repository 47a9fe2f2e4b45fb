#!/usr/bin/env bash
# 2,000 /simple held at once (so the app's fds go well past 1024, the
# select() limit) are all completed by one fire, with the right body.
. "$(dirname "$0")/lib.sh"
it_start
N=2000
PER=250 # curl's --parallel-max is capped at 300
mkdir -p "$IT_TMP/out"
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$STACK_APP_PID/status"; }
rss0=$(rss_kb)
for c in $(seq 1 $((N / PER))); do
	for i in $(seq 1 $PER); do
		printf 'url = "%s/simple"\noutput = "%s/out/%d-%d"\n' "$IT_URL" "$IT_TMP" "$c" "$i"
	done >"$IT_TMP/curl$c.cfg"
	curl -s --no-progress-meter --max-time 120 -Z --parallel-immediate --parallel-max $PER \
		-K "$IT_TMP/curl$c.cfg" -w '%{http_code}\n' >"$IT_TMP/codes$c" &
done
check_true "$N /simple pending at once" wait_counter pending 60 $N
rss1=$(rss_kb)
per=$(( (rss1 - rss0) * 1024 / N ))
echo "     app RSS $rss0 kB -> $rss1 kB with $N pending: $per bytes per pending request"
# A regression guard, not the benchmark (docs/BENCHMARKS.md has that): the
# design is ~0.5 KB, libfcgi's buffers alone would be 16 KB.
if [ "$(nm "$STACK_ROOT/$BUILD/fcgi_app" 2>/dev/null | grep -c __asan_init)" -gt 0 ]; then
	echo "     (ASan build: redzones and quarantine inflate RSS; no bound checked)"
else
	check_true "RSS growth per pending request ($per B) is under 2 KB" [ "$per" -lt 2048 ]
fi
fds=$(ls "/proc/$STACK_APP_PID/fd" | wc -l)
check_true "the app holds $fds fds (> 1024 and >= $N)" [ "$fds" -gt 1024 -a "$fds" -ge $N ]
get /simple/fire
check "fire with $N pending answers" 200 "$STATUS"
wait_clients
check "every held request answered 200" "$N" "$(cat "$IT_TMP"/codes* | grep -c '^200$')"
good=$(grep -lx '<u><i>This is a simple callback...FIRE!</i></u>' "$IT_TMP"/out/* | wc -l)
check "every held request got the fired body" "$N" "$good"
check_true "pending back to 0" wait_counter pending 10 0
check "nothing left waiting" 0 "$(counter simple_waiting)"
it_done
