/* ctrmeta.c - the container identity cache and its worker thread (contract in agent/ctrmeta.h).
 *
 * The cache is a fixed set-associative table (CM_BUCKETS x CM_WAYS entries, by container id),
 * so its memory is bounded whatever the number of containers: a full bucket gives up its least
 * recently used entry that no lookup is working on (counted as evicted). An entry is
 * - pending: a lookup is queued or retried (the runtime may not have written its files yet:
 *   retries after 50 ms, doubling, CM_TRIES times, ~13 s in all; metadata that is there
 *   but unreadable CM_TRIES_BAD times);
 * - found: the identity, formatted once as the JSON keys events carry, and the herd label's
 *   value and the image digest for container.herd and container.version;
 * - unknown: no runtime knows the id (or its metadata could not be read, logged once): looked
 *   up again by the first event after CM_RECHECK_MS.
 * The worker also watches the runtimes' state directories with inotify (containerd's per
 * namespace): a container directory created starts a lookup before any event asks for it, one
 * removed evicts the entry. Directories that do not exist yet are looked for every 2 s.
 * ctrmeta_put() (the event path) holds the mutex for a lookup and a copy only, never while a
 * runtime is read. */
#include "agent/ctrmeta.h"
#include "agent/json.h"
#include "agent/log.h"
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#define CM_BUCKETS 256
#define CM_WAYS 4
#define CM_TRIES 9     /* not there (yet): 50 ms, doubling: ~13 s in all */
#define CM_TRIES_BAD 3 /* there but unreadable (a write under way?): ~350 ms */
#define CM_RECHECK_MS 30000
#define CM_RESCAN_MS 2000
#define CM_WATCHES 256

enum { E_EMPTY, E_PENDING, E_FOUND, E_UNKNOWN };
enum { W_CONTAINERD_ROOT, W_CONTAINERD_NS, W_DOCKER, W_CRIO };

struct cm_ent {
	char id[65];
	uint8_t state, tries;
	bool busy; /* the worker is looking it up */
	uint64_t next_ms, used_ms;
	char *frag; /* found: ",\"identity\":...": the keys after "version" */
	size_t fraglen;
	char herd[HW_CTR_VAL_MAX], ver[HW_CTR_VAL_MAX];
};

struct cm_watch {
	int wd, kind;
	char *path;
};

