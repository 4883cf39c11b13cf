# PermitChain: a thin wrapper around CMake.  See README.md.
#   make          build everything (binaries in build/bin/; with emscripten also
#                 the browser verifier in build-wasm/web/, wasm/README.md)
#   make check    the full test suite, then again under ASan+UBSan, then a
#                 short libFuzzer run of every decoder (clang; check-fuzz)
#   make fuzz     every libFuzzer target for FUZZ_LONG_SECONDS each (600)
#   make fuzz-seeds  remake the seed corpora tests/fuzz/corpus and data
#   make vectors  remake tests/vectors from docs/formats.md (python3)
#   make bench    every benchmark under bench/, each ending in a RESULT line
#   make demo     a local multi-department network running the license workflow
#   make install  binaries, man pages, completion under PREFIX (default /usr/local);
#                 settings, unit, logrotate at their system places (DESTDIR=... to stage)
#   make deb      build/permitchain_<version>_amd64.deb
#   make soak     SOAK_KILLS (1000) SIGKILLs of a validator among four under load
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
WASM_BUILD ?= build-wasm
FUZZ_SECONDS ?= 18
FUZZ_LONG_SECONDS ?= 600
FUZZ_TARGETS ?= bundle tx header block commit record frame rpc genesis
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_GEN  := -G "Unix Makefiles"

.PHONY: all deps wasm build build-asan check check-release check-asan check-fuzz fuzz fuzz-seeds \
        vectors bench demo soak clean install deb

all: build

deps:
	@scripts/deps.sh

# The browser verifier (wasm/README.md) when emscripten is present: its own
# build folder, configured with emcmake.  Debian's emcc runs its JavaScript
# tools with node, which must find Debian's node modules (acorn) also when
# node itself is not Debian's.
# Asked when a recipe runs (`=`, not `:=`), after `deps` may have installed
# emscripten on a fresh machine.
EMCC = $(shell command -v emcc 2>/dev/null)
EM_ENV := NODE_PATH=/usr/share/nodejs$(if $(NODE_PATH),:$(NODE_PATH))
WASM_FLAG = $(if $(EMCC),-DPERMIT_WASM_DIR=$(abspath $(WASM_BUILD))/web)

wasm: deps
	@if [ -z "$(EMCC)" ]; then \
	  echo "wasm: emcc not found: the browser verifier is not built (scripts/deps.sh installs emscripten)"; \
	else \
	  test -f $(WASM_BUILD)/Makefile || $(EM_ENV) emcmake cmake -S wasm -B $(WASM_BUILD) \
	    $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Release >/dev/null && \
	  $(EM_ENV) $(MAKE) --no-print-directory -C $(WASM_BUILD) -j$(JOBS); \
	fi

$(BUILD)/Makefile: | deps
	@cmake -S . -B $(BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(WASM_FLAG) >/dev/null

$(ASAN_BUILD)/Makefile: | deps
	@cmake -S . -B $(ASAN_BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Debug -DPERMIT_SANITIZE=ON \
	  $(WASM_FLAG) >/dev/null

$(FUZZ_BUILD)/Makefile: | deps
	@CC=clang cmake -S . -B $(FUZZ_BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPERMIT_FUZZ=ON >/dev/null

build: deps wasm $(BUILD)/Makefile
	@$(MAKE) --no-print-directory -C $(BUILD) -j$(JOBS)

build-asan: deps wasm $(ASAN_BUILD)/Makefile
	@$(MAKE) --no-print-directory -C $(ASAN_BUILD) -j$(JOBS)

check-release: build
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

check-asan: build-asan
	@cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 PERMIT_SANITIZED=1 \
	  ctest --output-on-failure -j$(JOBS)

build-fuzz: deps $(FUZZ_BUILD)/Makefile
	@$(MAKE) --no-print-directory -C $(FUZZ_BUILD) -j$(JOBS) fuzz_all

# libFuzzer on every decoder (tests/fuzz/README.md), FUZZ_SECONDS each,
# from the seeds committed under tests/fuzz/corpus
check-fuzz: build-fuzz
	@scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz: build-fuzz
	@scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_LONG_SECONDS) $(FUZZ_TARGETS)

# the seeds are made by the real code on a certified chain (tests/test_fuzz_seeds.c)
fuzz-seeds: build
	@rm -rf tests/fuzz/corpus tests/fuzz/data
	@PERMIT_FUZZ_SEED_DIR=$(abspath tests/fuzz) $(BUILD)/tests/test_fuzz_seeds >/dev/null \
	  || { echo "test_fuzz_seeds failed"; exit 1; }
	@echo "seeds written to tests/fuzz/corpus and tests/fuzz/data"

# known-answer vectors from an independent Python reading of docs/formats.md
vectors:
	@python3 tests/vectors/gen.py tests/vectors

check: check-release check-asan check-fuzz
	@echo "make check: all tests passed (release and ASan+UBSan builds, fuzzing)"

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
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) $(WASM_BUILD)
