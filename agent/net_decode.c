/* net_decode.c - the net probe family in the agent: JSON for net.connect, net.accept,
 * net.listen, net.bind, net.socket and net.dns (docs/events-net.md), the DNS question parser,
 * the per-kind filters pushed into kernel maps, and the sweep that emits folded-connect
 * summaries.
 *
 * DNS message bytes come from any process and are hostile. The parser reads only the header
 * and the first question, checks every index against the captured length, refuses compression
 * pointers and over-long labels/names, and prints the name in DNS presentation form with every
 * byte outside printable ASCII (and '.', '\' inside a label) escaped as \DDD or \c, so a name is
 * always plain ASCII and maps back to its exact bytes.
 */
#include "agent/agent.h"
#include "agent/net_decode.h"
#include "agent/net_dns_answer.h"
#include "agent/net_dns_cache.h"
#include "herdwatch.skel.h"
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int decode_net_conn(struct agent *a, const void *rec, size_t len);
int decode_net_socket(struct agent *a, const void *rec, size_t len);
int decode_net_dns(struct agent *a, const void *rec, size_t len);

static const char *proto_name(unsigned p, char *buf, size_t n)
{
	switch (p) {
	case 1:
		return "icmp";
	case 6:
		return "tcp";
	case 17:
		return "udp";
	case 58:
		return "icmpv6";
	case 132:
		return "sctp";
	case 136:
		return "udplite";
	case 255:
		return "raw";
	case 262:
		return "mptcp";
	}
	snprintf(buf, n, "%u", p);
	return buf;
}

static const char *family_name(unsigned f, char *buf, size_t n)
{
	switch (f) {
	case 1:
		return "unix";
	case HW_NET_AF_INET:
		return "inet";
	case HW_NET_AF_INET6:
		return "inet6";
	case 16:
		return "netlink";
	case HW_NET_AF_PACKET:
		return "packet";
	}
	snprintf(buf, n, "%u", f);
	return buf;
}

static const char *type_name(unsigned t, char *buf, size_t n)
{
	switch (t & 0xf) {
	case 1:
		return "stream";
	case 2:
		return "dgram";
	case 3:
		return "raw";
	case 4:
		return "rdm";
	case 5:
		return "seqpacket";
	case 6:
		return "dccp";
	case 10:
		return "packet";
	}
	snprintf(buf, n, "%u", t & 0xf);
	return buf;
}

static const char *syscall_name(unsigned s)
{
	static const char *const n[] = {NULL,      "connect", "accept",   "accept4", "listen",
					"bind",    "socket",  "sendto",   "sendmsg", "sendmmsg",
					"write",   "other",   "io_uring", "read",    "recvfrom",
					"recvmsg", "recvmmsg"};
	return s < sizeof(n) / sizeof(n[0]) ? n[s] : NULL;
}

/* "result": 0 or -errno, and "error": its name or null. */
static void put_result(struct jbuf *b, int32_t r)
{
	jb_ki64(b, "result", r < 0 ? r : 0);
	jb_key(b, "error");
	if (r < 0) {
		const char *n = strerrorname_np(-r);
		char tmp[32];
		if (!n) {
			snprintf(tmp, sizeof(tmp), "E%d", -r);
			n = tmp;
		}
		jb_cstr(b, n);
	} else {
		jb_null(b);
	}
}

/* Dotted IPv4 without printf (glibc's inet_ntop formats with sprintf: per event that showed
 * as the largest single cost of a connect storm in the agent). */
static void ip4_str(const uint8_t *a, char *out)
{
	for (int i = 0; i < 4; i++) {
		unsigned v = a[i];
		if (v >= 100)
			*out++ = '0' + v / 100;
		if (v >= 10)
			*out++ = '0' + v / 10 % 10;
		*out++ = '0' + v % 10;
		*out++ = i < 3 ? '.' : 0;
	}
}

/* family init and teardown: the address -> name cache behind dst.name (net_dns_cache.c) */
int net_init(struct agent *a)
{
	a->dns = dns_cache_new();
	if (!a->dns)
		return -ENOMEM;
	return net_mode_new(a);
}

void net_free(struct agent *a)
{
	dns_cache_free(a->dns);
	a->dns = NULL;
	net_mode_free(a);
}

