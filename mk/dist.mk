# Installation and the Docker check.  Included at the end of the Makefile,
# which defines BUILD, APP ($(BUILD)/fcgi_app) and the $(APP) target.
#
#   make install [PREFIX=/usr/local] [DESTDIR=]   binary, nginx snippets,
#                                                 systemd units, sysusers entry
#   make uninstall [PREFIX=...] [DESTDIR=...]     removes exactly those files
#   make docker-check                             builds and runs docker-compose.yml
#                                                 with a private engine; probes every
#                                                 route through localhost:8000
#
# Installed layout (PREFIX=/usr/local; everything below is prefixed by DESTDIR):
#   $(SBINDIR)/fcgi_app                       /usr/local/sbin/fcgi_app
#   $(NGINXDIR)/$(NGINX_SUBDIR)/*.conf        /etc/nginx/fcgi_app/fcgi_app_{upstream,locations,params}.conf
#   $(UNITDIR)/fcgi_app.service               /usr/local/lib/systemd/system/fcgi_app.service
#   $(UNITDIR)/fcgi_app.socket                /usr/local/lib/systemd/system/fcgi_app.socket
#   $(SYSUSERSDIR)/fcgi_app.conf              /usr/local/lib/sysusers.d/fcgi_app.conf
# systemd and systemd-sysusers read both /usr/local/lib/... and /usr/lib/...,
# so the PREFIX-relative unit and sysusers directories work for either
# PREFIX.  The nginx snippets go to /etc/nginx whatever the PREFIX, because
# that is where Debian's nginx reads its configuration.
#
# fcgi_app_locations.conf says `include fcgi_app_params.conf;`, which nginx
# resolves against its configuration prefix (the directory of nginx.conf,
# /etc/nginx), not against the including file.  The installed copy is
# rewritten to `include $(NGINX_SUBDIR)/fcgi_app_params.conf;` so that it
# resolves to the installed params file.  Likewise the unit's ExecStart is
# rewritten to the installed binary.
#
# Nothing here creates users or starts services (DESTDIR installs must not);
# see docs/DEPLOY.md for the three commands that do.

PREFIX       ?= /usr/local
DESTDIR      ?=
SBINDIR      ?= $(PREFIX)/sbin
NGINXDIR     ?= /etc/nginx
NGINX_SUBDIR ?= fcgi_app
UNITDIR      ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR  ?= $(PREFIX)/lib/sysusers.d
INSTALL      ?= install

NGINX_SNIPPETS := fcgi_app_upstream.conf fcgi_app_locations.conf fcgi_app_params.conf
DOCKER_CHECK   ?= ../shared/tools/docker-check
DOCKER_URL     ?= http://localhost:8000

install: $(APP)
	$(INSTALL) -d -m 0755 $(DESTDIR)$(SBINDIR) $(DESTDIR)$(NGINXDIR)/$(NGINX_SUBDIR) \
	  $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR)
	$(INSTALL) -m 0755 $(APP) $(DESTDIR)$(SBINDIR)/fcgi_app
	$(INSTALL) -m 0644 nginx/fcgi_app_upstream.conf nginx/fcgi_app_params.conf \
	  $(DESTDIR)$(NGINXDIR)/$(NGINX_SUBDIR)/
	sed 's|^\([[:space:]]*include[[:space:]]\{1,\}\)fcgi_app_params\.conf;|\1$(NGINX_SUBDIR)/fcgi_app_params.conf;|' \
	  nginx/fcgi_app_locations.conf >$(DESTDIR)$(NGINXDIR)/$(NGINX_SUBDIR)/fcgi_app_locations.conf
	@# Every include of the params file must now name the installed path.
	@if grep -Eq '^[[:space:]]*include[[:space:]]+fcgi_app_params\.conf;' \
	    $(DESTDIR)$(NGINXDIR)/$(NGINX_SUBDIR)/fcgi_app_locations.conf; then \
	  echo "install: could not rewrite the params include in fcgi_app_locations.conf" >&2; exit 1; fi
	chmod 0644 $(DESTDIR)$(NGINXDIR)/$(NGINX_SUBDIR)/fcgi_app_locations.conf
	sed 's|/usr/local/sbin/fcgi_app|$(SBINDIR)/fcgi_app|g' dist/systemd/fcgi_app.service \
	  >$(DESTDIR)$(UNITDIR)/fcgi_app.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/fcgi_app.service
	$(INSTALL) -m 0644 dist/systemd/fcgi_app.socket $(DESTDIR)$(UNITDIR)/fcgi_app.socket
	$(INSTALL) -m 0644 dist/sysusers.d/fcgi_app.conf $(DESTDIR)$(SYSUSERSDIR)/fcgi_app.conf

