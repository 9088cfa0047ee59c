/* main.c - herdwatch-agent: options, start-up checks, the event loop, signals.
 *
 * Loop: poll the ring buffer (urgent records wake us), then consume what arrived without a
 * wake-up (BPF_RB_NO_WAKEUP), flush the output, check drop counters each second, heartbeat
 * every heartbeat_interval. SIGTERM/SIGINT: detach, drain everything, announce losses, exit 0.
 * SIGHUP: reload the config; a bad config keeps the old one and says why.
 */
#include "agent/agent.h"
#include "agent/user.h"
#include "agent/ctrmeta.h"
#include "herdwatch.skel.h"
#include "agent/metrics.h"
#include "agent/ship.h"
#include "agent/binhash.h"
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define HW_COALESCE_US 10000
#define HW_COALESCE_MAX_BATCH 8192

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
	fprintf(f, "usage: herdwatch-agent [options]\n"
		   "  -o, --output FILE   write JSON lines to FILE ('-' = stdout, the default)\n"
		   "  -c, --config FILE   YAML configuration (see docs/config.md)\n"
		   "      --probe         print the coverage manifest (which probes attach, with "
		   "which hook) and exit\n"
		   "      --inventory     take the inventory once (inventory.* events, no BPF) "
		   "and exit\n"
		   "      --control PATH  control socket (default /run/herdwatch/agent.sock; "
		   "'none' for none)\n"
		   "  -v, --verbose       log libbpf messages to stderr\n"
		   "  -h, --help          this text\n"
		   "  -V, --version       print the version\n"
		   "Signals: TERM/INT drain and exit; HUP reloads the config.\n"
		   "       herdwatch-agent ctl [--socket PATH] COMMAND   (status, enable, disable, "
		   "reload, set,\n"
		   "                       add-probe, remove-probe, kill, inventory; see "
		   "docs/control.md)\n");
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
	/* loading tracing programs needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN, which
	 * includes both) in the effective set */
	if (!has_cap(CAP_SYS_ADMIN) &&
	    !(has_cap(39 /* CAP_BPF */) && has_cap(38 /* CAP_PERFMON */))) {
		char missing[64] = "";
		if (!has_cap(39))
			strcat(missing, "CAP_BPF, ");
		if (!has_cap(38))
			strcat(missing, "CAP_PERFMON, ");
		agent_log("missing capabilities %sCAP_SYS_ADMIN: it needs CAP_BPF and "
			  "CAP_PERFMON (or CAP_SYS_ADMIN); run it as root, or grant them (setcap "
			  "cap_bpf,cap_perfmon+ep on the binary, or AmbientCapabilities= in its "
			  "systemd "
			  "unit)\n",
			  missing);
		return 1;
	}
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		agent_log("this kernel has no BTF (/sys/kernel/btf/vmlinux): "
			  "use a kernel built with CONFIG_DEBUG_INFO_BTF=y\n");
		return 1;
	}
	/* The exec program walks paths under bpf_loop (5.17) and its classic-tracepoint
	 * fallback uses bpf_get_current_task_btf (5.11): ask the kernel; the release number is
	 * only the answer when the probe itself cannot run. */
	uname(&u);
	sscanf(u.release, "%d.%d", &maj, &min);
	int loop = libbpf_probe_bpf_helper(BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_loop, NULL);
	int task = libbpf_probe_bpf_helper(BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_get_current_task_btf,
					   NULL);
	if (loop < 0 || task < 0)
		loop = task = maj > 5 || (maj == 5 && min >= 17);
	if (!loop || !task) {
		agent_log("kernel %s is too old: it lacks the BPF helper %s "
			  "(Linux 5.17 or newer is needed): upgrade the kernel\n",
			  u.release, !loop ? "bpf_loop" : "bpf_get_current_task_btf");
		return 1;
	}
	return 0;
}

static uint64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000ULL + ts.tv_nsec / 1000;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

struct opts {
	const char *out_path, *ctl_path;
	bool probe_only, inventory_only;
};

