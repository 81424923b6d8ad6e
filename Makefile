# The two commands of the README, plus the pieces they are made of.
SHELL := /bin/bash
JOBS ?= $(shell nproc)
TEST_BUILD ?= build/test
REL_BUILD ?= build/release

.PHONY: all deps build build-release test unit demo demo-stop bench fuzz fuzz-sql format tidy clean

all: build-release

deps:
	@scripts/deps.sh

# Tests run against a Debug build with AddressSanitizer and UBSan.
build: deps
	@cmake -S . -B $(TEST_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSHARDGATE_SANITIZE=ON -DSHARDGATE_BENCH=OFF >/dev/null
	@cmake --build $(TEST_BUILD) -j$(JOBS)

build-release: deps
	@cmake -S . -B $(REL_BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(REL_BUILD) -j$(JOBS)

test: build
	@cd $(TEST_BUILD) && ctest --output-on-failure --timeout 900 -j1

unit: build
	@cd $(TEST_BUILD) && ctest --output-on-failure -L unit

demo: build-release
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

tidy: build
	@clang-tidy -p $(TEST_BUILD) $$(git ls-files 'common/*.cpp' 'router/*.cpp' 'proxy/*.cpp' 'rebalance/*.cpp' 'cli/*.cpp')

clean:
	rm -rf build