/* {"ip": "...", "port": N} (plus "ipv4" for a v4-mapped IPv6 address); null when unknown.
 * With h (connect): "name" and "name_from" when a DNS answer seen shortly before gave the
 * address (docs/events-net.md). */
static void put_endpoint_named(struct jbuf *b, const char *key, const struct hw_net_addr *ad,
			       const struct hw_hdr *h, const struct dns_cache *dc)
{
	char ip[INET6_ADDRSTRLEN];
	jb_key(b, key);
	if (ad->family != HW_NET_AF_INET && ad->family != HW_NET_AF_INET6) {
		jb_null(b);
		return;
	}
	jb_obj_begin(b);
	if (ad->family == HW_NET_AF_INET)
		ip4_str(ad->addr, ip);
	else
		inet_ntop(AF_INET6, ad->addr, ip, sizeof(ip));
	jb_ktrusted(b, "ip", ip);
	jb_ku64(b, "port", ad->port);
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (ad->family == HW_NET_AF_INET6 && !memcmp(ad->addr, mapped, 12)) {
		ip4_str(ad->addr + 12, ip);
		jb_ktrusted(b, "ipv4", ip);
	}
	uint32_t by;
	const char *name = h ? dns_cache_get(dc, ad->family, ad->addr, h->ts, &by) : NULL;
	if (name) {
		jb_kcstr(b, "name", name);
		jb_ktrusted(b, "name_from", by == h->pid ? "process" : "host");
	}
	jb_obj_end(b);
}

static void put_endpoint(struct jbuf *b, const char *key, const struct hw_net_addr *ad)
{
	put_endpoint_named(b, key, ad, NULL, NULL);
}

int decode_net_conn(struct agent *a, const void *rec, size_t len)
{
	const struct hw_net *e = rec;
	const struct hw_hdr *h = &e->hdr;
	struct jbuf *b = &a->jb;
	char t1[16], t2[16], t3[16];
	const char *kind = kind_name(h->type);

	if (len < sizeof(*e))
		return -EINVAL;
	emit_event(a, kind, h, "net");
	jb_ktrusted(b, "proto", proto_name(e->protocol, t1, sizeof(t1)));
	jb_ktrusted(b, "family", family_name(e->family, t2, sizeof(t2)));
	jb_ktrusted(b, "type", type_name(e->type, t3, sizeof(t3)));
	put_endpoint(b, "src", &e->src);
	if (h->type == HW_EV_NET_LISTEN || h->type == HW_EV_NET_BIND) {
		jb_key(b, "dst");
		jb_null(b);
	} else {
		put_endpoint_named(b, "dst", &e->dst, h->type == HW_EV_NET_CONNECT ? h : NULL,
				   a->dns);
	}
	put_result(b, e->result);
	jb_ktrusted(b, "direction",
		    h->type == HW_EV_NET_CONNECT  ? "outbound"
		    : h->type == HW_EV_NET_ACCEPT ? "inbound"
						  : NULL);
	jb_ktrusted(b, "syscall", syscall_name(e->syscall));
	jb_ki64(b, "fd", e->fd);
	if (h->type == HW_EV_NET_LISTEN)
		jb_ku64(b, "backlog", e->backlog);
	/* whom an accept blames: the process that called accept(), or (socket hooks) the one
	 * that made the socket listen */
	if (h->type == HW_EV_NET_ACCEPT)
		jb_ktrusted(b, "attribution",
			    e->nflags & HW_NET_F_LISTENER ? "listener" : "accept");
	if (h->type == HW_EV_NET_CONNECT || h->type == HW_EV_NET_ACCEPT) {
		jb_ku64(b, "count", e->count);
		jb_kbool(b, "folded", e->nflags & HW_NET_F_SUMMARY);
		if (e->window_ns)
			jb_ku64(b, "window_s", e->window_ns / 1000000000ULL);
		if (e->nflags & HW_NET_F_FOLD_FULL)
			jb_kbool(b, "fold_full", true);
	}
	if (h->type == HW_EV_NET_CONNECT) {
		/* "pending": the call returned EINPROGRESS and an outcome event follows;
		 * "outcome": this is the final result of such a connect */
		jb_kbool(b, "pending", e->nflags & HW_NET_F_PENDING);
		jb_kbool(b, "outcome", e->nflags & HW_NET_F_OUTCOME);
		if (e->nflags & HW_NET_F_OUTCOME && e->start_ts && h->ts >= e->start_ts)
			jb_ku64(b, "elapsed_us", (h->ts - e->start_ts) / 1000);
	}
	jb_ku64(b, "netns", e->netns);
	if (e->nflags & (HW_NET_F_DST_FROM_USER | HW_NET_F_SRC_FROM_USER))
		jb_kcstr(b, "address_from", "caller"); /* failed call: the address asked for */
	emit_event_end(a);
	return 0;
}

