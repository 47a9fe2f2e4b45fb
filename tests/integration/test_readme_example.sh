#!/usr/bin/env bash
# README's "Write your own handler" program, as a reader uses it: the first
# ```c block after the line `## Write your own handler` is saved under the
# name the following ```sh block's `cc` line compiles, that `cc` line runs
# as written against the library installed by `make install-lib` into a
# temporary PREFIX (PKG_CONFIG_PATH points there), and the program serves
# behind a private nginx.  Each `curl ... URL   # BODY` line of the ```sh
# block is run against it (localhost:8000 becomes the private port): status
# 200 and exactly BODY, plus at most the one newline a terminal would hide.
#
# In a sanitizer build, `cc` stands for this BUILD's compiler and sanitizer
# flags (the library needs their runtime): make lib-info says which.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
root=$STACK_ROOT
readme=$root/README.md
work=$IT_TMP/work
mkdir -p "$work" "$work/bin"
# Stops before any app runs (it_done would also report the missing app).
give_up() { echo "$IT_NAME: $IT_PASS passed, $IT_FAIL failed"; exit 1; }

# ---------------------------------------------------------------- extract
awk '/^## Write your own handler[[:space:]]*$/ { s = 1; next }
     s && /^## / { exit }
     s == 1 && /^```c[[:space:]]*$/ { s = 2; next }
     s == 2 && /^```[[:space:]]*$/ { exit }
     s == 2 { print }' "$readme" >"$work/example.c"
awk '/^## Write your own handler[[:space:]]*$/ { s = 1; next }
     s && /^## / { exit }
     s == 1 && /^```c[[:space:]]*$/ { s = 2; next }
     s == 2 && /^```[[:space:]]*$/ { s = 3; next }
     s == 3 && /^```sh[[:space:]]*$/ { s = 4; next }
     s == 4 && /^```[[:space:]]*$/ { exit }
     s == 4 { print }' "$readme" >"$work/example.sh"
if [ ! -s "$work/example.c" ]; then
	fail "README.md has a \`\`\`c block under '## Write your own handler'"
	give_up
fi
ok "README.md: a $(wc -l <"$work/example.c")-line \`\`\`c block under '## Write your own handler'"
ccline=$(grep -m1 -E '^cc ' "$work/example.sh")
src=$(grep -oE '[^[:space:]]+\.c\b' <<<"$ccline" | head -n1)
bin=$(sed -n 's/.* -o \([^[:space:]]*\).*/\1/p' <<<"$ccline")
if [ -z "$ccline" ] || [ -z "$src" ] || [ -z "$bin" ] || [[ $src == */* || $bin == */* ]]; then
	fail "the \`\`\`sh block after it has a line 'cc FILE.c -o PROGRAM \$(pkg-config ...)' (got: ${ccline:-none})"
	give_up
fi
cp "$work/example.c" "$work/$src"

# ---------------------------------------------------------------- build
prefix=$IT_TMP/prefix
if make -C "$root" --no-print-directory BUILD="$BUILD" install-lib PREFIX="$prefix" \
	>"$IT_TMP/install.log" 2>&1; then
	ok "make install-lib PREFIX=\$tmp"
else
	fail "make install-lib PREFIX=\$tmp"
	tail -n 20 "$IT_TMP/install.log"
	give_up
fi
appcc=$(make -s -C "$root" --no-print-directory BUILD="$BUILD" lib-info 2>/dev/null | sed -n 's/^cc: //p')
appcc=${appcc% }
if [ "$appcc" != cc ]; then
	printf '#!/bin/sh\nexec %s "$@"\n' "$appcc" >"$work/bin/cc"
	chmod +x "$work/bin/cc"
fi
if (cd "$work" && PATH=$work/bin:$PATH PKG_CONFIG_PATH=$prefix/lib/pkgconfig \
	bash -c "$ccline") >"$IT_TMP/cc.log" 2>&1 && [ -x "$work/$bin" ]; then
	ok "README's '$ccline' (cc: $appcc) builds it"
else
	fail "README's '$ccline' (cc: $appcc)"
	sed 's/^/     | /' "$IT_TMP/cc.log" | head -40
	give_up
fi

# ---------------------------------------------------------------- serve
STACK_APP=$work/$bin it_start
n=0
while IFS= read -r line; do
	cmd=${line%%#*}
	want=${line#*# }
	[[ $line == *'# '* && -n $want ]] || continue
	mapfile -d '' args < <(python3 -c 'import shlex, sys
sys.stdout.write("\0".join(shlex.split(sys.argv[1])))' "${cmd#curl}")
	args=("${args[@]//localhost:8000/127.0.0.1:$IT_PORT}")
	status=$(curl -s --max-time 30 -o "$IT_TMP/body" -w '%{http_code}' "${args[@]}")
	body=$(cat "$IT_TMP/body" 2>/dev/null; printf x)
	body=${body%x}
	n=$((n + 1))
	if [ "$status" = 200 ] && { [ "$body" == "$want" ] || [ "$body" == "$want"$'\n' ]; }; then
		ok "${cmd%"${cmd##*[! ]}"} -> 200, $(printf %q "$body")"
	else
		fail "${cmd%"${cmd##*[! ]}"}"
		printf '     expected: 200 %q\n     actual:   %s %q\n' "$want" "$status" "$body"
	fi
done < <(grep -E '^curl ' "$work/example.sh")
check "README's \`\`\`sh block has curl lines with the expected body (count > 0)" yes "$([ "$n" -gt 0 ] && echo yes || echo no)"
it_done
