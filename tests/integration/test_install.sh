#!/usr/bin/env bash
# `make install` into a temporary DESTDIR, then run what was installed the
# way docs/DEPLOY.md ("Behind your nginx") tells a user to: the installed
# binary on the socket the installed fcgi_app.socket describes (created and
# passed by systemd-socket-activate, with the unit's mode and group, as
# systemd does), and a real nginx whose nginx.conf has the shape of Debian's
# stock one (conf.d/ + sites-enabled/) and only `include`s the installed
# snippets.  Curls every route through it and checks status and exact body;
# checks the units (Type=notify, the socket, a systemd-analyze security
# exposure of at most 1.5); then `make uninstall`.
#
# Env: BUILD (build dir, default build), NGINX (default: nginx in PATH or
# /usr/sbin/nginx).  Prints one line per check; exits 0 when all pass.
# Leaves no process or file behind (trap).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
BUILD=${BUILD:-build}
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}

pass=0 fail=0
ok()  { pass=$((pass + 1)); echo "ok   install: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL install: $*"; }
# show FILE: indented tail, for a failure's context
show() { [[ -s $1 ]] && tail -n "${2:-15}" "$1" | sed 's/^/     | /'; return 0; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fcgi_app-install.XXXXXX") || exit 1
# nginx's workers (www-data when we are root) must traverse it.
chmod 0755 "$tmp"
dest=$tmp/root          # DESTDIR
run=$tmp/run            # socket directory
ngx=$tmp/nginx          # nginx -p prefix: pid, logs, temp dirs
mkdir -p "$run" "$ngx/logs" && chmod 0755 "$run" "$ngx"
sock=$run/app.sock

app_pid="" nginx_pid="" curl_pids=()
stop_pid() { # pid signal seconds: signal, wait, then SIGKILL
  local pid=$1 i
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill -"$2" "$pid" 2>/dev/null
  for ((i = 0; i < $3 * 10; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  return 0
}
cleanup() {
  local p
  for p in "${curl_pids[@]}"; do stop_pid "$p" TERM 1; done
  stop_pid "$nginx_pid" QUIT 5
  stop_pid "$app_pid" TERM 10
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

finish() {
  echo "install: $pass passed, $fail failed"
  exit $((fail == 0 ? 0 : 1))
}

# ---------------------------------------------------------------- install
# The Makefile's $(APP) for this BUILD, relative to the repository.
app=$(make -s -C "$root" --no-print-directory BUILD="$BUILD" dist-app-path 2>/dev/null)
if [[ -z $app ]] || ! (cd "$root" && [[ -f $app && -x $app ]]); then
  bad "no built binary ${app:-$BUILD/fcgi_app} (run make first)"
  finish
fi
# -o: install what was built; never rebuild it here with other flags.
if make -C "$root" --no-print-directory -o "$app" \
     install BUILD="$BUILD" DESTDIR="$dest" PREFIX=/usr >"$tmp/install.log" 2>&1; then
  ok "make install DESTDIR=\$tmp PREFIX=/usr"
else
  bad "make install DESTDIR=\$tmp PREFIX=/usr"; show "$tmp/install.log"; finish
fi
(cd "$dest" && find . -type f | sort) >"$tmp/installed.txt"

bin=$dest/usr/sbin/fcgi_app
snip=$dest/etc/nginx/fcgi_app
unit=$dest/usr/lib/systemd/system/fcgi_app.service
sockunit=$dest/usr/lib/systemd/system/fcgi_app.socket
missing=""
for f in "$bin" "$snip/fcgi_app_upstream.conf" "$snip/fcgi_app_locations.conf" \
         "$snip/fcgi_app_params.conf" "$unit" "$sockunit" "$dest/usr/lib/sysusers.d/fcgi_app.conf"; do
  [[ -f $f ]] || missing+=" ${f#"$dest"}"
done
if [[ -z $missing && -x $bin ]]; then ok "installed binary, 3 nginx snippets, systemd service and socket, sysusers entry"
else bad "missing after install:$missing"; fi
# The library's part (tests/integration/test_lib.sh checks it in detail).
missing=""
for f in usr/include/fcgi_app/fcgi_app.h usr/lib/libfcgi_app.a usr/lib/pkgconfig/fcgi_app.pc; do
  [[ -f $dest/$f ]] || missing+=" /$f"
done
if [[ -z $missing ]]; then ok "installed the library: headers, libfcgi_app.a, fcgi_app.pc"
else bad "missing after install:$missing"; fi
if grep -qx 'ExecStart=/usr/sbin/fcgi_app' "$unit" 2>/dev/null; then
  ok "unit's ExecStart names the installed binary"
else
  bad "unit's ExecStart: $(grep '^ExecStart' "$unit" 2>/dev/null)"
fi
if grep -Eq '^[[:space:]]*include[[:space:]]+fcgi_app/fcgi_app_params\.conf;' "$snip/fcgi_app_locations.conf" 2>/dev/null; then
  ok "installed locations snippet includes fcgi_app/fcgi_app_params.conf"
else
  bad "installed locations snippet: $(grep include "$snip/fcgi_app_locations.conf" 2>/dev/null | tr '\n' ' ')"
fi

# ---------------------------------------------------------------- the units
unit_key() { sed -n "s/^$2=//p" "$1" | tail -n 1; }
if [[ $(unit_key "$unit" Type) == notify && -n $(unit_key "$unit" WatchdogSec) &&
      $(unit_key "$unit" Requires) == fcgi_app.socket ]]; then
  ok "service: Type=notify, WatchdogSec=$(unit_key "$unit" WatchdogSec), Requires=fcgi_app.socket"
else
  bad "service: Type=$(unit_key "$unit" Type) WatchdogSec=$(unit_key "$unit" WatchdogSec) Requires=$(unit_key "$unit" Requires)"
fi
# The socket systemd holds is the one the installed upstream names.
listen=$(unit_key "$sockunit" ListenStream)
if grep -q "server unix:$listen;" "$snip/fcgi_app_upstream.conf" 2>/dev/null &&
   [[ $(unit_key "$sockunit" Accept) == no ]]; then
  ok "fcgi_app.socket: ListenStream=$listen (the upstream's), Accept=no"
else
  bad "fcgi_app.socket: ListenStream=$listen Accept=$(unit_key "$sockunit" Accept) vs $(grep 'server unix' "$snip/fcgi_app_upstream.conf")"
fi
# The sandbox: systemd-analyze rates the installed service (0 safest, 10
# unsafe) without a running systemd.
if score=$(cd "$tmp" && systemd-analyze security --offline=true --no-pager "$unit" 2>"$tmp/analyze.err" |
           sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p') && [[ -n $score ]]; then
  if awk -v s="$score" 'BEGIN { exit !(s <= 1.5) }'; then ok "systemd-analyze security: exposure $score (<= 1.5)"
  else bad "systemd-analyze security: exposure $score (wanted <= 1.5)"; fi
else
  bad "systemd-analyze security --offline=true gave no score"; show "$tmp/analyze.err"
fi

# ---------------------------------------------------------------- the app
# As systemd does with the installed units: the socket is created outside
# the app, with the .socket unit's mode and group, and passed to it
# (LISTEN_FDS).  As root, nginx's workers run as the `user` of nginx.conf,
# whose group is the unit's (www-data); otherwise only our own group can be
# set.
mode=$(unit_key "$sockunit" SocketMode)
if [[ $(id -u) == 0 ]]; then
  if getent passwd www-data >/dev/null; then wuser=www-data; else wuser=nobody; fi
  wgroup=$(unit_key "$sockunit" SocketGroup)
  getent group "$wgroup" >/dev/null || wgroup=$(id -gn "$wuser")
  user_line="user $wuser $wgroup;"
else
  wuser=$(id -un) wgroup=$(id -gn)
  user_line="# user www-data;   (only root can switch users)"
fi
# systemd-socket-activate passes on only the environment it is told to.
systemd-socket-activate -l "$sock" -E PATH -E FCGI_APP_IT_RUN "$bin" 2>"$tmp/app.log" &
app_pid=$!
for ((i = 0; i < 100; i++)); do
  [[ -S $sock ]] && break
  kill -0 "$app_pid" 2>/dev/null || break
  sleep 0.1
done
chmod "$mode" "$sock" 2>/dev/null && chgrp "$wgroup" "$sock" 2>/dev/null
perm=$(stat -c '%a %G' "$sock" 2>/dev/null)
if [[ $perm == "${mode#0} $wgroup" ]]; then ok "socket $sock, mode and group as fcgi_app.socket says: $perm"
else bad "socket mode and group: $perm (wanted ${mode#0} $wgroup)"; finish; fi
# systemd-socket-activate starts the app on the first connection: this one.
ready=0
for ((i = 0; i < 100; i++)); do
  "$bin" --health --socket "$sock" >"$tmp/health.log" 2>&1 && { ready=1; break; }
  kill -0 "$app_pid" 2>/dev/null || break
  sleep 0.1
done
if ((ready)) && grep -q 'msg=listening inherited=systemd' "$tmp/app.log"; then
  ok "installed fcgi_app serves on the socket systemd-socket-activate passed"
else
  bad "installed fcgi_app did not serve on the passed socket"; show "$tmp/app.log"; finish
fi
if "$bin" --health --socket "$sock" >"$tmp/health.log" 2>&1; then
  ok "fcgi_app --health (the Docker HEALTHCHECK) exits 0"
else
  bad "fcgi_app --health exited $?"; show "$tmp/health.log"
fi

# ---------------------------------------------------------------- nginx
# Debian's /etc/nginx/nginx.conf, with private paths instead of /run and
# /var, and no modules-enabled/ or ssl lines (this test loads no modules).
# It sits at $DESTDIR/etc/nginx/nginx.conf, so relative includes resolve
# against $DESTDIR/etc/nginx exactly as they do against /etc/nginx.
conf=$dest/etc/nginx/nginx.conf
mkdir -p "$dest/etc/nginx/conf.d" "$dest/etc/nginx/sites-enabled"
if [[ -f /etc/nginx/mime.types ]]; then
  cp /etc/nginx/mime.types "$dest/etc/nginx/mime.types"
else
  echo 'types { text/html html; }' >"$dest/etc/nginx/mime.types"
fi
cat >"$conf" <<EOF
$user_line
worker_processes auto;
pid $ngx/nginx.pid;
error_log $ngx/logs/error.log;

events {
	worker_connections 768;
}

http {
	sendfile on;
	tcp_nopush on;
	types_hash_max_size 2048;

	include mime.types;
	default_type application/octet-stream;

	access_log $ngx/logs/access.log;
	gzip on;

	# Debian builds these in under /var/lib/nginx; keep them private.
	client_body_temp_path $ngx/body;
	fastcgi_temp_path $ngx/fastcgi;
	proxy_temp_path $ngx/proxy;
	scgi_temp_path $ngx/scgi;
	uwsgi_temp_path $ngx/uwsgi;

	include conf.d/*.conf;
	include sites-enabled/*;
}
EOF
# What docs/DEPLOY.md has the user add: the upstream in http{} ...
echo 'include fcgi_app/fcgi_app_upstream.conf;' >"$dest/etc/nginx/conf.d/fcgi_app.conf"
# ... pointed at this test's socket (the installed one says /run/fcgi_app/app.sock)
sed -i "s|unix:/run/fcgi_app/app.sock|unix:$sock|" "$snip/fcgi_app_upstream.conf"
if grep -q "unix:$sock;" "$snip/fcgi_app_upstream.conf"; then :; else
  bad "installed upstream snippet has no unix:/run/fcgi_app/app.sock to point elsewhere"
  show "$snip/fcgi_app_upstream.conf"; finish
fi

pick_port() {
  local p i
  for ((i = 0; i < 50; i++)); do
    p=$((18000 + RANDOM % 2000))
    [[ -z $(ss -Hltn "sport = :$p" 2>/dev/null) ]] && { echo "$p"; return 0; }
  done
  return 1
}
# ... and a server{} that only includes the locations snippet.
write_site() {
  cat >"$dest/etc/nginx/sites-enabled/fcgi_app" <<EOF
server {
	listen 127.0.0.1:$1;
	server_name localhost;

	include fcgi_app/fcgi_app_locations.conf;
}
EOF
}

if ! "$NGINX" -v >/dev/null 2>&1; then
  bad "no nginx ($NGINX)"; finish
fi
# nginx -t binds the listen address too: give it a free port.
write_site "$(pick_port || echo 18999)"
if "$NGINX" -t -q -p "$ngx/" -c "$conf" -e stderr >"$tmp/nginx-t.log" 2>&1; then
  ok "nginx -t accepts the stock-shaped config with the installed snippets"
else
  bad "nginx -t"; show "$tmp/nginx-t.log"; finish
fi
# A port can be taken between the check and the bind: try a few.
port=""
for ((attempt = 0; attempt < 5; attempt++)); do
  p=$(pick_port) || break
  write_site "$p"
  "$NGINX" -p "$ngx/" -c "$conf" -e stderr -g 'daemon off;' 2>>"$tmp/nginx.stderr" &
  nginx_pid=$!
  for ((i = 0; i < 50; i++)); do
    [[ -n $(ss -Hltn "sport = :$p" 2>/dev/null) ]] && break
    kill -0 "$nginx_pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$nginx_pid" 2>/dev/null && [[ -n $(ss -Hltn "sport = :$p" 2>/dev/null) ]]; then
    port=$p; break
  fi
  stop_pid "$nginx_pid" QUIT 2; nginx_pid=""
done
if [[ -n $port ]]; then
  ok "nginx listens on 127.0.0.1:$port"
else
  bad "nginx did not start"; show "$tmp/nginx.stderr"; show "$ngx/logs/error.log"; finish
fi
base=http://127.0.0.1:$port

# ---------------------------------------------------------------- routes
# get PATH [OUT]: sets code and ctype; body in OUT (default $tmp/body)
get() {
  local out=${2:-$tmp/body} w
  w=$(curl -sS -o "$out" -w '%{http_code} %{content_type}' --max-time 15 "$base$1" 2>"$tmp/curl.err") || w="000 -"
  code=${w%% *} ctype=${w#* }
}
# expect PATH STATUS BODY: status and exact body
expect() {
  get "$1"
  if [[ $code == "$2" ]] && cmp -s "$tmp/body" <(printf '%s' "$3"); then
    ok "GET $1 -> $code, exact body"
  else
    bad "GET $1 -> $code (wanted $2), body: $(head -c 200 "$tmp/body" | tr '\n' ' ')"
  fi
}
expect_status() {
  get "$1"
  if [[ $code == "$2" ]]; then ok "GET $1 -> $code"; else bad "GET $1 -> $code (wanted $2)"; fi
}

CORO='<html><body><strong><i>This is a coroutine-like function!</i></strong></body></html>'
ERROR="<strong>Uh oh spaghetti-Os!<br><br>ERROR: [Failure instance: Traceback (failure with no frames): <class 'ValueError'>: invalid literal for int() with base 10: 'hello'
]</strong>"
FIRED='Look at the <a href="/simple">/simple</a> request tab.'
NOT_SET='The callback has already been fired or not set! Go back to <a href="/async/simple" target="new">/async/simple</a> and initiate the Deferred.'
SIMPLE='<u><i>This is a simple callback...FIRE!</i></u>'

expect /coro 200 "$CORO"
if [[ $ctype == "text/html; charset=utf-8" ]]; then ok "Content-Type: $ctype"
else bad "Content-Type: '$ctype' (wanted text/html; charset=utf-8)"; fi
expect /async/coro 200 "$CORO"
expect /error 400 "$ERROR"
expect /async/error 400 "$ERROR"
expect /sleep/1 200 "Slept for 1 seconds"
expect /async/sleep/01 200 "Slept for 1 seconds"
expect_status /sleep/abc 404
expect /simple/fire 200 "$NOT_SET"

# pending PREFIX: /simple stays pending until PREFIX/simple/fire fires it.
pending() {
  local pre=$1 out=$tmp/pending.body w=$tmp/pending.code fired=0 i
  curl -sS -o "$out" -w '%{http_code}' --max-time 20 "$base$pre/simple" >"$w" 2>/dev/null &
  curl_pids+=($!)
  # Fire until it reports a pending request (the GET may not be there yet).
  for ((i = 0; i < 50; i++)); do
    sleep 0.1
    get "$pre/simple/fire"
    if [[ $code == 200 ]] && cmp -s "$tmp/body" <(printf '%s' "$FIRED"); then fired=1; break; fi
  done
  if ((fired)); then ok "GET $pre/simple/fire -> 200, fired the pending $pre/simple"
  else bad "GET $pre/simple/fire never found $pre/simple pending (last: $code $(head -c 120 "$tmp/body" | tr '\n' ' '))"; fi
  wait "${curl_pids[-1]}" 2>/dev/null
  if [[ $(cat "$w") == 200 ]] && cmp -s "$out" <(printf '%s' "$SIMPLE"); then
    ok "GET $pre/simple -> 200 after the fire, exact body"
  else
    bad "GET $pre/simple -> $(cat "$w") (wanted 200), body: $(head -c 200 "$out" | tr '\n' ' ')"
  fi
}
pending ""
expect /simple/fire 200 "$NOT_SET"
pending /async
expect_status /nope 404

# Every request reached the app: no 502 (socket permissions) on the way.
if grep -Eq 'connect\(\) to unix|upstream prematurely|Permission denied' "$ngx/logs/error.log" 2>/dev/null ||
   grep -q '" 50[24] ' "$ngx/logs/access.log" 2>/dev/null; then
  bad "nginx saw upstream errors:"; show "$ngx/logs/error.log"
else
  ok "no upstream errors in nginx's logs"
fi

# ---------------------------------------------------------------- stop
stop_pid "$nginx_pid" QUIT 5; nginx_pid=""
kill -TERM "$app_pid" 2>/dev/null
for ((i = 0; i < 100; i++)); do kill -0 "$app_pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$app_pid" 2>/dev/null; then
  bad "fcgi_app still running 10 s after SIGTERM"; stop_pid "$app_pid" KILL 1
else
  wait "$app_pid"; rc=$?
  if ((rc == 0)); then ok "fcgi_app exits 0 on SIGTERM"; else bad "fcgi_app exited $rc on SIGTERM"; show "$tmp/app.log"; fi
fi
app_pid=""
# The socket belongs to whoever passed it (systemd keeps it for the next
# instance): the app must not remove it.
if [[ -S $sock ]]; then ok "the passed socket's file is still there after the app stopped"
else bad "the app removed the socket it was passed"; fi

# ---------------------------------------------------------------- uninstall
if make -C "$root" --no-print-directory uninstall BUILD="$BUILD" DESTDIR="$dest" PREFIX=/usr \
     >"$tmp/uninstall.log" 2>&1; then
  left=$(cd "$dest" && while read -r f; do [[ -e $f ]] && echo "$f"; done <"$tmp/installed.txt")
  if [[ -z $left ]]; then ok "make uninstall removes every installed file"
  else bad "left after make uninstall: $(echo $left)"; fi
else
  bad "make uninstall"; show "$tmp/uninstall.log"
fi

finish
