# Makefile: the two commands of README.md and a few more. Each target sets up what it needs
# on a fresh Debian 12 machine (packages, build, models), so `make demo` and `make test` work
# on a clean clone. The real build is CMake (CMakeLists.txt); this file only sequences steps.
# Set-up chatter (packages, compiler, fetch) goes to stderr: stdout is the results' only, so
# `make demo > out.jsonl` holds nothing but the demo's JSON Lines.
MAKEFLAGS  += --no-print-directory
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
FUZZ_SECONDS ?= 20
DATA       ?= ../shared/data
EMO        := $(BUILD)/emo
PREFIX     ?= /usr/local

.PHONY: all deps build models demo test test-asan fuzz-smoke bench clean install

all: build

deps:
	@scripts/deps.sh build >&2

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DEMO_WERROR=ON >/dev/null
	@cmake --build $(BUILD) -j $(JOBS) >&2

# The models no registry ships (users download them upstream) are imported from $(DATA)/models
# when that folder has them, so the tests that need them run instead of skipping.
IMPORTS    ?= $(DATA)/models/face_landmarker.task $(wildcard $(DATA)/models/lr_asd/*.model)

models: build
	@$(EMO) models fetch >&2
	@for f in $(IMPORTS); do if [ -f "$$f" ]; then $(EMO) models import "$$f" >&2 || exit 1; fi; done

# Set up everything and analyse real photos.
demo: models
	@scripts/demo.sh $(EMO) $(DATA)

# Set up everything and run the test suite (release build).
test: models
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The same tests under AddressSanitizer + UndefinedBehaviorSanitizer.
test-asan: models
	@scripts/deps.sh test
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DEMO_WERROR=ON -DEMO_SANITIZE=ON -DEMO_BENCH=OFF >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	@cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j $(JOBS)

# Builds the libFuzzer harnesses with clang and runs each for FUZZ_SECONDS on its seed corpus.
fuzz-smoke: deps
	@scripts/deps.sh test
	@CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Debug -DEMO_WERROR=ON -DEMO_FUZZ=ON -DEMO_BENCH=OFF >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS)
	@scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

# The CLI, libemo.so, emo.h, emo.pc and the Python package under PREFIX (sudo for /usr/local).
install: build
	@cmake --install $(BUILD) --prefix $(PREFIX)

bench: models
	@bench/run.sh $(BUILD) $(DATA)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
