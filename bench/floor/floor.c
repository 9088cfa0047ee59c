/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * hw-floor - the cost of merely being attached: an empty BPF program (two instructions,
 * "return 0") on each hook given, held until SIGTERM/SIGINT.
 *
 * bench/floor.sh attaches it to exactly the hooks a running herdwatch-agent uses and runs the
 * workloads under it. The difference between "none" and "floor" is what any monitor built on
 * those hooks pays before doing anything (tracepoint dispatch, the syscall slow path that any
 * syscall tracepoint switches on for every task, the BPF trampoline); the difference between
 * "floor" and herdwatch is what herdwatch's own program bodies and agent add.
 *
 * Usage: hw-floor HOOK...
 *   raw:NAME       raw tracepoint NAME (what tp_btf and raw_tp programs attach to)
 *   tp:CAT/NAME    classic tracepoint, e.g. tp:syscalls/sys_exit_connect
 *   fentry:FN, fexit:FN   BPF trampoline on kernel function FN, e.g. fexit:__x64_sys_openat
 *   lsm:HOOK       BPF-LSM program on security hook HOOK (kernels with bpf in lsm=)
 * Prints "attached N" on stdout once every hook is attached; exits non-zero, naming the hook,
 * if one cannot be attached.
 */
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int empty_prog(enum bpf_prog_type type)
{
	const struct bpf_insn insns[] = {
		{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0},
		{.code = BPF_JMP | BPF_EXIT},
	};
	return bpf_prog_load(type, "hw_floor", "GPL", insns, 2, NULL);
}

static int attach_tp(const char *catname)
{
	char path[512];
	FILE *f;
	int id = -1;

	snprintf(path, sizeof(path), "/sys/kernel/tracing/events/%s/id", catname);
	f = fopen(path, "r");
	if (!f) {
		snprintf(path, sizeof(path), "/sys/kernel/debug/tracing/events/%s/id", catname);
		f = fopen(path, "r");
	}
	if (!f || fscanf(f, "%d", &id) != 1) {
		fprintf(stderr, "hw-floor: tracepoint %s: no id in tracefs (%s)\n", catname,
			strerror(errno));
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	int prog = empty_prog(BPF_PROG_TYPE_TRACEPOINT);
	if (prog < 0) {
		fprintf(stderr, "hw-floor: load for %s: %s\n", catname, strerror(errno));
		return -1;
	}
	struct perf_event_attr a = {
		.type = PERF_TYPE_TRACEPOINT,
		.size = sizeof(a),
		.config = (unsigned long long)id,
		.sample_period = 1,
		.wakeup_events = 1,
	};
	int pfd = (int)syscall(SYS_perf_event_open, &a, -1, 0, -1, PERF_FLAG_FD_CLOEXEC);
	if (pfd < 0 || ioctl(pfd, PERF_EVENT_IOC_SET_BPF, prog) < 0 ||
	    ioctl(pfd, PERF_EVENT_IOC_ENABLE, 0) < 0) {
		fprintf(stderr, "hw-floor: attach to tracepoint %s: %s\n", catname,
			strerror(errno));
		return -1;
	}
	return 0;
}

static int attach_raw(const char *name)
{
	int prog = empty_prog(BPF_PROG_TYPE_RAW_TRACEPOINT);
	if (prog < 0 || bpf_raw_tracepoint_open(name, prog) < 0) {
		fprintf(stderr, "hw-floor: attach to raw tracepoint %s: %s\n", name,
			strerror(errno));
		return -1;
	}
	return 0;
}

/* fentry/fexit on a kernel function, or an LSM program on a security hook: the target is the
 * function's BTF id in vmlinux. */
static int attach_btf(const char *fn, enum bpf_prog_type type, enum bpf_attach_type at)
{
	static struct btf *vmlinux;
	char name[200];
	if (!vmlinux && !(vmlinux = btf__load_vmlinux_btf())) {
		fprintf(stderr, "hw-floor: no kernel BTF: %s\n", strerror(errno));
		return -1;
	}
	snprintf(name, sizeof(name), "%s%s", at == BPF_LSM_MAC ? "bpf_lsm_" : "", fn);
	int id = btf__find_by_name_kind(vmlinux, name, BTF_KIND_FUNC);
	if (id < 0) {
		fprintf(stderr, "hw-floor: no function %s in the kernel's BTF\n", name);
		return -1;
	}
	const struct bpf_insn insns[] = {
		{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0},
		{.code = BPF_JMP | BPF_EXIT},
	};
	LIBBPF_OPTS(bpf_prog_load_opts, o, .expected_attach_type = at, .attach_btf_id = id);
	int prog = bpf_prog_load(type, "hw_floor", "GPL", insns, 2, &o);
	if (prog < 0 || bpf_raw_tracepoint_open(NULL, prog) < 0) {
		fprintf(stderr, "hw-floor: attach to %s: %s\n", name, strerror(errno));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	int n = 0;

	if (argc < 2) {
		fprintf(stderr,
			"usage: hw-floor raw:NAME|tp:CAT/NAME|fentry:FN|fexit:FN|lsm:HOOK ...\n");
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		int r;
		if (!strncmp(argv[i], "raw:", 4))
			r = attach_raw(argv[i] + 4);
		else if (!strncmp(argv[i], "tp:", 3))
			r = attach_tp(argv[i] + 3);
		else if (!strncmp(argv[i], "fentry:", 7))
			r = attach_btf(argv[i] + 7, BPF_PROG_TYPE_TRACING, BPF_TRACE_FENTRY);
		else if (!strncmp(argv[i], "fexit:", 6))
			r = attach_btf(argv[i] + 6, BPF_PROG_TYPE_TRACING, BPF_TRACE_FEXIT);
		else if (!strncmp(argv[i], "lsm:", 4))
			r = attach_btf(argv[i] + 4, BPF_PROG_TYPE_LSM, BPF_LSM_MAC);
		else {
			fprintf(stderr,
				"hw-floor: '%s': expected raw:NAME, tp:CAT/NAME, fentry:FN, "
				"fexit:FN or lsm:HOOK\n",
				argv[i]);
			return 2;
		}
		if (r)
			return 1;
		n++;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	printf("attached %d\n", n);
	fflush(stdout);
	while (!stop)
		pause();
	return 0;
}
