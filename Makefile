# Wraps CMake, as neovim's Makefile does. The two commands a new user needs:
#
#   make demo   installs what is missing, builds, runs the main job
#   make test   installs what is missing, builds everything, runs every test
#
# Variables: BUILD_DIR (build), CMAKE_BUILD_TYPE (RelWithDebInfo), JOBS
# (number of cores), CMAKE_FLAGS (extra -D options for CMake).
BUILD_DIR ?= build
CMAKE_BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

.PHONY: all deps configure build test demo bench install clean

all: build

deps:
	@./scripts/install-deps.sh

configure: deps
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(CMAKE_BUILD_TYPE) -DEVOLVE_WERROR=ON $(CMAKE_FLAGS)

build: configure
	cmake --build $(BUILD_DIR) --parallel $(JOBS)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure --parallel $(JOBS) --timeout 900

# One evolution of the bundled TTRC daily bars on the embedded defaults:
# SQLite file ./evolve.db, built-in engines, in-process workers.
# Builds only the `evolve` binary, so the first demo does not wait for the tests.
demo: configure
	cmake --build $(BUILD_DIR) --parallel $(JOBS) --target evolve_bin
	$(BUILD_DIR)/services/orchestrator/evolve run

# Side-by-side benchmarks against the Python/R peers (docs/benchmarks.md).
bench: build
	./tests/bench/run.sh

install: build
	cmake --install $(BUILD_DIR)

clean:
	rm -rf $(BUILD_DIR)
