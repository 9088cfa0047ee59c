/* config_hash.c - the exec_hash section of the agent's configuration: whether process.exec
 * events carry the SHA-256 of the executed file (agent/binhash.c) and the bounds of that work:
 * the largest file hashed, the bytes hashed per second, the files remembered. Every value is
 * checked here; a wrong one is an error naming the file, the line and the bounds (docs/config.md). */
#include "agent/config_int.h"
#include <string.h>

/* exec_hash: {enabled, max_file_kb, budget_kb_per_s, cache_entries} */
int parse_exec_hash(struct pctx *p, struct hw_config *c, yaml_node_t *m)
{
	yaml_node_t *k, *v;
	if (need_map(p, m, "exec_hash"))
		return -1;
	FOR_PAIRS(p, m, k, v)
	{
		const char *key = scalar(k);
		int rc;
		if (key && !strcmp(key, "enabled"))
			rc = get_bool(p, v, key, &c->exec_hash.enabled);
		else if (key && !strcmp(key, "max_file_kb"))
			rc = get_uint(p, v, key, 1, 16 << 20, &c->exec_hash.max_file_kb);
		else if (key && !strcmp(key, "budget_kb_per_s"))
			rc = get_uint(p, v, key, 1, 16 << 20, &c->exec_hash.budget_kb_s);
		else if (key && !strcmp(key, "cache_entries"))
			rc = get_uint(p, v, key, 16, 1 << 20, &c->exec_hash.cache_entries);
		else
			return perr(p, k,
				    "unknown key 'exec_hash.%s' (known: enabled, max_file_kb, "
				    "budget_kb_per_s, cache_entries)",
				    key ? key : "?");
		if (rc)
			return -1;
	}
	return 0;
}
