/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * ship_int.h - inside the agent's sender: the state shared by ship.c (queue, sender thread,
 * connection, open and close) and ship_spool.c (spool files, journal, state file, recovery).
 * The contract is ship.h.
 */
#ifndef HW_SHIP_INT_H
#define HW_SHIP_INT_H
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <zstd.h>

#include "agent/ship.h"
#include "common/wire.h"

#define SHIP_MAX_EVENTS 4096
#define SHIP_MAX_RAW (1u << 20)
#define SHIP_LINGER_MS 50
#define SHIP_WINDOW 16
#define SHIP_CACHE_MAX (32ull << 20) /* frames kept in memory besides the spool file */
#define SHIP_ZSTD_LEVEL 1
#define SHIP_SYNC_MS 1000 /* journal fsync and state file: at most this long after a change */

struct sbatch {
	struct sbatch *next;
	uint64_t id;
	uint32_t count;
	size_t size;    /* frame bytes (= spool file size) */
	uint8_t *frame; /* cached frame, or NULL: read from the spool file */
	int sent;       /* written on the current connection, waiting for its ack */
};

struct ship {
	pthread_mutex_t mu;
	pthread_t thr;
	int wake_fd;
	int lock_fd; /* flock on <spool>/.lock: one ship per spool directory */
	char *address, *host, *port, *spool_dir, *host_id, *boot_id;
	uint64_t run_id;
	unsigned long long spool_max;
	SSL_CTX *ctx;
	ZSTD_CCtx *cctx;

	/* open batch */
	char *pend;
	size_t pend_len, pend_cap;
	uint32_t pend_count;
	uint64_t pend_first_seq;
	uint64_t pend_since_ms;

	/* unacknowledged batches, oldest first */
	struct sbatch *head, *tail;
	uint64_t next_id;
	unsigned long long cached_bytes;
	int inflight;

	struct ship_stats st;
	int stopping;
	uint64_t deadline_ms;

	/* connection (sender thread only) */
	int fd;
	SSL *ssl;
	uint8_t rbuf[4096];
	/* control requests from the collector, waiting for the agent's main loop */
	struct {
		unsigned id;
		size_t len;
		char args[HW_WIRE_MAX_REQUEST];
	} req[8];
	int nreq;
	size_t rlen;
	uint64_t next_try_ms, backoff_ms;
	int ever_connected;

	/* crash safety: the open batch's journal, the state file (see ship.h) */
	int jfd, state_fd;
	size_t jlen;                  /* bytes of pend already in the journal */
	uint64_t pend_last_seq;       /* seq of the last event queued */
	uint64_t j_seq;               /* last seq written to the journal */
	uint64_t j_dirty_ms;          /* first journal write not fsynced yet (0: none) */
	uint64_t durable_seq;         /* last seq fsynced, in the journal or a sealed batch */
	uint64_t state_seq, state_ms; /* durable_seq as last written to the state file, when */
	struct ship_prev_run prev;
};

/* ship_spool.c */
uint64_t ship_now_ms(void);
void spool_path(const struct ship *s, uint64_t id, char *buf, size_t n, const char *sfx);
void batch_free(struct ship *s, struct sbatch *b);
int ship_seal(struct ship *s);
void state_write(struct ship *s, uint64_t seq, int clean);
void durability_tick(struct ship *s);
uint8_t *read_spool(struct ship *s, const struct sbatch *b);
int load_spool(struct ship *s);
int crash_safety_open(struct ship *s);

#endif
