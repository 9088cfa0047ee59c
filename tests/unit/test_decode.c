/* Decoder robustness: records from the ring buffer are checked before use. Valid records
 * decode to one JSON line each; records with lying sizes, offsets or lengths are counted as
 * decode errors, never read out of bounds (ASan/UBSan build), never crash. A seeded mutation
 * loop keeps this a permanent regression test. */
#include "agent/agent.h"
#include "unit.h"
#include <stdlib.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

static struct agent A;

/* an exec record of pid 4242 with argv args (alen bytes) into buf (cap bytes) */
static size_t put_exec_args(unsigned char *buf, size_t cap, const char *args, size_t alen)
{
	struct hw_exec *e = (struct hw_exec *)buf;
	size_t pos = sizeof(*e);
	memset(buf, 0, cap);
	e->hdr.type = HW_EV_EXEC;
	e->hdr.pid = e->hdr.tid = 4242;
	e->hdr.ppid = 1;
	e->hdr.auid = 0xffffffff;
	memcpy(e->hdr.comm, "x\xff\n\"", 4);
	e->args.off = pos;
	e->args.len = alen;
	e->args_total = alen;
	memcpy(buf + pos, args, alen);
	pos += alen;
	const char exe[] = "prog\0bin\0usr\0"; /* leaf first */
	e->exe.off = pos;
	e->exe.len = sizeof(exe) - 1;
	e->exe.ncomp = 3;
	memcpy(buf + pos, exe, sizeof(exe) - 1);
	pos += sizeof(exe) - 1;
	e->cwd.off = pos;
	e->cwd.len = 0;
	e->cwd.ncomp = 0;
	e->filename.off = pos;
	e->tty.off = pos;
	e->hdr.size = pos;
	return pos;
}

static size_t put_exec(unsigned char *buf)
{
	const char args[] = "prog\0a b\0\xfe\0";
	return put_exec_args(buf, 4096, args, sizeof(args) - 1);
}

/* emit_proc for (pid, ppid) into A.jb; returns the text (valid until the next call) */
static uint32_t ctx_euid;
static const char *ctx_comm = "c";

static const char *ctx_of(uint32_t pid, uint32_t ppid, uint64_t cg)
{
	struct hw_hdr h = {.pid = pid, .tid = pid, .ppid = ppid, .cgroup_id = cg, .auid = ~0u};
	h.euid = ctx_euid;
	snprintf(h.comm, sizeof(h.comm), "%s", ctx_comm);
	jb_reset(&A.jb);
	jb_obj_begin(&A.jb);
	emit_proc(&A, &h);
	jb_obj_end(&A.jb);
	jb_raw(&A.jb, "", 1);
	return A.jb.p;
}

static void set_proc(uint32_t pid, uint32_t ppid, const char *exe)
{
	struct proc *p = proctab_put(&A.pt, pid);
	p->ppid = ppid;
	p->start_ticks = pid;
	proc_set_str(&p->exe, exe, strlen(exe));
}

/* The process context is formatted once per process and reused: every change it depends on
 * (the process's exec, its parent's or an ancestor's exec or exit, a new parent, another cgroup,
 * a config reload) must show in the next event. */
