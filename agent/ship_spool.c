// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * ship_spool.c - the sender's durable side: each sealed batch is a file in the spool
 * directory (fsynced, then its directory) until the collector acknowledges it; the open
 * batch is journalled (open.hwj) as it fills; the state file records the run and its last
 * durable seq. At open, batches and a journal left by an earlier run are recovered, and a
 * run that did not end cleanly is reported (ship_previous_run). The spool is bounded: the
 * oldest batches go first, counted as spool_full.
 */
#include "agent/ship_int.h"

uint64_t ship_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void spool_path(const struct ship *s, uint64_t id, char *buf, size_t n, const char *sfx)
{
	snprintf(buf, n, "%s/%016llx.hwb%s", s->spool_dir, (unsigned long long)id, sfx);
}

void batch_free(struct ship *s, struct sbatch *b)
{
	if (b->frame)
		s->cached_bytes -= b->size;
	free(b->frame);
	free(b);
}

/* Delete spool files, oldest (and not in flight, if possible) first, until under the limit.
 * Caller holds s->mu. */
static void spool_enforce(struct ship *s)
{
	while (s->st.spooled_bytes > s->spool_max && s->head) {
		struct sbatch **pp = &s->head, *prev = NULL;
		while (*pp && (*pp)->sent) {
			prev = *pp;
			pp = &(*pp)->next;
		}
		if (!*pp) {
			pp = &s->head;
			prev = NULL;
		}
		struct sbatch *b = *pp;
		char path[4096];
		spool_path(s, b->id, path, sizeof(path), "");
		unlink(path);
		*pp = b->next;
		if (s->tail == b)
			s->tail = prev;
		if (b->sent)
			s->inflight--;
		s->st.spooled_bytes -= b->size;
		s->st.dropped += b->count;
		s->st.dropped_by[SHIP_DROP_SPOOL_FULL] += b->count;
		batch_free(s, b);
	}
}

const char *ship_drop_cause_name(int cause)
{
	static const char *const names[SHIP_DROP_NCAUSE] = {
		[SHIP_DROP_SPOOL_FULL] = "spool_full",
		[SHIP_DROP_SPOOL_UNREADABLE] = "spool_unreadable",
		[SHIP_DROP_SHIP_ERROR] = "ship_error",
	};
	return cause >= 0 && cause < SHIP_DROP_NCAUSE ? names[cause] : "unknown";
}

static int write_file(const char *path, const uint8_t *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			int e = -errno;
			close(fd);
			return e;
		}
		p += w;
		n -= (size_t)w;
	}
	/* on disk before the rename publishes it: a power loss leaves the whole file or none */
	if (fsync(fd)) {
		int e = -errno;
		close(fd);
		return e;
	}
	return close(fd) ? -errno : 0;
}

/* Make a rename in dir durable. */
static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int err = fsync(fd) ? -errno : 0;
	close(fd);
	return err;
}

/* Seal count JSON lines (raw) of run into a spool file; *spooled: it is on disk (else kept in
 * memory only). Caller holds s->mu (or is ship_open). */
static int seal_raw(struct ship *s, uint64_t first_seq, uint32_t count, uint64_t run,
		    const char *boot_id, const char *raw, size_t len, int *spooled)
{
	uint8_t *frame;
	size_t flen;
	int err = hw_wire_batch_encode(s->cctx, SHIP_ZSTD_LEVEL, s->next_id, first_seq, count, run,
				       s->host_id, boot_id, raw, len, &frame, &flen);
	if (err)
		return err;
	struct sbatch *b = calloc(1, sizeof(*b));
	if (!b) {
		free(frame);
		return -ENOMEM;
	}
	char tmp[4096], path[4096];
	spool_path(s, s->next_id, tmp, sizeof(tmp), ".tmp");
	spool_path(s, s->next_id, path, sizeof(path), "");
	err = write_file(tmp, frame, flen);
	if (!err && rename(tmp, path))
		err = -errno;
	if (!err)
		err = fsync_dir(s->spool_dir);
	if (err) {
		/* Spool unusable (disk full, removed): keep the batch in memory only. */
		unlink(tmp);
	}
	*spooled = !err;
	b->id = s->next_id++;
	b->count = count;
	b->size = flen;
	if (err || s->cached_bytes + flen <= SHIP_CACHE_MAX) {
		b->frame = frame;
		s->cached_bytes += flen;
	} else {
		free(frame);
	}
	if (s->tail)
		s->tail->next = b;
	else
		s->head = b;
	s->tail = b;
	s->st.spooled_bytes += flen;
	spool_enforce(s);
	uint64_t one = 1;
	if (write(s->wake_fd, &one, sizeof(one)) < 0) {
		/* eventfd counter saturated: the thread is awake anyway */
	}
	return 0;
}

