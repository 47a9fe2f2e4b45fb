# fcgi_app: a non-blocking FastCGI backend (libfcgi + libevent) behind nginx.
#
#   make            build build/fcgi_app
#   make run        install missing packages, start the app + a private nginx
#                   on 127.0.0.1:8000 in the foreground (Ctrl-C stops both;
#                   so does the app exiting, with its exit status);
#                   `make run APP=channels` runs examples/channels instead
#   make test       install missing packages; unit + integration tests, then
#                   the same under ASan+UBSan, the unit tests under
#                   ThreadSanitizer, the fuzz targets over their seed
#                   corpus, then the unit tests, the app (two
#                   suites) and README's example app under valgrind
#   make lib        build build/libfcgi_app.a, the library apps link
#                   (mk/lib.mk: how its internal names are kept private)
#   make install    the binary, nginx snippets, systemd units (mk/dist.mk),
#                   the library, its headers and fcgi_app.pc (mk/lib.mk)
#                   under PREFIX (/usr/local), below DESTDIR if set
#   make uninstall  removes exactly what install put there
#   make clean
#
# Variables: CC (gcc or clang), SANITIZE=address,undefined or thread, BUILD=dir,
# PORT=8000 and APP=fcgi_app or channels (make run).

CC       ?= cc
BUILD    ?= build
PORT     ?= 8000

CPPFLAGS += -Iinclude -D_GNU_SOURCE -MMD -MP
WARN     := -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
            -Wmissing-prototypes -Wwrite-strings -Wformat=2 -Wvla
CFLAGS   ?= -O2 -g
LDLIBS   := -lfcgi -levent_core -levent_pthreads -lsystemd -pthread

ifdef SANITIZE
CFLAGS   += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS  += -fsanitize=$(SANITIZE)
endif

