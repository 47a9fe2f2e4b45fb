# fcgi_app image: built on debian:bookworm with the -dev packages, run on
# debian:bookworm-slim with only the runtime libraries, as a non-root user.
# Build context: the repository root (see docker-compose.yml).

FROM debian:bookworm AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      gcc make libc6-dev libfcgi-dev libevent-dev libsystemd-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# .dockerignore keeps build dirs, tests, docs and .git out of the context.
COPY . .
# The Makefile's default target builds the app; `make install` then puts the
# binary where the runtime stage copies it from, whatever the build dir.
RUN make -j"$(nproc)" \
 && make install DESTDIR=/out PREFIX=/usr/local \
 && /out/usr/local/sbin/fcgi_app --version

FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libfcgi0ldbl libevent-core-2.1-7 libevent-pthreads-2.1-7 libsystemd0 \
 && rm -rf /var/lib/apt/lists/*
# Fixed IDs: the nginx image gives its www-data user the supplementary group
# 10001 so its workers can use the socket (mode 0660, group 10001) that the
# app creates on the volume shared at /run/fcgi_app.  Docker initialises a
# new named volume from this directory, owner and mode included.
RUN groupadd --system --gid 10001 fcgi_app \
 && useradd --system --uid 10001 --gid 10001 --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin fcgi_app \
 && install -d -o fcgi_app -g fcgi_app -m 0750 /run/fcgi_app
COPY --from=build /out/usr/local/sbin/fcgi_app /usr/local/sbin/fcgi_app

# Defaults; docker-compose.yml passes its own (same values unless overridden).
ENV FCGI_APP_SOCKET=/run/fcgi_app/app.sock \
    FCGI_APP_SOCKET_MODE=0660
USER fcgi_app:fcgi_app
# One FastCGI GET /coro over the configured socket; healthy on a 200.
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 \
  CMD ["/usr/local/sbin/fcgi_app", "--health"]
# Foreground, logfmt on stderr; SIGTERM drains and exits 0.
STOPSIGNAL SIGTERM
CMD ["/usr/local/sbin/fcgi_app"]
