/* config_metrics.c - the metrics section of the agent's configuration: the node_exporter
 * textfile the agent's metrics are written to (agent/metrics.c; an absolute path of a *.prom
 * file, empty to turn them off) and how often (docs/metrics.md). */
#include "agent/config_int.h"
#include <stdlib.h>
#include <string.h>

static int metrics_key(struct pctx *p, void *obj, const char *key, yaml_node_t *v)
{
	struct hw_config *c = obj;
	if (!strcmp(key, "interval"))
		return get_uint(p, v, key, 1, 3600, &c->metrics.interval_s);
	if (strcmp(key, "textfile"))
		return CONFIG_KEY_UNKNOWN;
	if (get_str(p, v, key, &c->metrics.textfile))
		return -1;
	const char *t = c->metrics.textfile;
	size_t l = strlen(t);
	if (!l) {
		free(c->metrics.textfile);
		c->metrics.textfile = NULL;
	} else if (t[0] != '/' || l < 6 || strcmp(t + l - 5, ".prom") || t[l - 6] == '/') {
		return perr(p, v,
			    "'metrics.textfile' must be an absolute path of a file named *.prom "
			    "(node_exporter's textfile collector reads only those), not '%s'",
			    t);
	}
	return 0;
}

/* metrics: {textfile: PATH, interval: S} - the agent's metrics as a node_exporter textfile
 * (agent/metrics.c); an empty textfile turns them off (in an overlay, say). */
int parse_metrics(struct pctx *p, struct hw_config *c, yaml_node_t *m)
{
	return parse_section(p, m, "metrics", "textfile, interval", metrics_key, c);
}
