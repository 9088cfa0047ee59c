/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * relay.h - one remote output with its own thread and bounded queue: syslog (RFC 5424 to the
 * local socket, UDP, or TCP with RFC 6587 octet counting) or a webhook (HTTP or HTTPS POST of
 * JSON arrays). Shared by the agent (agent/sink_relay.c: events) and the collector
 * (collector/response.c: alerts).
 *
 * The contract:
 * - relay_put() copies one message into the queue and returns at once (a mutex held for a
 *   list append, never across I/O). RELAY_FULL when the queue's byte bound is reached (the
 *   endpoint is down or slower than the events); RELAY_TOO_LARGE when the one message is
 *   longer than a syslog message may be. The caller counts both as losses.
 * - The thread delivers in order, at least once: a message leaves the queue only when it was
 *   written (syslog) or its batch was answered 2xx (webhook). A failure closes the connection
 *   and retries after a back-off of 0.25 s doubling to 5 s; the queue holds meanwhile. A
 *   webhook answer 4xx other than 408 and 429 is final: that batch is dropped, counted in
 *   `rejected`. Syslog over UDP knows nothing of delivery: a datagram sent counts as sent.
 * - relay_stats() may be called at any time; `up` is false from a failure to the next success.
 * - relay_close(): the thread stops within ~100 ms plus wait_ms spent delivering what waits;
 *   when `into` is given, what is still queued moves to that relay (a reload that changed the
 *   endpoint loses nothing); else it is counted in the return value and freed.
 * Name resolution (getaddrinfo) runs in the thread, as does everything else that can wait.
 */
#ifndef HW_RELAY_H
#define HW_RELAY_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum relay_kind { RELAY_SYSLOG, RELAY_WEBHOOK };

struct relay;

#define RELAY_MAX_HEADERS 8

struct relay_opts {
	enum relay_kind kind;
	const char *target;  /* syslog: unix:PATH, udp:HOST:PORT, tcp:HOST:PORT; webhook: URL */
	size_t buffer_bytes; /* queue bound (messages and their bookkeeping) */
	unsigned timeout_ms; /* connect, write and (webhook) answer */
	/* syslog */
	const char *app_name; /* APP-NAME */
	const char *hostname; /* HOSTNAME ("-" when empty) */
	unsigned facility;    /* 0..23 */
	unsigned max_message; /* bytes of one syslog message, header included */
	/* webhook */
	const char *ca_file;                    /* https: CA bundle; NULL = the system's */
	const char *headers[RELAY_MAX_HEADERS]; /* "Name: value" */
	unsigned nheaders;
	unsigned batch_max; /* events per POST */
	unsigned linger_ms; /* wait this long for a batch to fill */
};

struct relay_stats {
	uint64_t sent;     /* messages delivered (syslog: written; webhook: answered 2xx) */
	uint64_t posts;    /* webhook requests answered 2xx */
	uint64_t failures; /* failed connects, writes and answers (each followed by a retry) */
	uint64_t rejected; /* webhook: messages of batches answered with a final 4xx */
	uint64_t queued, queued_bytes;
	bool up;         /* the last attempt succeeded (or none was needed yet) */
	char error[160]; /* the last failure, "" when none */
};

enum relay_put_result { RELAY_OK, RELAY_FULL, RELAY_TOO_LARGE };

/* Check a syslog target or webhook URL (and the options); a reason in err when wrong. */
int relay_check(const struct relay_opts *o, char *err, size_t errlen);
/* Start the thread (the options are copied). -1 and a reason in err on failure. */
int relay_open(struct relay **out, const struct relay_opts *o, char *err, size_t errlen);
/* One message (no newline needed). severity 0..7 (syslog); tag: MSGID (syslog: the event kind
 * or alert kind). Never blocks on I/O. */
enum relay_put_result relay_put(struct relay *r, unsigned severity, const char *tag,
				const char *msg, size_t n);
void relay_stats(struct relay *r, struct relay_stats *st);
/* Stop; see above. Returns the messages neither delivered nor moved. */
uint64_t relay_close(struct relay *r, unsigned wait_ms, struct relay *into);
/* Equal options (a reload that changes nothing keeps the relay and its connection). */
bool relay_opts_equal(const struct relay_opts *a, const struct relay_opts *b);
/* Syslog facility by name (kern, user, daemon, auth, local0..local7, ...), -1 if unknown. */
int relay_facility(const char *name);

#endif