/* Options; -1 to go on, else the exit status. "ctl ..." runs the control client. */
static int parse_args(struct agent *a, struct opts *o, int argc, char **argv)
{
	static const struct option opts[] = {{"output", required_argument, 0, 'o'},
					     {"config", required_argument, 0, 'c'},
					     {"probe", no_argument, 0, 'P'},
					     {"verbose", no_argument, 0, 'v'},
					     {"help", no_argument, 0, 'h'},
					     {"version", no_argument, 0, 'V'},
					     {"control", required_argument, 0, 'C'},
					     {"inventory", no_argument, 0, 'I'},
					     {0, 0, 0, 0}};
	int c;

	if (argc > 1 && !strcmp(argv[1], "ctl")) {
		const char *sock = "/run/herdwatch/agent.sock";
		int i = 2;
		if (argc > 3 && !strcmp(argv[2], "--socket")) {
			sock = argv[3];
			i = 4;
		}
		return control_client(sock, argc - i, argv + i);
	}
	while ((c = getopt_long(argc, argv, "o:c:vhV", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			o->out_path = optarg;
			break;
		case 'c':
			a->config_path = optarg;
			break;
		case 'P':
			o->probe_only = true;
			break;
		case 'I':
			o->inventory_only = true;
			break;
		case 'C':
			o->ctl_path = optarg;
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
		agent_log("unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	return -1;
}

/* --probe: the kernel's hook types and every probe's state, attach points included. */
static void print_manifest(struct agent *a)
{
	struct jbuf b;
	jb_init(&b, 4096);
	jb_obj_begin(&b);
	jb_kcstr(&b, "version", HW_VERSION);
	jb_key(&b, "hooks");
	jb_raw(&b, a->hooks, strlen(a->hooks));
	b.comma = true;
	jb_key(&b, "probes");
	probes_json(a, &b, true);
	net_mode_json(a, &b);
	jb_obj_end(&b);
	printf("%.*s\n", (int)b.len, b.p);
	jb_free(&b);
}

/* Who this run is (pid, host, run id) and the event buffer: before any event is written. */
static int start_identity(struct agent *a)
{
	a->self_pid = getpid();
	host_identity(a);
	if (run_identity(a)) {
		agent_log("cannot choose a run id: %s\n", strerror(errno));
		return 1;
	}
	jb_init(&a->jb, 1 << 16);
	return 0;
}

/* --inventory: one run of the inventory into the output, without BPF (no capability but
 * reading the files); the exit status is 0 when it ran to its end. */
static int inventory_only(struct agent *a, const struct opts *o)
{
	char err[512];
	if (a->config_path && config_load(&a->cfg, a->config_path, err, sizeof(err))) {
		agent_log("bad config: %s\n", err);
		return 1;
	}
	if (!a->config_path)
		config_defaults(&a->cfg);
	if (open_output(a, o->out_path ? o->out_path : "-"))
		return 1;
	if (start_identity(a))
		return 1;
	int rc = inventory_once(a);
	return sinks_drain(a) || rc ? 1 : 0;
}

/* Config, preflight, output, identity, BPF load and attach. 0, or non-zero to exit. */
static int start_probes(struct agent *a, const struct opts *o)
{
	char err[512];
	config_probe_name_ok = probe_name_ok;
	if (a->config_path) {
		if (config_load(&a->cfg, a->config_path, err, sizeof(err))) {
			agent_log("bad config: %s\n", err);
			return 1;
		}
	} else {
		config_defaults(&a->cfg);
	}
	if (preflight())
		return 1;
	a->out_from_cmdline = o->out_path != NULL;
	if (!o->probe_only && open_output(a, o->out_path ? o->out_path : a->cfg.output))
		return 1;

	if (start_identity(a))
		return 1;
	if (proctab_init(&a->pt) || !(a->cg = cgcache_new())) {
		agent_log("out of memory\n");
		return 1;
	}
	if (probes_load(a))
		return 1;
	/* Ring buffer first, then attach, then seed the table: a process that starts while the
	 * table is being seeded is seen either in /proc or as an event (or both: the event wins). */
	a->rb = ring_buffer__new(bpf_map__fd(a->skel->maps.hw_events), handle_record, a, NULL);
	if (!a->rb) {
		agent_log("cannot open the ring buffer: %s\n", strerror(errno));
		return 1;
	}
	probes_apply(a);
	families_apply(a);
	struct jbuf hb;
	jb_init(&hb, 1024);
	hooks_json(&hb);
	jb_raw(&hb, "", 1);
	a->hooks = hb.p; /* owned by the agent now */
	return 0;
}

/* process.exec is the foundation (process table, lineage of every other event): an agent
 * that cannot trace execs is not started, unless the config disabled it. Except on a
 * locked-down kernel: there the refusal is the kernel's policy, which a restart cannot
 * change, and an agent that exits would be restarted in a loop by its service manager; it
 * runs blind instead, and every heartbeat's manifest names what was refused. */
static bool exec_probe_ok(struct agent *a)
{
	if (a->probes[HW_PROBE_PROCESS_EXEC].state != PROBE_UNAVAILABLE)
		return true;
	if (!kernel_lockdown()) {
		agent_log("the process.exec probe cannot be loaded or "
			  "attached (%s): this kernel cannot be monitored; run with -v for "
			  "the BPF log\n",
			  a->probes[HW_PROBE_PROCESS_EXEC].reason);
		return false;
	}
	agent_log("kernel lockdown (%s) refuses the process.exec probe "
		  "(%s): running blind; every heartbeat names what was refused\n",
		  kernel_lockdown(), a->probes[HW_PROBE_PROCESS_EXEC].reason);
	return true;
}

/* The collector stream, when the config names a collector. 0, or non-zero to exit. */
static int start_stream(struct agent *a)
{
	if (!a->cfg.collector.address)
		return 0;
	struct ship_opts so = {
		.address = a->cfg.collector.address,
		.ca_file = a->cfg.collector.ca,
		.cert_file = a->cfg.collector.cert,
		.key_file = a->cfg.collector.key,
		.spool_dir = a->cfg.collector.spool_dir ? a->cfg.collector.spool_dir
							: "/var/lib/herdwatch/spool",
		.spool_max_bytes = (unsigned long long)a->cfg.collector.spool_max_mb << 20,
		.host_id = a->host_id,
		.boot_id = a->boot_id,
		.run_id = a->run_id,
	};
	int src = ship_open(&a->ship, &so);
	if (src) {
		agent_log("cannot start the collector stream to %s: %s\n", so.address,
			  strerror(-src));
		return 1;
	}
	sinks_add(a, &hw_sink_collector, -1); /* it counts its own drops, by cause */
	return 0;
}

/* Control socket and the epoll set (the ring buffer's descriptor: urgent records wake us;
 * the control socket and its connections). -1 on failure. */
static int start_control(struct agent *a, const char *ctl_path, int *ctl_fd)
{
	if (!ctl_path)
		ctl_path =
			a->cfg.control_socket ? a->cfg.control_socket : "/run/herdwatch/agent.sock";
	if (strcmp(ctl_path, "none")) {
		*ctl_fd = control_open(a, ctl_path);
		if (*ctl_fd < 0)
			agent_log("running without a control socket\n");
	}
	int ep = epoll_create1(EPOLL_CLOEXEC);
	a->ctl_ep = ep;
	if (ep < 0) {
		agent_log("epoll: %s\n", strerror(errno));
		return -1;
	}
	struct epoll_event ee = {.events = EPOLLIN, .data.fd = ring_buffer__epoll_fd(a->rb)};
	epoll_ctl(ep, EPOLL_CTL_ADD, ee.data.fd, &ee);
	if (*ctl_fd >= 0) {
		ee.data.fd = *ctl_fd;
		epoll_ctl(ep, EPOLL_CTL_ADD, *ctl_fd, &ee);
	}
	return ep;
}

/* SIGHUP, as "ctl reload": reported as agent.control, then a heartbeat */
static void reload_on_signal(struct agent *a)
{
	struct ctl_who who = {.source = "signal"};
	char cmd[] = "reload", *args[1] = {cmd};
	struct jbuf out;
	jb_init(&out, 1024);
	control_exec(a, &who, args, 1, &out);
	jb_free(&out);
}

/* Until SIGTERM/SIGINT. */
static void event_loop(struct agent *a, int ep, int ctl_fd)
{
	uint64_t now = mono_ms(), next_sec = now + 1000,
		 next_hb = now + a->cfg.heartbeat_s * 1000ULL;
	int idle = 0;
	uint64_t loop_start = mono_us();
	while (!stop_sig) {
		uint64_t before = a->events_total;
		struct epoll_event evs[4];
		int n = epoll_wait(ep, evs, 4, idle > 10 ? 100 : 10);
		if (n < 0 && errno != EINTR) {
			agent_log("epoll_wait failed: %s\n", strerror(errno));
			break;
		}
		/* always consume: records written with BPF_RB_NO_WAKEUP do not wake us */
		if (ring_buffer__consume(a->rb) < 0) {
			a->decode_errors++;
			count_user_loss(a, "*", HW_ULOSS_RING_READ);
		}
		/* watched-file events after the records: the execs of their processes are in
		 * the table, the exits in its recent-exit cache (agent/file_fan_read.c) */
		file_fan_poll(a);
		for (int i = 0; i < n; i++)
			if (evs[i].data.fd == ctl_fd)
				control_handle(a, ctl_fd);
			else
				control_conn_io(a, evs[i].data.fd);
		control_collector_requests(a);
		idle = a->events_total == before ? idle + 1 : 0;
		if (reload_sig) {
			reload_sig = 0;
			reload_on_signal(a);
		}
		now = mono_ms();
		families_tick(a, now);
		if (now >= next_sec) {
			control_expire(a);
			check_drops(a);
			families_second(a);
			proctab_maintain(&a->pt, now);
			metrics_tick(a, now);
			next_sec = now + 1000;
		}
		if (now >= next_hb) {
			host_identity(a); /* re-sync wall clock vs boot clock (NTP steps) */
			emit_heartbeat(a);
			next_hb = now + a->cfg.heartbeat_s * 1000ULL;
		}
		sinks_batch(a, a->events_total != before, idle);
		/* Coalesce wake-ups: urgent records force one per record, and each costs a
		 * context switch, a ring buffer pass and a write (~30 us here, which made a steady
		 * trickle such as an exec storm cost the agent far more per event than a flood).
		 * Handling at most one batch every 10 ms bounds that to 100/s at the price of
		 * <= 10 ms of latency; a batch this large means the agent is behind: no pause. */
		uint64_t batch = a->events_total - before;
		if (batch && batch < HW_COALESCE_MAX_BATCH) {
			uint64_t spent = mono_us() - loop_start;
			if (spent < HW_COALESCE_US)
				usleep(HW_COALESCE_US - spent);
		}
		loop_start = mono_us();
	}
}

/* Stop producing, take everything already in the ring buffer, announce, flush. 0 when every
 * event reached the output. */
static int drain(struct agent *a)
{
	families_stop(a); /* work in flight (an inventory run) ends now, not after the detach */
	probes_detach_all(a);
	metrics_close(a); /* no stale metrics of a stopped agent */
	while (ring_buffer__consume(a->rb) > 0)
		;
	check_drops(a);
	emit_heartbeat(a);
	return sinks_drain(a) ? 1 : 0;
}

static void cleanup(struct agent *a, int ep, int ctl_fd)
{
	if (a->ship)
		ship_close(a->ship, 1000);
	binhash_free(a);
	control_close_all(a);
	if (ctl_fd >= 0) {
		close(ctl_fd);
		unlink(a->ctl_path);
	}
	if (ep >= 0)
		close(ep);
	free(a->ctl_path);
	free(a->out_path);
	for (size_t i = 0; i < a->n_overlays; i++)
		free(a->overlays[i]);
	free(a->overlays);
	probes_detach_all(a);
	families_free(a);
	ring_buffer__free(a->rb);
	if (a->skel)
		hw_bpf__destroy(a->skel);
	output_close(&a->out);
	outputs_close(a);
	proctab_free(&a->pt);
	ctrmeta_stop(a->ctrmeta);
	cgcache_free(a->cg);
	config_free(&a->cfg);
	jb_free(&a->jb);
	free(a->hooks);
}

/*
 * The BPF object is embedded in the agent (the skeleton's ELF bytes, 2.5 MiB of its read-only
 * data) and read only while it is opened and loaded: libbpf keeps what it needs afterwards in
 * its own memory. Its pages stay mapped once read, and were 2.5 MiB of the agent's RSS for
 * nothing. MADV_DONTNEED unmaps them (whole pages inside the object only): the mapping is
 * private and read-only, so they are never dirty, stay in the page cache, and a later read
 * (none is made) would map them again from it.
 */
static void release_elf_bytes(const struct hw_bpf *skel)
{
	/* the skeleton's pointer, not hw_bpf__elf_bytes(): a call here would put a second copy
	 * of the bytes (a static inline function's literal) into this file's object */
	const void *p = skel->skeleton->data;
	size_t sz = skel->skeleton->data_sz;
	uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t b = ((uintptr_t)p + pg - 1) & ~(pg - 1), e = ((uintptr_t)p + sz) & ~(pg - 1);
	if (e > b && madvise((void *)b, e - b, MADV_DONTNEED))
		agent_log("cannot release the BPF object's pages: %s\n", strerror(errno));
}

int main(int argc, char **argv)
{
	static struct agent A;
	struct agent *a = &A;
	struct opts o = {0};
	int ctl_fd = -1, ep = -1, rc;

	/* One malloc arena for every thread. The worker threads (exec hashing, container
	 * identity, the inventory's runs, the links' teardown) allocate little and rarely; an arena
	 * of their own each kept what they had freed resident (~0.8 MiB after the inventory's
	 * first run) and is not worth the lock it saves (docs/performance.md, "Agent RSS"). */
	mallopt(M_ARENA_MAX, 1);
	A.ctl_ep = -1;
	output_init(&A.out);
	sinks_add(a, &hw_sink_file, HW_ULOSS_OUTPUT);
	if ((rc = parse_args(a, &o, argc, argv)) >= 0)
		return rc;
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	rc = 1;
	if (families_init(a))
		goto out;
	if (o.inventory_only) {
		rc = inventory_only(a, &o);
		goto out;
	}
	if (start_probes(a, &o))
		goto out;
	if (o.probe_only) {
		print_manifest(a);
		rc = 0;
		goto out;
	}
	if (!exec_probe_ok(a))
		goto out;
	proctab_seed(&a->pt, "/proc");
	probes_sync_ignore_exe(a); /* processes older than the agent too */
	/* Loading parsed the kernel BTF (several MiB, freed since): give that memory back. */
	malloc_trim(0);
	release_elf_bytes(a->skel);
	families_configure(a);
	a->ctrmeta = ctrmeta_start(&a->cfg.ctrmeta);
	if ((ep = start_control(a, o.ctl_path, &ctl_fd)) < 0 || start_stream(a) || outputs_start(a))
		goto out;
	emit_heartbeat(a);
	if (a->ship) {
		struct ship_prev_run pr;
		ship_previous_run(a->ship, &pr);
		if (pr.crashed)
			emit_prev_run_crash(a, pr.run_id, pr.last_seq);
		ship_sync(a->ship);
	}
	sinks_flush(a);
	event_loop(a, ep, ctl_fd);
	rc = drain(a);
out:
	cleanup(a, ep, ctl_fd);
	return rc;
}
