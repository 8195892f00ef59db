# spp — build, demo, run, test. See README.md.
PKGS        := gdal proj geos sqlite3 spatialite libmicrohttpd jansson cairo libxml-2.0 libutf8proc nettle
DEPS_CFLAGS := $(patsubst -I%,-isystem %,$(shell pkg-config --cflags $(PKGS) 2>/dev/null))
DEPS_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lz -lm -lpthread
WARN        := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wvla -Wundef
SAN         := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
CFLAGS      ?= -O2 -g
ALL_CFLAGS   = -std=c11 -D_GNU_SOURCE $(WARN) $(DEPS_CFLAGS) $(CFLAGS)
PY          := /usr/bin/python3
BUILD       ?= build
DEMO_DB     := data/demo/spp.sqlite
LISTEN      ?= 127.0.0.1:8080

SRC         := $(shell find src -name '*.c' -not -path 'src/web/*' | sort)
LIB_SRC     := $(filter-out src/main.c,$(SRC))
LIB_OBJ     := $(LIB_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC    := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN    := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all deps test-deps demo run test unit integration asan format format-check clean bench fuzz
all: deps spp

deps:
	@scripts/install-deps.sh build

test-deps:
	@scripts/install-deps.sh test

spp: $(BUILD)/spp
	cp $< $@

$(BUILD)/spp: $(BUILD)/src/main.o $(BUILD)/libspp.a
	$(CC) $(LDFLAGS) -o $@ $^ $(DEPS_LIBS)

$(BUILD)/libspp.a: $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "CC $<"
	@$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/tests/%: tests/unit/%.c tests/check.h $(BUILD)/libspp.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Isrc -o $@ $< $(BUILD)/libspp.a $(LDFLAGS) $(DEPS_LIBS)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# The demo city: generated sources, imported into the store (see data/README.md).
demo: all
	@mkdir -p data/demo
	@if [ -x data/build_demo.sh ]; then data/build_demo.sh $(DEMO_DB); \
	 else ./spp init --db $(DEMO_DB); fi

run: demo
	@echo "spp: open http://$(LISTEN)/ (Ctrl-C stops)"
	./spp serve --db $(DEMO_DB) --listen $(LISTEN)

unit: all $(UNIT_BIN)
	@tests/run_unit.sh $(UNIT_BIN)

integration: all
	SPP_BIN=$(CURDIR)/spp $(PY) -m pytest -q tests/integration

test: test-deps all
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory integration

asan:
	$(MAKE) BUILD=build/asan CFLAGS="-O1 -g $(SAN)" LDFLAGS="$(SAN)" build/asan/spp
	$(MAKE) BUILD=build/asan CFLAGS="-O1 -g $(SAN)" LDFLAGS="$(SAN)" \
	  $(patsubst $(BUILD)/%,build/asan/%,$(UNIT_BIN))
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  tests/run_unit.sh $(patsubst $(BUILD)/%,build/asan/%,$(UNIT_BIN))
	ASAN_OPTIONS=detect_leaks=1 SPP_BIN=$(CURDIR)/build/asan/spp $(PY) -m pytest -q tests/integration

# Benchmark beside the peers (tests/bench/bench.sh; README "Performance"). ONLY=wfs runs one row;
# RUNS, DURATION, CONNS, OUT, SHARED (the peer harness, default ../shared) pass through.
SHARED      ?= $(CURDIR)/../shared
bench:
	@scripts/install-deps.sh bench
	@$(MAKE) --no-print-directory BUILD=build/release CFLAGS="-O2 -DNDEBUG" build/release/spp
	SHARED=$(SHARED) SPP_BIN=$(CURDIR)/build/release/spp tests/bench/bench.sh

format:
	clang-format -i $(SRC) $(wildcard src/*/*.h) $(UNIT_SRC) tests/check.h

format-check:
	clang-format --dry-run --Werror $(SRC) $(wildcard src/*/*.h) $(UNIT_SRC) tests/check.h

clean:
	rm -rf build spp
