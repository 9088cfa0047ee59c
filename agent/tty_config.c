/* tty_config.c - the tty section of the agent's configuration: whether the TTY capture
 * (tty.input and tty.output events, agent/tty.c) is on, for the whole host or only for the
 * sessions named by "ctl tty on --session PID", and its bounds: data bytes per event and data
 * bytes per session and second. Off by default. Every value is checked here; a wrong one is an
 * error naming the file, the line and what is accepted (docs/config.md). */
#include "agent/config_int.h"
#include <string.h>

void tty_config_defaults(struct hw_config *c)
{
	c->tty.enabled = false;
	c->tty.sessions_only = false;
	c->tty.bytes_per_event = 256;
	c->tty.budget_bytes_s = 8192;
}

/* tty: {enabled, scope: host|sessions, bytes_per_event, budget_bytes_per_s} */
int parse_tty(struct pctx *p, struct hw_config *c, yaml_node_t *m)
{
	yaml_node_t *k, *v;
	if (need_map(p, m, "tty"))
		return -1;
	FOR_PAIRS(p, m, k, v)
	{
		const char *key = scalar(k);
		int rc;
		if (key && !strcmp(key, "enabled")) {
			rc = get_bool(p, v, key, &c->tty.enabled);
		} else if (key && !strcmp(key, "scope")) {
			const char *s = scalar(v);
			if (s && !strcmp(s, "host"))
				c->tty.sessions_only = false;
			else if (s && !strcmp(s, "sessions"))
				c->tty.sessions_only = true;
			else
				return perr(p, v, "'tty.scope' must be host or sessions, not '%s'",
					    s ? s : "(not a scalar)");
			rc = 0;
		} else if (key && !strcmp(key, "bytes_per_event")) {
			rc = get_uint(p, v, key, 1, 256, &c->tty.bytes_per_event);
		} else if (key && !strcmp(key, "budget_bytes_per_s")) {
			rc = get_uint(p, v, key, 0, 1 << 20, &c->tty.budget_bytes_s);
		} else {
			return perr(p, k,
				    "unknown key 'tty.%s' (known: enabled, scope, bytes_per_event, "
				    "budget_bytes_per_s)",
				    key ? key : "?");
		}
		if (rc)
			return -1;
	}
	return 0;
}
