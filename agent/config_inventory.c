/* config_inventory.c - the config's "inventory" section (docs/config.md): when the agent takes
 * its inventory of what the host carries (agent/inventory.c) and the budget of one run. Every
 * key is checked against its range; an unknown key is an error naming the known ones. */
#include "agent/config_int.h"
#include <string.h>

int parse_inventory(struct pctx *p, struct hw_config *c, yaml_node_t *m)
{
	yaml_node_t *k, *v;
	if (need_map(p, m, "inventory"))
		return -1;
	FOR_PAIRS(p, m, k, v)
	{
		const char *key = scalar(k);
		int rc;
		if (key && !strcmp(key, "at_start"))
			rc = get_bool(p, v, key, &c->inventory.at_start);
		else if (key && !strcmp(key, "interval_hours"))
			rc = get_uint(p, v, key, 0, 8760, &c->inventory.interval_h);
		else if (key && !strcmp(key, "time_budget_ms"))
			rc = get_uint(p, v, key, 1, 3600000, &c->inventory.time_budget_ms);
		else if (key && !strcmp(key, "max_files"))
			rc = get_uint(p, v, key, 1, 100000000, &c->inventory.max_files);
		else if (key && !strcmp(key, "max_read_mb"))
			rc = get_uint(p, v, key, 1, 4096, &c->inventory.max_read_mb);
		else if (key && !strcmp(key, "max_items"))
			rc = get_uint(p, v, key, 1, 1000000, &c->inventory.max_items);
		else
			return perr(p, k,
				    "unknown key 'inventory.%s' (known: at_start, interval_hours, "
				    "time_budget_ms, max_files, max_read_mb, max_items)",
				    key ? key : "?");
		if (rc)
			return -1;
	}
	return 0;
}
