# libFuzzer targets (tests/fuzz/), built with clang, ASan and UBSan:
#   fuzz_check   the record checker
#   fuzz_params  name-value decoding under the params cap
#   fuzz_input   the whole input path over a socketpair: reader, checks,
#                params, management answers, router
#
#   make fuzz          each target for FUZZ_SECONDS (60), new inputs kept in
#                      build-fuzz/corpus/<target> (the repo's seeds are read only)
#   make fuzz-replay   each target over its seed corpus once, no fuzzing
#                      (part of make test)
# Crashes are written to build-fuzz/<target>-crash-*; a log per target is in
# build-fuzz/fuzz_<target>.log.

FUZZ_SECONDS ?= 60
FUZZ_BUILD   ?= build-fuzz
FUZZ_CC      ?= clang
FUZZ_TARGETS := check params input
FUZZ_FLAGS   := -O1 -g -fsanitize=fuzzer,address,undefined \
                -fno-omit-frame-pointer -fno-sanitize-recover=all
FUZZ_BINS    := $(addprefix $(FUZZ_BUILD)/fuzz_,$(FUZZ_TARGETS))

fuzz_check_MODS  := fcgi_in fcgi_params clock log
fuzz_params_MODS := fcgi_params fcgi_in clock log
fuzz_input_MODS  := fcgi_in fcgi_params clock log app helpers pattern config fanout \
                    nametab pool loopq deferred deferred_chain deferred_list failure \
                    request fcgi_req
fuzz_input_LIBS  := -levent_core -levent_pthreads

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $$(addprefix fcgi_app/,$$(addsuffix .c,$$(fuzz_$$*_MODS))) $(wildcard include/*.h)
	@mkdir -p $(@D)
	$(FUZZ_CC) -Iinclude -D_GNU_SOURCE $(WARN) $(FUZZ_FLAGS) -o $@ $(filter %.c,$^) $(fuzz_$*_LIBS) -pthread

fuzz: deps-test $(FUZZ_BINS)
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_BUILD)/corpus/$$t; \
	  log=$(FUZZ_BUILD)/fuzz_$$t.log; \
	  if $(FUZZ_BUILD)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
	       -print_final_stats=1 -artifact_prefix=$(FUZZ_BUILD)/$$t- \
	       $(FUZZ_BUILD)/corpus/$$t tests/fuzz/corpus/$$t >$$log 2>&1; then \
	    echo "ok   fuzz $$t: $(FUZZ_SECONDS) s, $$(grep -E '^#[0-9]+' $$log | tail -1)"; \
	  else echo "FAIL fuzz $$t"; tail -n 60 $$log; exit 1; fi; done

fuzz-replay: $(FUZZ_BINS)
	@for t in $(FUZZ_TARGETS); do \
	  log=$(FUZZ_BUILD)/fuzz_$$t.replay.log; \
	  n=$$(ls tests/fuzz/corpus/$$t | wc -l); \
	  if $(FUZZ_BUILD)/fuzz_$$t tests/fuzz/corpus/$$t/* >$$log 2>&1 && \
	     [ $$(grep -c '^Executed ' $$log) -eq $$n ]; then \
	    echo "ok   fuzz-replay $$t: $$n seeds"; \
	  else echo "FAIL fuzz-replay $$t"; tail -n 60 $$log; exit 1; fi; done

.PHONY: fuzz fuzz-replay
