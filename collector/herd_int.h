/*
 * herd_int.h - the herd engine's state, shared by its files (not by the rest of the collector,
 * which sees collector/herd.h only):
 *   herd.c           the tables (members, herds, per-(herd, token) statistics, a member's
 *                    tokens), observing, the tick, dumps
 *   herd_strtab.c    the interned, reference-counted strings every id names
 *   herd_judge.c     judging a member's candidate tokens against its herd and cohort
 *   herd_explain.c   the alerts' wording and JSON (member.outlier, herd.change, member.folded)
 *   herd_snapshot.c  the engine's state saved and restored across a restart
 * The model and the state are described at the top of herd.c.
 */
#ifndef HW_HERD_INT_H
#define HW_HERD_INT_H
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "collector/herd.h"
#include "collector/tokens.h"
#include "collector/json.h"

/* Explanations are bounded text: truncating an over-long path in them is intended. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif

#define MEMBER_TOKENS 1024        /* entries kept per member (at most) */
#define MEMBER_BUDGET (48 * 1024) /* bytes charged per member for its tokens (see charge) */
#define TOKEN_OVERHEAD 96         /* per token: its share of string ids, hstat and hash slots */
#define MEMBER_CANDS 64           /* candidates held per member; more are counted, not judged */
#define SENT_MAX 4                /* recent alerts remembered per member (for folding) */
#define GONE_WEIGHT (1.0 / 256)   /* a token whose decayed weight fell below this is forgotten */
#define SWEEP_NS (60 * NS)
#define MEMBER_SLOTS 2048 /* most hash slots per member (power of two) */
#define MEMBER_SLOTS0 32  /* first table; doubles while more than half full */
#define CAND_EVENTS 4     /* events named per token in an alert */
#define NS 1000000000ull
#define TOKEN_SNAP_MAX 4096
#define REL_MAX 4 /* programs per member whose release path is followed */

struct mtok {
	uint32_t tok;   /* token id + 1; 0 = empty slot */
	uint32_t flags; /* MT_* */
	uint64_t first_ns, last_ns;
};

/* An inventory token (what the member carries: tokens_is_inventory) that it first showed while
 * its herd was learning: judged once, when the member shows it again after the learning (the
 * agent repeats its inventory every few hours), so that what a member carried before herdwatch
 * came is judged too. Not kept in snapshots: after a restore it is not judged. */
#define MT_LEARNED_STATE 1u

struct cand {
	struct cand *next;
	uint32_t tok;
	uint32_t nev;
	uint64_t held_ns; /* when first held as a possible rolling change (0 = not held) */
	uint64_t due_ns;  /* judged no earlier: its own hold, whatever else the member has due */
	uint64_t ev_ns, arr_ns; /* its first event's own time (0: none) and arrival */
	uint8_t late, skew; /* arrived a hold after it was due; its time beyond the skew bounds */
	uint64_t seqs[CAND_EVENTS], ids[CAND_EVENTS];
};

struct member {
	uint32_t name, herd, host; /* string ids; herd = UINT32_MAX when none */
	uint32_t version, cohort;  /* string ids; UINT32_MAX when the member has no version */
	uint64_t ver_ns;           /* when it took its version (entered its cohort) */
	int inferred;              /* its version is a release it took (herd_release_at), none
				      configured */
	uint32_t rel_prefix;       /* string id: the path under which that release's programs
				      are (UINT32_MAX: none) */
	struct {
		uint64_t exe, cur, prev;
	} rel[REL_MAX]; /* per program (hash of its canonical
				      exe): the hashes of its current and previous release */
	int is_host, silent;
	uint64_t first_ns, last_ns;
	double score;
	uint64_t score_ns;
	unsigned alerts;
	struct mtok *tab; /* tcap slots, allocated on the first token */
	uint32_t ntok, tcap;
	struct cand *cands;
	uint32_t ncand;
	uint64_t due_ns;    /* 0 = nothing pending */
	uint8_t grouped;    /* this judge waited for candidates due just after (judge()) */
	uint32_t key;       /* string id of "herd\x1fmember" */
	uint32_t charge;    /* bytes charged for its tokens (bounded by MEMBER_BUDGET) */
	uint64_t overflow;  /* tokens forgotten while still weighing (its token budget was full) */
	uint64_t cand_drop; /* new tokens not judged: too many candidates at once */
	struct {
		uint32_t tok;
		uint32_t paged;
		uint64_t ns;
	} sent[SENT_MAX]; /* recent alerted
								   tokens (tok + 1); paged: severity alert */
};

struct herd {
	uint32_t name;
	uint64_t first_ns;
	uint32_t *members;
	uint32_t nm, mcap;
	unsigned changes;
};

struct hstat {
	uint64_t key; /* (herd << 32 | tok) + 1; 0 = empty */
	uint64_t first_ns, last_ns, change_ns;
	uint32_t holders; /* members of the herd with the token in their table */
	uint32_t pad;
};

