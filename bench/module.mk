# bench/module.mk - the benchmark workloads (bench/workloads/*.c), one program each, built into
# build/bench/. They are part of `make all` so `bench/run` finds them; each is one small file.
BENCH_WL_SRCS := $(sort $(wildcard bench/workloads/*.c))
BENCH_WL_BINS := $(patsubst bench/workloads/%.c,$(B)/bench/%,$(BENCH_WL_SRCS))
ALL_TARGETS += $(BENCH_WL_BINS)

.PHONY: bench-workloads
bench-workloads: $(BENCH_WL_BINS)

$(B)/bench/%: bench/workloads/%.c bench/workloads/wl.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< -o $@ -lpthread

# hw-floor: empty programs on given hooks (bench/floor.sh: the cost of merely being attached).
ALL_TARGETS += $(B)/bench/hw-floor
$(B)/bench/hw-floor: bench/floor/floor.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< -o $@ -lbpf

# fleetsim: a simulated fleet judged by the collector's own herd engine, token extraction and
# JSON parser (the collector's objects), in virtual time (bench/fleetsim/fleetsim.c).
ALL_TARGETS += $(B)/bench/fleetsim
$(B)/bench/fleetsim: bench/fleetsim/fleetsim.c $(patsubst %.c,$(B)/obj-c/%.o,$(wildcard collector/herd*.c)) $(patsubst %.c,$(B)/obj-c/%.o,$(wildcard collector/tokens*.c)) $(B)/obj-c/collector/json.o $(B)/obj-c/collector/json_write.o
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $^ -o $@ -lpsl -lm

# hw-fanmode: a bare fanotify reader by reporting mode (bench/fanmode.sh).
ALL_TARGETS += $(B)/bench/hw-fanmode
$(B)/bench/hw-fanmode: bench/fanmode/fanmode.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< -o $@

# hw-cputime: the CPU time of a whole process in ns, exited threads included (bench/cputime.sh).
ALL_TARGETS += $(B)/bench/hw-cputime
$(B)/bench/hw-cputime: bench/cputime/cputime.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< -o $@
