/* binhash_config.c - the exec_hash section of the agent's configuration: whether process.exec
 * events carry the SHA-256 of the executed file (agent/binhash.c) and the bounds of that work:
 * the largest file hashed, the bytes hashed per second, the files remembered. Every value is
 * checked here; a wrong one is an error naming the file, the line and the bounds (docs/config.md). */
#include "agent/config_int.h"
#include <string.h>

static int exec_hash_key(struct pctx *p, void *obj, const char *key, yaml_node_t *v)
{
	struct hw_config *c = obj;
	if (!strcmp(key, "enabled"))
		return get_bool(p, v, key, &c->exec_hash.enabled);
	if (!strcmp(key, "max_file_kb"))
		return get_uint(p, v, key, 1, 16 << 20, &c->exec_hash.max_file_kb);
	if (!strcmp(key, "budget_kb_per_s"))
		return get_uint(p, v, key, 1, 16 << 20, &c->exec_hash.budget_kb_s);
	if (!strcmp(key, "cache_entries"))
		return get_uint(p, v, key, 16, 1 << 20, &c->exec_hash.cache_entries);
	return CONFIG_KEY_UNKNOWN;
}

/* exec_hash: {enabled, max_file_kb, budget_kb_per_s, cache_entries} */
int parse_exec_hash(struct pctx *p, struct hw_config *c, yaml_node_t *m)
{
	return parse_section(p, m, "exec_hash",
			     "enabled, max_file_kb, budget_kb_per_s, cache_entries", exec_hash_key,
			     c);
}
