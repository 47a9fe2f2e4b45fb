#!/usr/bin/env bash
# The installed library, as an app's author uses it: `make install-lib`
# into a temporary DESTDIR (the layout and fcgi_app.pc's paths) and into a
# temporary PREFIX, then an app built with exactly
#   cc app.c $(pkg-config --cflags --libs fcgi_app)
# (the compiler is this BUILD's: a sanitizer build's library needs the
# sanitizer's runtime).  The app defines functions named like the
# library's internal ones (log_msg, pool_new, config_load, app_match...):
# it must link, run its own, and the library must still call its own.  A
# second app defines every name the modules export to each other.
# nm checks that only the public names are global and that every function
# the installed headers declare is defined; then `make uninstall-lib`.
#
# Env: BUILD (default build).  One line per check; exits 0 when all pass.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
BUILD=${BUILD:-build}

pass=0 fail=0
ok()  { pass=$((pass + 1)); echo "ok   lib: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL lib: $*"; }
show() { [[ -s $1 ]] && tail -n "${2:-15}" "$1" | sed 's/^/     | /'; return 0; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fcgi_app-lib.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
finish() {
  echo "test_lib: $pass passed, $fail failed"
  [[ $fail -eq 0 ]]
  exit
}
mk() { make -C "$root" --no-print-directory BUILD="$BUILD" "$@"; }

info=$(mk -s lib-info 2>"$tmp/info.err") || { bad "make lib-info"; show "$tmp/info.err"; finish; }
field() { sed -n "s/^$1: //p" <<<"$info"; }
read -r -a headers <<<"$(field headers)"
read -r -a public <<<"$(field public)"
read -r -a cc <<<"$(field cc)"
read -r -a objs <<<"$(field objs)"

# ------------------------------------------------------- DESTDIR layout
dest=$tmp/dest
if mk install-lib DESTDIR="$dest" PREFIX=/usr >"$tmp/install.log" 2>&1; then
  ok "make install-lib DESTDIR=\$tmp PREFIX=/usr"
else
  bad "make install-lib DESTDIR=\$tmp PREFIX=/usr"; show "$tmp/install.log"; finish
fi
want=$( { for h in "${headers[@]}"; do echo "./usr/include/fcgi_app/$h"; done
          echo ./usr/lib/libfcgi_app.a; echo ./usr/lib/pkgconfig/fcgi_app.pc; } | sort)
got=$(cd "$dest" && find . -type f | sort)
if [[ $got == "$want" ]]; then ok "installed exactly: ${headers[*]}, libfcgi_app.a, fcgi_app.pc"
else bad "installed files"; diff <(echo "$want") <(echo "$got") | sed 's/^/     | /'; fi
# The public headers are fcgi_app.h and what it includes, and nothing more.
if [[ " ${headers[*]} " == *" fcgi_app.h "* && " ${headers[*]} " == *" deferred.h "* &&
      " ${headers[*]} " == *" failure.h "* ]]; then
  ok "public headers include fcgi_app.h, deferred.h, failure.h"
else bad "public headers: ${headers[*]}"; fi
internal=$(cd "$root/include" && ls *.h | grep -vxF -f <(printf '%s\n' "${headers[@]}") |
           while read -r h; do [[ -e $dest/usr/include/fcgi_app/$h ]] && echo "$h"; done)
if [[ -z $internal ]]; then ok "no internal header installed"
else bad "internal headers installed: $internal"; fi
pc=$dest/usr/lib/pkgconfig/fcgi_app.pc
if [[ $(sed -n 's/^prefix=//p' "$pc") == /usr && $(sed -n 's/^libdir=//p' "$pc") == '${prefix}/lib' &&
      $(sed -n 's/^includedir=//p' "$pc") == '${prefix}/include' ]]; then
  ok "fcgi_app.pc: prefix=/usr, libdir and includedir under it"
else bad "fcgi_app.pc paths: $(grep -E '^(prefix|libdir|includedir)=' "$pc" | tr '\n' ' ')"; fi
if mk uninstall-lib DESTDIR="$dest" PREFIX=/usr >"$tmp/uninstall.log" 2>&1 &&
   [[ -z $(cd "$dest" && find . -type f) && ! -d $dest/usr/include/fcgi_app ]]; then
  ok "make uninstall-lib removes every installed file and include/fcgi_app/"
else bad "make uninstall-lib left: $(cd "$dest" && find . -type f -o -name fcgi_app -type d)"; show "$tmp/uninstall.log"; fi

# ------------------------------------------------------- symbols
prefix=$tmp/prefix
if mk install-lib PREFIX="$prefix" >"$tmp/install2.log" 2>&1; then
  ok "make install-lib PREFIX=\$tmp/prefix"
else
  bad "make install-lib PREFIX=\$tmp/prefix"; show "$tmp/install2.log"; finish
fi
lib=$prefix/lib/libfcgi_app.a
nm --defined-only "$lib" 2>/dev/null | awk 'NF == 3 { print $2, $3 }' >"$tmp/nm.txt"
is_public() {
  local p
  for p in "${public[@]}"; do
    # shellcheck disable=SC2053 # p is a glob
    [[ $1 == $p ]] && return 0
  done
  return 1
}
leaked=""
while read -r type name; do
  [[ $type == [A-Z] ]] && ! is_public "$name" && leaked+=" $name"
done <"$tmp/nm.txt"
if [[ -s $tmp/nm.txt && -z $leaked ]]; then ok "every global symbol is a public name (${public[*]})"
else bad "global symbols outside the public names:$leaked"; fi
# Every function the installed headers declare is defined and global.
decl=$(cat "$prefix"/include/fcgi_app/*.h |
       sed -n 's/^[a-z].*[ *]\([a-z_][a-z0-9_]*\)(.*/\1/p' | sort -u)
missing=""
for f in $decl; do
  grep -qx "T $f" "$tmp/nm.txt" || missing+=" $f"
done
if [[ -n $decl && -z $missing ]]; then ok "all $(wc -w <<<"$decl") functions the headers declare are global in the library"
else bad "declared but not global in libfcgi_app.a:${missing:- (no declarations found)}"; fi
clash=(log_msg pool_new config_load app_match server_new)
notlocal=""
for f in "${clash[@]}"; do grep -qx "[tdbr] $f" "$tmp/nm.txt" || notlocal+=" $f"; done
if [[ -z $notlocal ]]; then ok "the library's ${clash[*]} are local symbols"
else bad "not local symbols of the library (renamed? update this test):$notlocal"; fi

# ------------------------------------------------------- an app on it
cat >"$tmp/app.c" <<'EOF'
/* Defines functions named like the library's internal ones. */
#include <fcgi_app.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int log_msg(const char *s);
int log_info(void);
int pool_new(int n);
int config_load(void);
int app_match(int a, int b);
int server_new(void);
int router_match(void);

int log_msg(const char *s) { return printf("app's log_msg: %s\n", s); }
int log_info(void) { return 1; }
int pool_new(int n) { return n * 2; }
int config_load(void) { return 3; }
int app_match(int a, int b) { return a + b; }
int server_new(void) { return 5; }
int router_match(void) { return 6; }

static struct deferred_val add(struct deferred_val v, void *arg)
{
	char *out = malloc(64);
	if (!out)
		return v;
	snprintf(out, 64, "%s + %d = %d", (const char *)v.ptr, *(int *)arg,
	         atoi(v.ptr) + *(int *)arg);
	deferred_val_free(v);
	return deferred_val_str(out);
}

static struct deferred *never(struct fcgi_req *req, void *data)
{
	(void)req;
	(void)data;
	return NULL;
}

int main(void)
{
	int one = pool_new(1) + log_info() - app_match(config_load(), -1);
	struct deferred *d = deferred_new(NULL, NULL);
	if (!d || deferred_add_callback(d, add, &one, NULL) < 0 ||
	    deferred_callback(d, deferred_val_static("100")) < 0)
		return 1;
	printf("chain: %s\n", (const char *)deferred_peek_result(d).ptr);
	deferred_unref(d);
	log_msg("mine");
	/* The library logs a refused pattern with its own log_msg. */
	struct fcgi_app *app = fcgi_app_new();
	if (!app)
		return 1;
	printf("route: %d\n", fcgi_app_route(app, FCGI_GET, "/bad/<int:", never, NULL, 0));
	fcgi_app_free(app);
	printf("sum: %d\n", server_new() + router_match());
	return 0;
}
EOF
pcp=$prefix/lib/pkgconfig
if (cd "$tmp" && "${cc[@]}" app.c -o app $(PKG_CONFIG_PATH=$pcp pkg-config --cflags --libs fcgi_app)) \
     >"$tmp/cc.log" 2>&1; then
  ok "${cc[*]} app.c \$(pkg-config --cflags --libs fcgi_app) links an app defining ${clash[*]} log_info router_match"
else
  bad "${cc[*]} app.c \$(pkg-config --cflags --libs fcgi_app)"; show "$tmp/cc.log" 30; finish
fi
want=$'chain: 100 + 1 = 101\napp\'s log_msg: mine\nroute: -22\nsum: 11'
out=$("$tmp/app" 2>"$tmp/app.err"); rc=$?
if [[ $rc -eq 0 && $out == "$want" ]]; then ok "the app runs its own functions and the library's Deferreds"
else bad "app output (exit $rc)"; printf '     expected: %q\n     actual:   %q\n' "$want" "$out"; fi
if grep -q 'route refused: malformed pattern' "$tmp/app.err"; then
  ok "the library's log line for a malformed route went through its own log_msg"
else bad "no 'route refused' line on the app's stderr"; show "$tmp/app.err"; fi
# Every name the modules export to each other, defined by an app: none
# may clash.  (The modules' objects before localisation say which.)
names=$(cd "$root" && nm -g --defined-only "${objs[@]}" 2>/dev/null |
           awk 'NF == 3 { print $3 }' | grep -v '^_' | sort -u |
           while read -r name; do is_public "$name" || echo "$name"; done)
{ echo '#include <fcgi_app.h>'
  for f in $names; do echo "void $f(void); void $f(void) {}"; done
  echo 'int main(void) { struct deferred *d = deferred_new(NULL, NULL); deferred_unref(d); return 0; }'
} >"$tmp/all.c"
if [[ $(wc -w <<<"$names") -gt 50 ]] &&
   (cd "$tmp" && "${cc[@]}" all.c -o all $(PKG_CONFIG_PATH=$pcp pkg-config --cflags --libs fcgi_app)) \
     >"$tmp/all.log" 2>&1 && "$tmp/all"; then
  ok "an app defining all $(wc -w <<<"$names") internal names of the modules links and runs"
else
  bad "an app defining the $(wc -w <<<"$names") internal names of the modules"; show "$tmp/all.log" 30
fi
# The installed headers compile on their own under strict warnings.
if "${cc[@]}" -std=c11 -Wall -Wextra -Wpedantic -Werror -fsyntax-only -x c \
     $(PKG_CONFIG_PATH=$pcp pkg-config --cflags fcgi_app) - <<<'#include <fcgi_app.h>' >"$tmp/strict.log" 2>&1; then
  ok "#include <fcgi_app.h> alone: -std=c11 -Wall -Wextra -Wpedantic -Werror clean"
else bad "the installed headers under strict warnings"; show "$tmp/strict.log"; fi

if mk uninstall-lib PREFIX="$prefix" >"$tmp/uninstall2.log" 2>&1 &&
   [[ -z $(cd "$prefix" && find . -type f) ]]; then
  ok "make uninstall-lib PREFIX=\$tmp/prefix removes every installed file"
else bad "make uninstall-lib PREFIX=\$tmp/prefix left: $(cd "$prefix" && find . -type f)"; fi

finish
