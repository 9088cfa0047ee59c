/* inventory_config.c - the config's "inventory" section (docs/config.md): when the agent takes
 * its inventory of what the host carries (agent/inventory.c) and the budget of one run. Every
 * key is checked against its range; an unknown key is an error naming the known ones. */
#include "agent/config_int.h"
#include <string.h>

static int inventory_key(struct pctx *p, void *obj, const char *key, yaml_node_t *v)
{
	struct hw_config *c = obj;
	if (!strcmp(key, "at_start"))
		return get_bool(p, v, key, &c->inventory.at_start);
	if (!strcmp(key, "interval_hours"))
		return get_uint(p, v, key, 0, 8760, &c->inventory.interval_h);
	if (!strcmp(key, "time_budget_ms"))
		return get_uint(p, v, key, 1, 3600000, &c->inventory.time_budget_ms);
	if (!strcmp(key, "max_files"))
		return get_uint(p, v, key, 1, 100000000, &c->inventory.max_files);
	if (!strcmp(key, "max_read_mb"))
		return get_uint(p, v, key, 1, 4096, &c->inventory.max_read_mb);
	if (!strcmp(key, "max_items"))
		return get_uint(p, v, key, 1, 1000000, &c->inventory.max_items);
	return CONFIG_KEY_UNKNOWN;
}

int parse_inventory(struct pctx *p, struct hw_config *c, yaml_node_t *m)
{
	return parse_section(p, m, "inventory",
			     "at_start, interval_hours, time_budget_ms, max_files, max_read_mb, "
			     "max_items",
			     inventory_key, c);
}