struct ctrmeta {
	struct hw_ctrmeta_config cfg; /* a copy; labels end with herd_label when it is not one */
	size_t nlabels;               /* labels shown (the configured ones) */
	int herd_idx;                 /* index of herd_label in cfg.labels, -1 without */
	pthread_t th;
	pthread_mutex_t mu;
	int wake_fd, ino_fd;
	atomic_uint_fast64_t gen;
	atomic_bool stop;
	struct ctrmeta_stats st;
	struct cm_ent ent[CM_BUCKETS][CM_WAYS];
	struct cm_watch w[CM_WATCHES];
	size_t nw;
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool is_id(const char *s)
{
	return strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

static struct cm_ent *bucket(struct ctrmeta *m, const char *id)
{
	uint64_t h = 0;
	for (int i = 0; i < 16; i++)
		h = h * 16 + (uint64_t)(id[i] <= '9' ? id[i] - '0' : id[i] - 'a' + 10);
	return m->ent[(h * 0x9e3779b97f4a7c15ull >> 32) % CM_BUCKETS];
}

static void ent_clear(struct cm_ent *e)
{
	free(e->frag);
	memset(e, 0, sizeof(*e));
}

/* The entry of id, or a new pending one (with the lock held); NULL when the bucket has only
 * entries being looked up. *fresh says it is new. */
static struct cm_ent *ent_get(struct ctrmeta *m, const char *id, uint64_t now, bool *fresh)
{
	struct cm_ent *b = bucket(m, id), *victim = NULL;
	*fresh = false;
	for (int i = 0; i < CM_WAYS; i++)
		if (b[i].state != E_EMPTY && !memcmp(b[i].id, id, 64))
			return &b[i];
	for (int i = 0; i < CM_WAYS; i++) {
		if (b[i].state == E_EMPTY) {
			victim = &b[i];
			break;
		}
		if (!b[i].busy && (!victim || b[i].used_ms < victim->used_ms))
			victim = &b[i];
	}
	if (!victim) {
		m->st.queue_full++;
		return NULL;
	}
	if (victim->state != E_EMPTY) {
		m->st.evicted++;
		m->st.entries--;
	}
	ent_clear(victim);
	memcpy(victim->id, id, 64);
	victim->state = E_PENDING;
	victim->next_ms = now;
	victim->used_ms = now;
	m->st.entries++;
	*fresh = true;
	return victim;
}

static void wake(struct ctrmeta *m)
{
	uint64_t one = 1;
	if (write(m->wake_fd, &one, sizeof(one)) < 0) {
		/* the counter is full: the worker has wake-ups pending anyway */
	}
}

void ctrmeta_put_none(struct jbuf *b, const char *identity)
{
	jb_kcstr(b, "identity", identity);
	jb_kcstr(b, "runtime", NULL);
	jb_kcstr(b, "name", NULL);
	jb_kcstr(b, "image", NULL);
	jb_kcstr(b, "image_digest", NULL);
	jb_key(b, "pod");
	jb_null(b);
	jb_key(b, "labels");
	jb_null(b);
}

bool ctrmeta_put(struct ctrmeta *m, const char *id, struct jbuf *b, char *herd, size_t herdlen,
		 char *ver, size_t verlen)
{
	bool fresh = false, final = true;
	herd[0] = ver[0] = 0;
	if (!m) {
		ctrmeta_put_none(b, "off");
		return true;
	}
	uint64_t now = now_ms();
	pthread_mutex_lock(&m->mu);
	struct cm_ent *e = ent_get(m, id, now, &fresh);
	if (e)
		e->used_ms = now;
	if (e && e->state == E_UNKNOWN && now >= e->next_ms && !e->busy) {
		e->state = E_PENDING; /* look again: the runtime may know it by now */
		e->tries = 0;
		e->next_ms = now;
		fresh = true;
	}
	if (e && e->state == E_FOUND) {
		jb_raw(b, e->frag, e->fraglen);
		b->comma = true;
		snprintf(herd, herdlen, "%s", e->herd);
		snprintf(ver, verlen, "%s", e->ver);
	} else {
		ctrmeta_put_none(b, e && e->state == E_UNKNOWN ? "unknown" : "pending");
		final = false;
	}
	pthread_mutex_unlock(&m->mu);
	if (fresh)
		wake(m);
	return final;
}

/* The keys an event carries for identity o (frag of the entry; starts with a comma). */
static char *format_ident(struct ctrmeta *m, const struct ctr_ident *o, size_t *len)
{
	struct jbuf b;
	jb_init(&b, 1024);
	b.comma = true;
	jb_kcstr(&b, "identity", "found");
	jb_kcstr(&b, "runtime", o->runtime);
	jb_kcstr(&b, "name", o->name[0] ? o->name : NULL);
	jb_kcstr(&b, "image", o->image[0] ? o->image : NULL);
	jb_kcstr(&b, "image_digest", o->digest[0] ? o->digest : NULL);
	jb_key(&b, "pod");
	if (o->pod) {
		jb_obj_begin(&b);
		jb_kcstr(&b, "name", o->pod_name[0] ? o->pod_name : NULL);
		jb_kcstr(&b, "namespace", o->pod_ns[0] ? o->pod_ns : NULL);
		jb_kcstr(&b, "uid", o->pod_uid[0] ? o->pod_uid : NULL);
		jb_obj_end(&b);
	} else {
		jb_null(&b);
	}
	jb_key(&b, "labels");
	jb_obj_begin(&b);
	for (size_t i = 0; i < m->nlabels; i++)
		if (o->label_set[i])
			jb_kcstr(&b, m->cfg.labels.v[i], o->label[i]);
	jb_obj_end(&b);
	if (b.oom) {
		jb_free(&b);
		return NULL;
	}
	*len = b.len;
	return b.p;
}

/* Store the outcome rc of looking up entry id (the worker; o: the identity when rc == 0) */
static void store_result(struct ctrmeta *m, const char *id, int rc, const struct ctr_ident *o)
{
	uint64_t now = now_ms();
	size_t len = 0;
	char *frag = rc ? NULL : format_ident(m, o, &len);
	bool changed = false, gave_up = false;
	pthread_mutex_lock(&m->mu);
	struct cm_ent *b = bucket(m, id), *e = NULL;
	for (int i = 0; i < CM_WAYS; i++)
		if (b[i].state != E_EMPTY && !memcmp(b[i].id, id, 64))
			e = &b[i];
	if (e) {
		e->busy = false;
		e->tries++;
		if (!rc && frag) {
			free(e->frag);
			e->frag = frag;
			e->fraglen = len;
			frag = NULL;
			e->state = E_FOUND;
			snprintf(e->herd, sizeof(e->herd), "%s",
				 m->herd_idx >= 0 && o->label_set[m->herd_idx]
					 ? o->label[m->herd_idx]
					 : "");
			snprintf(e->ver, sizeof(e->ver), "%s", o->digest);
			m->st.found++;
			changed = true;
		} else if (e->tries < (rc == -ENOENT || rc == -EAGAIN ? CM_TRIES : CM_TRIES_BAD)) {
			e->next_ms = now + (50ull << (e->tries - 1)); /* not there yet: retry */
		} else {
			e->state = E_UNKNOWN;
			e->next_ms = now + CM_RECHECK_MS;
			if (rc == -ENOENT)
				m->st.not_found++;
			else
				m->st.errors++;
			changed = true;
			gave_up = rc != -ENOENT && rc != -EAGAIN;
		}
	}
	pthread_mutex_unlock(&m->mu);
	free(frag);
	if (gave_up)
		agent_log("container %.12s: identity unreadable: %s\n", id, o->why);
	if (changed)
		atomic_fetch_add(&m->gen, 1);
}

/* One due lookup, if any: true when one was made */
static bool work_one(struct ctrmeta *m, uint64_t *next_due)
{
	char id[65] = "";
	uint64_t now = now_ms();
	pthread_mutex_lock(&m->mu);
	for (int i = 0; i < CM_BUCKETS && !id[0]; i++)
		for (int j = 0; j < CM_WAYS; j++) {
			struct cm_ent *e = &m->ent[i][j];
			if (e->state != E_PENDING || e->busy)
				continue;
			if (e->next_ms <= now) {
				e->busy = true;
				memcpy(id, e->id, 65);
				m->st.lookups++;
				break;
			}
			if (e->next_ms < *next_due)
				*next_due = e->next_ms;
		}
	pthread_mutex_unlock(&m->mu);
	if (!id[0])
		return false;
	struct ctr_ident *o = malloc(sizeof(*o));
	if (!o) {
		store_result(m, id, -ENOMEM, &(struct ctr_ident){.why = "out of memory"});
		return true;
	}
	int rc = ctr_resolve(&m->cfg, id, o);
	if (!rc && o->why[0])
		agent_log("container %.12s: partial identity: %s\n", id, o->why);
	store_result(m, id, rc, o);
	free(o);
	return true;
}

/* A container directory id appeared (look it up now) or went (forget it) */
static void on_dir(struct ctrmeta *m, const char *name, bool gone)
{
	if (!is_id(name))
		return;
	bool fresh = false, evicted = false;
	pthread_mutex_lock(&m->mu);
	if (gone) {
		struct cm_ent *b = bucket(m, name);
		for (int i = 0; i < CM_WAYS; i++)
			if (b[i].state != E_EMPTY && !b[i].busy && !memcmp(b[i].id, name, 64)) {
				ent_clear(&b[i]);
				m->st.entries--;
				m->st.evicted++;
				evicted = true;
			}
	} else {
		ent_get(m, name, now_ms(), &fresh);
	}
	pthread_mutex_unlock(&m->mu);
	if (evicted)
		atomic_fetch_add(&m->gen, 1);
}

static void add_watch(struct ctrmeta *m, const char *path, int kind)
{
	for (size_t i = 0; i < m->nw; i++)
		if (!strcmp(m->w[i].path, path))
			return;
	if (m->nw >= CM_WATCHES)
		return;
	int wd = inotify_add_watch(
		m->ino_fd, path, IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM | IN_ONLYDIR);
	if (wd < 0)
		return; /* not there (yet): the next rescan tries again */
	char *p = strdup(path);
	if (!p) {
		inotify_rm_watch(m->ino_fd, wd);
		return;
	}
	m->w[m->nw++] = (struct cm_watch){wd, kind, p};
}

/* Watch the runtimes' directories that exist now; containerd: each namespace too */
static void rescan(struct ctrmeta *m)
{
	const char *cd = ctr_containerd_state(&m->cfg);
	if (cd[0]) {
		add_watch(m, cd, W_CONTAINERD_ROOT);
		DIR *d = opendir(cd);
		struct dirent *e;
		while (d && (e = readdir(d))) {
			char p[4096];
			if (e->d_name[0] == '.')
				continue;
			snprintf(p, sizeof(p), "%s/%s", cd, e->d_name);
			add_watch(m, p, W_CONTAINERD_NS);
		}
		if (d)
			closedir(d);
	}
	if (ctr_docker_root(&m->cfg)[0])
		add_watch(m, ctr_docker_root(&m->cfg), W_DOCKER);
	if (ctr_crio_root(&m->cfg)[0])
		add_watch(m, ctr_crio_root(&m->cfg), W_CRIO);
}

static void read_inotify(struct ctrmeta *m)
{
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;
	while ((n = read(m->ino_fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;
			p += sizeof(*ev) + ev->len;
			size_t i;
			for (i = 0; i < m->nw && m->w[i].wd != ev->wd; i++)
				;
			if (i == m->nw)
				continue;
			if (ev->mask & IN_IGNORED) { /* the directory went: rescans look for it */
				free(m->w[i].path);
				m->w[i] = m->w[--m->nw];
				continue;
			}
			if (!ev->len || !(ev->mask & IN_ISDIR))
				continue;
			/* containerd renames a bundle to a hidden name before removing it */
			bool gone = ev->mask & (IN_DELETE | IN_MOVED_FROM);
			if (m->w[i].kind == W_CONTAINERD_ROOT) {
				if (!gone) {
					char path[4096];
					snprintf(path, sizeof(path), "%s/%s", m->w[i].path,
						 ev->name);
					add_watch(m, path, W_CONTAINERD_NS);
				}
			} else {
				on_dir(m, ev->name, gone);
			}
		}
	}
}

static void *worker(void *arg)
{
	struct ctrmeta *m = arg;
	uint64_t next_rescan = 0;
	while (!atomic_load(&m->stop)) {
		uint64_t now = now_ms(), due = now + CM_RESCAN_MS;
		if (now >= next_rescan) {
			rescan(m);
			next_rescan = now + CM_RESCAN_MS;
		}
		while (!atomic_load(&m->stop) && work_one(m, &due))
			due = now_ms() + CM_RESCAN_MS;
		if (due > next_rescan)
			due = next_rescan;
		now = now_ms();
		struct pollfd pf[2] = {{m->wake_fd, POLLIN, 0}, {m->ino_fd, POLLIN, 0}};
		if (poll(pf, 2, due > now ? (int)(due - now) : 0) > 0) {
			uint64_t v;
			if (pf[0].revents && read(m->wake_fd, &v, sizeof(v)) < 0)
				v = 0;
			if (pf[1].revents)
				read_inotify(m);
		}
	}
	return NULL;
}

/* m->cfg = a deep copy of c, with herd_label added to the labels looked up */
static int copy_config(struct ctrmeta *m, const struct hw_ctrmeta_config *c)
{
	struct hw_ctrmeta_config *d = &m->cfg;
	const char *const *src[] = {(const char *const *)&c->containerd_state,
				    (const char *const *)&c->containerd_address,
				    (const char *const *)&c->ctr,
				    (const char *const *)&c->docker_root,
				    (const char *const *)&c->crio_root,
				    (const char *const *)&c->herd_label};
	char **dst[] = {&d->containerd_state, &d->containerd_address, &d->ctr,
			&d->docker_root,      &d->crio_root,          &d->herd_label};
	for (size_t i = 0; i < sizeof(src) / sizeof(src[0]); i++)
		if (*src[i] && !(*dst[i] = strdup(*src[i])))
			return -ENOMEM;
	d->labels.v = calloc(HW_CTR_LABELS_MAX, sizeof(char *));
	if (!d->labels.v)
		return -ENOMEM;
	m->herd_idx = -1;
	for (size_t i = 0; i < c->labels.n && i < HW_CTR_LABELS_MAX - 1; i++) {
		if (!(d->labels.v[i] = strdup(c->labels.v[i])))
			return -ENOMEM;
		d->labels.n++;
		if (c->herd_label && !strcmp(c->herd_label, c->labels.v[i]))
			m->herd_idx = (int)i;
	}
	m->nlabels = d->labels.n;
	if (c->herd_label && m->herd_idx < 0) {
		if (!(d->labels.v[d->labels.n] = strdup(c->herd_label)))
			return -ENOMEM;
		m->herd_idx = (int)d->labels.n++;
	}
	return 0;
}

struct ctrmeta *ctrmeta_start(const struct hw_ctrmeta_config *c)
{
	if (c->off)
		return NULL;
	struct ctrmeta *m = calloc(1, sizeof(*m));
	if (!m)
		goto fail;
	m->wake_fd = m->ino_fd = -1;
	pthread_mutex_init(&m->mu, NULL);
	if (copy_config(m, c))
		goto fail;
	m->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	m->ino_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (m->wake_fd < 0 || m->ino_fd < 0)
		goto fail;
	if (pthread_create(&m->th, NULL, worker, m))
		goto fail;
	return m;
fail:
	agent_log("container identity off: cannot start its worker (%s)\n", strerror(errno));
	if (m) {
		if (m->wake_fd >= 0)
			close(m->wake_fd);
		if (m->ino_fd >= 0)
			close(m->ino_fd);
		ctrmeta_config_free(&m->cfg);
		pthread_mutex_destroy(&m->mu);
		free(m);
	}
	return NULL;
}

void ctrmeta_stop(struct ctrmeta *m)
{
	if (!m)
		return;
	atomic_store(&m->stop, true);
	wake(m);
	pthread_join(m->th, NULL);
	for (int i = 0; i < CM_BUCKETS; i++)
		for (int j = 0; j < CM_WAYS; j++)
			free(m->ent[i][j].frag);
	for (size_t i = 0; i < m->nw; i++)
		free(m->w[i].path);
	close(m->wake_fd);
	close(m->ino_fd);
	ctrmeta_config_free(&m->cfg);
	pthread_mutex_destroy(&m->mu);
	free(m);
}

uint64_t ctrmeta_gen(const struct ctrmeta *m)
{
	return m ? atomic_load(&((struct ctrmeta *)m)->gen) : 0;
}

void ctrmeta_stats(struct ctrmeta *m, struct ctrmeta_stats *s)
{
	memset(s, 0, sizeof(*s));
	if (!m)
		return;
	pthread_mutex_lock(&m->mu);
	*s = m->st;
	pthread_mutex_unlock(&m->mu);
}
