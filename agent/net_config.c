/* net_config.c - the net section of the agent's configuration: per kind of network event
 * (connect, accept, listen, bind, dns) what the net probes leave out (loopback, ports, CIDRs)
 * and, for connect, the window that folds repeated connections into one event. Every value
 * is checked here: a wrong one is an error naming the file, the line and what is expected
 * (docs/config.md). Also the two keys that choose the family's hooks (docs/events-net.md
 * "Socket hooks"):
 *   net.mode: socket | syscall   socket (default): connect and accept on socket hooks (cgroup
 *                                v2 root, TCP state changes); syscall: every net probe on its
 *                                syscall hooks
 *   net.cgroup2_path: PATH       the cgroup v2 mount to attach to (default: found in
 *                                /proc/self/mountinfo); a path that is not cgroup v2 makes
 *                                the agent fall back to syscall hooks and say why
 * Both are read at start (agent/net_mode.c); a reload that changes them is logged and they
 * wait for the next start (net_mode_keep). */
#include "agent/config_int.h"
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* net.<kind>.ignore_ports: [PORT...] */
static int get_ports(struct pctx *p, struct hw_net_kind_config *nk, const char *key, yaml_node_t *v)
{
	struct hw_strlist l = {0};
	int rc = get_strlist(p, v, key, &l);
	nk->nports = 0;
	for (size_t i = 0; !rc && i < l.n; i++) {
		char *end;
		unsigned long port = strtoul(l.v[i], &end, 10);
		if (*end || port == 0 || port > 65535)
			rc = perr(p, v, "'ignore_ports' entries are ports 1-65535, not '%s'",
				  l.v[i]);
		else if (nk->nports >= HW_NET_NPORTS)
			rc = perr(p, v, "'ignore_ports' holds at most %d ports", HW_NET_NPORTS);
		else
			nk->ports[nk->nports++] = (unsigned short)port;
	}
	strlist_free(&l);
	return rc;
}

/* net.<kind>.ignore_cidrs: [ADDR/BITS...], each checked (the agent parses them again) */
static int get_cidrs(struct pctx *p, struct hw_net_kind_config *nk, const char *key, yaml_node_t *v)
{
	int rc = get_strlist(p, v, key, &nk->cidrs);
	for (size_t i = 0; !rc && i < nk->cidrs.n; i++) {
		char addr[64];
		unsigned char bin[16];
		const char *s = nk->cidrs.v[i], *sl = strchr(s, '/');
		char *end = NULL;
		size_t al = sl ? (size_t)(sl - s) : strlen(s);
		int v6 = strchr(s, ':') != NULL;
		long bits = sl ? strtol(sl + 1, &end, 10) : (v6 ? 128 : 32);
		if (al >= sizeof(addr) || (sl && (*end || sl[1] == 0)) || bits < 0 ||
		    bits > (v6 ? 128 : 32))
			return perr(p, v, "bad CIDR '%s' (want ADDR/BITS)", s);
		memcpy(addr, s, al);
		addr[al] = 0;
		if (inet_pton(v6 ? AF_INET6 : AF_INET, addr, bin) != 1)
			return perr(p, v, "bad address in CIDR '%s'", s);
	}
	return rc;
}

/* the kind being parsed: fold_window_s is a key of connect and accept only */
struct net_kind {
	struct hw_net_kind_config *nk;
	bool foldable;
};

/* net.<kind>: {ignore_loopback, ignore_ports, ignore_cidrs, fold_window_s (connect, accept)} */
static int net_kind_key(struct pctx *p, void *obj, const char *key, yaml_node_t *v)
{
	struct net_kind *k = obj;
	if (!strcmp(key, "ignore_loopback"))
		return get_bool(p, v, key, &k->nk->ignore_loopback);
	if (!strcmp(key, "ignore_ports"))
		return get_ports(p, k->nk, key, v);
	if (!strcmp(key, "ignore_cidrs"))
		return get_cidrs(p, k->nk, key, v);
	if (!strcmp(key, "fold_window_s") && k->foldable)
		return get_uint(p, v, key, 0, 86400, &k->nk->fold_window_s);
	return CONFIG_KEY_UNKNOWN;
}

/* net.mode, net.cgroup2_path */
static int net_mode_key(struct pctx *p, struct hw_config *c, const char *key, yaml_node_t *v)
{
	char *s = NULL;
	if (get_str(p, v, key, &s))
		return -1;
	if (!strcmp(key, "mode")) {
		bool ok = !strcmp(s, "socket") || !strcmp(s, "syscall");
		c->net_mode.syscall = strcmp(s, "socket") != 0;
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

static int net_key(struct pctx *p, void *obj, const char *key, yaml_node_t *v)
{
	static const char *const kinds[HW_NET_NKINDS] = {"connect", "accept", "listen", "bind",
							 "dns"};
	struct hw_config *c = obj;
	if (!strcmp(key, "mode") || !strcmp(key, "cgroup2_path"))
		return net_mode_key(p, c, key, v);
	if (!strcmp(key, "fold_repeats"))
		return get_bool(p, v, key, &c->net_fold_repeats);
	for (int i = 0; i < HW_NET_NKINDS; i++) {
		if (strcmp(key, kinds[i]))
			continue;
		struct net_kind k = {&c->net[i], i <= 1};
		char sect[32];
		snprintf(sect, sizeof(sect), "net.%s", key);
		return parse_section(p, v, sect,
				     k.foldable ? "ignore_loopback, ignore_ports, ignore_cidrs, "
						  "fold_window_s"
						: "ignore_loopback, ignore_ports, ignore_cidrs",
				     net_kind_key, &k);
	}
	return CONFIG_KEY_UNKNOWN;
}

/* net: {connect|accept|listen|bind|dns: {...}, mode, cgroup2_path, fold_repeats} */
int parse_net(struct pctx *p, struct hw_config *c, yaml_node_t *m)
{
	return parse_section(p, m, "net",
			     "connect, accept, listen, bind, dns, mode, cgroup2_path, fold_repeats",
			     net_key, c);
}
