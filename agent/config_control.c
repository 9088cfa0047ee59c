/* config_control.c - the control section of the agent's configuration: the control socket's
 * path, the commands the collector may send through its stream (collector_allow) and the
 * longest --for it may ask (docs/control.md). An unknown command is an error naming it. */
#include "agent/config_int.h"
#include <stdlib.h>
#include <string.h>

/* control: {socket, collector_allow: [commands], collector_max_for: seconds} */
int parse_control(struct pctx *p, struct hw_config *c, yaml_node_t *m)
{
	yaml_node_t *k, *v;
	if (need_map(p, m, "control"))
		return -1;
	FOR_PAIRS(p, m, k, v)
	{
		const char *key = scalar(k);
		int rc = 0;
		if (!key)
			return perr(p, k, "keys must be strings");
		if (!strcmp(key, "socket")) {
			rc = get_str(p, v, key, &c->control_socket);
		} else if (!strcmp(key, "collector_allow")) {
			struct hw_strlist l = {0};
			unsigned bits = 0;
			rc = get_strlist(p, v, key, &l);
			for (size_t i = 0; !rc && i < l.n; i++) {
				unsigned b = config_ctl_command(l.v[i]);
				if (!b)
					rc = perr(p, v,
						  "'control.collector_allow': unknown command '%s' "
						  "(known: status, enable, disable, reload, set, "
						  "add-probe, remove-probe, kill, inventory, "
						  "quarantine, "
						  "release)",
						  l.v[i]);
				bits |= b;
			}
			strlist_free(&l);
			c->control.collector_allow = bits;
		} else if (!strcmp(key, "collector_max_for")) {
			rc = get_uint(p, v, key, 1, 7 * 86400, &c->control.collector_max_for_s);
		} else {
			return perr(p, k,
				    "unknown key 'control.%s' (known: socket, collector_allow, "
				    "collector_max_for)",
				    key);
		}
		if (rc)
			return -1;
	}
	return 0;
}
