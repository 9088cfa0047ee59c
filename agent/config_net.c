/* config_net.c - the keys of the agent's `net:` section that choose the net family's hooks
 * (docs/config.md, docs/events-net.md "Hooks and why"):
 *   net.mode: socket | syscall   socket (default): connect and accept on socket hooks
 *                                (cgroup v2 root, TCP state changes); syscall: every net
 *                                probe on its syscall hooks, as before socket hooks existed
 *   net.cgroup2_path: PATH       the cgroup v2 mount to attach to (default: found in
 *                                /proc/self/mountinfo); a path that is not cgroup v2 makes
 *                                the agent fall back to syscall hooks and say why
 * Both are read at start (agent/net_mode.c); a reload that changes them is logged and they
 * wait for the next start (net_mode_keep). Called by parse_net() in config.c for these keys only. */
#include "agent/config_int.h"
#include <stdlib.h>
#include <string.h>

int parse_net_mode(struct pctx *p, struct hw_config *c, const char *key, yaml_node_t *v)
{
	char *s = NULL;
	if (get_str(p, v, key, &s))
		return -1;
	if (!strcmp(key, "mode")) {
		bool ok = !strcmp(s, "socket") || !strcmp(s, "syscall");
		c->net_mode.syscall = !strcmp(s, "syscall");
		if (!ok)
			perr(p, v, "'net.mode' must be socket or syscall, not '%s'", s);
		free(s);
		return ok ? 0 : -1;
	}
	if (s[0] != '/') {
		perr(p, v, "'net.cgroup2_path' must be an absolute path, not '%s'", s);
		free(s);
		return -1;
	}
	free(c->net_mode.cgroup2_path);
	c->net_mode.cgroup2_path = s;
	return 0;
}
