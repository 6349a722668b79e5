# Gatehouse: one static binary, built from our sources in appliance/, the
# browser console in web/, the migrations in schema/, and third-party code
# fetched from Debian's source packages at pinned versions (third_party/).
#
#   make run             install deps, build, run with state in ./var
#   make test            install deps, build, run every test
#   make test-sanitize   the same tests on an ASan+UBSan build
#   make fuzz            libFuzzer targets, each run briefly (FUZZ_SECONDS)
#   make bench           benchmarks: measured figures and ratios
#   make install         install to FHS paths (DESTDIR, PREFIX)
#   make deb             build a Debian package in build/

VERSION := $(shell cat VERSION)
BUILD ?= build
SAN ?= 0
CC ?= gcc
PREFIX ?= /usr
DESTDIR ?=
FUZZ_SECONDS ?= 20

TP := build/third_party
CIVETWEB := $(TP)/civetweb
CJSON := $(TP)/cjson

# Our code: strict warnings, hardening. Third-party code: its own flags.
WARN := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes \
	-Wmissing-prototypes -Wold-style-definition -Wvla -Wpointer-arith \
	-Wno-format-nonliteral -Wno-format-truncation
HARDEN := -fstack-protector-strong -fstack-clash-protection -fcf-protection \
	-D_FORTIFY_SOURCE=2
INCLUDES := -Iappliance -I$(BUILD)/gen -I$(CIVETWEB)/include -I$(CJSON)
DEFS := -D_GNU_SOURCE -DGH_VERSION='"$(VERSION)"' -DCJSON_NESTING_LIMIT=64
CW_DEFS := -DUSE_MBEDTLS -DUSE_WEBSOCKET -DNO_CGI -DNO_FILES -DUSE_IPV6
LIBS := -lsqlite3 -lmbedtls -lmbedx509 -lmbedcrypto -lsodium -lz -lm -lpthread

ifeq ($(SAN),1)
OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
HARDEN := -fstack-protector-strong
LDFLAGS := -fsanitize=address,undefined -pthread
TP_OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=address
else
OPT := -O2 -g
LDFLAGS := -static -pthread -Wl,-z,relro,-z,now,-z,noexecstack
TP_OPT := -O2 -g
endif

CFLAGS_OWN := -std=gnu11 $(OPT) $(WARN) $(HARDEN) $(DEFS) $(INCLUDES)
CFLAGS_TP := -std=gnu11 $(TP_OPT) -w $(DEFS) $(INCLUDES)

