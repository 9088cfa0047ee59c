// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * ship.c - agent-side transport (see ship.h for the contract, common/wire.c for the frames).
 *
 * Data path:
 *   ship_event() appends "json\n" to the open batch (under s->mu). When the open batch is full,
 *   the caller seals it: zstd-compress into a BATCH frame, write <spool>/<batch id>.hwb
 *   (tmp + rename), append it to the list of unacknowledged batches. The sender thread seals the
 *   open batch after SHIP_LINGER_MS, connects (TLS, client certificate), sends unsent batches
 *   oldest first with up to SHIP_WINDOW in flight, and on each ACK unlinks the spool file.
 *   After a disconnect every unacknowledged batch is sent again, oldest first; the collector
 *   drops what it already stored.
 *
 * Crash safety (ship.h): ship_sync() appends the open batch to <spool>/open.hwj,
 *   "hwj1 <run id, 16 hex> <first seq> <boot id>\n" then the batch's JSON lines;
 *   a seal empties it. <spool>/state is one line,
 *   "hwstate1 run=<16 hex> durable_seq=<n> clean=<0|1>\n", rewritten in place.
 */
#include "agent/ship_int.h"

int ship_event(struct ship *s, unsigned long long seq, const char *json, size_t len)
{
	if (len && json[len - 1] == '\n') /* tolerate the JSON line's own terminator */
		len--;
	if (!len || len + 1 > SHIP_MAX_RAW || memchr(json, '\n', len))
		return -EINVAL;
	pthread_mutex_lock(&s->mu);
	int err = 0;
	if (s->pend_count &&
	    (s->pend_len + len + 1 > SHIP_MAX_RAW || s->pend_count >= SHIP_MAX_EVENTS))
		err = ship_seal(s);
	if (!err && s->pend_len + len + 1 > s->pend_cap) {
		size_t cap = s->pend_cap ? s->pend_cap : 65536;
		while (cap < s->pend_len + len + 1)
			cap *= 2;
		char *p = realloc(s->pend, cap);
		if (!p)
			err = -ENOMEM;
		else {
			s->pend = p;
			s->pend_cap = cap;
		}
	}
	if (!err) {
		if (!s->pend_count) {
			s->pend_first_seq = seq;
			s->pend_since_ms = ship_now_ms();
		}
		memcpy(s->pend + s->pend_len, json, len);
		s->pend[s->pend_len + len] = '\n';
		s->pend_len += len + 1;
		s->pend_count++;
		s->pend_last_seq = seq;
	} else {
		s->st.dropped++;
		s->st.dropped_by[SHIP_DROP_SHIP_ERROR]++;
	}
	pthread_mutex_unlock(&s->mu);
	return err;
}

void ship_get_stats(struct ship *s, struct ship_stats *st)
{
	pthread_mutex_lock(&s->mu);
	*st = s->st;
	pthread_mutex_unlock(&s->mu);
}

void ship_get_queue(struct ship *s, struct ship_queue *q)
{
	*q = (struct ship_queue){0};
	pthread_mutex_lock(&s->mu);
	for (struct sbatch *b = s->head; b; b = b->next) {
		q->batches++;
		q->events += b->count;
	}
	q->open_events = s->pend_count;
	pthread_mutex_unlock(&s->mu);
}

/* ---- connection ---- */

/* Next connection attempt: 100 ms after the first failure, doubling up to 2 s; reset to
 * quick by the collector's first acknowledgement (read_acks). */
static void back_off(struct ship *s)
{
	s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : 100;
	if (s->backoff_ms > 2000)
		s->backoff_ms = 2000;
	s->next_try_ms = ship_now_ms() + s->backoff_ms;
}

static void disconnect(struct ship *s)
{
	if (s->ssl) {
		SSL_free(s->ssl);
		s->ssl = NULL;
	}
	if (s->fd >= 0) {
		close(s->fd);
		s->fd = -1;
	}
	s->rlen = 0;
	pthread_mutex_lock(&s->mu);
	for (struct sbatch *b = s->head; b; b = b->next)
		b->sent = 0;
	s->inflight = 0;
	s->st.connected = 0;
	pthread_mutex_unlock(&s->mu);
}

