/* config_containers.c - the containers section of the agent's configuration: the cgroup
 * patterns (POSIX extended regular expressions) that make a process a container member, the
 * group that captures its herd and the one that captures its version. A pattern that does
 * not compile or lacks the groups is an error naming the file and the line (docs/config.md). */
#include "agent/config_int.h"
#include <regex.h>
#include <stdlib.h>
#include <string.h>

/* one entry of the list: {cgroup: PATTERN, version_group: N} */
struct ctr_entry {
	char *pat;
	unsigned vgroup;
	yaml_node_t *vg; /* where version_group was given, for its error */
};

static int entry_key(struct pctx *p, void *obj, const char *key, yaml_node_t *v)
{
	struct ctr_entry *ce = obj;
	if (!strcmp(key, "cgroup"))
		return get_str(p, v, key, &ce->pat);
	if (strcmp(key, "version_group"))
		return CONFIG_KEY_UNKNOWN;
	ce->vg = v;
	return get_uint(p, v, "containers[].version_group", 2, 9, &ce->vgroup);
}

int parse_containers(struct pctx *p, struct hw_config *c, yaml_node_t *s)
{
	if (s->type != YAML_SEQUENCE_NODE)
		return perr(p, s, "'containers' must be a list of {cgroup: PATTERN}");
	for (yaml_node_item_t *it = s->data.sequence.items.start; it < s->data.sequence.items.top;
	     it++) {
		yaml_node_t *e = yaml_document_get_node(&p->doc, *it);
		struct ctr_entry ce = {0};
		if (e->type != YAML_MAPPING_NODE)
			return perr(p, e, "'containers' entries must be {cgroup: PATTERN}");
		if (parse_section(p, e, "containers[]", "cgroup, version_group", entry_key, &ce)) {
			free(ce.pat);
			return -1;
		}
		char *pat = ce.pat;
		unsigned vgroup = ce.vgroup;
		yaml_node_t *vg = ce.vg;
		if (!pat)
			return perr(p, e, "'containers' entry without 'cgroup'");
		struct hw_container_pattern *nc =
			realloc(c->containers, (c->n_containers + 1) * sizeof(*nc));
		if (!nc) {
			free(pat);
			return perr(p, e, "out of memory");
		}
		c->containers = nc;
		int rc = regcomp(&nc[c->n_containers].re, pat, REG_EXTENDED);
		if (rc) {
			char m[128];
			regerror(rc, &nc[c->n_containers].re, m, sizeof(m));
			perr(p, e, "bad cgroup pattern '%s': %s", pat, m);
			free(pat);
			return -1;
		}
		if (nc[c->n_containers].re.re_nsub < 1) {
			regfree(&nc[c->n_containers].re);
			perr(p, e, "cgroup pattern '%s' needs a group ( ) capturing the herd name",
			     pat);
			free(pat);
			return -1;
		}
		if (vgroup > nc[c->n_containers].re.re_nsub) {
			perr(p, vg,
			     "'containers[].version_group' is %u but cgroup pattern '%s' has %zu "
			     "groups",
			     vgroup, pat, nc[c->n_containers].re.re_nsub);
			regfree(&nc[c->n_containers].re);
			free(pat);
			return -1;
		}
		nc[c->n_containers].src = pat;
		nc[c->n_containers].version_group = vgroup;
		c->n_containers++;
	}
	return 0;
}
