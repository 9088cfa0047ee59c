/* config_collector.c - the collector section of the agent's configuration: where the event
 * stream goes (address, the mutual-TLS files) and the spool that holds what the collector has
 * not acknowledged yet (agent/ship.c). Given at all, it needs the address and all three TLS
 * files (docs/config.md). */
#include "agent/config_int.h"
#include <stdlib.h>
#include <string.h>

int parse_collector(struct pctx *p, struct hw_config *c, yaml_node_t *m)
{
	yaml_node_t *k, *v;
	if (need_map(p, m, "collector"))
		return -1;
	FOR_PAIRS(p, m, k, v)
	{
		const char *key = scalar(k);
		int rc;
		if (!key)
			return perr(p, k, "keys must be strings");
		if (!strcmp(key, "address"))
			rc = get_str(p, v, key, &c->collector.address);
		else if (!strcmp(key, "ca"))
			rc = get_str(p, v, key, &c->collector.ca);
		else if (!strcmp(key, "cert"))
			rc = get_str(p, v, key, &c->collector.cert);
		else if (!strcmp(key, "key"))
			rc = get_str(p, v, key, &c->collector.key);
		else if (!strcmp(key, "spool_dir"))
			rc = get_str(p, v, key, &c->collector.spool_dir);
		else if (!strcmp(key, "spool_max_mb"))
			rc = get_uint(p, v, key, 1, 1 << 20, &c->collector.spool_max_mb);
		else
			return perr(p, k,
				    "unknown key 'collector.%s' (known: address, ca, cert, key, "
				    "spool_dir, spool_max_mb)",
				    key);
		if (rc)
			return -1;
	}
	if (!c->collector.address)
		return perr(p, m, "'collector' needs an 'address' (host:port)");
	if (!c->collector.ca || !c->collector.cert || !c->collector.key)
		return perr(p, m, "'collector' needs 'ca', 'cert' and 'key' (mutual TLS)");
	return 0;
}