static int wait_fd(int fd, short ev, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = ev};
	int r;
	do
		r = poll(&p, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	return r > 0 ? 0 : -ETIMEDOUT;
}

/* Drive an SSL call that wants I/O; returns 0 to retry, -1 on failure. */
static int ssl_wait(struct ship *s, int rc, int timeout_ms)
{
	switch (SSL_get_error(s->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
		return wait_fd(s->fd, POLLIN, timeout_ms) ? -1 : 0;
	case SSL_ERROR_WANT_WRITE:
		return wait_fd(s->fd, POLLOUT, timeout_ms) ? -1 : 0;
	default:
		return -1;
	}
}

/* Why the connection attempt failed, for the agent's log and heartbeat (stats.error). */
static void __attribute__((format(printf, 2, 3))) conn_error(struct ship *s, const char *fmt, ...)
{
	va_list ap;
	pthread_mutex_lock(&s->mu);
	va_start(ap, fmt);
	vsnprintf(s->st.error, sizeof(s->st.error), fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&s->mu);
}

static int do_connect(struct ship *s)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
	int gai = getaddrinfo(s->host, s->port, &hints, &ai);
	if (gai || !ai) {
		conn_error(s, "cannot resolve %s: %s", s->host,
			   gai ? gai_strerror(gai) : "no address");
		return -EHOSTUNREACH;
	}
	int last_errno = 0;
	int fd = -1;
	for (struct addrinfo *a = ai; a; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			last_errno = errno;
			continue;
		}
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
			break;
		last_errno = errno == EINPROGRESS ? ETIMEDOUT : errno;
		if (errno == EINPROGRESS && !wait_fd(fd, POLLOUT, 2000)) {
			int e = 0;
			socklen_t el = sizeof(e);
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el);
			if (!e)
				break;
			last_errno = e;
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	if (fd < 0) {
		conn_error(s, "cannot connect to %s:%s: %s", s->host, s->port,
			   strerror(last_errno ? last_errno : ECONNREFUSED));
		return -ECONNREFUSED;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	s->fd = fd;
	s->ssl = SSL_new(s->ctx);
	if (!s->ssl)
		goto fail;
	SSL_set_fd(s->ssl, fd);
	SSL_set_mode(s->ssl, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* The collector's certificate must name the address we dialled. */
	unsigned char tmp[16];
	if (inet_pton(AF_INET, s->host, tmp) == 1 || inet_pton(AF_INET6, s->host, tmp) == 1)
		X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s->ssl), s->host);
	else {
		SSL_set1_host(s->ssl, s->host);
		SSL_set_tlsext_host_name(s->ssl, s->host);
	}
	uint64_t until = ship_now_ms() + 5000;
	for (;;) {
		int rc = SSL_connect(s->ssl);
		if (rc == 1)
			break;
		if (ship_now_ms() > until || ssl_wait(s, rc, 1000)) {
			unsigned long e = ERR_peek_last_error();
			char why[120] = "timed out or closed";
			if (e)
				ERR_error_string_n(e, why, sizeof(why));
			conn_error(s, "TLS handshake with %s:%s failed: %s", s->host, s->port, why);
			goto fail;
		}
	}
	conn_error(s, "%s", "");
	return 0;
fail:
	ERR_clear_error();
	disconnect(s);
	return -ECONNREFUSED;
}

