/* emit.c - from ring-buffer record to JSON line: the record dispatch (handle_record: the
 * decoder of each record type, from common/events.def) and the envelope every event shares
 * (seq, time, kind, host; emit_begin .. emit_end). emit_end hands the finished line to the
 * outputs (the file output and the collector stream) and counts what they could not take.
 * One decode and one formatted write per event. The contract: docs/events.md. */
#include "agent/agent.h"
#include "agent/emit.h"
#include "agent/user.h"
#include "herdwatch.skel.h"
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

const struct hw_decoder hw_decoders[] = {
#define HW_EVENT(type, nr, kind, fn, minsz) {type, kind, fn, minsz},
#include "common/events.def"
#undef HW_EVENT
};
const size_t hw_ndecoders = sizeof(hw_decoders) / sizeof(hw_decoders[0]);

/* Never compiled into anything that runs: two rows of events.def with one number are two
 * equal case labels (a compile error), and a number past the counter arrays fails the assert. */
static inline __attribute__((unused)) void events_def_numbers_unique(int t)
{
	switch (t) {
#define HW_EVENT(type, nr, kind, fn, minsz)                                                        \
	case nr:                                                                                   \
		_Static_assert(nr > 0 && nr < HW_EV_MAX, #type " out of range");                   \
		break;
#include "common/events.def"
#undef HW_EVENT
	}
}

const char *kind_name(uint32_t type)
{
	for (size_t i = 0; i < hw_ndecoders; i++)
		if (hw_decoders[i].type == type)
			return hw_decoders[i].kind;
	return "unknown";
}

static char *put_dec(char *o, uint64_t v)
{
	char tmp[24];
	int i = sizeof(tmp);
	do {
		tmp[--i] = '0' + v % 10;
		v /= 10;
	} while (v);
	memcpy(o, tmp + i, sizeof(tmp) - i);
	return o + sizeof(tmp) - i;
}

/* "<boot id prefix>-<pid>-<start ticks>" (per event: no printf) */
void make_key(const struct agent *a, uint32_t pid, uint64_t start_ticks, char *buf, size_t len)
{
	size_t pl = strnlen(a->key_prefix, sizeof(a->key_prefix));
	if (len < pl + 2 + 10 + 20 + 1) {
		snprintf(buf, len, "%s-%u-%llu", a->key_prefix, pid,
			 (unsigned long long)start_ticks);
		return;
	}
	char *o = buf;
	memcpy(o, a->key_prefix, pl);
	o += pl;
	*o++ = '-';
	o = put_dec(o, pid);
	*o++ = '-';
	o = put_dec(o, start_ticks);
	*o = 0;
}

/* RFC 3339 with nanoseconds. The formatted seconds are cached: consecutive events almost
 * always fall in the same second, and strftime/gmtime are a visible cost per event. */
static void put_time(struct jbuf *b, int64_t real_ns)
{
	static time_t cached_s = -1;
	static char cached[32];
	static size_t cached_len;
	time_t s = real_ns / 1000000000LL;
	uint32_t ns = real_ns % 1000000000LL;
	char tmp[48];

	if (s != cached_s) {
		struct tm tm;
		gmtime_r(&s, &tm);
		cached_len = strftime(cached, sizeof(cached), "%Y-%m-%dT%H:%M:%S.", &tm);
		cached_s = s;
	}
	memcpy(tmp, cached, cached_len);
	char *d = tmp + cached_len; /* 9 digits, the last alone, then two per division */
	d[8] = '0' + ns % 10;
	ns /= 10;
	for (int i = 7; i >= 1; i -= 2) {
		uint32_t r = ns % 100;
		ns /= 100;
		d[i] = '0' + r % 10;
		d[i - 1] = '0' + r / 10;
	}
	tmp[cached_len + 9] = 'Z';
	jb_key(b, "time");
	jb_trusted_n(b, tmp, cached_len + 10);
}

void emit_begin(struct agent *a, const char *kind, uint64_t boot_ns)
{
	struct jbuf *b = &a->jb;
	jb_reset(b);
	jb_obj_begin(b);
	a->cur_kind = kind;
	jb_ku64(b, "seq", a->seq + 1);
	if (!boot_ns) {
		struct timespec ts;
		clock_gettime(CLOCK_BOOTTIME, &ts);
		boot_ns = ts.tv_sec * 1000000000ULL + ts.tv_nsec;
	}
	put_time(b, (int64_t)boot_ns + a->boot_to_real_ns);
	jb_kcstr(b, "kind", kind);
	/* The host object is the same in every event: formatted once, rebuilt after the identity
	 * was read again (heartbeat) or the config changed (herd, version). */
	static struct jbuf host;
	static uint64_t built_host, built_cfg;
	if (!host.p || built_host != a->host_gen || built_cfg != a->cfg_gen) {
		if (!host.p)
			jb_init(&host, 512);
		jb_reset(&host);
		jb_key(&host, "host");
		jb_obj_begin(&host);
		jb_kcstr(&host, "name", a->host_name);
		jb_kcstr(&host, "id", a->host_id);
		jb_kcstr(&host, "boot_id", a->boot_id);
		jb_ktrusted(&host, "run", a->run_hex);
		jb_kcstr(&host, "herd", a->cfg.herd);
		jb_kcstr(&host, "version", a->cfg.version);
		jb_obj_end(&host);
		built_host = a->host_gen;
		built_cfg = a->cfg_gen;
	}
	jb_raw(b, ",", 1); /* "kind" precedes */
	jb_raw(b, host.p, host.len);
	b->comma = true;
}

/* The usual event: envelope, process context, then the kind's object named objkey, left open
 * for its fields; emit_event_end() closes it and writes the line. */
void emit_event(struct agent *a, const char *kind, const struct hw_hdr *h, const char *objkey)
{
	emit_begin(a, kind, h->ts);
	emit_proc(a, h);
	jb_key(&a->jb, objkey);
	jb_obj_begin(&a->jb);
}

void emit_event_p(struct agent *a, const char *kind, const struct hw_hdr *h, struct proc *p,
		  const char *objkey)
{
	emit_begin(a, kind, h->ts);
	emit_proc_entry(a, h, p);
	jb_key(&a->jb, objkey);
	jb_obj_begin(&a->jb);
}

void emit_event_end(struct agent *a)
{
	jb_obj_end(&a->jb);
	emit_end(a);
}

void emit_end(struct agent *a)
{
	struct jbuf *b = &a->jb;
	jb_obj_end(b);
	if (b->oom) {
		a->decode_errors++;
		count_user_loss(a, a->cur_kind, HW_ULOSS_OOM);
		return;
	}
	jb_raw(b, "\n", 1);
	a->seq++;
	a->events_total++;
	/* a sink that cannot take it counts it under this kind (agent/sink.h) */
	sinks_put(a, a->cur_kind, a->seq, b->p, b->len);
}

int handle_record(void *ctx, void *data, size_t len)
{
	struct agent *a = ctx;
	const struct hw_hdr *h = data;

	if (len < sizeof(*h) || h->size > len) {
		a->decode_errors++;
		count_user_loss(a, len < sizeof(*h) ? "unknown" : kind_name(h->type),
				HW_ULOSS_DECODE);
		return 0;
	}
	len = h->size;
	for (size_t i = 0; i < hw_ndecoders; i++) {
		if (hw_decoders[i].type != h->type)
			continue;
		int rc = len < hw_decoders[i].minsz ? -EINVAL : hw_decoders[i].fn(a, data, len);
		if (rc < 0) {
			a->decode_errors++;
			count_user_loss(a, hw_decoders[i].kind,
					rc == -ENOMEM ? HW_ULOSS_OOM : HW_ULOSS_DECODE);
		} else {
			a->events_by_type[h->type]++;
		}
		return 0;
	}
	a->decode_errors++;
	count_user_loss(a, "unknown", HW_ULOSS_DECODE);
	return 0;
}
