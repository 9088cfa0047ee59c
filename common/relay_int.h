/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* relay_int.h - what common/relay.c (queue, thread, syslog) and common/relay_http.c (the
 * webhook's HTTP and TLS) share. Not for other files: they use common/relay.h. */
#ifndef HW_RELAY_INT_H
#define HW_RELAY_INT_H
#include "common/relay.h"
#include <pthread.h>
#include <openssl/ssl.h>

/* One queued message: what relay_put() was given, and when. */
struct rmsg {
	struct rmsg *next;
	uint64_t real_ns; /* CLOCK_REALTIME at put (the syslog TIMESTAMP) */
	size_t n;
	uint8_t sev;
	char tag[33];
	char msg[]; /* n bytes */
};
#define RMSG_COST(n) (sizeof(struct rmsg) + (n) + 16) /* what one counts against the bound */

/* A parsed URL (webhook) or address (syslog). */
struct rtarget {
	int proto; /* 'u' unix, 'd' udp, 't' tcp, 'h' http, 's' https */
	char host[256], port[8], path[1024];
};

struct relay {
	struct relay_opts o;
	char *strings; /* the copied option strings */
	struct rtarget t;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct rmsg *head, *tail;
	uint64_t queued, queued_bytes;
	bool stop;
	uint64_t deadline_ms; /* after stop: deliver until then */
	struct relay_stats st;
	/* the thread's own */
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	char *buf;
	size_t cap, len;
	char pid[16];
};

uint64_t relay_mono_ms(void);
/* The thread's deadline for one operation: the stop deadline, or now + timeout_ms. */
uint64_t relay_op_deadline(struct relay *r);
bool relay_stopping(struct relay *r);
int relay_parse_target(struct rtarget *t, enum relay_kind kind, const char *s, char *err,
		       size_t errlen);
/* Connect r->fd (non-blocking) to host:port of r->t (TCP, or UDP when udp). 0 or -1 and why. */
int relay_connect(struct relay *r, bool udp, char *err, size_t errlen);
/* Wait for fd to be readable (POLLIN) or writable (POLLOUT), in slices that notice a stop.
 * 0 when ready, -1 on timeout or stop. */
int relay_wait(struct relay *r, short ev, uint64_t deadline);
void relay_disconnect(struct relay *r);
/* relay_http.c: open the connection (TLS for https) and POST the n messages as one JSON
 * array. 0 (2xx), 1 (a final 4xx: drop the batch), -1 (retry); why in err. */
int relay_http_post(struct relay *r, struct rmsg **m, size_t n, char *err, size_t errlen);
void relay_http_free(struct relay *r);
/* r->buf grows to hold need more bytes; false when out of memory */
bool relay_reserve(struct relay *r, size_t need);

#endif
