# herdwatch-collector, the herdwatch CLI and herdwatch-replay. Their objects live in
# $(B)/obj-c/ so they do not depend on the BPF skeleton the agent objects need.
COLL_SRCS := collector/main.c collector/options.c collector/setup.c collector/ingest.c collector/http.c collector/api.c collector/response.c collector/crl.c $(wildcard collector/store*.c) $(wildcard collector/herd*.c) $(wildcard collector/tokens*.c) collector/json.c collector/json_write.c common/wire.c \
	collector/console.c collector/console_coverage.c $(B)/console_assets.c collector/metrics.c common/prom.c \
	collector/alert_out.c common/relay.c common/relay_http.c \
	$(wildcard collector/nats_*.c)
COLL_OBJS := $(patsubst %.c,$(B)/obj-c/%.o,$(COLL_SRCS))
CLI_OBJS  := $(B)/obj-c/cli/main.o $(B)/obj-c/collector/json.o $(B)/obj-c/collector/json_write.o
REPLAY_OBJS := $(B)/obj-c/tools/replay.o $(B)/obj-c/agent/ship.o $(B)/obj-c/agent/ship_spool.o $(B)/obj-c/common/wire.o $(B)/obj-c/collector/json.o
COLL_UNIT := $(B)/tests/test_collector_unit
LDLIBS_COLL := -lnats -levent -levent_openssl -lssl -lcrypto -lsqlite3 -lzstd -lpsl -lm -lpthread

ALL_TARGETS += $(B)/herdwatch-collector $(B)/herdwatch $(B)/herdwatch-replay $(COLL_UNIT)
.PHONY: collector-all
collector-all: $(B)/herdwatch-collector $(B)/herdwatch $(B)/herdwatch-replay $(COLL_UNIT)

$(B)/obj-c/%.o: %.c $(wildcard collector/*.h common/wire.h common/prom.h common/relay*.h agent/ship.h agent/ship_int.h)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

# The per-event path (JSON scan, tokens, herd engine) gains ~8% CPU from -O3 (measured).
$(B)/obj-c/collector/json.o $(B)/obj-c/collector/json_write.o $(patsubst %.c,$(B)/obj-c/%.o,$(wildcard collector/tokens*.c)) $(patsubst %.c,$(B)/obj-c/%.o,$(wildcard collector/herd*.c)): CFLAGS += -O3

# The web console's files (collector/console/*) become a C array in the binary.
CONSOLE_FILES := $(sort $(wildcard collector/console/*))
$(B)/console_assets.c: $(CONSOLE_FILES) collector/console-gen.sh
	@mkdir -p $(@D)
	sh collector/console-gen.sh $(CONSOLE_FILES) >$@.tmp && mv $@.tmp $@

$(B)/herdwatch-collector: $(COLL_OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) $^ -o $@ $(LDLIBS_COLL)

$(B)/herdwatch: $(CLI_OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) $^ -o $@

$(B)/herdwatch-replay: $(REPLAY_OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) $^ -o $@ $(LDLIBS_COLL)

# Collector-side unit tests (wire, JSON, tokens, dedup ranges, herd engine) under ASan/UBSan.
$(COLL_UNIT): tests/collector/unit.c $(wildcard collector/store*.c) $(wildcard collector/herd*.c) $(wildcard collector/tokens*.c) collector/json.c collector/json_write.c common/wire.c $(wildcard collector/*.h common/wire.h)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fsanitize=address,undefined $(filter %.c,$^) -o $@ $(LDLIBS_COLL)

# libFuzzer target (clang): every parser of bytes that come from an agent.
.PHONY: fuzz-collector
fuzz-collector: $(B)/fuzz/fuzz_collector
$(B)/fuzz/fuzz_collector: tests/fuzz/fuzz_collector.c collector/json.c $(wildcard collector/tokens*.c) common/wire.c $(wildcard collector/*.h common/wire.h)
	@mkdir -p $(@D)
	$(CLANG) -g -O1 -std=gnu11 -D_GNU_SOURCE -I. -fsanitize=fuzzer,address,undefined $(filter %.c,$^) -o $@ -lzstd -lpsl
