# The two commands of the README, plus the pieces they are made of.
SHELL := /bin/bash
JOBS ?= $(shell nproc)
TEST_BUILD ?= build/test
REL_BUILD ?= build/release

.PHONY: all deps build build-release build-proxy hygiene format-check test unit demo demo-stop bench fuzz fuzz-sql format tidy clean

all: build-release

deps:
	@scripts/deps.sh

# Release builds treat warnings as errors (GCC 12's known false positives are kept as warnings
# in CMakeLists.txt, each with its reason; optimisation is what brings the flow-based ones).
# Tests run against a Debug build with AddressSanitizer and UBSan.
build: deps
	@cmake -S . -B $(TEST_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSHARDGATE_SANITIZE=ON -DSHARDGATE_BENCH=OFF -DSHARDGATE_WERROR=OFF >/dev/null
	@cmake --build $(TEST_BUILD) -j$(JOBS)

build-release: deps
	@cmake -S . -B $(REL_BUILD) -DCMAKE_BUILD_TYPE=Release -DSHARDGATE_WERROR=ON >/dev/null
	@cmake --build $(REL_BUILD) -j$(JOBS)

# Only the proxy binary (what the demo runs): no tests, no benchmarks.
build-proxy: deps
	@cmake -S . -B $(REL_BUILD) -DCMAKE_BUILD_TYPE=Release -DSHARDGATE_WERROR=ON >/dev/null
	@cmake --build $(REL_BUILD) -j$(JOBS) --target shardgate

# CI's command: the Debug build with sanitizers, the -Werror Release build of the proxy, a 60 s
# run of the wire fuzz target, then every test.
test: build build-proxy
	@tests/fuzz/run.sh 60
	@cd $(TEST_BUILD) && ctest --output-on-failure --timeout 900 -j1

# Build hygiene beyond `make test`: the -Werror release build of every target (tests and
# benchmarks too) and the fuzz run.
hygiene: build-release
	@tests/fuzz/run.sh 60

format-check:
	@clang-format --dry-run --Werror $$(git ls-files '*.cpp' '*.h')

unit: build
	@cd $(TEST_BUILD) && ctest --output-on-failure -L unit

demo: build-proxy
	@scripts/demo.sh $(REL_BUILD)/shardgate

demo-stop:
	@scripts/demo.sh --stop

bench: build-release
	@SHARDGATE_BIN=$(REL_BUILD)/shardgate $(REL_BUILD)/bench/micro_bench

fuzz:
	@tests/fuzz/run.sh 60

# Differential SQL fuzzer (tests/differential/README.md): SEED, N statements and/or MINUTES;
# FINDINGS names the file minimised failures go to; FUZZ_ARGS e.g. --exclude-open.
fuzz-sql: build
	@SHARDGATE_BIN=$(TEST_BUILD)/shardgate PYTHONPATH=tests/harness /usr/bin/python3 \
	  tests/differential/fuzz.py --seed $(or $(SEED),1) $(if $(N),--n $(N)) \
	  $(if $(MINUTES),--minutes $(MINUTES)) --findings $(or $(FINDINGS),differential-findings.jsonl) $(FUZZ_ARGS)

format:
	@clang-format -i $$(git ls-files '*.cpp' '*.h')

# clang-tidy 14 does not see GCC's coroutine support through Boost 1.74's detection, so the two
# BOOST_ASIO_HAS_* defines GCC gets implicitly are given to it (without them every coroutine
# header fails to parse). TIDY_FILES narrows the run (default: every source of the product).
TIDY_FILES ?= $$(git ls-files 'common/*.cpp' 'router/*.cpp' 'proxy/*.cpp' 'rebalance/*.cpp' 'cli/*.cpp')
tidy: build
	@clang-tidy -p $(TEST_BUILD) --quiet --extra-arg=-DBOOST_ASIO_HAS_CO_AWAIT \
	  --extra-arg=-DBOOST_ASIO_HAS_STD_COROUTINE $(TIDY_FILES)

clean:
	rm -rf build