int decode_net_socket(struct agent *a, const void *rec, size_t len)
{
	const struct hw_net *e = rec;
	struct jbuf *b = &a->jb;
	char t1[16], t2[16], tmp[16];

	if (len < sizeof(*e))
		return -EINVAL;
	emit_event(a, "net.socket", &e->hdr, "net");
	jb_ktrusted(b, "family", family_name(e->family, t1, sizeof(t1)));
	jb_ktrusted(b, "type", type_name(e->type, t2, sizeof(t2)));
	jb_ku64(b, "type_raw", e->type);
	jb_ku64(b, "protocol", e->protocol);
	if (e->family == HW_NET_AF_PACKET) {
		/* packet sockets take the ethertype in network order (htons(ETH_P_ALL) = 768) */
		snprintf(tmp, sizeof(tmp), "0x%04x", ntohs(e->protocol));
		jb_kcstr(b, "ethertype", tmp);
	} else {
		jb_kcstr(b, "protocol_name", proto_name(e->protocol, tmp, sizeof(tmp)));
	}
	put_result(b, e->result);
	jb_ki64(b, "fd", e->fd);
	jb_ku64(b, "netns", e->netns);
	emit_event_end(a);
	return 0;
}

/* ---- DNS ---- */

static const char *qtype_name(unsigned t)
{
	static const struct {
		unsigned t;
		const char *n;
	} m[] = {{1, "A"},      {2, "NS"},    {5, "CNAME"},  {6, "SOA"},    {12, "PTR"},
		 {13, "HINFO"}, {15, "MX"},   {16, "TXT"},   {28, "AAAA"},  {33, "SRV"},
		 {35, "NAPTR"}, {41, "OPT"},  {43, "DS"},    {46, "RRSIG"}, {48, "DNSKEY"},
		 {52, "TLSA"},  {64, "SVCB"}, {65, "HTTPS"}, {251, "IXFR"}, {252, "AXFR"},
		 {255, "ANY"},  {257, "CAA"}};
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		if (m[i].t == t)
			return m[i].n;
	return NULL;
}

static const char *rcode_name(unsigned r)
{
	static const char *const n[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
					"NOTIMP",  "REFUSED", "YXDOMAIN", "YXRRSET",
					"NXRRSET", "NOTAUTH", "NOTZONE"};
	return r < sizeof(n) / sizeof(n[0]) ? n[r] : NULL;
}

/* A record type as its name or TYPEnnn (a value: the key is written before). */
static void put_type(struct jbuf *b, unsigned t)
{
	const char *tn = qtype_name(t);
	char tmp[16];
	if (!tn) {
		snprintf(tmp, sizeof(tmp), "TYPE%u", t);
		tn = tmp;
	}
	jb_cstr(b, tn);
}

/* The "answer" object of an answer, and its addresses into the address -> name cache. */
static void put_answer(struct agent *a, const struct hw_net_dns *e, const struct dns_answer *an)
{
	struct jbuf *b = &a->jb;

	jb_key(b, "answer");
	jb_obj_begin(b);
	jb_ku64(b, "rcode", an->rcode);
	jb_ktrusted(b, "rcode_name", rcode_name(an->rcode));
	jb_kbool(b, "authoritative", an->aa);
	jb_kbool(b, "tc", an->tc); /* the server truncated it: the client should retry over TCP */
	jb_ku64(b, "count", an->ancount);
	jb_kbool(b, "cut", an->cut);
	jb_key(b, "records");
	jb_arr_begin(b);
	for (unsigned i = 0; i < an->nrr; i++) {
		const struct dns_rr *r = &an->rr[i];
		jb_obj_begin(b);
		jb_kstr(b, "name", r->name, r->nlen);
		jb_key(b, "type");
		put_type(b, r->type);
		jb_ku64(b, "ttl", r->ttl);
		jb_key(b, "data");
		if (r->has_data)
			jb_str(b, r->data, r->dlen);
		else
			jb_null(b);
		jb_obj_end(b);
		if ((r->type == 1 || r->type == 28) && !an->malformed && an->rcode == 0) {
			const char *nm = an->q.have_name ? an->q.name : r->name;
			size_t nl = an->q.have_name ? an->q.nlen : r->nlen;
			dns_cache_put(a->dns, r->type == 1 ? 4 : 6, r->addr, nm, nl, e->hdr.pid,
				      e->hdr.ts, r->ttl);
		}
	}
	jb_arr_end(b);
	jb_obj_end(b);
}