static void test_context_cache(void)
{
	uint64_t root = 0;
	if (cgroup_id_of("/", &root)) {
		CHECK("cgroup v2 root resolvable (needed for the context cache test)", 0);
		return;
	}
	set_proc(50, 1, "/usr/bin/grand");
	set_proc(100, 50, "/usr/bin/parent");
	set_proc(200, 100, "/usr/bin/child");
	const char *want1 = "\"parent\":{\"pid\":100,\"exe\":\"/usr/bin/parent\"";
	bool same = true;
	for (int i = 0; i < 4; i++)
		same &= strstr(ctx_of(200, 100, root), want1) != NULL;
	CHECK("context: repeated events of one process", same);
	CHECK("context: cached after the first event", emit_cache_bytes() > 0);
	set_proc(100, 50, "/usr/bin/parent2"); /* the parent execs */
	CHECK("context: parent's exec shows",
	      strstr(ctx_of(200, 100, root), "\"exe\":\"/usr/bin/parent2\""));
	ctx_of(200, 100, root);
	set_proc(50, 1, "/usr/bin/grand2"); /* an ancestor execs */
	CHECK("context: ancestor's exec shows",
	      strstr(ctx_of(200, 100, root),
		     "\"ancestors\":[\"/usr/bin/parent2\",\"/usr/bin/grand2\"]"));
	ctx_of(200, 100, root);
	proctab_del(&A.pt, 50); /* the ancestor exits */
	CHECK("context: ancestor's exit shows",
	      strstr(ctx_of(200, 100, root), "\"ancestors\":[\"/usr/bin/parent2\"]"));
	ctx_of(200, 1, root); /* reparented */
	CHECK("context: new parent shows", strstr(ctx_of(200, 1, root), "\"parent\":{\"pid\":1,"));
	set_proc(200, 1, "/usr/bin/child2"); /* the process execs */
	ctx_of(200, 1, root);
	CHECK("context: own exec shows",
	      strstr(ctx_of(200, 1, root), "\"exe\":\"/usr/bin/child2\""));
	ctx_euid = 33;
	CHECK("context: new euid shows", strstr(ctx_of(200, 1, root), "\"euid\":33,"));
	ctx_of(200, 1, root);
	ctx_comm = "renamed";
	CHECK("context: new comm shows", strstr(ctx_of(200, 1, root), "\"comm\":\"renamed\","));
	CHECK("context: other cgroup shows",
	      strstr(ctx_of(200, 1, root + 999999), "\"cgroup\":null"));
	ctx_of(200, 1, root);
	const char *before = ctx_of(200, 1, root);
	CHECK("context: root cgroup has no container", strstr(before, "\"container\":null"));
	char err[256];
	config_free(&A.cfg);
	config_defaults(&A.cfg);
	const char *yaml = "containers:\n  - cgroup: '^(/)$'\n";
	int rc = config_parse_into(&A.cfg, "t", yaml, strlen(yaml), err, sizeof(err));
	A.cfg_gen++;
	CHECK("context: config change shows",
	      rc == 0 && strstr(ctx_of(200, 1, root), "\"container\":{\"id\":\"\",\"herd\":\"/\""));
	proctab_del(&A.pt, 100);
	proctab_del(&A.pt, 200);

	/* lineage: a parent missing from the table, then known; a missing link in the ancestors,
	 * then known; a change announced by proc_touch; children of one parent; pids that share a
	 * cache slot */
	ctx_of(300, 150, root);
	CHECK("context: unknown parent",
	      strstr(ctx_of(300, 150, root),
		     "\"parent\":{\"pid\":150,\"exe\":null,\"args\":null,"
		     "\"args_truncated\":false,\"key\":null},\"ancestors\":[]"));
	set_proc(150, 140, "/usr/bin/p150");
	CHECK("context: parent now known",
	      strstr(ctx_of(300, 150, root), "\"ancestors\":[\"/usr/bin/p150\"]"));
	set_proc(140, 1, "/usr/bin/p140");
	CHECK("context: missing ancestor now known",
	      strstr(ctx_of(300, 150, root),
		     "\"ancestors\":[\"/usr/bin/p150\",\"/usr/bin/p140\"]"));
	ctx_of(300, 150, root);
	struct proc *q140 = proctab_get(&A.pt, 140);
	proc_set_str(&q140->exe, "/usr/bin/p140b", 14);
	proc_touch(q140);
	CHECK("context: touched ancestor shows",
	      strstr(ctx_of(300, 150, root),
		     "\"ancestors\":[\"/usr/bin/p150\",\"/usr/bin/p140b\"]"));
	set_proc(301, 150, "/usr/bin/sibling");
	const char *sib = ctx_of(301, 150, root);
	CHECK("context: a sibling shares the lineage, not the process",
	      strstr(sib, "\"exe\":\"/usr/bin/sibling\"") &&
		      strstr(sib, "\"ancestors\":[\"/usr/bin/p150\",\"/usr/bin/p140b\"]"));
	set_proc(300 + 4096, 150, "/usr/bin/other");
	bool alias = true;
	for (int i = 0; i < 3; i++) {
		alias &= strstr(ctx_of(300, 150, root), "\"pid\":300,") &&
			 !strstr(ctx_of(300, 150, root), "other");
		alias &=
			strstr(ctx_of(300 + 4096, 150, root), "\"exe\":\"/usr/bin/other\"") != NULL;
	}
	CHECK("context: pids sharing a slot", alias);
	for (uint32_t pid = 140; pid <= 150; pid += 10)
		proctab_del(&A.pt, pid);
	CHECK("context: parent gone",
	      strstr(ctx_of(300, 150, root), "\"parent\":{\"pid\":150,\"exe\":null"));
	proctab_del(&A.pt, 300);
	proctab_del(&A.pt, 301);
	proctab_del(&A.pt, 300 + 4096);

	/* The caches are bounded: 10,000 busy processes with 1 KiB of argv each would need ~12 MiB
	 */
	char big[1024];
	memset(big, 'a', sizeof(big));
	big[sizeof(big) - 1] = 0;
	bool right = true;
	for (uint32_t pid = 10000; pid < 20000; pid++) {
		set_proc(pid, 1, "/usr/bin/busy");
		proc_set_args(proctab_get(&A.pt, pid), big, sizeof(big), false);
		ctx_of(pid, 1, root);
		right &= strstr(ctx_of(pid, 1, root),
				"\"exe\":\"/usr/bin/busy\",\"args\":[\"aaaa") != NULL;
	}
	CHECK("context caches stay within their bound",
	      emit_cache_bytes() <= (2u << 20) && emit_cache_bytes() > (256u << 10));
	CHECK("processes beyond the caches' reach are still formatted right", right);
	for (uint32_t pid = 10000; pid < 20000; pid++)
		proctab_del(&A.pt, pid);
}