SRC := $(sort $(wildcard appliance/*/*.c)) appliance/main.c
SRC := $(filter-out appliance/tools/%,$(SRC))
OBJ := $(SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/assets.o $(BUILD)/obj/gen/migrations.o
LIB_OBJ := $(filter-out $(BUILD)/obj/appliance/main.o,$(OBJ))
TP_OBJ := $(BUILD)/obj/tp/civetweb.o $(BUILD)/obj/tp/cJSON.o

WEB_FILES := $(sort $(shell find web -type f ! -name '*~'))
SCHEMA_FILES := $(sort $(wildcard schema/*.sql))

UNIT_SRC := $(sort $(wildcard tests/unit/*.c))
UNIT_OBJ := $(UNIT_SRC:%.c=$(BUILD)/obj/%.o)

.PHONY: all deps run test test-run test-sanitize fuzz bench install deb clean third-party update-conf
.DEFAULT_GOAL := all

all: $(BUILD)/gatehouse

deps:
	@scripts/deps.sh

third-party: $(CIVETWEB)/.ok $(CJSON)/.ok

$(CIVETWEB)/.ok: third_party/sources.txt $(wildcard third_party/civetweb/*.patch) scripts/fetch-source.sh
	scripts/fetch-source.sh civetweb $(CIVETWEB)
	@touch $@

$(CJSON)/.ok: third_party/sources.txt scripts/fetch-source.sh
	scripts/fetch-source.sh cjson $(CJSON)
	@touch $@

# --- generated sources --------------------------------------------------------
$(BUILD)/embed: appliance/tools/embed.c
	@mkdir -p $(@D)
	gcc -O2 -Wall -Wextra -Werror -o $@ $< -lz

$(BUILD)/gen/assets.c: $(BUILD)/embed $(WEB_FILES)
	@mkdir -p $(@D)
	$(BUILD)/embed assets $@.tmp web $(WEB_FILES) && mv $@.tmp $@

$(BUILD)/gen/migrations.c: $(BUILD)/embed $(SCHEMA_FILES)
	@mkdir -p $(@D)
	$(BUILD)/embed migrations $@.tmp $(SCHEMA_FILES) && mv $@.tmp $@

# --- compilation --------------------------------------------------------------
$(BUILD)/obj/%.o: %.c $(CIVETWEB)/.ok $(CJSON)/.ok
	@mkdir -p $(@D)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS_OWN) -MMD -MP -c -o $@ $<

$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(@D)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS_OWN) -c -o $@ $<

$(BUILD)/obj/tp/civetweb.o: $(CIVETWEB)/.ok appliance/web/gh_mbedtls_glue.inl Makefile
	@mkdir -p $(@D)
	@echo "  CC      $(CIVETWEB)/src/civetweb.c"
	@$(CC) $(CFLAGS_TP) $(CW_DEFS) -Iappliance/web -c -o $@ $(CIVETWEB)/src/civetweb.c

$(BUILD)/obj/tp/cJSON.o: $(CJSON)/.ok Makefile
	@mkdir -p $(@D)
	@echo "  CC      $(CJSON)/cJSON.c"
	@$(CC) $(CFLAGS_TP) -c -o $@ $(CJSON)/cJSON.c

# glibc warns that getpwnam, dlopen and getaddrinfo need shared libraries at
# run time when linked statically; those paths stay cold (numeric addresses,
# no extensions), so that one known warning is filtered and nothing else.
define link
	@echo "  LINK    $@"
	@$(CC) -o $@.tmp $^ $(LDFLAGS) $(LIBS) 2> $@.log || { cat $@.log >&2; exit 1; }
	@grep -v -e 'statically linked applications requires at runtime' -e ': in function' $@.log >&2 || true
	@mv $@.tmp $@
endef

$(BUILD)/gatehouse: $(OBJ) $(TP_OBJ)
	$(link)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# --- tests --------------------------------------------------------------------
$(BUILD)/unit-tests: $(UNIT_OBJ) $(LIB_OBJ) $(TP_OBJ)
	$(link)

test: deps
	@$(MAKE) --no-print-directory test-run BUILD=build

test-sanitize: deps
	@$(MAKE) --no-print-directory test-run BUILD=build/san SAN=1

# --- benchmarks ---------------------------------------------------------------
# tests/bench/bench_NAME.c -> $(BUILD)/bench-NAME; tests/bench/run.sh (make bench)
# builds and runs every one of them.
BENCH_SRC := $(sort $(wildcard tests/bench/bench_*.c))
BENCH_BIN := $(BENCH_SRC:tests/bench/bench_%.c=$(BUILD)/bench-%)

$(BENCH_BIN): $(BUILD)/bench-%: $(BUILD)/obj/tests/bench/bench_%.o $(LIB_OBJ) $(TP_OBJ)
	$(link)

# A client of the vault library for the end-to-end tests of the key commands.
$(BUILD)/vault-fixture: $(BUILD)/obj/tests/tools/vault_fixture.o $(LIB_OBJ) $(TP_OBJ)
	$(link)

# Test tooling from the npm registry (the OpenAPI linter), pinned by the
# lock file, installed once into build/npm for both test builds.
NPM_DIR := build/npm
$(NPM_DIR)/.ok: tests/tools/npm/package.json tests/tools/npm/package-lock.json
	@mkdir -p $(@D)
	@cp tests/tools/npm/package.json tests/tools/npm/package-lock.json $(@D)/
	@echo "  NPM     ci (tests/tools/npm)"
	@npm ci --prefix $(@D) --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

test-run: $(BUILD)/gatehouse $(BUILD)/unit-tests $(BUILD)/vault-fixture $(NPM_DIR)/.ok
	@tests/run.sh $(BUILD)

fuzz: deps third-party
	@$(MAKE) --no-print-directory -f tests/fuzz/fuzz.mk FUZZ_SECONDS=$(FUZZ_SECONDS)

bench: deps
	@$(MAKE) --no-print-directory $(BUILD)/gatehouse
	@tests/bench/run.sh $(BUILD)

run: deps
	@$(MAKE) --no-print-directory $(BUILD)/gatehouse
	$(BUILD)/gatehouse serve --state-dir var

# --- installation -------------------------------------------------------------
install: $(BUILD)/gatehouse
	install -D -m 0755 $(BUILD)/gatehouse $(DESTDIR)$(PREFIX)/sbin/gatehouse
	install -D -m 0644 packaging/gatehouse.service $(DESTDIR)/lib/systemd/system/gatehouse.service
	install -D -m 0640 packaging/gatehouse.conf $(DESTDIR)/etc/gatehouse/gatehouse.conf
	install -D -m 0644 packaging/gatehouse.sysusers $(DESTDIR)$(PREFIX)/lib/sysusers.d/gatehouse.conf
	install -D -m 0644 packaging/gatehouse.tmpfiles $(DESTDIR)$(PREFIX)/lib/tmpfiles.d/gatehouse.conf
	install -D -m 0644 README.md $(DESTDIR)$(PREFIX)/share/doc/gatehouse/README.md

deb: $(BUILD)/gatehouse
	@packaging/build-deb.sh $(BUILD) $(VERSION)

# The packaged configuration is the documented defaults plus the package's
# own settings; tests/e2e/test_packaging.py checks they stay in step.
update-conf: $(BUILD)/gatehouse
	@{ $(BUILD)/gatehouse config defaults; sed -n '/^# --- Settings of the Debian package/,$$p' packaging/gatehouse.conf | sed '1s/^/\n/'; } > packaging/gatehouse.conf.new
	@mv packaging/gatehouse.conf.new packaging/gatehouse.conf

clean:
	rm -rf build
