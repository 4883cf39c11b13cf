# PermitChain: a thin wrapper around CMake.  See README.md.
#   make          build everything (binaries in build/bin/)
#   make check    the full test suite, then again under ASan+UBSan
#   make bench    every benchmark under bench/, each ending in a RESULT line
#   make demo     a local multi-department network running the license workflow
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_GEN  := -G "Unix Makefiles"

.PHONY: all deps build build-asan check check-release check-asan bench demo clean

all: build

deps:
	@scripts/deps.sh

$(BUILD)/Makefile: | deps
	@cmake -S . -B $(BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

$(ASAN_BUILD)/Makefile: | deps
	@cmake -S . -B $(ASAN_BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Debug -DPERMIT_SANITIZE=ON >/dev/null

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

check: check-release check-asan
	@echo "make check: all tests passed (release and ASan+UBSan builds)"

bench: build
	@scripts/bench.sh $(BUILD)

demo: build
	@scripts/demo.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
