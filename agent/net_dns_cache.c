/* net_dns_cache.c - the address -> name table behind net.connect's dst.name.
 *
 * Filled from the A and AAAA records of DNS answers (net.dns with direction "answer") with the
 * name the process asked for (the question, not the end of a CNAME chain); read when a connect
 * is decoded. Bounded: DNS_CACHE_SLOTS entries in one open-addressing table, probing at
 * most DNS_CACHE_PROBE slots; an entry lives for its TTL clamped to [DNS_CACHE_MIN_TTL,
 * DNS_CACHE_MAX_TTL] seconds. When several names map to one address the latest answer wins.
 * When the probed slots are all live, the one expiring first is replaced (counted). One table
 * per agent (struct agent's dns, made by the net family's init); single threaded: called from
 * the event loop only.
 */
#include "agent/net_dns_cache.h"
#include <stdlib.h>
#include <string.h>

#define DNS_CACHE_PROBE 8

struct dns_slot {
	uint8_t addr[16];
	uint64_t expires; /* CLOCK_BOOTTIME ns; 0 = free */
	uint32_t tgid;
	uint8_t family; /* 4 or 6 */
	uint8_t nlen;
	char name[DNS_CACHE_NAME];
};

struct dns_cache {
	struct dns_slot slots[DNS_CACHE_SLOTS];
	uint64_t evicted;
};

struct dns_cache *dns_cache_new(void)
{
	return calloc(1, sizeof(struct dns_cache));
}

void dns_cache_free(struct dns_cache *c)
{
	free(c);
}

static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* Normalise to (4, 4 bytes) or (6, 16 bytes); family as AF_INET (2) / AF_INET6 (10) or 4/6. */
static int norm(int family, const uint8_t *addr, uint8_t out[16])
{
	memset(out, 0, 16);
	if (family == 2 || family == 4) {
		memcpy(out, addr, 4);
		return 4;
	}
	if (!memcmp(addr, mapped, 12)) {
		memcpy(out, addr + 12, 4);
		return 4;
	}
	memcpy(out, addr, 16);
	return 6;
}

static uint32_t hash(int fam, const uint8_t a[16])
{
	uint32_t h = 2166136261u ^ (uint32_t)fam;
	for (int i = 0; i < 16; i++)
		h = (h ^ a[i]) * 16777619u;
	return h;
}

void dns_cache_put(struct dns_cache *c, int family, const uint8_t *addr, const char *name,
		   size_t nlen, uint32_t tgid, uint64_t now_ns, uint32_t ttl)
{
	uint8_t a[16];
	int fam = norm(family, addr, a);
	if (!c || nlen == 0 || nlen >= DNS_CACHE_NAME)
		return;
	if (ttl > DNS_CACHE_MAX_TTL)
		ttl = DNS_CACHE_MAX_TTL;
	if (ttl < DNS_CACHE_MIN_TTL)
		ttl = DNS_CACHE_MIN_TTL;
	uint32_t h = hash(fam, a);
	struct dns_slot *use = NULL, *oldest = NULL;
	for (int i = 0; i < DNS_CACHE_PROBE; i++) {
		struct dns_slot *s = &c->slots[(h + i) % DNS_CACHE_SLOTS];
		if (s->expires && s->family == fam && !memcmp(s->addr, a, 16)) {
			use = s;
			break;
		}
		if (!use && s->expires <= now_ns)
			use = s; /* free or expired; keep looking for the same address */
		if (!oldest || s->expires < oldest->expires)
			oldest = s;
	}
	if (!use) {
		use = oldest;
		c->evicted++;
	}
	/* the same address may sit in a later probed slot than a free one found first */
	for (int i = 0; i < DNS_CACHE_PROBE; i++) {
		struct dns_slot *s = &c->slots[(h + i) % DNS_CACHE_SLOTS];
		if (s != use && s->expires && s->family == fam && !memcmp(s->addr, a, 16))
			s->expires = 0;
	}
	memcpy(use->addr, a, 16);
	use->family = fam;
	use->tgid = tgid;
	use->expires = now_ns + ttl * 1000000000ULL;
	memcpy(use->name, name, nlen);
	use->name[nlen] = 0;
	use->nlen = nlen;
}

const char *dns_cache_get(const struct dns_cache *c, int family, const uint8_t *addr,
			  uint64_t now_ns, uint32_t *by_tgid)
{
	uint8_t a[16];
	if (!c)
		return NULL;
	int fam = norm(family, addr, a);
	uint32_t h = hash(fam, a);
	for (int i = 0; i < DNS_CACHE_PROBE; i++) {
		const struct dns_slot *s = &c->slots[(h + i) % DNS_CACHE_SLOTS];
		if (s->expires > now_ns && s->family == fam && !memcmp(s->addr, a, 16)) {
			*by_tgid = s->tgid;
			return s->name;
		}
	}
	return NULL;
}

uint64_t dns_cache_evicted(const struct dns_cache *c)
{
	return c ? c->evicted : 0;
}