SRC      := $(wildcard fcgi_app/*.c)
OBJ      := $(patsubst %.c,$(BUILD)/obj/%.o,$(SRC))
# The demo: an app on the library (fcgi_app.h), one file per recipe.
DEMO_SRC := $(wildcard fcgi_app/demo/*.c)
DEMO_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(DEMO_SRC))
UNITSRC  := $(wildcard tests/unit/test_*.c)
UNITOBJ  := $(patsubst %.c,$(BUILD)/obj/%.o,$(UNITSRC))
UNIT     := $(patsubst $(BUILD)/obj/%.o,$(BUILD)/%,$(UNITOBJ))
APP      := $(BUILD)/fcgi_app
# The library (mk/lib.mk builds it): every module but the demo's.
LIB      := $(BUILD)/libfcgi_app.a
# examples/: the page's snippets as programs on the library.
EXAMPLES := $(BUILD)/examples/overview
# The second app on the library: long-poll pub/sub (examples/channels/).
CHANNELS_SRC := $(wildcard examples/channels/*.c)
CHANNELS_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(CHANNELS_SRC))
CHANNELS := $(BUILD)/examples/channels
# `make run APP=channels` picks the app `make run` starts (default: the
# demo).  Everywhere else APP stays the demo's binary.
ifeq ($(origin APP),command line)
RUN_APP := $(APP)
override APP := $(BUILD)/fcgi_app
endif
RUN_APP ?= fcgi_app
RUN_BIN = $(or $(if $(filter channels,$(RUN_APP)),$(CHANNELS)),$(if $(filter fcgi_app demo,$(RUN_APP)),$(APP)),$(error APP=$(RUN_APP): fcgi_app (the demo) or channels))

# Debian packages the build, the tests and `make run` need.  clang's
# sanitizer runtime (libclang-rt-dev) is only a Recommends of clang, and
# deps-% installs without recommends.
PKGS_BUILD := gcc make libc6-dev libfcgi-dev libevent-dev libsystemd-dev pkg-config
PKGS_TEST  := libcmocka-dev nginx-light curl valgrind clang libclang-rt-dev procps python3 iproute2 systemd python3-prometheus-client prometheus
PKGS_RUN   := nginx-light curl

all: $(APP) $(CHANNELS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) -c -o $@ $<

$(APP): $(OBJ) $(DEMO_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The modules each unit test links, so a test builds without the rest.
test_failure_MODS  := failure
test_deferred_MODS := deferred deferred_chain deferred_list failure
test_deferred_list_MODS := deferred deferred_chain deferred_list failure
test_deferred_timeout_MODS := deferred_timeout deferred deferred_chain deferred_list failure
test_pool_MODS     := pool loopq deferred deferred_chain deferred_list failure
test_app_MODS      := app helpers pattern log config fanout nametab pool loopq deferred \
                      deferred_chain deferred_list failure clock fcgi_req fcgi_resp \
                      fcgi_in fcgi_params request response
test_helpers_MODS  := $(test_app_MODS)
test_response_MODS := response
test_log_MODS      := log
test_pattern_MODS  := pattern
test_fanout_MODS   := fanout nametab deferred deferred_chain deferred_list failure clock log
test_loopq_MODS    := loopq
test_listener_MODS := listener
test_fcgi_in_MODS  := fcgi_in fcgi_params clock log
test_fcgi_params_MODS := fcgi_params fcgi_in clock log
# The demo's handlers (not its main) on the library's modules.
test_demo_MODS     := demo/routes demo/simple demo/error demo/coro demo/sleep demo/tags \
                      $(test_app_MODS)
test_fcgi_req_MODS := fcgi_req fcgi_in fcgi_params request app helpers pattern config \
                      fanout nametab pool loopq deferred deferred_chain deferred_list \
                      failure clock log
test_fcgi_resp_MODS := fcgi_resp response deferred deferred_chain deferred_list failure
test_config_fds_MODS := config log
test_metrics_MODS  := metrics
test_request_MODS  := request clock deferred deferred_chain deferred_list failure
test_peer_MODS     := peer log
test_shed_MODS     := shed peer response clock log
test_idle_MODS     := idle
test_reply_MODS    := reply response failure
test_conn_MODS     := conn reply response request deferred deferred_chain deferred_list failure clock log
test_answer_MODS   := answer reply response request app helpers pattern fcgi_req fcgi_resp fcgi_in fcgi_params acceptor acceptor_life idle shed peer metrics fanout nametab pool loopq config log deferred deferred_chain deferred_list failure clock
test_nametab_MODS  := nametab clock

overview_MODS := deferred deferred_chain deferred_list failure

.SECONDEXPANSION:
# channels links the library as an outside app does (libfcgi_app.a, whose
# only globals are the public API), so it cannot use an internal name.
# An explicit rule, so it wins over $(BUILD)/examples/% below.
$(CHANNELS): $(CHANNELS_OBJ) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/examples/%: $(BUILD)/obj/examples/%.o $$(addprefix $(BUILD)/obj/fcgi_app/,$$(addsuffix .o,$$($$*_MODS)))
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/unit/%: $(BUILD)/obj/tests/unit/%.o $$(addprefix $(BUILD)/obj/fcgi_app/,$$(addsuffix .o,$$($$*_MODS)))
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

# Installs only what is missing, so a second run does not touch apt.
deps-%:
	@missing=""; for p in $(PKGS_$(shell echo $* | tr a-z A-Z)); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' \
	    || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  [ "$$(id -u)" = 0 ] && SUDO= || SUDO=sudo; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

deps: deps-build deps-test

unit: $(UNIT)
	@pass=0; fail=0; for t in $(UNIT); do \
	  if $$t >$$t.log 2>&1; then pass=$$((pass+1)); echo "ok   $$t"; \
	  else fail=$$((fail+1)); echo "FAIL $$t"; cat $$t.log; fi; done; \
	echo "unit: $$pass passed, $$fail failed"; [ $$fail = 0 ]

integration: $(APP) $(LIB) $(CHANNELS) $(BUILD)/bench/holdclient
	BUILD=$(BUILD) tests/integration/run.sh

# Each example prints what the page's Python prints.
examples: $(EXAMPLES)
	BUILD=$(BUILD) WRAP="$(EXAMPLES_WRAP)" tests/examples/run.sh

valgrind: $(UNIT)
	@for t in $(UNIT); do \
	  valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
	    $$t >$$t.vg.log 2>&1 && echo "ok   valgrind $$t" \
	    || { echo "FAIL valgrind $$t"; cat $$t.vg.log; exit 1; }; done

# The app itself under valgrind, through nginx (the suites without timing
# assertions: valgrind slows the app down tens of times).
valgrind-integration: $(APP) $(LIB) $(CHANNELS) $(BUILD)/bench/holdclient
	BUILD=$(BUILD) STACK_VALGRIND=1 bash tests/integration/test_routes.sh
	BUILD=$(BUILD) STACK_VALGRIND=1 bash tests/integration/test_keepalive.sh
	BUILD=$(BUILD) STACK_VALGRIND=1 bash tests/integration/test_readme_example.sh
	BUILD=$(BUILD) STACK_VALGRIND=1 bash tests/integration/test_channels.sh

# The whole suite: plain build, then ASan+UBSan (clang), TSan, valgrind.
# TSan runs the unit tests only: over the integration suites it reports
# two races on fd numbers that are by design (docs/ARCHITECTURE.md).
test: deps-build deps-test
	$(MAKE) unit examples integration
	$(MAKE) BUILD=build-asan CC=clang SANITIZE=address,undefined unit examples integration
	$(MAKE) BUILD=build-tsan CC=clang SANITIZE=thread unit
	$(MAKE) fuzz-replay
	$(MAKE) BUILD=build-vg valgrind valgrind-integration
	$(MAKE) BUILD=build-vg examples EXAMPLES_WRAP="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect"
	@echo "test: all suites passed"

run: deps-build deps-run $(RUN_BIN)
	PORT=$(PORT) BUILD=$(BUILD) STACK_APP=$(CURDIR)/$(RUN_BIN) scripts/run.sh

clean:
	rm -rf build build-asan build-tsan build-vg build-fuzz

.PHONY: all deps deps-% unit examples integration valgrind valgrind-integration test run clean
.SECONDARY:
-include $(OBJ:.o=.d) $(DEMO_OBJ:.o=.d) $(CHANNELS_OBJ:.o=.d) $(UNITOBJ:.o=.d) $(BUILD)/obj/examples/overview.d
include mk/dist.mk
include mk/lib.mk
include mk/bench.mk
include mk/fuzz.mk