/* Decode one record into a fresh output file; returns everything written (static buffer). */
static const char *decode_out(const void *rec, size_t n, bool announce)
{
	static char text[65536];
	struct hw_output old = A.out;
	FILE *f = tmpfile();
	output_init(&A.out);
	A.out.fd = fileno(f);
	if (rec)
		handle_record(&A, (void *)rec, n);
	if (announce)
		check_user_losses(&A);
	output_flush(&A.out, true);
	free(A.out.buf);
	A.out = old;
	rewind(f);
	size_t r = fread(text, 1, sizeof(text) - 1, f);
	text[r] = 0;
	fclose(f);
	return text;
}

/* Truncated paths, failed argv reads, privilege gained or dropped, user-space losses. */
static void test_exec_flags_and_losses(void)
{
	unsigned char buf[4096];
	size_t n = put_exec(buf);
	struct hw_exec *e = (struct hw_exec *)buf;

	decode_out(NULL, 0, true); /* what the mutations above lost: announced, out of the way */
	e->exe.flags = HW_PATH_TRUNC;
	e->hdr.flags = HW_F_READ_FAIL;
	const char *o = decode_out(buf, n, false);
	CHECK("truncated exe starts with an ellipsis, not /",
	      strstr(o, "\"exe\":\"\xe2\x80\xa6/usr/bin/prog\""));
	CHECK("truncated exe flagged", strstr(o, "\"exe_truncated\":true,\"cwd_truncated\":false"));
	CHECK("failed argv read flagged", strstr(o, "\"args_read_failed\":true"));
	e->exe.flags = 0;
	e->hdr.flags = 0;
	o = decode_out(buf, n, false);
	CHECK("complete exe is absolute and not flagged",
	      strstr(o, "\"exe\":\"/usr/bin/prog\"") && strstr(o, "\"exe_truncated\":false") &&
		      strstr(o, "\"args_read_failed\":false"));

	/* root dropping its euid before the exec: the kernel sets AT_SECURE, but nothing gained */
	e->hdr.uid = 0;
	e->hdr.euid = 65534;
	e->secureexec = 1;
	e->old_known = 1;
	e->old_euid = 65534;
	o = decode_out(buf, n, false);
	CHECK("dropped euid is no setuid",
	      strstr(o, "\"setuid\":false") && strstr(o, "\"old_euid\":65534"));
	/* nobody running a setuid-root binary */
	e->hdr.uid = 65534;
	e->hdr.euid = 0;
	o = decode_out(buf, n, false);
	CHECK("euid gained through the exec is setuid",
	      strstr(o, "\"setuid\":true") && strstr(o, "\"old_euid\":65534"));
	/* file capabilities: same ids, permitted set grew */
	e->hdr.euid = 65534;
	e->caps_gained = 1;
	o = decode_out(buf, n, false);
	CHECK("capabilities gained through the exec are setuid",
	      strstr(o, "\"setuid\":true") && strstr(o, "\"caps_gained\":true"));
	e->secureexec = e->old_known = e->caps_gained = 0;
	e->hdr.euid = e->old_euid = 0;

	/* a malformed record is announced as agent.loss with its kind and cause */
	uint64_t errs = A.decode_errors;
	e->args.off = 4000;
	o = decode_out(buf, n, true);
	CHECK("malformed record counted", A.decode_errors == errs + 1);
	CHECK("malformed record announced as agent.loss",
	      strstr(o, "\"kind\":\"agent.loss\"") &&
		      strstr(o, "\"loss\":{\"kind\":\"process.exec\",\"count\":1,\"cause\":"
				"\"decode\"}"));
	o = decode_out(NULL, 0, true);
	CHECK("a loss is announced once", !strstr(o, "agent.loss"));
	struct hw_hdr unk = {.type = 199, .size = sizeof(unk)};
	decode_out(&unk, sizeof(unk), false);
	decode_out(&unk, sizeof(unk), false);
	o = decode_out(NULL, 0, true);
	CHECK("unknown record types announced",
	      strstr(o, "\"loss\":{\"kind\":\"unknown\",\"count\":2,\"cause\":\"decode\"}"));
	count_user_loss(&A, "*", HW_ULOSS_RING_READ);
	o = decode_out(NULL, 0, true);
	CHECK("ring read errors announced",
	      strstr(o, "\"loss\":{\"kind\":\"*\",\"count\":1,\"cause\":\"ring_read\"}"));
}