int decode_net_dns(struct agent *a, const void *rec, size_t len)
{
	const struct hw_net_dns *e = rec;
	struct jbuf *b = &a->jb;
	const uint8_t *m = e->msg;
	size_t cap = e->cap_len, msg_len = e->msg_len;
	static struct dns_answer an; /* large: not on the stack */
	const struct dns_question *q = &an.q;
	bool answer;
	char t1[16], t2[16];

	if (len < sizeof(*e))
		return -EINVAL;
	if (cap > HW_DNS_CAP || cap > msg_len)
		return -EINVAL;
	answer = e->dflags & HW_NET_DNS_F_ANSWER;
	if (e->protocol == 6 && cap >= 2 && (size_t)(m[0] << 8 | m[1]) + 2 == msg_len) {
		/* TCP: the message follows its 2-byte length */
		m += 2;
		cap -= 2;
		msg_len -= 2;
	}
	if (answer)
		net_dns_answer_parse(m, cap, msg_len, &an);
	else
		net_dns_parse(m, cap, msg_len, &an.q);
	emit_event(a, "net.dns", &e->hdr, "dns");
	jb_ktrusted(b, "direction", answer ? "answer" : "query");
	jb_key(b, "query");
	if (q->have_name)
		jb_str(b, q->name, q->nlen);
	else
		jb_null(b);
	jb_key(b, "type");
	if (q->have_type)
		put_type(b, q->qtype);
	else
		jb_null(b);
	jb_key(b, "type_code");
	if (q->have_type)
		jb_u64(b, q->qtype);
	else
		jb_null(b);
	jb_key(b, "class");
	if (q->have_type)
		jb_u64(b, q->qclass);
	else
		jb_null(b);
	put_endpoint(b, "server", &e->server);
	put_endpoint(b, "src", &e->src);
	jb_ktrusted(b, "proto", proto_name(e->protocol, t1, sizeof(t1)));
	jb_ktrusted(b, "family", family_name(e->server.family, t2, sizeof(t2)));
	if (cap >= 12) {
		jb_ku64(b, "id", q->id);
		jb_ku64(b, "opcode", (q->flags >> 11) & 0xf);
		jb_ku64(b, "questions", q->qdcount);
	}
	/* QR set: a response (a query with it: sent to port 53 - reflection, tunnelling, a
	 * confused peer) */
	jb_kbool(b, "response", cap >= 12 && (q->flags & 0x8000));
	jb_ku64(b, "netns", e->netns);
	jb_ktrusted(b, "syscall", syscall_name(e->syscall));
	jb_ku64(b, "bytes", e->msg_len);
	jb_ki64(b, "result", e->result);
	if (answer && cap >= 12)
		put_answer(a, e, &an);
	jb_kbool(b, "truncated", q->truncated || (answer && an.cut));
	jb_kcstr(b, "malformed", answer && an.malformed ? an.malformed : q->malformed);
	emit_event_end(a);
	return 0;
}

/* ---- configuration into kernel maps ---- */

uint64_t net_jiffy_ns(void)
{
	struct timespec t;
	if (clock_getres(CLOCK_MONOTONIC_COARSE, &t) || t.tv_sec || t.tv_nsec <= 0)
		return 0;
	return (uint64_t)t.tv_nsec;
}

