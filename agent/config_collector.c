/* config_collector.c - the collector section of the agent's configuration: where the event
 * stream goes (address, the mutual-TLS files) and the spool that holds what the collector has
 * not acknowledged yet (agent/ship.c). Given at all, it needs the address and all three TLS
 * files (docs/config.md). */
#include "agent/config_int.h"
#include <stdlib.h>
#include <string.h>

static int collector_key(struct pctx *p, void *obj, const char *key, yaml_node_t *v)
{
	struct hw_config *c = obj;
	if (!strcmp(key, "address"))
		return get_str(p, v, key, &c->collector.address);
	if (!strcmp(key, "ca"))
		return get_str(p, v, key, &c->collector.ca);
	if (!strcmp(key, "cert"))
		return get_str(p, v, key, &c->collector.cert);
	if (!strcmp(key, "key"))
		return get_str(p, v, key, &c->collector.key);
	if (!strcmp(key, "spool_dir"))
		return get_str(p, v, key, &c->collector.spool_dir);
	if (!strcmp(key, "spool_max_mb"))
		return get_uint(p, v, key, 1, 1 << 20, &c->collector.spool_max_mb);
	return CONFIG_KEY_UNKNOWN;
}

int parse_collector(struct pctx *p, struct hw_config *c, yaml_node_t *m)
{
	if (parse_section(p, m, "collector", "address, ca, cert, key, spool_dir, spool_max_mb",
			  collector_key, c))
		return -1;
	if (!c->collector.address)
		return perr(p, m, "'collector' needs an 'address' (host:port)");
	if (!c->collector.ca || !c->collector.cert || !c->collector.key)
		return perr(p, m, "'collector' needs 'ca', 'cert' and 'key' (mutual TLS)");
	return 0;
}