/* A failing output (/dev/full: ENOSPC) holds events up to its bound and drops the rest; once
 * writes work again (a file put over the same descriptor) everything held is written in
 * order and the dropped events are announced: agent.loss, cause output_error, count = gap. */
static void test_output_failure(void)
{
	unsigned char buf[4096];
	size_t n = put_exec(buf);
	FILE *f = tmpfile();
	int full = open("/dev/full", O_WRONLY);
	struct hw_output old = A.out;
	output_init(&A.out);
	A.out.hold_max = A.out.flush_at = 16384;
	A.out.fd = full;
	uint64_t seq0 = A.seq;
	for (int i = 0; i < 100; i++)
		handle_record(&A, buf, n);
	CHECK("failing output: write error kept",
	      output_flush(&A.out, true) == -ENOSPC && A.out.err == ENOSPC && A.out.errors > 0);
	CHECK("failing output: held up to the bound, the rest dropped",
	      A.out.len > 8192 && A.out.len <= 16384 && A.out.dropped > 0);
	check_user_losses(&A); /* not yet: it would only join the queue */
	uint64_t dropped = A.out.dropped, seq1 = A.seq;
	dup2(fileno(f), full); /* space is back */
	CHECK("writing resumes", output_flush(&A.out, true) == 0 && A.out.err == 0 && !A.out.len);
	check_user_losses(&A);
	output_flush(&A.out, true);
	rewind(f);
	char line[8192];
	uint64_t lines = 0, last = seq0, gap = 0, announced = 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long s = strtoull(strstr(line, "\"seq\":") + 6, NULL, 10);
		const char *c = strstr(line, "\"cause\":\"output_error\"");
		gap += s - last - 1;
		last = s;
		lines++;
		if (c)
			announced += strtoull(strstr(line, "\"count\":") + 8, NULL, 10);
	}
	CHECK("held events written in order, the gap is what was announced",
	      lines == seq1 - seq0 - dropped + 1 && gap == dropped && announced == dropped &&
		      last == seq1 + 1);
	/* an episode that lost nothing is announced too, with a count of 0 */
	A.out.fd = open("/dev/full", O_WRONLY);
	handle_record(&A, buf, n);
	output_flush(&A.out, true);
	dup2(fileno(f), A.out.fd);
	output_flush(&A.out, true);
	check_user_losses(&A);
	output_flush(&A.out, true);
	rewind(f);
	bool zero = false;
	while (fgets(line, sizeof(line), f))
		zero |= strstr(line, "\"loss\":{\"kind\":\"*\",\"count\":0,\"cause\":\"output_"
				     "error\"}") != NULL;
	CHECK("a failure without loss is announced with count 0", zero);
	close(A.out.fd);
	close(full);
	free(A.out.buf);
	A.out = old;
	fclose(f);
	proctab_del(&A.pt, 4242);
}