struct herd_engine {
	struct herd_cfg c;
	herd_alert_fn fn;
	void *ctx;
	/* strings */
	char **str;
	uint32_t nstr, strcap;
	uint32_t *sht; /* id + 1 */
	uint32_t shtcap;
	uint32_t *member_of; /* per string id (member key) -> member index + 1 */
	uint32_t *herd_of;   /* per string id (herd name) -> herd index + 1 */
	uint32_t *fleet;     /* per string id (token) -> members having it */
	uint32_t *sref;      /* per string id: references (0 = free or unused) */
	uint32_t idcap;
	uint32_t *freeid; /* ids of freed strings, reused first */
	uint32_t nfree, freecap;
	uint64_t overflow;  /* sum of the members' overflow */
	uint64_t cand_drop; /* sum of the members' cand_drop */
	uint64_t sweep_ns;
	uint64_t evict_ns; /* "now" of an overflow eviction (for keep_newer) */
	uint64_t tick_ns;  /* the collector's clock at herd_tick(): when alerts are raised */
	struct member *m;
	uint32_t nm, mcap;
	struct herd *h;
	uint32_t nh, hcap;
	struct hstat *hs;
	uint64_t nhs, hscap;
	uint32_t *pending; /* member indexes with candidates */
	uint32_t npend, pendcap;
	size_t bytes; /* allocated state */
};

/* Tokens that became a herd change (herd-wide) or a cohort change while judging one member:
 * one report each. */
struct change {
	struct jbuf toks, text;
	int n;
};

/* Late and clock-skewed candidates of one alert: the earliest event time, the last arrival. */
struct when {
	uint64_t ev, arr;
	int late, skew;
};

/* herd.c: the tables */
struct herd *get_herd(struct herd_engine *e, uint32_t name, uint64_t now);
struct member *get_member(struct herd_engine *e, const char *herd, const char *member,
			  const char *host, int is_host, uint64_t now);
void set_version(struct herd_engine *e, struct member *m, const char *v, uint64_t now);
double decay(double v, uint64_t from, uint64_t to, unsigned half_life_s);
struct hstat *hstat_get(struct herd_engine *e, uint32_t herd, uint32_t tok, uint64_t now);
struct hstat *hstat_find(struct herd_engine *e, uint32_t herd, uint32_t tok);
void hstat_del(struct herd_engine *e, struct hstat *s);
void cand_free(struct herd_engine *e, struct member *m, struct cand *c);
uint64_t hold_ns(const struct herd_engine *e);
void pend(struct herd_engine *e, struct member *m, uint64_t due);
void rel_prefix(const char *exe, char *out, size_t cap);

/* herd_mtok.c: a member's token table */
struct mtok *mtok_find(const struct member *m, uint32_t tok);
double weight(const struct herd_engine *e, const struct mtok *t, uint64_t now);
int cmp_u64(const void *a, const void *b);
int mtok_add(struct herd_engine *e, struct member *m, const struct mtok *t, uint64_t now);
void mtok_forget(struct herd_engine *e, struct member *m, uint32_t tok);
int mtok_rebuild(struct herd_engine *e, struct member *m, uint32_t cap,
		 int (*keep)(struct herd_engine *, struct member *, const struct mtok *, uint64_t),
		 uint64_t arg);
int keep_weighing(struct herd_engine *e, struct member *m, const struct mtok *t, uint64_t now);
int keep_all(struct herd_engine *e, struct member *m, const struct mtok *t, uint64_t arg);

/* herd_strtab.c: strings */
uint64_t hash_str(const char *s);
uint64_t mix64(uint64_t x);
void *grow(void *p, uint32_t *cap, size_t elem, uint32_t need, size_t *bytes);
uint32_t str_find(const struct herd_engine *e, const char *s);
uint32_t intern(struct herd_engine *e, const char *s);
void str_ref(struct herd_engine *e, uint32_t id);
void str_gc(struct herd_engine *e, uint32_t id);
void str_unref(struct herd_engine *e, uint32_t id);

/* herd_explain.c: wording */
void fmt_time(char *buf, size_t n, uint64_t ns);
void fmt_dur(char *buf, size_t n, uint64_t ns);
void emit(struct herd_engine *e, struct jbuf *b, const char *kind, const char *sev,
	  const char *herd, const char *member, double score, uint64_t now);
void alert_head(struct jbuf *b, const char *kind, const char *sev, uint64_t now);
void jb_cohort(struct jbuf *b, const char *herd, const char *ver, const char *coh);
void describe(const char *token, char *out, size_t n);
void change_add(struct change *ch, const char *token, unsigned with, unsigned of);
void cohort_name(char *out, size_t n, const char *herd, const char *version);
void change_report(struct herd_engine *e, struct herd *h, const char *version, unsigned hsize,
		   unsigned size, struct change *ch, uint64_t now);
void fmt_k(char *out, size_t n, double k);
void fold_sent(struct herd_engine *e, struct herd *h, const char *version, const uint32_t *toks,
	       unsigned ntoks, unsigned no, uint64_t now);
void when_add(struct when *w, const struct cand *c);
void when_put(const struct herd_engine *e, struct jbuf *b, struct jbuf *ex, const struct when *w);

/* herd_judge.c: judging */
int active(const struct herd_engine *e, const struct member *p, uint64_t now);
void judge(struct herd_engine *e, struct member *m, uint64_t now);

#endif
