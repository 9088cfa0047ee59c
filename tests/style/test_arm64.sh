#!/usr/bin/env bash
# lane: parallel (no BPF loaded, no agent: runs beside the probe tests)
# The arm64 build: the BPF object (compiled for __TARGET_ARCH_arm64 against Debian's arm64 6.1
# kernel types) and the agent (Debian's cross compiler, arm64 libraries through multiarch)
# build from this tree, so a construct that only x86-64 has fails here and not on a user's
# arm64 host. The last case shows the check can fail: an x86-64 register read does not compile
# for arm64. Needs `scripts/deps.sh --test` and `scripts/arm64-btf.sh` (the test command runs both).
cd "$(dirname "$0")/../.."
. tests/lib.sh
btf=${HW_ARM64_BTF:-/var/cache/herdwatch/arm64/vmlinux.btf}
if ! command -v aarch64-linux-gnu-gcc >/dev/null || [ ! -s "$btf" ]; then
	not_ok arm64_toolchain "no aarch64-linux-gnu-gcc or no $btf: run scripts/deps.sh --test and scripts/arm64-btf.sh"
	exit 1
fi
out=$T/arm64
if make -s --no-print-directory -j2 B="$out" ARCH=arm64 CC=aarch64-linux-gnu-gcc VMLINUX_BTF="$btf" \
	"$out/herdwatch-agent" >"$T/build.log" 2>&1; then
	ok arm64_build
else
	not_ok arm64_build "$(grep -m5 -E 'error|Error' "$T/build.log")"
fi
expect arm64_agent_is_aarch64 sh -c "file '$out/herdwatch-agent' | grep -q 'ARM aarch64'"
expect arm64_bpf_object_built test -s "$out/herdwatch.bpf.o"
# the programs read arm64's registers: user_pt_regs exists only in the arm64 kernel's types
expect arm64_kernel_types grep -q 'struct user_pt_regs {' "$out/vmlinux.h"
cat >"$T/x86only.bpf.c" <<'C'
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
SEC("tracepoint/raw_syscalls/sys_enter")
int x86only(struct pt_regs *regs) { return regs->orig_ax == 0; }
char LICENSE[] SEC("license") = "GPL";
C
clang -O2 -target bpf -D__TARGET_ARCH_arm64 -I"$out" -c "$T/x86only.bpf.c" -o "$T/x.o" >"$T/x86only.log" 2>&1
expect arm64_rejects_x86_register grep -q "no member named 'orig_ax'" "$T/x86only.log"
# and the same program does compile for x86-64 (the case above fails for the right reason)
mkdir -p "$T/x86"
bpftool btf dump file /sys/kernel/btf/vmlinux format c >"$T/x86/vmlinux.h" 2>/dev/null
expect x86_accepts_x86_register clang -O2 -target bpf -D__TARGET_ARCH_x86 -I"$T/x86" -c "$T/x86only.bpf.c" -o "$T/x.o"
