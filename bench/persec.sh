#!/usr/bin/env bash
# /coro's p99 second by second over one target 4 cycle that bench/run.sh
# kept (BENCH_KEEP_SAMPLES=DIR): shows whether a window's p99 is the
# state's (every second of it high) or a few stalls' (single seconds high,
# in idle seconds as well).
#
#   bench/persec.sh DIR/ka<N>-<pass>-<cycle> [PROBE]   (PROBE: coro)
#
# Prints one line per second of the probe's run: the offset, which window
# the second lies in whole (idle, setup, held, fire, after; border: it
# straddles the held/fire or fire/after edge, so a fire shorter than 1 s
# has only border seconds), its sample count and p99 in ms.  Reads only
# the kept files.
d=$(realpath "${1:?usage: bench/persec.sh DIR/ka<N>-<pass>-<cycle> [PROBE]}")
. "$(dirname "$0")/common.sh"
probe=${2:-coro}
LP=$ROOT/${BUILD:-build}/bench/latprobe
[ -x "$LP" ] || { echo "missing $LP: run make bench-bins" >&2; exit 1; }
f=$d/lat_$probe.txt
[ -r "$f" ] && [ -r "$d/holdclient.txt" ] || { echo "no $f or $d/holdclient.txt" >&2; exit 1; }
out=$(cat "$d/holdclient.txt")
t_start=$(kv "$out" t_start_ns) t_held=$(kv "$out" t_held_ns)
t_fire=$(kv "$out" t_fire_ns) t_last=$(kv "$out" t_last_ns)
t0=$(head -1 "$f" | cut -d' ' -f1)
t_end=$(tail -1 "$f" | cut -d' ' -f1)
# The windows as bench/run.sh cuts them: held starts 2 s after all are
# held, fire ends 100 ms after the last completion.
held_from=$((t_held + 2000000000)) fire_to=$((t_last + 100000000))
echo "second window n p99_ms"
for ((a = t0; a <= t_end; a += 1000000000)); do
	b=$((a + 1000000000))
	w=after
	if [ "$b" -le "$t_start" ]; then w=idle
	elif [ "$a" -ge "$held_from" ] && [ "$b" -le "$t_fire" ]; then w=held
	elif [ "$a" -ge "$t_fire" ] && [ "$b" -le "$fire_to" ]; then w=fire
	elif [ "$a" -lt "$held_from" ]; then w=setup
	elif [ "$a" -lt "$fire_to" ]; then w=border
	fi
	s=$("$LP" --analyze "$f" --from "$a" --to "$b")
	echo "$(((a - t0) / 1000000000)) $w $(kv "$s" n) $(kv "$s" p99_ms)"
done