# The binary `install` copies (tests/integration/test_install.sh asks).
dist-app-path:
	@echo $(APP)

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/fcgi_app \
	  $(addprefix $(DESTDIR)$(NGINXDIR)/$(NGINX_SUBDIR)/,$(NGINX_SNIPPETS)) \
	  $(DESTDIR)$(UNITDIR)/fcgi_app.service $(DESTDIR)$(UNITDIR)/fcgi_app.socket \
	  $(DESTDIR)$(SYSUSERSDIR)/fcgi_app.conf
	rmdir $(DESTDIR)$(NGINXDIR)/$(NGINX_SUBDIR) 2>/dev/null || true

# Exact bodies from /work/shared/spec/ROUTES.md as extended regexes.
# docker-check greps the body line by line, so `^...$` pins a whole line and
# the two-line /error body is checked with one probe per line.
DC_CORO  := ^<html><body><strong><i>This is a coroutine-like function!</i></strong></body></html>$$
DC_ERR1  := ^<strong>Uh oh spaghetti-Os!<br><br>ERROR: \[Failure instance: Traceback \(failure with no frames\): <class '\''ValueError'\''>: invalid literal for int\(\) with base 10: '\''hello'\''$$
DC_ERR2  := ^\]</strong>$$
DC_FIRE  := ^The callback has already been fired or not set! Go back to <a href="/async/simple" target="new">/async/simple</a> and initiate the Deferred\.$$
DC_SLEEP := ^Slept for 1 seconds$$

# The stack runs as shipped, whatever the engine's fd limit (docker-check's
# private dockerd inherits this shell's): docker-compose.yml asks for no
# ulimits, and each container raises its soft limit to its hard one.
docker-check:
	$(DOCKER_CHECK) $(DOCKER_CHECK_FLAGS) \
	  --get '$(DOCKER_URL)/coro'        --expect-status 200 --expect-body '$(DC_CORO)' \
	  --get '$(DOCKER_URL)/async/coro'  --expect-status 200 --expect-body '$(DC_CORO)' \
	  --get '$(DOCKER_URL)/error'       --expect-status 400 --expect-body '$(DC_ERR1)' \
	  --get '$(DOCKER_URL)/error'       --expect-status 400 --expect-body '$(DC_ERR2)' \
	  --get '$(DOCKER_URL)/async/error' --expect-status 400 --expect-body '$(DC_ERR1)' \
	  --get '$(DOCKER_URL)/simple/fire' --expect-status 200 --expect-body '$(DC_FIRE)' \
	  --get '$(DOCKER_URL)/async/simple/fire' --expect-status 200 --expect-body '$(DC_FIRE)' \
	  --get '$(DOCKER_URL)/sleep/1'     --expect-status 200 --expect-body '$(DC_SLEEP)' \
	  --get '$(DOCKER_URL)/async/sleep/01' --expect-status 200 --expect-body '$(DC_SLEEP)' \
	  --get '$(DOCKER_URL)/sleep/abc'   --expect-status 404 \
	  --get '$(DOCKER_URL)/nope'        --expect-status 404 \
	  .

.PHONY: install uninstall dist-app-path docker-check
