# The two commands of the README, plus the pieces they are made of.
SHELL := /bin/bash
JOBS ?= $(shell nproc)
TEST_BUILD ?= build/test
REL_BUILD ?= build/release

.PHONY: all deps build build-release test unit demo demo-stop bench fuzz format tidy clean

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

format:
	@clang-format -i $$(git ls-files '*.cpp' '*.h')

tidy: build
	@clang-tidy -p $(TEST_BUILD) $$(git ls-files 'common/*.cpp' 'router/*.cpp' 'proxy/*.cpp' 'rebalance/*.cpp' 'cli/*.cpp')

clean:
	rm -rf build
