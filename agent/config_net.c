/* config_net.c - the net section of the agent's configuration: per kind of network event
 * (connect, accept, listen, bind, dns) what the net probes leave out (loopback, ports, CIDRs)
 * and, for connect, the window that folds repeated connections into one event. Every value
 * is checked here: a wrong one is an error naming the file, the line and what is expected
 * (docs/config.md). */
#include "agent/config_int.h"
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

/* net.<kind>: {ignore_loopback, ignore_ports, ignore_cidrs, fold_window_s (connect only)} */
static int parse_net_kind(struct pctx *p, struct hw_net_kind_config *nk, const char *kind,
			  bool is_connect, yaml_node_t *m)
{
	yaml_node_t *k, *v;
	if (need_map(p, m, kind))
		return -1;
	FOR_PAIRS(p, m, k, v)
	{
		const char *key = scalar(k);
		int rc = 0;
		if (key && !strcmp(key, "ignore_loopback")) {
			rc = get_bool(p, v, key, &nk->ignore_loopback);
		} else if (key && !strcmp(key, "ignore_ports")) {
			struct hw_strlist l = {0};
			rc = get_strlist(p, v, key, &l);
			nk->nports = 0;
			for (size_t i = 0; !rc && i < l.n; i++) {
				char *end;
				unsigned long port = strtoul(l.v[i], &end, 10);
				if (*end || port == 0 || port > 65535)
					rc = perr(p, v,
						  "'ignore_ports' entries are ports 1-65535, not "
						  "'%s'",
						  l.v[i]);
				else if (nk->nports >= HW_NET_NPORTS)
					rc = perr(p, v, "'ignore_ports' holds at most %d ports",
						  HW_NET_NPORTS);
				else
					nk->ports[nk->nports++] = (unsigned short)port;
			}
			strlist_free(&l);
		} else if (key && !strcmp(key, "ignore_cidrs")) {
			rc = get_strlist(p, v, key, &nk->cidrs);
			for (size_t i = 0; !rc && i < nk->cidrs.n; i++) {
				char addr[64];
				unsigned char bin[16];
				const char *s = nk->cidrs.v[i], *sl = strchr(s, '/');
				char *end = NULL;
				size_t al = sl ? (size_t)(sl - s) : strlen(s);
				int v6 = strchr(s, ':') != NULL;
				long bits = sl ? strtol(sl + 1, &end, 10) : (v6 ? 128 : 32);
				if (al >= sizeof(addr) || (sl && (*end || sl[1] == 0)) ||
				    bits < 0 || bits > (v6 ? 128 : 32))
					return perr(p, v, "bad CIDR '%s' (want ADDR/BITS)", s);
				memcpy(addr, s, al);
				addr[al] = 0;
				if (inet_pton(v6 ? AF_INET6 : AF_INET, addr, bin) != 1)
					return perr(p, v, "bad address in CIDR '%s'", s);
			}
		} else if (key && !strcmp(key, "fold_window_s") && is_connect) {
			rc = get_uint(p, v, key, 0, 86400, &nk->fold_window_s);
		} else {
			return perr(p, k,
				    "unknown key 'net.%s.%s' (known: ignore_loopback, "
				    "ignore_ports, ignore_cidrs%s)",
				    kind, key ? key : "?", is_connect ? ", fold_window_s" : "");
		}
		if (rc)
			return -1;
	}
	return 0;
}

/* net: {connect|accept|listen|bind|dns: {...}} - per-kind filters of the net probes */
int parse_net(struct pctx *p, struct hw_config *c, yaml_node_t *m)
{
	static const char *const kinds[HW_NET_NKINDS] = {"connect", "accept", "listen", "bind",
							 "dns"};
	yaml_node_t *k, *v;
	if (need_map(p, m, "net"))
		return -1;
	FOR_PAIRS(p, m, k, v)
	{
		const char *kind = scalar(k);
		int ki = -1;
		for (int i = 0; kind && i < HW_NET_NKINDS; i++)
			if (!strcmp(kind, kinds[i]))
				ki = i;
		if (ki < 0)
			return perr(
				p, k,
				"unknown key 'net.%s' (known: connect, accept, listen, bind, dns)",
				kind ? kind : "?");
		if (parse_net_kind(p, &c->net[ki], kind, ki == 0, v))
			return -1;
	}
	return 0;
}
