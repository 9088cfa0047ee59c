/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * herd.h - the herd engine: compares each member (host or container) with its herd.
 *
 * The collector feeds it canonical tokens (tokens.c) per member; the engine keeps, per member,
 * the tokens it showed (first and last time, bounded by a per-member byte budget) and, per herd
 * and token, first/last time and last change. When a member shows a token for the first time,
 * a candidate is held for hold_ms (its own hold, whatever else of the member is due sooner),
 * then scored: surprisal = -log2 of the token's smoothed prevalence among the member's active
 * peers (a decayed count, half-life half_life_s; for a new member, a peer's tokens of its own
 * first minutes count fully), with the fleet prevalence as prior. Active: not silent, an event
 * or heartbeat within gone_s. A token that appeared on at least change_frac of the active herd
 * within change_window_s is a herd change, reported once and never as a member alert; a
 * surprising token other members also started showing is held up to rollout_s so a rolling
 * change is folded into it (an alert already sent for it gets a member.folded follow-up, while
 * the member still holds the token). Herds smaller than min_herd give notices instead of
 * alerts. Silent hosts (no event or heartbeat for silent_s) raise member.silent.
 * Cohorts: a member may carry a version (image tag, release, AMI); its cohort is its herd plus
 * that version. A versioned member's token is scored in its cohort with the herd's smoothed
 * prevalence as prior (and the fleet as the herd's prior); a token that appeared on at least
 * change_frac of a cohort within change_window_s is a cohort change (a deploy), reported once.
 * A member whose cohort is smaller than min_herd (a canary) is judged against the herd, at
 * notice severity. Members without a version: cohort = herd.
 * Time: an event is judged at its own time (herd_observe_at: its hold runs from it, a late one
 * is judged at once and its alert marked late) within the skew bounds, else at its arrival
 * (marked clock_skew); arrival is the member's liveness. Alerts carry the time they are raised.
 * Single-threaded: all calls from the collector's event loop.
 */
#ifndef HW_HERD_H
#define HW_HERD_H

#include <stddef.h>
#include <stdint.h>

struct herd_cfg {
	unsigned hold_ms;      /* wait before judging a new token (lets a deploy show) */
	unsigned learn_s;      /* a new herd only learns for this long */
	unsigned min_herd;     /* herds with fewer members give notices, not alerts */
	double threshold_bits; /* surprisal at or above which a token is reported */
	double change_frac;    /* share of the herd that makes a token a herd change */
	unsigned change_window_s;
	unsigned new_member_s; /* a member's "first minutes" */
	unsigned window_s;     /* no longer used by scoring (kept for the option) */
	unsigned half_life_s;  /* a peer's token weighs 2^(-age / half_life_s), age since it
				  * last showed it: the decayed prevalence used for scoring */
	unsigned silent_s;     /* host with no event for this long is silent (0 = off) */
	unsigned gone_s;       /* a member with no event or heartbeat for this long (or a silent
				  * host) is not an active member: not a peer, not in herd sizes */
	unsigned rollout_s;    /* a surprising token that other members also started showing is
				  * held up to this long for a rolling change to show */
	unsigned forget_s;     /* a container member gone this long is dropped from the engine */
	unsigned max_skew_s;   /* an event up to this far behind its arrival is judged at its own
				  * time (an agent's spool flushed after an outage) */
	unsigned max_ahead_s;  /* ... and up to this far ahead taken at its arrival, unmarked
				  * (a clock a little fast); beyond either: judged at arrival and
				  * marked clock_skew */
};

void herd_cfg_default(struct herd_cfg *c);

struct herd_engine;
/* Called for each alert with its JSON object (no newline). */
typedef void (*herd_alert_fn)(void *ctx, const char *json, size_t len, const char *kind,
			      const char *severity, const char *herd, const char *member,
			      double score, uint64_t now_ns);

struct herd_engine *herd_new(const struct herd_cfg *c, herd_alert_fn fn, void *ctx);
void herd_free(struct herd_engine *e);

/* A member was active (any event, including heartbeats). host_member: the member is a host
 * (agent), so silence is alerted. herd may be NULL for a host without a herd. version: the
 * member's version, NULL or "" for none (a changed version moves the member to that cohort). */
void herd_seen(struct herd_engine *e, const char *herd, const char *member, const char *host,
	       const char *version, int host_member, uint64_t now_ns);
/* Member showed token (event seq, stored event id) at now_ns: herd_observe_at(.., now, now). */
void herd_observe(struct herd_engine *e, const char *herd, const char *member, const char *host,
		  const char *version, const char *token, uint64_t seq, uint64_t event_id,
		  uint64_t now_ns);
/* Member showed token in an event of time ev_ns (0: none) that arrived at arrival_ns. The event
 * is judged at its own time (its hold counts from it; a late event's alert says "late", with
 * both times) unless herd_time_skewed(); arrival is the member's liveness. */
void herd_observe_at(struct herd_engine *e, const char *herd, const char *member, const char *host,
		     const char *version, const char *token, uint64_t seq, uint64_t event_id,
		     uint64_t ev_ns, uint64_t arrival_ns);
/* Member ran the program of exec_token (an exec token) from the release path `release`
 * (tokens.h: ev_info.exe_release) in an event of time ev_ns; call before herd_observe_at for
 * the event's tokens. A member without a configured version that runs a program from another
 * release than before (not the one before that: both run during a restart) has taken that
 * release: it becomes its version (cohort herd@release) until a version is configured. Its
 * first members are canaries only for what the release's own programs do (tokens of programs
 * under the release's path): notices; what other programs do is judged as before. */
void herd_release_at(struct herd_engine *e, const char *herd, const char *member, const char *host,
		     const char *exec_token, const char *release, uint64_t ev_ns,
		     uint64_t arrival_ns);
/* 1 when an event's time is beyond the skew bounds (more than max_skew_s behind its arrival or
 * max_ahead_s ahead): it is judged at arrival and its alert marked clock_skew. */
int herd_time_skewed(const struct herd_engine *e, uint64_t ev_ns, uint64_t arrival_ns);
/* Judge held candidates and silent members; call often (e.g. every 100 ms). */
void herd_tick(struct herd_engine *e, uint64_t now_ns);

/* JSON arrays for the query API; malloc'd, NUL-terminated. */
char *herd_dump_herds(struct herd_engine *e, uint64_t now_ns);
char *herd_dump_members(struct herd_engine *e, uint64_t now_ns);
/* Bytes of engine state and number of members (for the 64 KiB/member budget). */
size_t herd_mem_bytes(const struct herd_engine *e);
unsigned herd_member_count(const struct herd_engine *e);
/* Tokens members had to forget while they still weighed (their token budget was full). */
uint64_t herd_overflow(const struct herd_engine *e);
/* New tokens not judged because their member had too many candidates held at once. */
uint64_t herd_candidates_dropped(const struct herd_engine *e);
/* Sizes of the engine for metrics: herds, members (and of them the active ones at now_ns),
 * candidates held for judging (the engine's queue) and the members holding them. */
struct herd_counts {
	unsigned herds, members, active_members, candidates, members_with_candidates;
};
void herd_counts(const struct herd_engine *e, uint64_t now_ns, struct herd_counts *out);

/* Snapshot of the learned state (members, their tokens, per-herd token history), so a
 * restarted collector need not relearn. herd_save: malloc'd buffer in *out. herd_restore: into
 * a fresh engine; 0, or -EINVAL for a damaged snapshot (the engine then holds what was read
 * before the damage). Host members count as seen at `now` (the collector, not the agents, was
 * away). */
int herd_save(const struct herd_engine *e, uint8_t **out, size_t *len);
int herd_restore(struct herd_engine *e, const uint8_t *buf, size_t len, uint64_t now_ns);

#endif