static int ssl_write_all(struct ship *s, const uint8_t *p, size_t n)
{
	uint64_t until = ship_now_ms() + 10000;
	while (n) {
		int rc = SSL_write(s->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
		if (rc > 0) {
			p += rc;
			n -= (size_t)rc;
			continue;
		}
		if (ship_now_ms() > until || ssl_wait(s, rc, 1000))
			return -EIO;
	}
	return 0;
}

/* Send unsent batches while the window allows. */
static int send_batches(struct ship *s)
{
	for (;;) {
		pthread_mutex_lock(&s->mu);
		struct sbatch *b = s->head;
		while (b && b->sent)
			b = b->next;
		if (!b || s->inflight >= SHIP_WINDOW) {
			pthread_mutex_unlock(&s->mu);
			return 0;
		}
		uint64_t id = b->id;
		size_t size = b->size;
		uint32_t count = b->count;
		uint8_t *frame = NULL;
		int own = 0;
		if (b->frame) {
			frame = malloc(size);
			if (frame)
				memcpy(frame, b->frame, size);
		}
		pthread_mutex_unlock(&s->mu);
		if (!frame) {
			struct sbatch tmp = {.id = id, .size = size};
			frame = read_spool(s, &tmp);
		}
		own = 1;
		if (!frame) {
			/* Spool file vanished (deleted as oldest): forget the batch. */
			pthread_mutex_lock(&s->mu);
			for (struct sbatch **pp = &s->head, *prev = NULL; *pp;
			     prev = *pp, pp = &(*pp)->next) {
				if ((*pp)->id == id) {
					struct sbatch *x = *pp;
					*pp = x->next;
					if (s->tail == x)
						s->tail = prev;
					s->st.spooled_bytes -= x->size;
					s->st.dropped += x->count;
					s->st.dropped_by[SHIP_DROP_SPOOL_UNREADABLE] += x->count;
					batch_free(s, x);
					break;
				}
			}
			pthread_mutex_unlock(&s->mu);
			continue;
		}
		int err = ssl_write_all(s, frame, size);
		if (own)
			free(frame);
		if (err)
			return err;
		pthread_mutex_lock(&s->mu);
		for (struct sbatch *x = s->head; x; x = x->next)
			if (x->id == id && !x->sent) {
				x->sent = 1;
				s->inflight++;
				s->st.sent += count;
				break;
			}
		pthread_mutex_unlock(&s->mu);
	}
}

static void on_ack(struct ship *s, const struct hw_ack *a)
{
	pthread_mutex_lock(&s->mu);
	struct sbatch *prev = NULL;
	for (struct sbatch *b = s->head; b; prev = b, b = b->next) {
		if (b->id != a->batch_id)
			continue;
		if (a->status != 0)
			break;
		char path[4096];
		spool_path(s, b->id, path, sizeof(path), "");
		unlink(path);
		if (prev)
			prev->next = b->next;
		else
			s->head = b->next;
		if (s->tail == b)
			s->tail = prev;
		if (b->sent)
			s->inflight--;
		s->st.acked += b->count;
		s->backoff_ms = 0; /* accepted: the next reconnect after a drop is quick */
		s->st.spooled_bytes -= b->size;
		batch_free(s, b);
		break;
	}
	pthread_mutex_unlock(&s->mu);
}

/* Read whatever acks are available. */
static int read_acks(struct ship *s)
{
	for (;;) {
		int rc = SSL_read(s->ssl, s->rbuf + s->rlen, (int)(sizeof(s->rbuf) - s->rlen));
		if (rc <= 0) {
			int e = SSL_get_error(s->ssl, rc);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
				return 0;
			return -EIO;
		}
		s->rlen += (size_t)rc;
		size_t off = 0;
		while (s->rlen - off >= HW_WIRE_HDR_LEN) {
			struct hw_frame_hdr h;
			if (hw_wire_parse_hdr(s->rbuf + off, &h))
				return -EPROTO;
			if (h.type == HW_FRAME_REQUEST) {
				/* id + arguments, the last one NUL-terminated, within the bound */
				if (h.len < 6 || h.len > 4 + HW_WIRE_MAX_REQUEST)
					return -EPROTO;
				if (s->rlen - off < HW_WIRE_HDR_LEN + h.len)
					break;
				const uint8_t *q = s->rbuf + off + HW_WIRE_HDR_LEN;
				if (q[h.len - 1] != 0)
					return -EPROTO;
				pthread_mutex_lock(&s->mu);
				s->st.requests++;
				if (s->nreq < (int)(sizeof(s->req) / sizeof(s->req[0]))) {
					s->req[s->nreq].id = (unsigned)q[0] << 24 | q[1] << 16 |
							     q[2] << 8 | q[3];
					s->req[s->nreq].len = h.len - 4;
					memcpy(s->req[s->nreq].args, q + 4, h.len - 4);
					s->nreq++;
				} else {
					s->st.requests_dropped++;
				}
				pthread_mutex_unlock(&s->mu);
				off += HW_WIRE_HDR_LEN + h.len;
				continue;
			}
			if (h.type != HW_FRAME_ACK || h.len != HW_WIRE_ACK_LEN)
				return -EPROTO;
			if (s->rlen - off < HW_WIRE_HDR_LEN + h.len)
				break;
			struct hw_ack a;
			if (hw_wire_parse_ack(s->rbuf + off + HW_WIRE_HDR_LEN, h.len, &a))
				return -EPROTO;
			on_ack(s, &a);
			off += HW_WIRE_HDR_LEN + h.len;
		}
		memmove(s->rbuf, s->rbuf + off, s->rlen - off);
		s->rlen -= off;
	}
}

size_t ship_take_request(struct ship *s, char *buf, size_t cap, unsigned *id)
{
	size_t n = 0;
	pthread_mutex_lock(&s->mu);
	if (s->nreq > 0 && s->req[0].len <= cap) {
		n = s->req[0].len;
		memcpy(buf, s->req[0].args, n);
		*id = s->req[0].id;
	}
	if (s->nreq > 0) {
		memmove(&s->req[0], &s->req[1], (s->nreq - 1) * sizeof(s->req[0]));
		s->nreq--;
	}
	pthread_mutex_unlock(&s->mu);
	return n;
}

static void *ship_thread(void *arg)
{
	struct ship *s = arg;
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL); /* SIGPIPE -> EPIPE; signals go to the agent */
	for (;;) {
		pthread_mutex_lock(&s->mu);
		uint64_t now = ship_now_ms();
		if (s->pend_count && (s->stopping || now - s->pend_since_ms >= SHIP_LINGER_MS))
			ship_seal(s);
		int stop = s->stopping && (!s->head || now >= s->deadline_ms);
		int have = s->head != NULL;
		pthread_mutex_unlock(&s->mu);
		if (stop)
			break;
		if (s->fd < 0 && have && now >= s->next_try_ms) {
			if (do_connect(s) == 0) {
				pthread_mutex_lock(&s->mu);
				s->st.connected = 1;
				if (s->ever_connected)
					s->st.reconnects++;
				pthread_mutex_unlock(&s->mu);
				s->ever_connected = 1;
				/* the backoff is reset by the first acknowledgement, not here: with TLS 1.3
				 * a collector that refuses this agent's certificate (revoked, unknown CA) does
				 * so after the client's side of the handshake has completed */
			} else {
				back_off(s);
			}
		}
		durability_tick(s);
		if (s->fd >= 0 && (send_batches(s) || read_acks(s))) {
			disconnect(s);
			back_off(s);
		}
		struct pollfd p[2] = {{.fd = s->wake_fd, .events = POLLIN},
				      {.fd = s->fd, .events = POLLIN}};
		int timeout = SHIP_LINGER_MS / 2;
		if (s->ssl && SSL_pending(s->ssl))
			timeout = 0;
		poll(p, s->fd >= 0 ? 2 : 1, timeout);
		if (p[0].revents & POLLIN) {
			uint64_t v;
			if (read(s->wake_fd, &v, sizeof(v)) < 0) {
				/* nothing to drain */
			}
		}
	}
	if (s->ssl)
		SSL_shutdown(s->ssl);
	disconnect(s);
	return NULL;
}

