# spp — build, demo, run, test. See README.md.
PKGS        := gdal proj geos sqlite3 spatialite libmicrohttpd jansson cairo libxml-2.0 libutf8proc nettle libpng libwebp libjpeg libdeflate freetype2 libqrencode libpq
# A fresh machine has none of the -dev packages when make starts, and the flags below are read
# when this file is parsed: so the packages are installed first, here, for every goal that builds
# (scripts/install-deps.sh; it prints the apt-get command instead when not run as root).
ifeq ($(filter clean format format-check,$(MAKECMDGOALS)),)
ifneq ($(shell pkg-config --exists $(PKGS) 2>/dev/null && echo ok),ok)
$(info spp: installing the packages the build needs (scripts/install-deps.sh build))
ifneq ($(shell scripts/install-deps.sh build >&2 && echo ok),ok)
$(error spp: the build packages are missing; see the message above)
endif
endif
endif
DEPS_CFLAGS := $(patsubst -I%,-isystem %,$(shell pkg-config --cflags $(PKGS) 2>/dev/null))
DEPS_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lz -lm -lpthread
WARN        := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wvla -Wundef
SAN         := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
CFLAGS      ?= -O2 -g
ALL_CFLAGS   = -std=c11 -D_GNU_SOURCE $(WARN) $(DEPS_CFLAGS) $(CFLAGS)
PY          := /usr/bin/python3
# The failing-allocator test hook (src/core/alloc.c, tests/integration/test_oom.py): on in the
# default and asan builds, off in `make bench` (TEST_HOOKS=0). It only acts when the server runs
# with SPP_TEST_FAIL_ALLOC set; the linker routes spp's own allocations through its wrappers.
# The same flag builds tiles/cache.c's hooks (SPP_TEST_TILE_WRITER_MS, _WRITE_HOLD_MS, _LOOKUP_PAUSE_MS)
# and tiles/tile.c's (SPP_TEST_SHARE_PAUSE_MS), which test_tile_cache.py, test_tiles.py and
# test_tile_budget.py drive.
TEST_HOOKS  ?= 1
ifeq ($(TEST_HOOKS),1)
HOOK_CFLAGS := -DSPP_TEST_HOOKS
HOOK_LIBS   := -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup,--wrap=strndup
endif
BUILD       ?= build
DEMO_DB     := data/demo/spp.sqlite
LISTEN      ?= 127.0.0.1:8080

