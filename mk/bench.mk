# Benchmarks (issue 5).  Included at the end of the Makefile, which defines
# BUILD, APP ($(BUILD)/fcgi_app), WARN, CC and the $(APP) target.
#
#   make bench          builds the app and bench/*.c, installs wrk if missing,
#                       runs bench/run.sh (a few minutes; loopback only) and
#                       prints one table; the full log goes to $(BUILD)/bench/
#   make bench-bins     only builds the bench programs
#   make bench-locust   a 20 s headless Locust smoke run of bench/locustfile.py
#                       against a private stack (installs python3-locust)
#   make bench-deferred builds and runs bench/deferred_chain (the Deferred
#                       library alone: 100,000 Deferreds chained onto one)
#   make bench-metrics-cost  ns per request that recording the metrics costs
#
# BENCH_ARGS is passed to bench/run.sh (e.g. BENCH_ARGS=--quick).

BENCH_DIR   := $(BUILD)/bench
BENCH_BINS  := $(BENCH_DIR)/floor_responder $(BENCH_DIR)/holdclient $(BENCH_DIR)/latprobe \
               $(BENCH_DIR)/deferred_chain
BENCH_CFLAGS ?= -O2 -g
PKGS_BENCH  := wrk nginx-light curl procps iproute2 python3
PKGS_LOCUST := python3-locust

$(BENCH_DIR)/floor_responder: bench/floor_responder.c
	@mkdir -p $(@D)
	$(CC) -D_GNU_SOURCE $(WARN) $(BENCH_CFLAGS) -o $@ $< -lfcgi -pthread

# Links the library's sources itself, so it builds without the app's objects.
DEFERRED_SRC := fcgi_app/deferred.c fcgi_app/deferred_chain.c \
                fcgi_app/deferred_list.c fcgi_app/failure.c
DEFERRED_HDR := include/deferred.h include/deferred_list.h include/failure.h \
                fcgi_app/deferred_chain.h fcgi_app/deferred_internal.h
$(BENCH_DIR)/deferred_chain: bench/deferred_chain.c $(DEFERRED_SRC) $(DEFERRED_HDR)
	@mkdir -p $(@D)
	$(CC) -D_GNU_SOURCE -Iinclude $(WARN) $(BENCH_CFLAGS) -o $@ bench/deferred_chain.c $(DEFERRED_SRC)

$(BENCH_DIR)/%: bench/%.c bench/httpresp.h
	@mkdir -p $(@D)
	$(CC) -D_GNU_SOURCE $(WARN) $(BENCH_CFLAGS) -o $@ $<

# Links the app's own objects: it times the code the app runs.
$(BENCH_DIR)/metrics_cost: bench/metrics_cost.c $(addprefix $(BUILD)/obj/fcgi_app/,metrics.o clock.o)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(WARN) $(BENCH_CFLAGS) -o $@ $^ -pthread

bench-bins: $(BENCH_BINS)

bench: deps-build deps-bench $(APP) $(BENCH_BINS)
	BUILD=$(BUILD) bench/run.sh $(BENCH_ARGS)

bench-locust: deps-build deps-bench deps-locust $(APP)
	BUILD=$(BUILD) bench/run.sh --locust

bench-deferred: $(BENCH_DIR)/deferred_chain
	$(BENCH_DIR)/deferred_chain $(BENCH_DEFERRED_ARGS)

bench-metrics-cost: $(BENCH_DIR)/metrics_cost
	$(BENCH_DIR)/metrics_cost

.PHONY: bench bench-bins bench-locust bench-deferred bench-metrics-cost