static const char args_fill[] =
	"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

static int count_of(const char *s, const char *needle)
{
	int n = 0;
	for (; (s = strstr(s, needle)); s++)
		n++;
	return n;
}

/* argv longer than the process table keeps (PT_ARGS_KEEP): the exec event has all of it, the
 * process's later events and its children's parent.args the table's copy, flagged */
static void test_long_argv(void)
{
	static unsigned char buf[16384];
	char args[4096];
	size_t alen = 0;
	for (int i = 0; i < 32; i++)
		alen += sprintf(args + alen, "arg%02d-%.*s", i, 86, args_fill) + 1;
	size_t n = put_exec_args(buf, sizeof(buf), args, alen);
	const char *o = decode_out(buf, n, false);
	CHECK("long argv: every argument in the exec event",
	      count_of(o, "-xxxxxxxx") == 32 && strstr(o, "\"arg31-"));
	CHECK("long argv: exec event not truncated",
	      strstr(o, "\"args_truncated\":false,\"cwd\"") &&
		      strstr(o, "\"args_truncated\":false,\"args_bytes\""));
	o = ctx_of(4242, 1, 1);
	CHECK("long argv: later events flag the table's copy",
	      strstr(o, "\"args_truncated\":true,\"cwd\"") && !strstr(o, "\"arg31-"));
	set_proc(4300, 4242, "/usr/bin/child");
	o = ctx_of(4300, 4242, 1);
	CHECK("long argv: parent.args flagged", strstr(o, "\"args_truncated\":true,\"key\""));
	proctab_del(&A.pt, 4300);
	/* cut in the kernel (args_max_bytes): flagged in the exec event and after */
	((struct hw_exec *)buf)->hdr.flags = HW_F_TRUNC_ARGS;
	o = decode_out(buf, n, false);
	CHECK("kernel-cut argv flagged in proc and exec",
	      strstr(o, "\"args_truncated\":true,\"cwd\"") &&
		      strstr(o, "\"args_truncated\":true,\"args_bytes\""));
	proctab_del(&A.pt, 4242);
}