/* Seal the open batch into a spool file; the journal is emptied. Caller holds s->mu. */
int ship_seal(struct ship *s)
{
	int spooled = 0;
	if (!s->pend_count)
		return 0;
	int err = seal_raw(s, s->pend_first_seq, s->pend_count, s->run_id, s->boot_id, s->pend,
			   s->pend_len, &spooled);
	if (err)
		return err;
	if (spooled && s->pend_last_seq > s->durable_seq)
		s->durable_seq = s->pend_last_seq;
	if (s->jfd >= 0 && s->jlen && ftruncate(s->jfd, 0)) {
		/* the next journal write starts over (its header says which batch) */
	}
	s->jlen = 0;
	s->j_dirty_ms = 0;
	s->pend_len = 0;
	s->pend_count = 0;
	return 0;
}

/* Append the open batch's new lines to the journal. Caller holds s->mu. */
static void journal_append(struct ship *s)
{
	char head[64 + HW_WIRE_MAX_ID];
	int hn = 0;
	if (!s->jlen)
		hn = snprintf(head, sizeof(head), "hwj1 %016llx %llu %s\n",
			      (unsigned long long)s->run_id, (unsigned long long)s->pend_first_seq,
			      s->boot_id);
	struct iovec iov[2] = {{head, (size_t)hn}, {s->pend + s->jlen, s->pend_len - s->jlen}};
	ssize_t want = hn + (ssize_t)(s->pend_len - s->jlen);
	if (writev(s->jfd, iov, 2) != want) {
		/* disk full or failing: start over at the next call */
		if (ftruncate(s->jfd, 0)) {
		}
		s->jlen = 0;
		return;
	}
	s->jlen = s->pend_len;
	s->j_seq = s->pend_last_seq;
	if (!s->j_dirty_ms)
		s->j_dirty_ms = ship_now_ms();
}

void ship_sync(struct ship *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	if (s->jfd >= 0 && s->pend_count && s->pend_len > s->jlen)
		journal_append(s);
	pthread_mutex_unlock(&s->mu);
}

/* Rewrite the state file in place (small, one line) and make it durable. */
void state_write(struct ship *s, uint64_t seq, int clean)
{
	char line[128];
	int n = snprintf(line, sizeof(line), "hwstate1 run=%016llx durable_seq=%llu clean=%d\n",
			 (unsigned long long)s->run_id, (unsigned long long)seq, clean);
	if (s->state_fd < 0 || pwrite(s->state_fd, line, n, 0) != n || ftruncate(s->state_fd, n))
		return;
	fdatasync(s->state_fd);
}

/* Sender thread, each pass: fsync the journal SHIP_SYNC_MS after its first unsynced write;
 * record a new durable seq in the state file at most every SHIP_SYNC_MS. The fsyncs run
 * without the lock: ship_event() never waits for the disk. */
void durability_tick(struct ship *s)
{
	uint64_t now = ship_now_ms(), seq = 0;
	int fd = -1;
	pthread_mutex_lock(&s->mu);
	if (s->j_dirty_ms && now - s->j_dirty_ms >= SHIP_SYNC_MS) {
		fd = s->jfd;
		seq = s->j_seq;
		s->j_dirty_ms = 0;
	}
	pthread_mutex_unlock(&s->mu);
	if (fd >= 0 && fdatasync(fd) == 0) {
		pthread_mutex_lock(&s->mu);
		if (seq > s->durable_seq)
			s->durable_seq = seq;
		pthread_mutex_unlock(&s->mu);
	}
	pthread_mutex_lock(&s->mu);
	seq = s->durable_seq;
	int due = seq != s->state_seq && now - s->state_ms >= SHIP_SYNC_MS;
	if (due) {
		s->state_seq = seq;
		s->state_ms = now;
	}
	pthread_mutex_unlock(&s->mu);
	if (due)
		state_write(s, seq, 0);
}

uint8_t *read_spool(struct ship *s, const struct sbatch *b)
{
	char path[4096];
	spool_path(s, b->id, path, sizeof(path), "");
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	uint8_t *buf = malloc(b->size);
	size_t got = 0;
	while (buf && got < b->size) {
		ssize_t r = read(fd, buf + got, b->size - got);
		if (r <= 0) {
			free(buf);
			buf = NULL;
			break;
		}
		got += (size_t)r;
	}
	close(fd);
	return buf;
}

/* ---- open / close ---- */

