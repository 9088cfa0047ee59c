/* main.c - herdwatch-agent: options, start-up checks, the event loop, signals.
 *
 * Loop: poll the ring buffer (urgent records wake us), then consume what arrived without a
 * wake-up (BPF_RB_NO_WAKEUP), flush the output, check drop counters each second, heartbeat
 * every heartbeat_interval. SIGTERM/SIGINT: detach, drain everything, announce losses, exit 0.
 * SIGHUP: reload the config; a bad config keeps the old one and says why.
 */
#include "agent/agent.h"
#include "herdwatch.skel.h"
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop_sig, reload_sig;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reload_sig = 1;
	else
		stop_sig = sig;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: herdwatch-agent [options]\n"
		"  -o, --output FILE   write JSON lines to FILE ('-' = stdout, the default)\n"
		"  -c, --config FILE   YAML configuration (see docs/config.md)\n"
		"      --probe         print the coverage manifest (which probes attach, with which hook) and exit\n"
		"  -v, --verbose       log libbpf messages to stderr\n"
		"  -h, --help          this text\n"
		"  -V, --version       print the version\n"
		"Signals: TERM/INT drain and exit; HUP reloads the config.\n");
}

static int has_cap(int cap)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2];
	if (syscall(SYS_capget, &hdr, data))
		return 0;
	return !!(data[cap / 32].effective & (1u << (cap % 32)));
}

/* Each start-up problem: one line naming it and what to do, non-zero exit. */
static int preflight(void)
{
	struct utsname u;
	int maj = 0, min = 0;
	if (!has_cap(CAP_SYS_ADMIN) && !(has_cap(39 /* CAP_BPF */) && has_cap(38 /* CAP_PERFMON */))) {
		fprintf(stderr, "herdwatch-agent: needs root (or CAP_BPF and CAP_PERFMON): run it with sudo\n");
		return 1;
	}
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		fprintf(stderr, "herdwatch-agent: this kernel has no BTF (/sys/kernel/btf/vmlinux): "
				"use a kernel built with CONFIG_DEBUG_INFO_BTF=y\n");
		return 1;
	}
	uname(&u);
	sscanf(u.release, "%d.%d", &maj, &min);
	if (maj < 5 || (maj == 5 && min < 8)) {
		fprintf(stderr, "herdwatch-agent: kernel %s is too old: 5.8 or newer is needed (BPF ring buffer)\n",
			u.release);
		return 1;
	}
	return 0;
}

static int open_output(struct agent *a, const char *path)
{
	FILE *f;
	if (!path || !strcmp(path, "-")) {
		f = stdout;
	} else {
		f = fopen(path, "ae");
		if (!f) {
			fprintf(stderr, "herdwatch-agent: cannot write output file %s: %s\n", path,
				strerror(errno));
			return -1;
		}
	}
	setvbuf(f, NULL, _IOFBF, 1 << 20);
	if (a->out && a->out != stdout)
		fclose(a->out);
	a->out = f;
	return 0;
}

static void emit_config_event(struct agent *a, const char *result, const char *error)
{
	emit_begin(a, "agent.config", 0);
	jb_key(&a->jb, "config");
	jb_obj_begin(&a->jb);
	jb_kcstr(&a->jb, "path", a->config_path);
	jb_kcstr(&a->jb, "result", result);
	jb_kcstr(&a->jb, "error", error);
	jb_obj_end(&a->jb);
	emit_end(a);
}

