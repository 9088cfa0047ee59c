/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * relay.c - a remote output's queue and thread (the contract: common/relay.h), and the syslog
 * transport. The webhook's HTTP and TLS are in common/relay_http.c.
 *
 * A syslog message, RFC 5424, one per event or alert (the body is the event's JSON line):
 *
 *   <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - MSG
 *   <30>1 2026-12-07T05:46:25.123456Z web-1 herdwatch-agent 4242 process.exec - {"kind":...}
 *
 * PRI = facility * 8 + severity; TIMESTAMP is UTC with microseconds, the time the message was
 * queued; HOSTNAME, APP-NAME and MSGID keep printable ASCII only ('_' for anything else) and
 * their RFC bounds (255, 48, 32); no structured data ("-"); MSG is UTF-8 JSON without a BOM.
 * unix:PATH sends one datagram per message (like logger(1) to /dev/log), udp: one datagram per
 * message, tcp: octet counting (RFC 6587 3.4.1): "LEN SP MESSAGE", LEN in decimal.
 */
#include "common/relay_int.h"
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define SYSLOG_BATCH 256
#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 5000

static const char *const facilities[24] = {
	"kern",   "user",   "mail",     "daemon", "auth",   "syslog", "lpr",    "news",
	"uucp",   "cron",   "authpriv", "ftp",    "ntp",    "audit",  "alert",  "clock",
	"local0", "local1", "local2",   "local3", "local4", "local5", "local6", "local7"};

int relay_facility(const char *name)
{
	for (int i = 0; i < 24; i++)
		if (!strcmp(name, facilities[i]))
			return i;
	return -1;
}

uint64_t relay_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

bool relay_stopping(struct relay *r)
{
	return __atomic_load_n(&r->stop, __ATOMIC_ACQUIRE) &&
	       relay_mono_ms() >= __atomic_load_n(&r->deadline_ms, __ATOMIC_ACQUIRE);
}

uint64_t relay_op_deadline(struct relay *r)
{
	uint64_t d = relay_mono_ms() + r->o.timeout_ms;
	if (__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		uint64_t s = __atomic_load_n(&r->deadline_ms, __ATOMIC_ACQUIRE);
		if (s < d)
			d = s;
	}
	return d;
}

/* host:port, [v6]:port; the port a number 1..65535 */
static int split_hostport(struct rtarget *t, const char *s, const char *dflt_port, char *err,
			  size_t errlen)
{
	const char *colon, *host = s;
	size_t hl;
	if (*s == '[') {
		const char *e = strchr(s, ']');
		if (!e || (e[1] && e[1] != ':'))
			goto bad;
		host = s + 1;
		hl = (size_t)(e - host);
		colon = e[1] ? e + 1 : NULL;
	} else {
		colon = strrchr(s, ':');
		hl = colon ? (size_t)(colon - s) : strlen(s);
	}
	if (!hl || hl >= sizeof(t->host))
		goto bad;
	memcpy(t->host, host, hl);
	t->host[hl] = 0;
	const char *port = colon ? colon + 1 : dflt_port;
	if (!port)
		goto bad;
	char *end;
	unsigned long p = strtoul(port, &end, 10);
	if (!*port || *end || p < 1 || p > 65535)
		goto bad;
	snprintf(t->port, sizeof(t->port), "%lu", p);
	return 0;
bad:
	snprintf(err, errlen, "'%s' is not HOST:PORT (a name or address and a port 1-65535)", s);
	return -1;
}

int relay_parse_target(struct rtarget *t, enum relay_kind kind, const char *s, char *err,
		       size_t errlen)
{
	memset(t, 0, sizeof(*t));
	if (kind == RELAY_SYSLOG) {
		if (!strncmp(s, "unix:", 5) || s[0] == '/') {
			const char *p = s[0] == '/' ? s : s + 5;
			if (p[0] != '/' ||
			    strlen(p) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
				snprintf(err, errlen,
					 "'%s': a local socket is unix:/ABSOLUTE/PATH (at most 107 "
					 "bytes)",
					 s);
				return -1;
			}
			t->proto = 'u';
			snprintf(t->path, sizeof(t->path), "%s", p);
			return 0;
		}
		if (!strncmp(s, "udp:", 4) || !strncmp(s, "tcp:", 4)) {
			t->proto = s[0] == 'u' ? 'd' : 't';
			return split_hostport(t, s + 4, NULL, err, errlen);
		}
		snprintf(err, errlen,
			 "'%s' is not a syslog address (unix:/dev/log, udp:HOST:PORT or "
			 "tcp:HOST:PORT)",
			 s);
		return -1;
	}
	bool tls = !strncmp(s, "https://", 8);
	if (!tls && strncmp(s, "http://", 7)) {
		snprintf(err, errlen, "'%s' is not an http:// or https:// URL", s);
		return -1;
	}
	const char *h = s + (tls ? 8 : 7), *slash = strchr(h, '/');
	size_t hl = slash ? (size_t)(slash - h) : strlen(h);
	char hp[300];
	if (!hl || hl >= sizeof(hp) || memchr(h, '@', hl)) {
		snprintf(err, errlen, "'%s': the URL needs a host (and no user:password@)", s);
		return -1;
	}
	memcpy(hp, h, hl);
	hp[hl] = 0;
	t->proto = tls ? 's' : 'h';
	if (split_hostport(t, hp, tls ? "443" : "80", err, errlen))
		return -1;
	const char *path = slash ? slash : "/";
	for (const char *c = path; *c; c++)
		if ((unsigned char)*c <= 0x20 || *c == 0x7f) {
			snprintf(err, errlen,
				 "'%s': the URL's path has a space or control character", s);
			return -1;
		}
	if (strlen(path) >= sizeof(t->path)) {
		snprintf(err, errlen, "the URL's path is longer than %zu bytes",
			 sizeof(t->path) - 1);
		return -1;
	}
	snprintf(t->path, sizeof(t->path), "%s", path);
	return 0;
}

int relay_check(const struct relay_opts *o, char *err, size_t errlen)
{
	struct rtarget t;
	if (!o->target || relay_parse_target(&t, o->kind, o->target, err, errlen))
		return o->target ? -1 : (snprintf(err, errlen, "no address"), -1);
	for (unsigned i = 0; i < o->nheaders; i++) {
		const char *h = o->headers[i], *c = strchr(h, ':');
		bool ok = c && c > h;
		for (const char *p = h; ok && p < c; p++)
			ok = (unsigned char)*p > 0x20 && *p != 0x7f &&
			     !strchr("()<>@,;\\\"/[]?={}", *p);
		for (const char *p = c ? c + 1 : h; ok && *p; p++)
			ok = (unsigned char)*p >= 0x20 || *p == '\t';
		if (!ok) {
			snprintf(err, errlen,
				 "header '%.60s' is not 'Name: value' (a token name, no control "
				 "characters)",
				 h);
			return -1;
		}
	}
	if (o->kind == RELAY_SYSLOG && t.proto == 'd' && o->max_message > 65507) {
		snprintf(err, errlen, "a UDP syslog message is at most 65507 bytes, not %u",
			 o->max_message);
		return -1;
	}
	return 0;
}

static bool str_eq(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

bool relay_opts_equal(const struct relay_opts *a, const struct relay_opts *b)
{
	if (a->kind != b->kind || !str_eq(a->target, b->target) ||
	    a->buffer_bytes != b->buffer_bytes || a->timeout_ms != b->timeout_ms ||
	    !str_eq(a->app_name, b->app_name) || !str_eq(a->hostname, b->hostname) ||
	    a->facility != b->facility || a->max_message != b->max_message ||
	    !str_eq(a->ca_file, b->ca_file) || a->nheaders != b->nheaders ||
	    a->batch_max != b->batch_max || a->linger_ms != b->linger_ms)
		return false;
	for (unsigned i = 0; i < a->nheaders; i++)
		if (!str_eq(a->headers[i], b->headers[i]))
			return false;
	return true;
}

/* ---- connections ---- */

int relay_wait(struct relay *r, short ev, uint64_t deadline)
{
	for (;;) {
		uint64_t now = relay_mono_ms();
		if (now >= deadline || relay_stopping(r))
			return -1;
		uint64_t left = deadline - now;
		struct pollfd p = {.fd = r->fd, .events = ev};
		int n = poll(&p, 1, left > 100 ? 100 : (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

void relay_disconnect(struct relay *r)
{
	if (r->ssl) {
		SSL_free(r->ssl);
		r->ssl = NULL;
	}
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
}

int relay_connect(struct relay *r, bool udp, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_socktype = udp ? SOCK_DGRAM : SOCK_STREAM,
				 .ai_flags = AI_NUMERICSERV},
			*ai = NULL;
	int g = getaddrinfo(r->t.host, r->t.port, &hints, &ai);
	if (g) {
		snprintf(err, errlen, "cannot resolve %s: %s", r->t.host, gai_strerror(g));
		return -1;
	}
	int e = 0;
	for (struct addrinfo *p = ai; p; p = p->ai_next) {
		r->fd = socket(p->ai_family, p->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (r->fd < 0) {
			e = errno;
			continue;
		}
		if (connect(r->fd, p->ai_addr, p->ai_addrlen) == 0)
			break;
		e = errno;
		if (e == EINPROGRESS && !relay_wait(r, POLLOUT, relay_op_deadline(r))) {
			socklen_t sl = sizeof(e);
			if (getsockopt(r->fd, SOL_SOCKET, SO_ERROR, &e, &sl) || !e)
				break;
		} else if (e == EINPROGRESS) {
			e = ETIMEDOUT;
		}
		relay_disconnect(r);
	}
	freeaddrinfo(ai);
	if (r->fd < 0) {
		snprintf(err, errlen, "cannot connect to %s port %s: %s", r->t.host, r->t.port,
			 strerror(e ? e : EHOSTUNREACH));
		return -1;
	}
	return 0;
}

static int connect_unix(struct relay *r, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", r->t.path);
	r->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (r->fd < 0 || connect(r->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		snprintf(err, errlen, "cannot connect to %s: %s", r->t.path, strerror(errno));
		relay_disconnect(r);
		return -1;
	}
	return 0;
}

bool relay_reserve(struct relay *r, size_t need)
{
	if (r->len + need <= r->cap)
		return true;
	size_t nc = r->cap ? r->cap : 65536;
	while (nc < r->len + need)
		nc *= 2;
	char *nb = realloc(r->buf, nc);
	if (!nb)
		return false;
	r->buf = nb;
	r->cap = nc;
	return true;
}

/* ---- syslog ---- */

static size_t put_field(char *o, const char *s, size_t max)
{
	size_t n = 0;
	for (; s && s[n] && n < max; n++)
		o[n] = (unsigned char)s[n] > 0x20 && (unsigned char)s[n] < 0x7f ? s[n] : '_';
	if (!n)
		o[n++] = '-';
	o[n++] = ' ';
	return n;
}

/* The header of one message into h (at least 400 bytes); its length. */
static size_t syslog_header(struct relay *r, const struct rmsg *m, char *h)
{
	time_t sec = (time_t)(m->real_ns / 1000000000);
	struct tm tm;
	gmtime_r(&sec, &tm);
	size_t n = (size_t)sprintf(h, "<%u>1 ", r->o.facility * 8 + m->sev);
	n += strftime(h + n, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)sprintf(h + n, ".%06uZ ", (unsigned)(m->real_ns % 1000000000 / 1000));
	n += put_field(h + n, r->o.hostname, 255);
	n += put_field(h + n, r->o.app_name, 48);
	n += put_field(h + n, r->pid, 16);
	n += put_field(h + n, m->tag, 32);
	h[n++] = '-';
	h[n++] = ' ';
	return n;
}

/* The longest header relay_put() must allow for (PRI of 3 digits). */
static size_t syslog_header_max(struct relay *r, const char *tag)
{
	size_t hl = r->o.hostname ? strlen(r->o.hostname) : 1,
	       al = r->o.app_name ? strlen(r->o.app_name) : 1, tl = tag ? strlen(tag) : 1;
	return 7 + 28 + (hl > 255 ? 255 : hl) + 1 + (al > 48 ? 48 : al) + 1 + strlen(r->pid) + 1 +
	       (tl > 32 ? 32 : tl) + 1 + 2;
}

static size_t body_len(const struct rmsg *m)
{
	size_t n = m->n;
	while (n && (m->msg[n - 1] == '\n' || m->msg[n - 1] == '\r'))
		n--;
	return n;
}

/* Datagrams (unix, udp): one per message. Returns how many were sent. */
static size_t syslog_dgrams(struct relay *r, struct rmsg **m, size_t n, char *err, size_t errlen)
{
	char h[512];
	for (size_t i = 0; i < n; i++) {
		size_t hl = syslog_header(r, m[i], h);
		struct iovec iov[2] = {{h, hl}, {m[i]->msg, body_len(m[i])}};
		struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
		for (;;) {
			if (sendmsg(r->fd, &mh, MSG_NOSIGNAL) >= 0)
				break;
			int e = errno;
			if (e == EINTR)
				continue;
			if ((e == EAGAIN || e == ENOBUFS) &&
			    !relay_wait(r, POLLOUT, relay_op_deadline(r)))
				continue;
			snprintf(err, errlen, "cannot send to %s: %s",
				 r->t.proto == 'u' ? r->t.path : r->t.host, strerror(e));
			return i;
		}
	}
	return n;
}

/* TCP: the batch as octet-counted frames in one buffer; what was written whole counts. */
static size_t syslog_stream(struct relay *r, struct rmsg **m, size_t n, char *err, size_t errlen)
{
	size_t ends[SYSLOG_BATCH];
	char h[512];
	r->len = 0;
	for (size_t i = 0; i < n; i++) {
		size_t hl = syslog_header(r, m[i], h), bl = body_len(m[i]);
		if (!relay_reserve(r, hl + bl + 24)) {
			snprintf(err, errlen, "out of memory");
			return 0;
		}
		r->len += (size_t)sprintf(r->buf + r->len, "%zu ", hl + bl);
		memcpy(r->buf + r->len, h, hl);
		memcpy(r->buf + r->len + hl, m[i]->msg, bl);
		r->len += hl + bl;
		ends[i] = r->len;
	}
	size_t off = 0;
	uint64_t deadline = relay_op_deadline(r);
	while (off < r->len) {
		ssize_t w = send(r->fd, r->buf + off, r->len - off, MSG_NOSIGNAL);
		if (w > 0) {
			off += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN && !relay_wait(r, POLLOUT, deadline))
			continue;
		snprintf(err, errlen, "cannot write to %s port %s: %s", r->t.host, r->t.port,
			 w < 0 && errno != EAGAIN ? strerror(errno) : "timed out");
		break;
	}
	size_t done = 0;
	while (done < n && ends[done] <= off)
		done++;
	return done;
}

/* Deliver a batch: how many of its first messages were delivered; rc -1 retry, 1 rejected. */
static size_t deliver(struct relay *r, struct rmsg **m, size_t n, int *rc, char *err, size_t errlen)
{
	*rc = 0;
	if (r->o.kind == RELAY_WEBHOOK) {
		*rc = relay_http_post(r, m, n, err, errlen);
		return *rc == 0 ? n : 0;
	}
	/* a syslog server never speaks: a readable TCP connection is one it closed (writing to it
	 * would lose the first batch into a connection already gone) */
	struct pollfd p = {.fd = r->fd, .events = POLLIN};
	if (r->t.proto == 't' && r->fd >= 0 && poll(&p, 1, 0) > 0)
		relay_disconnect(r);
	if (r->fd < 0 && (r->t.proto == 'u' ? connect_unix(r, err, errlen)
					    : relay_connect(r, r->t.proto == 'd', err, errlen))) {
		*rc = -1;
		return 0;
	}
	size_t done = r->t.proto == 't' ? syslog_stream(r, m, n, err, errlen)
					: syslog_dgrams(r, m, n, err, errlen);
	if (done < n)
		*rc = -1;
	return done;
}

/* ---- the queue and the thread ---- */

enum relay_put_result relay_put(struct relay *r, unsigned severity, const char *tag,
				const char *msg, size_t n)
{
	if (r->o.kind == RELAY_SYSLOG && n + syslog_header_max(r, tag) > r->o.max_message)
		return RELAY_TOO_LARGE;
	pthread_mutex_lock(&r->mu);
	bool full = r->queued_bytes + RMSG_COST(n) > r->o.buffer_bytes;
	pthread_mutex_unlock(&r->mu);
	if (full)
		return RELAY_FULL;
	struct rmsg *m = malloc(sizeof(*m) + n);
	if (!m)
		return RELAY_FULL;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	m->next = NULL;
	m->real_ns = (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
	m->n = n;
	m->sev = severity & 7;
	snprintf(m->tag, sizeof(m->tag), "%s", tag ? tag : "");
	memcpy(m->msg, msg, n);
	pthread_mutex_lock(&r->mu);
	if (r->tail)
		r->tail->next = m;
	else
		r->head = m;
	r->tail = m;
	r->queued++;
	r->queued_bytes += RMSG_COST(n);
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
	return RELAY_OK;
}

static void pop(struct relay *r, size_t k)
{
	for (size_t i = 0; i < k && r->head; i++) {
		struct rmsg *m = r->head;
		r->head = m->next;
		if (!r->head)
			r->tail = NULL;
		r->queued--;
		r->queued_bytes -= RMSG_COST(m->n);
		free(m);
	}
}

/* Under r->mu: wait until a batch is due (or stop with nothing more to do: false). */
static bool wait_batch(struct relay *r, uint64_t retry_at, uint64_t *first_seen)
{
	for (;;) {
		uint64_t now = relay_mono_ms(), until = now + 100;
		if (r->stop && (!r->head || now >= r->deadline_ms))
			return false;
		if (!r->head)
			*first_seen = 0;
		else if (!*first_seen)
			*first_seen = now;
		if (r->head && now >= retry_at) {
			bool linger = r->o.kind == RELAY_WEBHOOK && !r->stop &&
				      r->queued < r->o.batch_max &&
				      now < *first_seen + r->o.linger_ms;
			if (!linger)
				return true;
			until = *first_seen + r->o.linger_ms;
		} else if (r->head && retry_at < until) {
			until = retry_at;
		}
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		uint64_t wait = until > now ? until - now : 1;
		ts.tv_sec += (time_t)(wait / 1000);
		ts.tv_nsec += (long)(wait % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&r->cv, &r->mu, &ts);
	}
}

static void *relay_main(void *arg)
{
	struct relay *r = arg;
	size_t lim = r->o.kind == RELAY_WEBHOOK ? r->o.batch_max : SYSLOG_BATCH;
	struct rmsg **batch = calloc(lim, sizeof(*batch));
	uint64_t retry_at = 0, first_seen = 0;
	unsigned backoff = 0;
	char err[sizeof(r->st.error)];
	if (!batch)
		return NULL;
	for (;;) {
		size_t n = 0;
		pthread_mutex_lock(&r->mu);
		if (!wait_batch(r, retry_at, &first_seen)) {
			pthread_mutex_unlock(&r->mu);
			break;
		}
		for (struct rmsg *m = r->head; m && n < lim; m = m->next)
			batch[n++] = m; /* only this thread takes messages off the list */
		pthread_mutex_unlock(&r->mu);
		int rc;
		err[0] = 0;
		size_t done = deliver(r, batch, n, &rc, err, sizeof(err));
		pthread_mutex_lock(&r->mu);
		pop(r, rc > 0 ? n : done);
		r->st.sent += done;
		if (rc > 0)
			r->st.rejected += n;
		if (rc == 0 && r->o.kind == RELAY_WEBHOOK)
			r->st.posts++;
		if (rc < 0)
			r->st.failures++;
		if (rc) {
			snprintf(r->st.error, sizeof(r->st.error), "%s", err);
		}
		r->st.up = rc >= 0; /* a rejected batch is the batch's fault, not the endpoint's */
		pthread_mutex_unlock(&r->mu);
		if (rc < 0) {
			relay_disconnect(r);
			backoff = backoff ? backoff * 2 : BACKOFF_MIN_MS;
			if (backoff > BACKOFF_MAX_MS)
				backoff = BACKOFF_MAX_MS;
			retry_at = relay_mono_ms() + backoff;
		} else {
			backoff = 0;
			retry_at = 0;
		}
	}
	free(batch);
	relay_disconnect(r);
	return NULL;
}

int relay_open(struct relay **out, const struct relay_opts *o, char *err, size_t errlen)
{
	if (relay_check(o, err, errlen))
		return -1;
	struct relay *r = calloc(1, sizeof(*r));
	if (!r)
		return snprintf(err, errlen, "out of memory"), -1;
	r->o = *o;
	/* one block for the strings the options point at */
	const char **sp[] = {&r->o.target, &r->o.app_name, &r->o.hostname, &r->o.ca_file};
	size_t total = 0, ns = sizeof(sp) / sizeof(sp[0]);
	for (size_t i = 0; i < ns; i++)
		total += *sp[i] ? strlen(*sp[i]) + 1 : 0;
	for (unsigned i = 0; i < o->nheaders; i++)
		total += strlen(o->headers[i]) + 1;
	char *s = r->strings = malloc(total + 1);
	if (!s) {
		free(r);
		return snprintf(err, errlen, "out of memory"), -1;
	}
	for (size_t i = 0; i < ns; i++)
		if (*sp[i]) {
			size_t l = strlen(*sp[i]) + 1;
			memcpy(s, *sp[i], l);
			*sp[i] = s;
			s += l;
		}
	for (unsigned i = 0; i < o->nheaders; i++) {
		size_t l = strlen(o->headers[i]) + 1;
		memcpy(s, o->headers[i], l);
		r->o.headers[i] = s;
		s += l;
	}
	relay_parse_target(&r->t, o->kind, r->o.target, err, errlen);
	if (!r->o.batch_max)
		r->o.batch_max = 1;
	snprintf(r->pid, sizeof(r->pid), "%d", (int)getpid());
	r->fd = -1;
	r->st.up = true;
	pthread_mutex_init(&r->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cv, &ca);
	pthread_condattr_destroy(&ca);
	int e = pthread_create(&r->th, NULL, relay_main, r);
	if (e) {
		snprintf(err, errlen, "cannot start a thread: %s", strerror(e));
		free(r->strings);
		free(r);
		return -1;
	}
	*out = r;
	return 0;
}

void relay_stats(struct relay *r, struct relay_stats *st)
{
	pthread_mutex_lock(&r->mu);
	*st = r->st;
	st->queued = r->queued;
	st->queued_bytes = r->queued_bytes;
	pthread_mutex_unlock(&r->mu);
}

uint64_t relay_close(struct relay *r, unsigned wait_ms, struct relay *into)
{
	if (!r)
		return 0;
	pthread_mutex_lock(&r->mu);
	__atomic_store_n(&r->deadline_ms, relay_mono_ms() + wait_ms, __ATOMIC_RELEASE);
	__atomic_store_n(&r->stop, true, __ATOMIC_RELEASE);
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->th, NULL);
	uint64_t lost = 0;
	while (r->head) {
		struct rmsg *m = r->head;
		if (!into || relay_put(into, m->sev, m->tag, m->msg, m->n) != RELAY_OK)
			lost++;
		pop(r, 1);
	}
	relay_http_free(r);
	free(r->buf);
	free(r->strings);
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->cv);
	free(r);
	return lost;
}
