/* hooks.c - what this kernel offers: the hook types (fentry, LSM, kprobe, classic and BTF
 * tracepoints, uprobes), found by loading and attaching a two-instruction test program where
 * only that answers (a kernel may load fentry programs and still refuse to attach them), the
 * lockdown mode, and tracefs. The loader (probes.c) asks hook_refused() before it loads a
 * program; the manifest's "hooks" object is hooks_json(). Each answer is computed once. */
#include "agent/agent.h"
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <linux/bpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The kernel's lockdown mode when it is locked down ("integrity", "confidentiality"), else
 * NULL. Under confidentiality, tracefs and every BPF program that reads kernel memory are
 * refused: the reasons say so instead of "no tracepoint" or a bare EINVAL. */
const char *kernel_lockdown(void)
{
	static char mode[32];
	static bool done;
	char buf[128] = "";
	if (done)
		return mode[0] ? mode : NULL;
	done = true;
	FILE *f = fopen("/sys/kernel/security/lockdown", "re");
	if (!f)
		return NULL;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	char *b = strchr(buf, '['), *e = b ? strchr(b, ']') : NULL;
	if (b && e && e - b - 1 < (long)sizeof(mode) && strncmp(b + 1, "none", 4))
		snprintf(mode, sizeof(mode), "%.*s", (int)(e - b - 1), b + 1);
	return mode[0] ? mode : NULL;
}

bool tracefs_mounted(void)
{
	struct stat st;
	return stat("/sys/kernel/tracing/events", &st) == 0 ||
	       stat("/sys/kernel/debug/tracing/events", &st) == 0;
}

void ensure_tracefs(void)
{
	struct stat st;
	if (stat("/sys/kernel/tracing/events", &st) == 0 ||
	    stat("/sys/kernel/debug/tracing/events", &st) == 0)
		return;
	/* libbpf finds tracepoint ids in tracefs; mount it if nobody did. */
	if (system("mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null") != 0)
		agent_log("tracefs is not mounted and could not be mounted; "
				"classic tracepoints will be unavailable\n");
}

static bool path_exists(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0;
}

/* Try to load and attach a two-instruction program of a BTF-attached type (fentry, LSM) on a
 * kernel function: tells whether this kernel allows the hook at all (a locked-down kernel
 * answers EPERM). Returns NULL if it works, else the reason. */
static const char *try_btf_prog(enum bpf_prog_type type, enum bpf_attach_type at, const char *fn,
				char *why, size_t len)
{
	struct btf *btf = btf__load_vmlinux_btf();
	struct bpf_insn insns[2] = {
		{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0},
		{.code = BPF_JMP | BPF_EXIT},
	};
	int id, fd;

	if (!btf) {
		snprintf(why, len, "no kernel BTF");
		return why;
	}
	id = btf__find_by_name_kind(btf, fn, BTF_KIND_FUNC);
	btf__free(btf);
	if (id < 0) {
		snprintf(why, len, "kernel function %s not in BTF", fn);
		return why;
	}
	LIBBPF_OPTS(bpf_prog_load_opts, o, .expected_attach_type = at, .attach_btf_id = id);
	fd = bpf_prog_load(type, NULL, "GPL", insns, 2, &o);
	if (fd < 0) {
		snprintf(why, len, "program load refused: %s", strerror(errno));
		return why;
	}
	/* Attached once, too: a kernel can load such a program and still have no trampoline to
	 * attach it with (arm64 before 6.0: ENOTSUPP), and then every fentry candidate would
	 * leave its probe unavailable instead of falling back (fallbacks are not loaded). */
	int link = bpf_raw_tracepoint_open(NULL, fd);
	int err = errno;
	close(fd);
	if (link >= 0) {
		close(link);
		return NULL;
	}
	snprintf(why, len, "program attach refused: %s", strerror(err));
	return why;
}

/* Is "bpf" among the active LSMs? A BPF-LSM program loads without it, but never runs. */
static const char *bpf_lsm_active(char *why, size_t len)
{
	char buf[512] = "";
	FILE *f = fopen("/sys/kernel/security/lsm", "re");
	if (!f) {
		snprintf(why, len, "/sys/kernel/security/lsm unreadable: %s", strerror(errno));
		return why;
	}
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	for (char *tok = strtok(buf, ",\n"); tok; tok = strtok(NULL, ",\n"))
		if (!strcmp(tok, "bpf"))
			return NULL;
	snprintf(why, len, "BPF LSM not active (the kernel's lsm= list has no bpf)");
	return why;
}

/* What this kernel offers, from the interfaces it exposes and from loading minimal programs;
 * found once. A NULL reason means the hook type works. */
static struct {
	bool done;
	const char *fentry, *lsm, *kprobe;
	char fw[160], lw[160];
} hk;

static void hooks_detect(void)
{
	if (hk.done)
		return;
	hk.done = true;
	hk.fentry = try_btf_prog(BPF_PROG_TYPE_TRACING, BPF_TRACE_FENTRY, "do_exit", hk.fw,
				 sizeof(hk.fw));
	hk.lsm = try_btf_prog(BPF_PROG_TYPE_LSM, BPF_LSM_MAC, "bpf_lsm_file_open", hk.lw,
			      sizeof(hk.lw));
	if (!hk.lsm)
		hk.lsm = bpf_lsm_active(hk.lw, sizeof(hk.lw));
	hk.kprobe = path_exists("/sys/bus/event_source/devices/kprobe")
			? NULL
			: "no kprobe PMU (kernel built without CONFIG_KPROBES)";
}

/* Why programs of hook type `hook` cannot work on this kernel, or NULL. */
const char *hook_refused(const char *hook)
{
	hooks_detect();
	if (!strcmp(hook, "fentry"))
		return hk.fentry;
	if (!strcmp(hook, "lsm"))
		return hk.lsm;
	if (!strcmp(hook, "kprobe"))
		return hk.kprobe;
	return NULL;
}

void hooks_json(struct jbuf *b)
{
	/* Program-level results (which candidate really loaded) are in "probes". */
	hooks_detect();
	jb_obj_begin(b);
	jb_kbool(b, "btf", path_exists("/sys/kernel/btf/vmlinux"));
	jb_kbool(b, "tracepoint", path_exists("/sys/kernel/tracing/events") ||
					  path_exists("/sys/kernel/debug/tracing/events"));
	jb_kbool(b, "tp_btf", path_exists("/sys/kernel/btf/vmlinux"));
	jb_kbool(b, "uprobe", path_exists("/sys/bus/event_source/devices/uprobe"));
	jb_kbool(b, "kprobe", !hk.kprobe);
	jb_kbool(b, "fentry", !hk.fentry);
	jb_kbool(b, "lsm", !hk.lsm);
	jb_kbool(b, "ringbuf", libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL) == 1);
	jb_key(b, "reasons");
	jb_obj_begin(b);
	if (hk.kprobe)
		jb_kcstr(b, "kprobe", hk.kprobe);
	if (hk.fentry)
		jb_kcstr(b, "fentry", hk.fentry);
	if (hk.lsm)
		jb_kcstr(b, "lsm", hk.lsm);
	jb_obj_end(b);
	jb_obj_end(b);
}
