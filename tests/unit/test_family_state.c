/* test_family_state - the families' state as units (agent/family.c: init and fini): two agents
 * in one process each get their own state, what one family keeps is not seen by the other
 * agent's (the DNS names behind dst.name, an inventory run and its thread), and families_free
 * gives everything back (LeakSanitizer fails the test otherwise), even with an inventory thread
 * still running and called twice. */
#include "agent/agent.h"
#include "agent/net_dns_cache.h"
#include "agent/user.h"
#include "unit.h"
#include <stdlib.h>

static struct agent A, B;

/* the family's heartbeat object of a into a string (valid until the next call) */
static const char *heartbeat(struct agent *a, void (*hb)(struct agent *, struct jbuf *))
{
	static struct jbuf b;
	if (!b.p)
		jb_init(&b, 1024);
	jb_reset(&b);
	jb_obj_begin(&b);
	hb(a, &b);
	jb_obj_end(&b);
	jb_raw(&b, "", 1);
	return b.p;
}

static void test_dns(void)
{
	const uint8_t ip[4] = {192, 0, 2, 7};
	uint32_t by = 0;
	dns_cache_put(A.dns, 4, ip, "a.example", 9, 4242, 1000, 60);
	const char *na = dns_cache_get(A.dns, 4, ip, 2000, &by);
	CHECK_STR("dns: the agent that saw the answer names the address", na, "a.example");
	CHECK("dns: ... with the process that saw it", by == 4242);
	CHECK("dns: the other agent's table does not have it",
	      dns_cache_get(B.dns, 4, ip, 2000, &by) == NULL);
	/* a v4-mapped IPv6 address is the same entry, in A only */
	const uint8_t m6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 7};
	CHECK("dns: v4-mapped lookup finds A's entry", dns_cache_get(A.dns, 6, m6, 2000, &by));
	CHECK("dns: an expired entry is not returned",
	      dns_cache_get(A.dns, 4, ip, 1000 + 61 * 1000000000ULL, &by) == NULL);
	/* more addresses than the table holds: the ones it had to drop before their TTL are
	 * counted (agent.stats.dns_names_evicted), the latest answers kept, the other table
	 * untouched */
	uint8_t v4[4] = {10, 0, 0, 0};
	for (unsigned i = 0; i < DNS_CACHE_SLOTS + 1000; i++) {
		v4[1] = i >> 16, v4[2] = i >> 8, v4[3] = i;
		dns_cache_put(B.dns, 4, v4, "many.example", 12, 7, 1000, 600);
	}
	char d[128];
	snprintf(d, sizeof(d),
		 "dns: a full table counts what it drops (%llu, at least the 1,000 over its size)",
		 (unsigned long long)dns_cache_evicted(B.dns));
	CHECK(d, dns_cache_evicted(B.dns) >= 1000);
	CHECK("dns: ... and keeps the latest answer", dns_cache_get(B.dns, 4, v4, 2000, &by));
	CHECK("dns: ... the other agent's table dropped nothing",
	      dns_cache_evicted(A.dns) == 0 && dns_cache_evicted(NULL) == 0);
	CHECK("dns: a NULL table keeps and finds nothing",
	      (dns_cache_put(NULL, 4, ip, "x", 1, 1, 1, 1), dns_cache_get(NULL, 4, ip, 2, &by)) ==
		      NULL);
}

static void test_inventory(void)
{
	struct ctl_who who = {.source = "socket"};
	struct jbuf ans;
	jb_init(&ans, 256);
	jb_obj_begin(&ans);
	int rc = inventory_request(&A, &who, &ans);
	jb_obj_end(&ans);
	jb_raw(&ans, "", 1);
	CHECK("inventory: a run starts on agent A", rc == 0 && strstr(ans.p, "\"run\":1"));
	const char *ha = heartbeat(&A, inventory_heartbeat);
	CHECK("inventory: A counts its run", strstr(ha, "\"runs\":1") != NULL);
	const char *hb = heartbeat(&B, inventory_heartbeat);
	CHECK("inventory: B has run nothing and runs nothing",
	      strstr(hb, "\"runs\":0") && strstr(hb, "\"running\":false"));
	jb_free(&ans);
}

static bool all_set(const struct agent *a)
{
	return a->priv && a->tty && a->fan && a->freps && a->dns && a->inv;
}

static bool none_set(const struct agent *a)
{
	return !a->priv && !a->tty && !a->fan && !a->freps && !a->dns && !a->inv && !a->cps;
}

int main(void)
{
	config_defaults(&A.cfg);
	config_defaults(&B.cfg);
	A.cfg.inventory.time_budget_ms = 300; /* the run is a real one: keep it short */
	CHECK("families_init: agent A", families_init(&A) == 0 && all_set(&A));
	CHECK("families_init: agent B", families_init(&B) == 0 && all_set(&B));
	CHECK("each agent has its own state", A.tty != B.tty && (void *)A.fan != (void *)B.fan &&
						      (void *)A.freps != (void *)B.freps &&
						      (void *)A.dns != (void *)B.dns &&
						      (void *)A.inv != (void *)B.inv);
	CHECK("file watch: a new state is closed (exact mode)",
	      strstr(heartbeat(&B, file_fan_heartbeat), "\"active\":\"exact\"") != NULL);
	test_dns();
	test_inventory();
	/* A's inventory thread may still be walking: families_free stops and joins it */
	families_free(&A);
	CHECK("families_free: A's state is gone", none_set(&A));
	CHECK("families_free: B's is untouched", all_set(&B));
	families_free(&A); /* twice: nothing left to free */
	families_free(&B);
	CHECK("families_free: B's state is gone", none_set(&B));
	config_free(&A.cfg);
	config_free(&B.cfg);
	UNIT_DONE();
}
