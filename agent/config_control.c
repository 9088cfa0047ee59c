/* config_control.c - the control section of the agent's configuration: the control socket's
 * path, the commands the collector may send through its stream (collector_allow) and the
 * longest --for it may ask (docs/control.md). An unknown command is an error naming it. */
#include "agent/config_int.h"
#include <stdlib.h>
#include <string.h>

/* control.collector_allow: the commands by name, as bits (config_ctl_command) */
static int collector_allow(struct pctx *p, struct hw_config *c, const char *key, yaml_node_t *v)
{
	struct hw_strlist l = {0};
	unsigned bits = 0;
	int rc = get_strlist(p, v, key, &l);
	for (size_t i = 0; !rc && i < l.n; i++) {
		unsigned b = config_ctl_command(l.v[i]);
		if (!b)
			rc = perr(p, v,
				  "'control.collector_allow': unknown command '%s' (known: status, "
				  "enable, disable, reload, set, add-probe, remove-probe, kill, "
				  "inventory, quarantine, release, tty)",
				  l.v[i]);
		bits |= b;
	}
	strlist_free(&l);
	c->control.collector_allow = bits;
	return rc;
}

static int control_key(struct pctx *p, void *obj, const char *key, yaml_node_t *v)
{
	struct hw_config *c = obj;
	if (!strcmp(key, "socket"))
		return get_str(p, v, key, &c->control_socket);
	if (!strcmp(key, "collector_allow"))
		return collector_allow(p, c, key, v);
	if (!strcmp(key, "collector_max_for"))
		return get_uint(p, v, key, 1, 7 * 86400, &c->control.collector_max_for_s);
	return CONFIG_KEY_UNKNOWN;
}

/* control: {socket, collector_allow: [commands], collector_max_for: seconds} */
int parse_control(struct pctx *p, struct hw_config *c, yaml_node_t *m)
{
	return parse_section(p, m, "control", "socket, collector_allow, collector_max_for",
			     control_key, c);
}
