# PermitChain: a thin wrapper around CMake.  See README.md.
#   make          build everything (binaries in build/bin/)
#   make check    the full test suite, then again under ASan+UBSan, then a
#                 short libFuzzer run of the bundle decoder (clang)
#   make bench    every benchmark under bench/, each ending in a RESULT line
#   make demo     a local multi-department network running the license workflow
#   make install  binaries, man pages, completion under PREFIX (default /usr/local);
#                 settings, unit, logrotate at their system places (DESTDIR=... to stage)
#   make deb      build/permitchain_<version>_amd64.deb
#   make soak     SOAK_KILLS (1000) SIGKILLs of a validator among four under load
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 25
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_GEN  := -G "Unix Makefiles"

.PHONY: all deps build build-asan check check-release check-asan check-fuzz bench demo soak clean install deb

all: build

deps:
	@scripts/deps.sh

$(BUILD)/Makefile: | deps
	@cmake -S . -B $(BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

$(ASAN_BUILD)/Makefile: | deps
	@cmake -S . -B $(ASAN_BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Debug -DPERMIT_SANITIZE=ON >/dev/null

$(FUZZ_BUILD)/Makefile: | deps
	@CC=clang cmake -S . -B $(FUZZ_BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPERMIT_FUZZ=ON >/dev/null

build: deps $(BUILD)/Makefile
	@$(MAKE) --no-print-directory -C $(BUILD) -j$(JOBS)

build-asan: deps $(ASAN_BUILD)/Makefile
	@$(MAKE) --no-print-directory -C $(ASAN_BUILD) -j$(JOBS)

check-release: build
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

check-asan: build-asan
	@cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 PERMIT_SANITIZED=1 \
	  ctest --output-on-failure -j$(JOBS)

# libFuzzer on the proof bundle decoder and verifier, seeded with real
# bundles that the release build's test_audit writes
check-fuzz: build $(FUZZ_BUILD)/Makefile
	@$(MAKE) --no-print-directory -C $(FUZZ_BUILD) -j$(JOBS) fuzz_bundle
	@rm -rf $(FUZZ_BUILD)/fuzz-seed && mkdir -p $(FUZZ_BUILD)/fuzz-seed/corpus
	@PERMIT_FUZZ_SEED_DIR=$(abspath $(FUZZ_BUILD))/fuzz-seed $(BUILD)/tests/test_audit >/dev/null 2>&1 \
	  || { echo "test_audit failed: no fuzz seeds"; exit 1; }
	@cd $(FUZZ_BUILD)/fuzz-seed && PERMIT_FUZZ_GENESIS=genesis.json \
	  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  ../fuzz/fuzz_bundle -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -rss_limit_mb=2048 \
	  -print_final_stats=1 corpus >fuzz.log 2>&1; rc=$$?; \
	  grep -E "^(Done|stat::number_of_executed_units|stat::peak_rss_mb)" fuzz.log; \
	  if [ $$rc -ne 0 ]; then tail -60 fuzz.log; echo "fuzz_bundle failed: $(FUZZ_BUILD)/fuzz-seed/fuzz.log"; exit 1; fi

check: check-release check-asan check-fuzz
	@echo "make check: all tests passed (release and ASan+UBSan builds, bundle fuzzing)"

bench: build
	@scripts/bench.sh $(BUILD)

demo: build
	@scripts/demo.sh $(BUILD)

PREFIX ?= /usr/local
install: build
	@cmake --install $(BUILD) --prefix $(PREFIX)

deb: build
	@cd $(BUILD) && cpack -G DEB >/dev/null && ls -1 $(abspath $(BUILD))/permitchain_*.deb

# not part of check: about 1.3 s a kill, 22 minutes for 1,000 (see tests/README.md)
SOAK_KILLS ?= 1000
soak: build
	@SOAK_KILLS=$(SOAK_KILLS) CMOCKA_MESSAGE_OUTPUT=stdout $(BUILD)/tests/soak_kill

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