static void reload(struct agent *a, bool out_from_cmdline)
{
	struct hw_config nc;
	char err[512];
	if (!a->config_path) {
		emit_config_event(a, "unchanged", "no --config file to reload");
		return;
	}
	if (config_load(&nc, a->config_path, err, sizeof(err))) {
		fprintf(stderr, "herdwatch-agent: reload rejected, keeping the running config: %s\n", err);
		emit_config_event(a, "rejected", err);
		return;
	}
	if (nc.ringbuf_mb != a->cfg.ringbuf_mb)
		fprintf(stderr, "herdwatch-agent: ringbuf_mb changes take effect at restart\n");
	nc.ringbuf_mb = a->cfg.ringbuf_mb;
	if (!out_from_cmdline && nc.output &&
	    (!a->cfg.output || strcmp(nc.output, a->cfg.output))) {
		fflush(a->out);
		if (open_output(a, nc.output)) {
			emit_config_event(a, "rejected", "cannot open the new output file");
			config_free(&nc);
			return;
		}
	}
	config_free(&a->cfg);
	a->cfg = nc;
	probes_apply(a);
	probes_sync_maps(a);
	emit_config_event(a, "applied", NULL);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"output", required_argument, 0, 'o'}, {"config", required_argument, 0, 'c'},
		{"probe", no_argument, 0, 'P'},        {"verbose", no_argument, 0, 'v'},
		{"help", no_argument, 0, 'h'},         {"version", no_argument, 0, 'V'},
		{0, 0, 0, 0}};
	static struct agent A;
	struct agent *a = &A;
	const char *out_path = NULL;
	bool probe_only = false;
	char err[512];
	int c, rc = 1;

	while ((c = getopt_long(argc, argv, "o:c:vhV", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			out_path = optarg;
			break;
		case 'c':
			a->config_path = optarg;
			break;
		case 'P':
			probe_only = true;
			break;
		case 'v':
			hw_verbose = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("herdwatch-agent %s\n", HW_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "herdwatch-agent: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	config_probe_name_ok = probe_name_ok;
	if (a->config_path) {
		if (config_load(&a->cfg, a->config_path, err, sizeof(err))) {
			fprintf(stderr, "herdwatch-agent: bad config: %s\n", err);
			return 1;
		}
	} else {
		config_defaults(&a->cfg);
	}
	if (preflight())
		return 1;
	if (!out_path)
		out_path = a->cfg.output;
	if (!probe_only && open_output(a, out_path))
		return 1;

	a->self_pid = getpid();
	host_identity(a);
	jb_init(&a->jb, 1 << 16);
	if (proctab_init(&a->pt) || !(a->cg = cgcache_new())) {
		fprintf(stderr, "herdwatch-agent: out of memory\n");
		return 1;
	}

	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (probes_load(a))
		goto out;
	/* Ring buffer first, then attach, then seed the table: a process that starts while the
	 * table is being seeded is seen either in /proc or as an event (or both: the event wins). */
	a->rb = ring_buffer__new(bpf_map__fd(a->skel->maps.hw_events), handle_record, a, NULL);
	if (!a->rb) {
		fprintf(stderr, "herdwatch-agent: cannot open the ring buffer: %s\n", strerror(errno));
		goto out;
	}
	probes_apply(a);
	if (probe_only) {
		struct jbuf b;
		jb_init(&b, 4096);
		jb_obj_begin(&b);
		jb_kcstr(&b, "version", HW_VERSION);
		jb_key(&b, "hooks");
		hooks_json(&b);
		jb_key(&b, "probes");
		probes_json(a, &b);
		jb_obj_end(&b);
		printf("%.*s\n", (int)b.len, b.p);
		jb_free(&b);
		rc = 0;
		goto out;
	}
	proctab_seed(&a->pt, "/proc");
	emit_heartbeat(a);
	fflush(a->out);

	uint64_t now = mono_ms(), next_drops = now + 1000, next_hb = now + a->cfg.heartbeat_s * 1000ULL;
	int idle = 0;
	while (!stop_sig) {
		uint64_t before = a->events_total;
		int n = ring_buffer__poll(a->rb, idle > 10 ? 100 : 10);
		if (n < 0 && n != -EINTR) {
			fprintf(stderr, "herdwatch-agent: ring buffer poll failed: %s\n", strerror(-n));
			break;
		}
		ring_buffer__consume(a->rb);
		idle = a->events_total == before ? idle + 1 : 0;
		if (reload_sig) {
			reload_sig = 0;
			reload(a, out_path != NULL && out_path != a->cfg.output);
		}
		now = mono_ms();
		if (now >= next_drops) {
			check_drops(a);
			next_drops = now + 1000;
		}
		if (now >= next_hb) {
			host_identity(a); /* re-sync wall clock vs boot clock (NTP steps) */
			emit_heartbeat(a);
			next_hb = now + a->cfg.heartbeat_s * 1000ULL;
		}
		if (a->events_total != before || idle == 1)
			fflush(a->out);
	}
	/* Drain: stop producing, then take everything already in the ring buffer. */
	probes_detach_all(a);
	while (ring_buffer__consume(a->rb) > 0)
		;
	check_drops(a);
	emit_heartbeat(a);
	if (fflush(a->out)) {
		fprintf(stderr, "herdwatch-agent: writing output failed: %s\n", strerror(errno));
		goto out;
	}
	rc = 0;
out:
	probes_detach_all(a);
	ring_buffer__free(a->rb);
	if (a->skel)
		hw_bpf__destroy(a->skel);
	if (a->out && a->out != stdout)
		fclose(a->out);
	proctab_free(&a->pt);
	cgcache_free(a->cg);
	config_free(&a->cfg);
	jb_free(&a->jb);
	return rc;
}