int load_spool(struct ship *s)
{
	DIR *d = opendir(s->spool_dir);
	if (!d)
		return -errno;
	struct dirent *de;
	uint64_t *ids = NULL;
	size_t n = 0, cap = 0;
	while ((de = readdir(d))) {
		char *end;
		unsigned long long id = strtoull(de->d_name, &end, 16);
		if (end == de->d_name)
			continue;
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", s->spool_dir, de->d_name);
		if (strcmp(end, ".hwb.tmp") == 0) { /* interrupted write */
			unlink(path);
			continue;
		}
		if (strcmp(end, ".hwb") != 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			uint64_t *p = realloc(ids, cap * sizeof(*ids));
			if (!p)
				break;
			ids = p;
		}
		ids[n++] = id;
	}
	closedir(d);
	/* oldest first */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && ids[j - 1] > ids[j]; j--) {
			uint64_t t = ids[j];
			ids[j] = ids[j - 1];
			ids[j - 1] = t;
		}
	for (size_t i = 0; i < n; i++) {
		char path[4096];
		spool_path(s, ids[i], path, sizeof(path), "");
		/* the header and the BATCH fields every version has at the same place (count at
		 * 16); the frame, with its run id, is sent as it is: a batch of an earlier run of
		 * the agent keeps that run's id (and a version 1 file from before run ids stays
		 * version 1, which the collector reads as run 0) */
		uint8_t head[HW_WIRE_HDR_LEN + 20];
		struct stat st;
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		int ok = fd >= 0 && fstat(fd, &st) == 0 &&
			 read(fd, head, sizeof(head)) == (ssize_t)sizeof(head);
		if (fd >= 0)
			close(fd);
		struct hw_frame_hdr h;
		if (!ok || hw_wire_parse_hdr(head, &h) || h.type != HW_FRAME_BATCH ||
		    (off_t)h.len + HW_WIRE_HDR_LEN != st.st_size) {
			unlink(path); /* damaged: not a frame we wrote */
			continue;
		}
		const uint8_t *c = head + HW_WIRE_HDR_LEN + 16;
		struct sbatch *b = calloc(1, sizeof(*b));
		if (!b)
			break;
		b->id = ids[i];
		b->count = (uint32_t)c[0] << 24 | (uint32_t)c[1] << 16 | (uint32_t)c[2] << 8 | c[3];
		b->size = (size_t)st.st_size;
		if (s->tail)
			s->tail->next = b;
		else
			s->head = b;
		s->tail = b;
		s->st.spooled_bytes += b->size;
		if (b->id >= s->next_id)
			s->next_id = b->id + 1;
	}
	free(ids);
	return 0;
}

/* The state file a run before this one left: did it end cleanly, its last durable seq. */
static void previous_run(struct ship *s)
{
	char path[4096], line[128] = "";
	unsigned long long run, seq;
	int clean;
	snprintf(path, sizeof(path), "%s/state", s->spool_dir);
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	if (fgets(line, sizeof(line), f) &&
	    sscanf(line, "hwstate1 run=%llx durable_seq=%llu clean=%d", &run, &seq, &clean) == 3) {
		s->prev.crashed = !clean;
		s->prev.run_id = run;
		s->prev.last_seq = seq;
	}
	fclose(f);
}

/* The complete lines of a journal a crashed run left (header, then JSON lines) become a sealed
 * batch of that run; its last seq is then durable too. */
static void recover_lines(struct ship *s, char *buf, size_t len)
{
	unsigned long long run, first;
	char boot[HW_WIRE_MAX_ID + 1];
	char *nl = memchr(buf, '\n', len), *end = buf + len, *last = NULL;
	uint32_t count = 0;
	int spooled = 0;
	if (!nl || sscanf(buf, "hwj1 %llx %llu %128s", &run, &first, boot) != 3)
		return;
	while (end > nl + 1 && end[-1] != '\n') /* a line cut by the crash */
		end--;
	for (char *q = nl + 1; q < end; q = (char *)memchr(q, '\n', end - q) + 1) {
		count++;
		last = q;
	}
	if (!count || seal_raw(s, first, count, run, boot, nl + 1, end - nl - 1, &spooled) ||
	    !spooled)
		return;
	unsigned long long lseq = first + count - 1;
	if (!strncmp(last, "{\"seq\":", 7))
		lseq = strtoull(last + 7, NULL, 10);
	if (run == s->prev.run_id && lseq > s->prev.last_seq)
		s->prev.last_seq = lseq;
}

static void journal_recover(struct ship *s, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t cap = SHIP_MAX_RAW + 256, len = 0;
	char *buf = fd >= 0 ? malloc(cap) : NULL;
	ssize_t r = 0;
	while (buf && len < cap && (r = read(fd, buf + len, cap - len)) > 0)
		len += (size_t)r;
	if (buf && len)
		recover_lines(s, buf, len);
	free(buf);
	if (fd >= 0)
		close(fd);
}

/* What the run before left (state, journal), then this run's journal and state. */
int crash_safety_open(struct ship *s)
{
	char path[4096];
	previous_run(s);
	snprintf(path, sizeof(path), "%s/open.hwj", s->spool_dir);
	journal_recover(s, path);
	s->jfd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
	snprintf(path, sizeof(path), "%s/state", s->spool_dir);
	s->state_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->jfd < 0 || s->state_fd < 0)
		return -errno;
	state_write(s, 0, 0);
	return fsync_dir(s->spool_dir);
}

void ship_previous_run(struct ship *s, struct ship_prev_run *out)
{
	*out = s->prev;
}
