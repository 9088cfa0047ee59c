/* net_dns_cache.h - addresses recently resolved on this host, and by whom (agent/net_dns_cache.c). */
#ifndef HW_DNS_CACHE_H
#define HW_DNS_CACHE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_CACHE_SLOTS 4096  /* entries held at most */
#define DNS_CACHE_MAX_TTL 600 /* seconds an answer is kept at most */
#define DNS_CACHE_MIN_TTL 30  /* and at least (TTL 0 answers are still used at once) */
#define DNS_CACHE_NAME 256    /* names longer than 255 characters are not kept */

/* The table (struct agent's dns): NULL when out of memory. Each function takes NULL as an
 * empty table that keeps nothing. */
struct dns_cache;
struct dns_cache *dns_cache_new(void);
void dns_cache_free(struct dns_cache *c);
/* Remember that addr (4 bytes for family 4, 16 for 6) was given for name in an answer seen by
 * process tgid at now_ns (CLOCK_BOOTTIME), for ttl seconds (capped). */
void dns_cache_put(struct dns_cache *c, int family, const uint8_t *addr, const char *name,
		   size_t nlen, uint32_t tgid, uint64_t now_ns, uint32_t ttl);
/* The name addr was last resolved to, unexpired at now_ns, or NULL; *by_tgid the process that
 * saw the answer. A v4-mapped IPv6 address is looked up as IPv4. */
const char *dns_cache_get(const struct dns_cache *c, int family, const uint8_t *addr,
			  uint64_t now_ns, uint32_t *by_tgid);
/* Entries replaced before their expiry because the table was full near their slot. */
uint64_t dns_cache_evicted(const struct dns_cache *c);
#endif