SRC         := $(shell find src -name '*.c' -not -path 'src/web/*' | sort)
LIB_SRC     := $(filter-out src/main.c,$(SRC))
LIB_OBJ     := $(LIB_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC    := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN    := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
# Fuzz targets: every tests/fuzz/fuzz_NAME.c, seeds in tests/fuzz/corpus/NAME/. `make unit`
# replays the seeds through each target (built with tests/fuzz/replay.c instead of libFuzzer).
FUZZ_SRC    := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_NAMES  := $(FUZZ_SRC:tests/fuzz/fuzz_%.c=%)
REPLAY_BIN  := $(FUZZ_NAMES:%=$(BUILD)/tests/replay_%)
FUZZ_SAN    := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
FUZZ_SECONDS ?= 30

.PHONY: all deps test-deps demo run test unit integration asan format format-check clean bench fuzz mutate transcripts-record \
        fuzz-build fuzz-smoke browser npm-deps interop
all: deps spp

deps:
	@scripts/install-deps.sh build

test-deps:
	@scripts/install-deps.sh test

spp: $(BUILD)/spp
	cp $< $@.tmp && mv -f $@.tmp $@   # a running spp keeps its old inode

$(BUILD)/spp: $(BUILD)/src/main.o $(BUILD)/libspp.a
	$(CC) $(LDFLAGS) -o $@ $^ $(DEPS_LIBS) $(HOOK_LIBS)

$(BUILD)/libspp.a: $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

HOOKED_OBJ  := $(BUILD)/src/core/alloc.o $(BUILD)/src/tiles/cache.o $(BUILD)/src/tiles/tile.o
$(HOOKED_OBJ): ALL_CFLAGS += $(HOOK_CFLAGS)
$(HOOKED_OBJ): $(BUILD)/test-hooks
$(BUILD)/test-hooks: FORCE
	@mkdir -p $(dir $@) && echo '$(TEST_HOOKS)' | cmp -s - $@ || echo '$(TEST_HOOKS)' > $@

# The commit /metrics reports (spp_build_info); metrics.o is rebuilt when it changes.
GIT_COMMIT  := $(shell git describe --always --dirty 2>/dev/null || echo unknown)
$(BUILD)/src/http/metrics.o: ALL_CFLAGS += -DSPP_GIT_COMMIT='"$(GIT_COMMIT)"'
$(BUILD)/src/http/metrics.o: $(BUILD)/git-commit
$(BUILD)/git-commit: FORCE
	@mkdir -p $(dir $@) && echo '$(GIT_COMMIT)' | cmp -s - $@ || echo '$(GIT_COMMIT)' > $@
FORCE:

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "CC $<"
	@$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/tests/%: tests/unit/%.c tests/check.h $(BUILD)/libspp.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Isrc -o $@ $< $(BUILD)/libspp.a $(LDFLAGS) $(DEPS_LIBS) $(HOOK_LIBS)

$(BUILD)/tests/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c $(BUILD)/libspp.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Wno-missing-prototypes -DFUZZ_NAME='"$*"' -Isrc -o $@ $< tests/fuzz/replay.c $(BUILD)/libspp.a \
	  $(LDFLAGS) $(DEPS_LIBS) $(HOOK_LIBS)

# libFuzzer binaries: the library rebuilt with clang and sanitizers in build/fuzz/.
build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c build/fuzz/libspp.a
	clang $(ALL_CFLAGS) -Wno-missing-prototypes -Isrc -fsanitize=fuzzer $(FUZZ_SAN) -o $@ $< build/fuzz/libspp.a \
	  $(DEPS_LIBS) $(HOOK_LIBS)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# The demo city: generated sources, imported into the store (see data/README.md).
demo: all
	@mkdir -p data/demo
	@if [ -x data/build_demo.sh ]; then data/build_demo.sh $(DEMO_DB); \
	 else ./spp init --db $(DEMO_DB); fi

run: demo npm-deps
	@echo "spp: open http://$(LISTEN)/ (Ctrl-C stops)"
	./spp serve --db $(DEMO_DB) --listen $(LISTEN)

unit: all $(UNIT_BIN) $(REPLAY_BIN)
	@tests/run_unit.sh $(UNIT_BIN) $(REPLAY_BIN)

integration: all
	SPP_BIN=$(CURDIR)/spp $(PY) -m pytest -q tests/integration

test: test-deps all npm-deps
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory integration
	@$(MAKE) --no-print-directory browser
	@$(MAKE) --no-print-directory interop

# The clients planners and web maps use, unmodified, against one spp serve (tests/interop):
# OWSLib, GDAL/OGR, QGIS headless (PyQGIS, offscreen), MapLibre/Leaflet/OpenLayers in chromium.
interop: all npm-deps
	QT_QPA_PLATFORM=offscreen SPP_BIN=$(CURDIR)/spp $(PY) -m pytest -q -p no:cacheprovider tests/interop

# The web map's JavaScript (MapLibre GL JS, pinned in package-lock.json; playwright-core and pbf
# for the browser tests). node_modules/ is not committed; npm ci runs when the lock file changes.
npm-deps: node_modules/.package-lock.json

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Browser tests: headless Debian chromium driven by playwright-core against spp serve on the demo
# city (tests/browser/fixture.py builds a smaller one when run without --db).
browser: all npm-deps demo
	node tests/browser/run.mjs --spp $(CURDIR)/spp --db $(CURDIR)/$(DEMO_DB)

# The whole suite under ASan + UBSan with leak detection. Only third-party leaks are suppressed
# (tests/lsan.supp); the integration tests fail if a server reports a sanitizer error at exit.
ASAN_ENV := SPP_HOME=$(CURDIR) ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=0 \
            LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
            UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# -Werror stays with the normal build: -O1 changes what gcc's flow-based warnings see.
asan: test-deps
	$(MAKE) BUILD=build/asan CFLAGS="-O1 -g $(SAN)" LDFLAGS="$(SAN)" WARN="$(WARN) -Wno-error" \
	  build/asan/spp \
	  $(patsubst $(BUILD)/%,build/asan/%,$(UNIT_BIN) $(REPLAY_BIN))
	$(ASAN_ENV) tests/run_unit.sh $(patsubst $(BUILD)/%,build/asan/%,$(UNIT_BIN) $(REPLAY_BIN))
	$(ASAN_ENV) SPP_SANITIZED=1 SPP_BIN=$(CURDIR)/build/asan/spp $(PY) -m pytest -q -x \
	  tests/integration

# Fuzzing (clang + libFuzzer): `make fuzz` runs each target FUZZ_SECONDS (default 30) on a
# working copy of its corpus (build/fuzz/corpus/NAME, new inputs stay out of the repository);
# `make fuzz-smoke` runs each for 3 s (CI). Crashes land in build/fuzz/crashes/.
fuzz-build: test-deps
	@$(MAKE) --no-print-directory BUILD=build/fuzz CC=clang WARN="$(WARN) -Wno-error" \
	  CFLAGS="-O1 -g -fsanitize=fuzzer-no-link $(FUZZ_SAN)" \
	  $(FUZZ_NAMES:%=build/fuzz/fuzz_%)

fuzz: fuzz-build
	@tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_NAMES)

fuzz-smoke: fuzz-build
	@tests/fuzz/run.sh 3 $(FUZZ_NAMES)

# Benchmark beside the peers (tests/bench/bench.sh; README "Performance"). ONLY=wfs runs one row;
# RUNS, DURATION, CONNS, OUT, PEERS (the peer harness, default tests/bench/peers) pass through.
PEERS       ?= $(CURDIR)/tests/bench/peers
bench:
	@scripts/install-deps.sh bench
	@$(MAKE) --no-print-directory -j$$(nproc) BUILD=build/release CFLAGS="-O2 -DNDEBUG" TEST_HOOKS=0 build/release/spp
	PEERS=$(PEERS) SPP_BIN=$(CURDIR)/build/release/spp tests/bench/bench.sh

# Transcript tests (tests/transcripts/, checked by make integration): re-record them after an
# intended change of what clients receive, then read `git diff tests/transcripts` before committing.
transcripts-record: all
	SPP_RECORD=1 SPP_BIN=$(CURDIR)/spp $(PY) -m pytest -q tests/integration/test_transcripts.py

# Seeded one-line bugs in the critical paths, each expected to be caught (scripts/mutate.sh);
# not in CI: about five minutes.
mutate: all
	@scripts/mutate.sh

format:
	clang-format -i $(SRC) $(wildcard src/*/*.h) $(UNIT_SRC) tests/check.h

format-check:
	clang-format --dry-run --Werror $(SRC) $(wildcard src/*/*.h) $(UNIT_SRC) tests/check.h

clean:
	rm -rf build spp