int net_sync_maps(struct agent *a)
{
	int cfd = bpf_map__fd(a->skel->maps.hwn_cfg), lfd = bpf_map__fd(a->skel->maps.hwn_cidr);
	struct hw_net_cidr_key key, next;

	if (a->skel->bss)
		a->skel->bss->hwn_tick_ns = net_jiffy_ns(); /* fold windows' ends in jiffies */

	/* replace the CIDR set */
	while (bpf_map_get_next_key(lfd, NULL, &key) == 0)
		if (bpf_map_delete_elem(lfd, &key))
			break;
	(void)next;
	for (uint32_t k = 0; k < HW_NK_N && k < HW_NET_NKINDS; k++) {
		const struct hw_net_kind_config *nk = &a->cfg.net[k];
		struct hw_net_kcfg kc = {0};
		kc.ignore_loopback = nk->ignore_loopback;
		kc.nports = nk->nports;
		for (unsigned i = 0; i < nk->nports && i < HW_NET_MAX_PORTS; i++)
			kc.ports[i] = nk->ports[i];
		if ((k == HW_NK_CONNECT || k == HW_NK_ACCEPT) && a->cfg.net_fold_repeats)
			kc.fold_window_ns = nk->fold_window_s * 1000000000ULL;
		for (size_t i = 0; i < nk->cidrs.n; i++) {
			const char *s = nk->cidrs.v[i], *sl = strchr(s, '/');
			char addr[64];
			size_t al = sl ? (size_t)(sl - s) : strlen(s);
			int v6 = strchr(s, ':') != NULL;
			long bits = sl ? strtol(sl + 1, NULL, 10) : (v6 ? 128 : 32);
			uint8_t one = 1;
			if (al >= sizeof(addr))
				continue;
			memcpy(addr, s, al);
			addr[al] = 0;
			memset(&key, 0, sizeof(key));
			key.kind = k;
			key.family = v6 ? 6 : 4;
			key.prefixlen = 16 + bits;
			if (inet_pton(v6 ? AF_INET6 : AF_INET, addr, key.addr) != 1)
				continue;
			if (bpf_map_update_elem(lfd, &key, &one, BPF_ANY) == 0)
				kc.has_cidrs = 1;
			else
				agent_log("net CIDR %s: %s\n", s, strerror(errno));
		}
		if (bpf_map_update_elem(cfd, &k, &kc, BPF_ANY)) {
			int err = -errno;
			agent_log("cannot write net settings: %s\n", strerror(-err));
			return err;
		}
	}
	return 0;
}

/* Called about once a second: summaries of folded connects and accepts whose window is over,
 * and removal of their entries (the kernel never evicts one: when the map is full it stops
 * folding). Each entry carries its own window (rec.window_ns): a reload that changes or turns
 * off folding still closes the windows opened before. All finished windows are handled,
 * bounded by time: what is left is handled at the next tick. */
void net_tick(struct agent *a)
{
	if (!a->skel)
		return;
	int fd = bpf_map__fd(a->skel->maps.hwn_fold);
	size_t cap = bpf_map__max_entries(a->skel->maps.hwn_fold), n = 0;
	static struct hw_net_fold_key *done;
	static size_t done_cap;
	struct hw_net_fold_key key, next;
	struct hw_net_fold_val v;
	struct timespec ts;
	bool first = true;

	if (done_cap < cap) {
		void *p = realloc(done, cap * sizeof(*done));
		if (!p)
			return;
		done = p;
		done_cap = cap;
	}
	clock_gettime(CLOCK_BOOTTIME, &ts);
	uint64_t now = ts.tv_sec * 1000000000ULL + ts.tv_nsec, deadline = now + 200000000ULL;
	/* collect first, delete after: deleting while iterating restarts the iteration */
	while (n < done_cap && bpf_map_get_next_key(fd, first ? NULL : &key, &next) == 0) {
		first = false;
		key = next;
		if (bpf_map_lookup_elem(fd, &key, &v) == 0 && now - v.start >= v.rec.window_ns)
			done[n++] = key;
	}
	for (size_t i = 0; i < n; i++) {
		if ((i & 255) == 255) {
			struct timespec t2;
			clock_gettime(CLOCK_BOOTTIME, &t2);
			if ((uint64_t)t2.tv_sec * 1000000000ULL + t2.tv_nsec > deadline)
				break; /* the rest at the next tick */
		}
		if (bpf_map_lookup_and_delete_elem(fd, &done[i], &v) || !v.suppressed)
			continue;
		uint16_t type = v.rec.hdr.type;
		if (type != HW_EV_NET_CONNECT && type != HW_EV_NET_ACCEPT)
			continue;
		v.rec.count = v.suppressed;
		v.rec.nflags |= HW_NET_F_SUMMARY;
		v.rec.hdr.ts = now;
		if (decode_net_conn(a, &v.rec, sizeof(v.rec)) == 0)
			a->events_by_type[type]++;
	}
}