static void ship_free(struct ship *s)
{
	while (s->head) {
		struct sbatch *b = s->head;
		s->head = b->next;
		batch_free(s, b);
	}
	if (s->ctx)
		SSL_CTX_free(s->ctx);
	if (s->cctx)
		ZSTD_freeCCtx(s->cctx);
	if (s->wake_fd >= 0)
		close(s->wake_fd);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	if (s->jfd >= 0)
		close(s->jfd);
	if (s->state_fd >= 0)
		close(s->state_fd);
	free(s->pend);
	free(s->address);
	free(s->host);
	free(s->port);
	free(s->spool_dir);
	free(s->host_id);
	free(s->boot_id);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

int ship_open(struct ship **out, const struct ship_opts *o)
{
	if (!o->address || !o->ca_file || !o->cert_file || !o->key_file || !o->spool_dir ||
	    !o->host_id || !o->boot_id || !*o->host_id || !*o->boot_id ||
	    strlen(o->host_id) > HW_WIRE_MAX_ID || strlen(o->boot_id) > HW_WIRE_MAX_ID)
		return -EINVAL;
	struct ship *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->mu, NULL);
	s->fd = -1;
	s->lock_fd = -1;
	s->jfd = s->state_fd = -1;
	s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	s->address = strdup(o->address);
	s->spool_dir = strdup(o->spool_dir);
	s->host_id = strdup(o->host_id);
	s->boot_id = strdup(o->boot_id);
	s->run_id = o->run_id;
	s->spool_max = o->spool_max_bytes ? o->spool_max_bytes : 256ull << 20;
	s->next_id = 1;
	int err = -ENOMEM;
	if (s->wake_fd < 0 || !s->address || !s->spool_dir || !s->host_id || !s->boot_id)
		goto fail;
	/* "host:port" or "[v6]:port" */
	char *colon = strrchr(s->address, ':');
	err = -EINVAL;
	if (!colon || !colon[1])
		goto fail;
	if (s->address[0] == '[' && colon > s->address && colon[-1] == ']')
		s->host = strndup(s->address + 1, (size_t)(colon - s->address - 2));
	else
		s->host = strndup(s->address, (size_t)(colon - s->address));
	s->port = strdup(colon + 1);
	if (!s->host || !s->port)
		goto fail;
	/* mkdir -p: the spool may sit below directories that do not exist yet */
	for (char *q = s->spool_dir + 1;; q++) {
		if (*q && *q != '/')
			continue;
		char c = *q;
		*q = 0;
		int r = mkdir(s->spool_dir, 0700);
		*q = c;
		if (r && errno != EEXIST) {
			err = -errno;
			goto fail;
		}
		if (!c)
			break;
	}
	char lock[4096];
	snprintf(lock, sizeof(lock), "%s/.lock", s->spool_dir);
	s->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->lock_fd < 0 || flock(s->lock_fd, LOCK_EX | LOCK_NB)) {
		err = errno == EWOULDBLOCK ? -EBUSY : -errno; /* another agent owns this spool */
		goto fail;
	}
	err = load_spool(s);
	if (err)
		goto fail;
	err = -ENOMEM;
	s->cctx = ZSTD_createCCtx();
	s->ctx = SSL_CTX_new(TLS_client_method());
	if (!s->cctx || !s->ctx)
		goto fail;
	err = -EINVAL;
	SSL_CTX_set_min_proto_version(s->ctx, TLS1_2_VERSION);
	if (SSL_CTX_load_verify_locations(s->ctx, o->ca_file, NULL) != 1 ||
	    SSL_CTX_use_certificate_chain_file(s->ctx, o->cert_file) != 1 ||
	    SSL_CTX_use_PrivateKey_file(s->ctx, o->key_file, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(s->ctx) != 1) {
		ERR_clear_error();
		goto fail;
	}
	SSL_CTX_set_verify(s->ctx, SSL_VERIFY_PEER, NULL);
	err = crash_safety_open(s);
	if (err)
		goto fail;
	err = -pthread_create(&s->thr, NULL, ship_thread, s);
	if (err)
		goto fail;
	*out = s;
	return 0;
fail:
	ship_free(s);
	return err;
}

void ship_close(struct ship *s, int flush_timeout_ms)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->stopping = 1;
	s->deadline_ms = ship_now_ms() + (uint64_t)(flush_timeout_ms > 0 ? flush_timeout_ms : 0);
	pthread_mutex_unlock(&s->mu);
	uint64_t one = 1;
	if (write(s->wake_fd, &one, sizeof(one)) < 0) {
		/* thread wakes on its poll timeout */
	}
	pthread_join(s->thr, NULL);
	pthread_mutex_lock(&s->mu);
	ship_seal(s); /* anything queued after the thread stopped */
	uint64_t seq = s->durable_seq;
	pthread_mutex_unlock(&s->mu);
	state_write(s, seq, 1); /* a clean end: the next run announces nothing */
	ship_free(s);
}
