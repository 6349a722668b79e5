# make -f tests/fuzz/fuzz.mk: build every libFuzzer target (tests/fuzz/fuzz_*.c)
# with clang, ASan and UBSan against our code, run each for FUZZ_SECONDS from
# its seed corpus, and print one line per target and "N passed, N failed".
FUZZ_SECONDS ?= 20
B := build/fuzz
VERSION := $(shell cat VERSION)
TP := build/third_party
CC := clang
FLAGS := -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined \
	-D_GNU_SOURCE -DGH_VERSION='"$(VERSION)"' -DCJSON_NESTING_LIMIT=64 \
	-Iappliance -I$(B)/gen -I$(TP)/civetweb/include -I$(TP)/cjson
CW_DEFS := -DUSE_MBEDTLS -DUSE_WEBSOCKET -DNO_CGI -DNO_FILES -DUSE_IPV6
LIBS := -lsqlite3 -lmbedtls -lmbedx509 -lmbedcrypto -lsodium -lz -lm -lpthread

SRC := $(filter-out appliance/main.c appliance/tools/%,$(sort $(wildcard appliance/*/*.c)))
OBJ := $(SRC:%.c=$(B)/obj/%.o) $(B)/obj/gen/assets.o $(B)/obj/gen/migrations.o \
	$(B)/obj/tp/civetweb.o $(B)/obj/tp/cJSON.o
TARGETS := $(patsubst tests/fuzz/%.c,%,$(sort $(wildcard tests/fuzz/fuzz_*.c)))

.PHONY: run
.SECONDARY:
run: $(TARGETS:%=$(B)/%)
	@pass=0; fail=0; \
	for t in $(TARGETS); do \
		name=$${t#fuzz_}; mkdir -p $(B)/corpus/$$name; \
		if $(B)/$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
			-artifact_prefix=$(B)/crash-$$name- $(B)/corpus/$$name tests/fuzz/corpus/$$name \
			> $(B)/$$t.log 2>&1; then \
			echo "ok - $$t: $$(grep -o 'Done [0-9]* runs in [0-9]* second' $(B)/$$t.log)"; pass=$$((pass+1)); \
		else \
			echo "not ok - $$t: see $(B)/$$t.log"; tail -30 $(B)/$$t.log | sed 's/^/#   /'; fail=$$((fail+1)); \
		fi; \
	done; \
	echo "$$pass passed, $$fail failed"; [ $$fail -eq 0 ]

$(B)/embed: appliance/tools/embed.c
	@mkdir -p $(@D)
	@gcc -O2 -o $@ $< -lz

$(B)/gen/assets.c: $(B)/embed $(sort $(shell find web -type f))
	@mkdir -p $(@D)
	@$(B)/embed assets $@ web $(sort $(shell find web -type f))

$(B)/gen/migrations.c: $(B)/embed $(sort $(wildcard schema/*.sql))
	@mkdir -p $(@D)
	@$(B)/embed migrations $@ $(sort $(wildcard schema/*.sql))

$(B)/obj/gen/%.o: $(B)/gen/%.c
	@mkdir -p $(@D)
	@$(CC) $(FLAGS) -c -o $@ $<

$(B)/obj/%.o: %.c
	@mkdir -p $(@D)
	@echo "  CC (fuzz) $<"
	@$(CC) $(FLAGS) -c -o $@ $<

$(B)/obj/tp/civetweb.o: $(TP)/civetweb/.ok appliance/web/gh_mbedtls_glue.inl
	@mkdir -p $(@D)
	@$(CC) $(FLAGS) -w $(CW_DEFS) -Iappliance/web -c -o $@ $(TP)/civetweb/src/civetweb.c

$(B)/obj/tp/cJSON.o: $(TP)/cjson/.ok
	@mkdir -p $(@D)
	@$(CC) $(FLAGS) -w -c -o $@ $(TP)/cjson/cJSON.c

$(B)/fuzz_%: tests/fuzz/fuzz_%.c $(OBJ)
	@echo "  LINK (fuzz) $@"
	@$(CC) $(FLAGS) -fsanitize=fuzzer -o $@ $^ $(LIBS)