int main(void)
{
	unsigned char buf[4096], mut[4096];
	char path[] = "/tmp/hwdecodeXXXXXX";
	int fd = mkstemp(path);
	output_init(&A.out);
	A.out.fd = fd;
	sinks_add(&A, &hw_sink_file, HW_ULOSS_OUTPUT);
	config_defaults(&A.cfg);
	jb_init(&A.jb, 4096);
	proctab_init(&A.pt);
	if (families_init(&A)) {
		printf("not ok - families_init: out of memory\n");
		return 1;
	}
	A.cg = cgcache_new();
	A.ticks_per_s = 100;
	snprintf(A.key_prefix, sizeof(A.key_prefix), "deadbeef");

	size_t n = put_exec(buf);
	handle_record(&A, buf, n);
	CHECK("valid exec decodes", A.events_total == 1 && A.decode_errors == 0);
	struct proc *p = proctab_get(&A.pt, 4242);
	CHECK_STR("exe rebuilt from leaf-first components", p ? p->exe : NULL, "/usr/bin/prog");

	handle_record(&A, buf, 10);
	CHECK("short record counted", A.decode_errors == 1);
	struct hw_exec *e = (struct hw_exec *)mut;
	memcpy(mut, buf, n);
	e->args.off = 4000;
	handle_record(&A, mut, n);
	CHECK("args offset beyond record counted", A.decode_errors == 2);
	memcpy(mut, buf, n);
	e->exe.len = 60000;
	handle_record(&A, mut, n);
	CHECK("path length beyond record counted", A.decode_errors == 3);
	memcpy(mut, buf, n);
	e->hdr.size = 60000;
	handle_record(&A, mut, n);
	CHECK("header size beyond buffer counted", A.decode_errors == 4);
	memcpy(mut, buf, n);
	e->hdr.type = 199;
	handle_record(&A, mut, n);
	CHECK("unknown type counted", A.decode_errors == 5);

	/* tty records (tty_decode.c): control bytes escaped, lengths checked with the record */
	{
		static unsigned char tb[sizeof(struct hw_tty)];
		struct hw_tty *t = (struct hw_tty *)tb;
		const char data[] = "\x1b[31mred\x01\xff\n";
		size_t dl = sizeof(data) - 1, tn = HW_TTY_FIXED + dl;
		uint64_t ev0 = A.events_total, err0 = A.decode_errors;
		t->hdr.type = HW_EV_TTY_OUT;
		t->hdr.pid = t->hdr.tid = 4343;
		t->hdr.auid = ~0u;
		t->hdr.size = tn;
		t->sid = 4343;
		t->fd = 1;
		t->total = 4096;
		t->len = dl;
		t->flags = HW_TTY_CUT;
		memcpy(t->name, "pts7", 4);
		memcpy(t->data, data, dl);
		handle_record(&A, tb, tn);
		CHECK("tty record decodes", A.events_total == ev0 + 1 && A.decode_errors == err0);
		const char want[] = "\"tty\":{\"name\":\"pts7\",\"session\":4343,\"fd\":1,"
				    "\"bytes\":4096,\"data\":\"\\u001b[31mred\\u0001\\u00ff\\n\","
				    "\"truncated\":true}";
		CHECK("tty data escaped, cut flagged",
		      memmem(A.jb.p, A.jb.len, want, sizeof(want) - 1) != NULL);
		t->len = HW_TTY_DATA_MAX + 1;
		handle_record(&A, tb, tn);
		CHECK("tty length over the maximum counted", A.decode_errors == err0 + 1);
		t->len = dl;
		t->hdr.size = tn - 1;
		handle_record(&A, tb, tn - 1);
		CHECK("tty data beyond the record counted", A.decode_errors == err0 + 2);
	}

	/* seeded mutations of every record type's bytes: no crash, no out-of-bounds read */
	srand(12345);
	uint16_t types[] = {HW_EV_EXEC,   HW_EV_EXIT,   HW_EV_FORK,   HW_EV_EXEC_FAIL,
			    HW_EV_CUSTOM, HW_EV_TTY_IN, HW_EV_TTY_OUT};
	for (int i = 0; i < 200000; i++) {
		memcpy(mut, buf, n);
		size_t len = n;
		int flips = 1 + rand() % 8;
		for (int k = 0; k < flips; k++)
			mut[rand() % len] = rand();
		((struct hw_hdr *)mut)->type = types[rand() % (sizeof(types) / sizeof(types[0]))];
		if (rand() % 4 == 0)
			len = sizeof(struct hw_hdr) + rand() % (n - sizeof(struct hw_hdr));
		((struct hw_hdr *)mut)->size = rand() % 2 ? len : (uint32_t)rand();
		handle_record(&A, mut, len);
		/* keep the table bounded like real traffic: exits remove entries */
		if (A.pt.count > 1000)
			proctab_free(&A.pt), proctab_init(&A.pt);
	}
	CHECK("mutations: some decoded, broken ones counted",
	      A.events_total > 100 && A.decode_errors > 100);
	output_flush(&A.out, true);
	/* every line written is one JSON object without raw control bytes */
	FILE *in = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t l;
	long lines = 0, bad = 0;
	while ((l = getline(&line, &cap, in)) > 0) {
		lines++;
		if (l < 3 || line[0] != '{' || line[l - 2] != '}' || line[l - 1] != '\n')
			bad++;
		for (ssize_t k = 0; k < l - 1; k++)
			if ((unsigned char)line[k] < 0x20)
				bad++;
	}
	free(line);
	CHECK("every output line is a clean JSON object",
	      lines == (long)A.events_total && bad == 0);
	fclose(in);
	output_close(&A.out);
	unlink(path);
	test_context_cache();
	test_exec_flags_and_losses();
	test_long_argv();
	test_output_failure();
	families_free(&A);
	proctab_free(&A.pt);
	cgcache_free(A.cg);
	jb_free(&A.jb);
	UNIT_DONE();
}
