# The two commands: `make run` and `make test`. Everything else is a helper.
BUILD_DEBUG   ?= build/asan
BUILD_RELEASE ?= build/release
JOBS          ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all run test unit bb deps test-deps release debug clean bench

all: release

deps:
	@sh scripts/install-deps.sh

test-deps:
	@sh scripts/install-deps.sh --test
	@[ -d node_modules ] && [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund --loglevel=error

release: deps
	@cmake -S . -B $(BUILD_RELEASE) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD_RELEASE) -j $(JOBS) --target flyteauth

debug: test-deps
	@cmake -S . -B $(BUILD_DEBUG) -DCMAKE_BUILD_TYPE=Debug -DFA_SANITIZE=ON >/dev/null
	@cmake --build $(BUILD_DEBUG) -j $(JOBS)

# The development server on its embedded defaults: http://localhost:8088
run: release
	./$(BUILD_RELEASE)/flyteauth serve

# FA_TEST_REQUIRE_PG: test-deps installed PostgreSQL's server, so the
# store's PostgreSQL tests must run here, never skip.
unit: debug
	cd $(BUILD_DEBUG) && FA_TEST_REQUIRE_PG=1 ctest --output-on-failure -j $(JOBS)

bb: debug
	FLYTEAUTH_BIN=$(CURDIR)/$(BUILD_DEBUG)/flyteauth FLYTEAUTH_BUILD=$(CURDIR)/$(BUILD_DEBUG) \
		node --test --test-concurrency=1 tests/bb/

test: unit bb

clean:
	rm -rf build

# Side by side with node-oidc-provider and glewlwyd on this machine; see
# bench/README.md. Writes bench/results/<date>.json. About 5 minutes.
bench: release test-deps
	FLYTEAUTH_BIN=$(CURDIR)/$(BUILD_RELEASE)/flyteauth bench/run
