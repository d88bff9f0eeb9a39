# Entry points of pic: `make run` (install, build, start a cell) and `make test` (install, build, run every
# test in a normal and an ASan+UBSan build). Everything real happens in CMake, ctest and scripts/.
BUILD      ?= build
BUILD_ASAN ?= build-asan
JOBS       ?= $(shell nproc)
STATE_DIR  ?= /var/lib/pic
LISTEN     ?= 127.0.0.1:3000
# No defaults for the cell's settings here: scripts/run-cell.sh applies its defaults on the first start only
# and a variable only when given, so a restart never undoes `pic config set`. NETNS empty: the namespace of
# the previous start (else pic-mycell, or pic-$(CELL_NAME)).
NETNS      ?=
export CELL_NAME VPN_ADDRESS IP_RANGE DOMAIN

.PHONY: all deps build build-asan run test test-fast test-asan bench clean

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/build.ninja $(BUILD)/Makefile:
	cmake -S . -B $(BUILD) -DPIC_WERROR=ON >/dev/null

build: deps $(BUILD)/Makefile
	cmake --build $(BUILD) -j $(JOBS)

build-asan: deps
	@[ -f $(BUILD_ASAN)/Makefile ] || cmake -S . -B $(BUILD_ASAN) -DPIC_WERROR=ON -DPIC_SANITIZE=ON >/dev/null
	cmake --build $(BUILD_ASAN) -j $(JOBS)

run: build
	@scripts/run-cell.sh "$(BUILD)" "$(STATE_DIR)" "$(LISTEN)" "$(NETNS)"

# The whole suite, twice: the normal build, then the sanitizer build.
test: build build-asan
	cd $(BUILD) && ctest --output-on-failure -j 2
	cd $(BUILD_ASAN) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --output-on-failure -j 2

test-fast: build
	cd $(BUILD) && ctest --output-on-failure -j 2

bench: build
	bench/api/run.sh "$(BUILD)"

clean:
	rm -rf $(BUILD) $(BUILD_ASAN)
