# herdwatch build. `make` builds everything into build/; `make test` runs the suite.
# Components other than the agent add themselves through <dir>/module.mk (included below),
# so adding a part touches no shared build file. BPF programs: every bpf/*.bpf.c is compiled
# into one object (build/all.bpf.c includes them) and one skeleton.

B        := build
CC       ?= gcc
CLANG    ?= clang
BPFTOOL  ?= bpftool
VERSION  := $(shell git describe --always --dirty 2>/dev/null || echo 0.1)
ARCH     := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')

WARN     := -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow -Wformat=2 -Wno-format-nonliteral -Wno-format-truncation
CFLAGS   ?= -O2 -g
CFLAGS   += $(WARN) -std=gnu11 -D_GNU_SOURCE -DHW_VERSION='"$(VERSION)"' -I. -I$(B) -fno-strict-aliasing
LDLIBS_AGENT := -lbpf -lelf -lz -lyaml -lpthread -lssl -lcrypto -lzstd

BPF_SRCS := $(sort $(wildcard bpf/*.bpf.c))
BPF_HDRS := $(wildcard bpf/*.bpf.h) common/hw_abi.h

AGENT_SRCS  := $(sort $(wildcard agent/*.c))
# the agent reads the container runtimes' JSON with the collector's strict parser (one file,
# no dependency on the rest of the collector; its writer, collector/json_write.c, is not
# linked: the agent has its own)
COMMON_SRCS := $(sort $(wildcard common/*.c)) collector/json.c
AGENT_OBJS  := $(patsubst %.c,$(B)/%.o,$(AGENT_SRCS) $(COMMON_SRCS))
AGENT_LIB_OBJS := $(filter-out $(B)/agent/main.o,$(AGENT_OBJS))

UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRCS))
HELPER_SRCS := $(sort $(wildcard tests/helpers/*.c))
HELPER_BINS := $(patsubst tests/helpers/%.c,$(B)/tests/helpers/%,$(HELPER_SRCS))

ALL_TARGETS := $(B)/herdwatch-agent $(UNIT_BINS) $(HELPER_BINS)

.PHONY: all clean test bench format format-check deps cross-arm64
all: build-all

-include $(sort $(wildcard */module.mk))

build-all: $(ALL_TARGETS)

# The kernel types the programs compile against: this machine's kernel, or VMLINUX_BTF (the
# arm64 cross-build passes Debian's arm64 6.1 kernel's, see cross-arm64 below).
VMLINUX_BTF ?= /sys/kernel/btf/vmlinux
$(B)/vmlinux.h:
	@mkdir -p $(@D)
	@test -r $(VMLINUX_BTF) || { echo "herdwatch: $(VMLINUX_BTF) missing: a kernel with CONFIG_DEBUG_INFO_BTF=y is required" >&2; exit 1; }
	$(BPFTOOL) btf dump file $(VMLINUX_BTF) format c > $@.tmp && mv $@.tmp $@

# The arm64 build: the BPF object (__TARGET_ARCH_arm64, arm64 kernel types) and the agent with
# Debian's cross compiler and multiarch libraries (scripts/deps.sh --test installs them), into
# $(B)/arm64. An x86-only construct (a register, a syscall number) fails it.
ARM64_BTF ?= /var/cache/herdwatch/arm64/vmlinux.btf
cross-arm64:
	scripts/arm64-btf.sh $(ARM64_BTF)
	$(MAKE) B=$(B)/arm64 ARCH=arm64 CC=aarch64-linux-gnu-gcc VMLINUX_BTF=$(ARM64_BTF) \
		$(B)/arm64/herdwatch-agent

$(B)/all.bpf.c: $(BPF_SRCS) Makefile
	@mkdir -p $(@D)
	@{ echo '/* generated: every bpf/NAME.bpf.c in one translation unit */'; \
	   for f in $(BPF_SRCS); do echo "#include \"../$$f\""; done; } > $@

$(B)/herdwatch.bpf.o: $(B)/all.bpf.c $(BPF_SRCS) $(BPF_HDRS) $(B)/vmlinux.h
	$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -D__BPF__ -Wall -Werror \
		-Wno-unused-function -I. -I$(B) -Ibpf -c $< -o $@.tmp.o
	$(BPFTOOL) gen object $@ $@.tmp.o && rm -f $@.tmp.o

$(B)/herdwatch.skel.h: $(B)/herdwatch.bpf.o
	$(BPFTOOL) gen skeleton $< name hw_bpf > $@

$(B)/%.o: %.c $(wildcard agent/*.h common/*.h common/*.def) $(B)/herdwatch.skel.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(B)/herdwatch-agent: $(AGENT_OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) $^ -o $@ $(LDLIBS_AGENT)

# Unit tests: the test and every agent source but main.c, all built with ASan and UBSan.
ASAN_OBJS := $(patsubst $(B)/%.o,$(B)/asan/%.o,$(AGENT_LIB_OBJS))
$(B)/asan/%.o: %.c $(wildcard agent/*.h common/*.h common/*.def) $(B)/herdwatch.skel.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fsanitize=address,undefined -fno-sanitize-recover=all -c $< -o $@

$(B)/tests/%: tests/unit/%.c tests/unit/unit.h $(ASAN_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fsanitize=address,undefined -fno-sanitize-recover=all $< $(ASAN_OBJS) -o $@ $(LDLIBS_AGENT)

$(B)/tests/helpers/%: tests/helpers/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< -o $@ -lpthread

test: build-all
	tests/run

bench: build-all
	bench/run

# The directories held to .clang-format ('make format' rewrites them, 'make format-check'
# fails naming each file that differs; the test suite runs the check).
FORMAT_DIRS := agent bpf common cli tools collector bench tests
FORMAT_FILES = $(shell git ls-files --cached --others --exclude-standard $(foreach d,$(FORMAT_DIRS),'$(d)/*.c' '$(d)/*.h'))
format:
	clang-format -i $(FORMAT_FILES)
print-format-dirs:
	@echo $(FORMAT_DIRS)
print-format-files:
	@echo $(FORMAT_FILES)
format-check:
	@bad=0; for f in $(FORMAT_FILES); do \
		clang-format --dry-run -Werror "$$f" >/dev/null 2>&1 || { echo "$$f: differs from .clang-format (make format)"; bad=1; }; \
	done; exit $$bad

clean:
	rm -rf $(B)
