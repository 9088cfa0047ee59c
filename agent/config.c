/* config.c - YAML configuration via libyaml's document API. Every error names the file, the
 * line and the reason; unknown keys are errors (a typo must not silently disable a filter). */
#include "agent/config_int.h"
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>
#include <arpa/inet.h>

bool (*config_probe_name_ok)(const char *name);

void config_defaults(struct hw_config *c)
{
	memset(c, 0, sizeof(*c));
	c->heartbeat_s = 30;
	c->args_max = 4096;
	c->ringbuf_mb = 8;
	c->priv_window_s = 10;
	c->collector.spool_max_mb = 256;
	c->metrics.interval_s = 15;
	c->inventory.at_start = true;
	c->inventory.interval_h = 6;
	c->inventory.time_budget_ms = 60000;
	c->inventory.max_files = 1000000;
	c->inventory.max_read_mb = 64;
	c->inventory.max_items = 20000;
	c->exec_hash.enabled = true;
	c->exec_hash.max_file_kb = 64 * 1024;
	c->exec_hash.budget_kb_s = 32 * 1024;
	c->exec_hash.cache_entries = 4096;
	c->control.collector_allow = HW_CTL_COLLECTOR_DEFAULT;
	c->control.collector_max_for_s = HW_CTL_MAX_FOR_DEFAULT;
	outputs_defaults(c);
}

unsigned config_ctl_command(const char *name)
{
	static const char *names[] = {"status",    "enable",     "disable",      "reload",
				      "set",       "add-probe",  "remove-probe", "kill",
				      "inventory", "quarantine", "release"};
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (name && !strcmp(name, names[i]))
			return 1U << i;
	return 0;
}

void custom_def_free(struct hw_custom_def *d)
{
	free(d->name);
	free(d->target);
	free(d->cgroup);
	for (size_t i = 0; i < d->ncap; i++) {
		free(d->cap[i].name);
		free(d->cap[i].type);
	}
	for (size_t i = 0; i < d->nflt; i++) {
		free(d->flt[i].field);
		free(d->flt[i].op);
		free(d->flt[i].value);
	}
	free(d->error);
	memset(d, 0, sizeof(*d));
}

static void strlist_free(struct hw_strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

void config_free(struct hw_config *c)
{
	free(c->herd);
	free(c->version);
	free(c->host_name);
	free(c->output);
	for (size_t i = 0; i < c->n_probes; i++)
		free(c->probes[i].name);
	free(c->probes);
	strlist_free(&c->ignore_exe);
	strlist_free(&c->ignore_cgroup);
	for (int i = 0; i < HW_NET_NKINDS; i++)
		strlist_free(&c->net[i].cidrs);
	for (size_t i = 0; i < c->n_file_rules; i++)
		free(c->file_rules[i].pattern);
	free(c->file_rules);
	for (size_t i = 0; i < c->n_file_add; i++)
		free(c->file_add[i].pattern);
	free(c->file_add);
	for (size_t i = 0; i < c->n_containers; i++) {
		free(c->containers[i].src);
		regfree(&c->containers[i].re);
	}
	free(c->containers);
	for (size_t i = 0; i < c->n_custom; i++)
		custom_def_free(&c->custom[i]);
	free(c->custom);
	free(c->control_socket);
	free(c->collector.address);
	free(c->collector.ca);
	free(c->collector.cert);
	free(c->collector.key);
	free(c->collector.spool_dir);
	free(c->metrics.textfile);
	ctrmeta_config_free(&c->ctrmeta);
	outputs_free(c);
	memset(c, 0, sizeof(*c));
}

bool config_probe_enabled(const struct hw_config *c, const char *probe, bool dflt)
{
	bool fam_set = false, fam_val = dflt;
	size_t dot = strcspn(probe, ".");
	bool exact_set = false, exact_val = dflt;
	for (size_t i = 0; i < c->n_probes; i++) {
		const char *n = c->probes[i].name;
		if (strcmp(n, probe) == 0) {
			exact_set = true;
			exact_val = c->probes[i].enabled;
			continue;
		}
		if (strlen(n) == dot && strncmp(n, probe, dot) == 0) {
			fam_set = true;
			fam_val = c->probes[i].enabled;
		}
	}
	if (exact_set)
		return exact_val;
	return fam_set ? fam_val : dflt;
}

int perr(struct pctx *p, yaml_node_t *n, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(p->err, p->errlen, "%s:%zu: %s", p->name, n ? n->start_mark.line + 1 : 0, msg);
	return -1;
}

const char *scalar(yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

int get_str(struct pctx *p, yaml_node_t *v, const char *key, char **out)
{
	const char *s = scalar(v);
	if (!s)
		return perr(p, v, "'%s' must be a string", key);
	free(*out);
	*out = strdup(s);
	return *out ? 0 : perr(p, v, "out of memory");
}

/* A version (release, image tag, AMI id): a non-empty string of at most HW_VERSION_MAX bytes
 * without control characters (it is written into every event's host object). */
#define HW_VERSION_MAX 127
static int get_version(struct pctx *p, yaml_node_t *v, const char *key, char **out)
{
	const char *s = scalar(v);
	bool null = s && v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
		    (!*s || !strcmp(s, "~") || !strcmp(s, "null"));
	if (!s || null)
		return perr(p, v, "'%s' must be a string (a release, image tag or AMI id)", key);
	size_t l = strlen(s);
	if (!l || l > HW_VERSION_MAX)
		return perr(p, v, "'%s' must be 1 to %d characters, not %zu", key, HW_VERSION_MAX,
			    l);
	for (size_t i = 0; i < l; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return perr(p, v, "'%s' must not contain control characters", key);
	return get_str(p, v, key, out);
}

int get_uint(struct pctx *p, yaml_node_t *v, const char *key, unsigned lo, unsigned hi,
	     unsigned *out)
{
	const char *s = scalar(v);
	char *end;
	if (!s || !*s)
		return perr(p, v, "'%s' must be a number", key);
	errno = 0;
	unsigned long x = strtoul(s, &end, 10);
	if (errno || *end || s[0] == '-')
		return perr(p, v, "'%s' must be a whole number, not '%s'", key, s);
	if (x < lo || x > hi)
		return perr(p, v, "'%s' must be between %u and %u, not %lu", key, lo, hi, x);
	*out = (unsigned)x;
	return 0;
}

int get_bool(struct pctx *p, yaml_node_t *v, const char *key, bool *out)
{
	const char *s = scalar(v);
	if (s && (!strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "on"))) {
		*out = true;
		return 0;
	}
	if (s && (!strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "off"))) {
		*out = false;
		return 0;
	}
	return perr(p, v, "'%s' must be true or false", key);
}

int get_strlist(struct pctx *p, yaml_node_t *v, const char *key, struct hw_strlist *out)
{
	if (v->type != YAML_SEQUENCE_NODE)
		return perr(p, v, "'%s' must be a list of strings", key);
	strlist_free(out);
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++) {
		yaml_node_t *e = yaml_document_get_node(&p->doc, *it);
		const char *s = scalar(e);
		if (!s || !*s)
			return perr(p, e, "'%s' entries must be non-empty strings", key);
		char **nv = realloc(out->v, (out->n + 1) * sizeof(*nv));
		if (!nv)
			return perr(p, e, "out of memory");
		out->v = nv;
		if (!(out->v[out->n] = strdup(s)))
			return perr(p, e, "out of memory");
		out->n++;
	}
	return 0;
}

int need_map(struct pctx *p, yaml_node_t *v, const char *key)
{
	if (v->type != YAML_MAPPING_NODE)
		return perr(p, v, "'%s' must be a mapping", key);
	return 0;
}

static int parse_probes(struct pctx *p, struct hw_config *c, yaml_node_t *m)
{
	yaml_node_t *k, *v;
	if (need_map(p, m, "probes"))
		return -1;
	FOR_PAIRS(p, m, k, v)
	{
		const char *name = scalar(k);
		bool en = false;
		if (!name)
			return perr(p, k, "probe names must be strings");
		if (config_probe_name_ok && !config_probe_name_ok(name))
			return perr(p, k, "unknown probe '%s' (see herdwatch-agent --probe)", name);
		if (get_bool(p, v, name, &en))
			return -1;
		struct hw_probe_setting *np = realloc(c->probes, (c->n_probes + 1) * sizeof(*np));
		if (!np)
			return perr(p, k, "out of memory");
		c->probes = np;
		c->probes[c->n_probes].name = strdup(name);
		c->probes[c->n_probes].enabled = en;
		c->n_probes++;
	}
	return 0;
}

static int parse_filters(struct pctx *p, struct hw_config *c, yaml_node_t *m)
{
	yaml_node_t *k, *v;
	if (need_map(p, m, "filters"))
		return -1;
	FOR_PAIRS(p, m, k, v)
	{
		const char *key = scalar(k);
		if (key && !strcmp(key, "ignore_exe")) {
			if (get_strlist(p, v, key, &c->ignore_exe))
				return -1;
		} else if (key && !strcmp(key, "ignore_cgroup")) {
			if (get_strlist(p, v, key, &c->ignore_cgroup))
				return -1;
			for (size_t i = 0; i < c->ignore_cgroup.n; i++)
				if (c->ignore_cgroup.v[i][0] != '/')
					return perr(p, v,
						    "ignore_cgroup entries are cgroup paths "
						    "starting with '/', not '%s'",
						    c->ignore_cgroup.v[i]);
		} else {
			return perr(p, k,
				    "unknown key 'filters.%s' (known: ignore_exe, ignore_cgroup)",
				    key ? key : "?");
		}
	}
	return 0;
}

static int parse_containers(struct pctx *p, struct hw_config *c, yaml_node_t *s)
{
	if (s->type != YAML_SEQUENCE_NODE)
		return perr(p, s, "'containers' must be a list of {cgroup: PATTERN}");
	for (yaml_node_item_t *it = s->data.sequence.items.start; it < s->data.sequence.items.top;
	     it++) {
		yaml_node_t *e = yaml_document_get_node(&p->doc, *it), *k, *v, *vg = NULL;
		char *pat = NULL;
		unsigned vgroup = 0;
		if (e->type != YAML_MAPPING_NODE)
			return perr(p, e, "'containers' entries must be {cgroup: PATTERN}");
		FOR_PAIRS(p, e, k, v)
		{
			const char *key = scalar(k);
			int rc;
			if (key && !strcmp(key, "cgroup")) {
				rc = get_str(p, v, key, &pat);
			} else if (key && !strcmp(key, "version_group")) {
				rc = get_uint(p, v, "containers[].version_group", 2, 9, &vgroup);
				vg = v;
			} else {
				free(pat);
				return perr(p, k,
					    "unknown key 'containers[].%s' (known: cgroup, "
					    "version_group)",
					    key ? key : "?");
			}
			if (rc) {
				free(pat);
				return -1;
			}
		}
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

static int parse_collector(struct pctx *p, struct hw_config *c, yaml_node_t *m)
{
	yaml_node_t *k, *v;
	if (need_map(p, m, "collector"))
		return -1;
	FOR_PAIRS(p, m, k, v)
	{
		const char *key = scalar(k);
		int rc;
		if (!key)
			return perr(p, k, "keys must be strings");
		if (!strcmp(key, "address"))
			rc = get_str(p, v, key, &c->collector.address);
		else if (!strcmp(key, "ca"))
			rc = get_str(p, v, key, &c->collector.ca);
		else if (!strcmp(key, "cert"))
			rc = get_str(p, v, key, &c->collector.cert);
		else if (!strcmp(key, "key"))
			rc = get_str(p, v, key, &c->collector.key);
		else if (!strcmp(key, "spool_dir"))
			rc = get_str(p, v, key, &c->collector.spool_dir);
		else if (!strcmp(key, "spool_max_mb"))
			rc = get_uint(p, v, key, 1, 1 << 20, &c->collector.spool_max_mb);
		else
			return perr(p, k,
				    "unknown key 'collector.%s' (known: address, ca, cert, key, "
				    "spool_dir, spool_max_mb)",
				    key);
		if (rc)
			return -1;
	}
	if (!c->collector.address)
		return perr(p, m, "'collector' needs an 'address' (host:port)");
	if (!c->collector.ca || !c->collector.cert || !c->collector.key)
		return perr(p, m, "'collector' needs 'ca', 'cert' and 'key' (mutual TLS)");
	return 0;
}

/* metrics: {textfile: PATH, interval: S} - the agent's metrics as a node_exporter textfile
 * (agent/metrics.c); an empty textfile turns them off (in an overlay, say). */
static int parse_metrics(struct pctx *p, struct hw_config *c, yaml_node_t *m)
{
	yaml_node_t *k, *v;
	if (need_map(p, m, "metrics"))
		return -1;
	FOR_PAIRS(p, m, k, v)
	{
		const char *key = scalar(k);
		if (key && !strcmp(key, "textfile")) {
			if (get_str(p, v, key, &c->metrics.textfile))
				return -1;
			const char *t = c->metrics.textfile;
			size_t l = strlen(t);
			if (!l) {
				free(c->metrics.textfile);
				c->metrics.textfile = NULL;
			} else if (t[0] != '/' || l < 6 || strcmp(t + l - 5, ".prom") ||
				   t[l - 6] == '/') {
				return perr(
					p, v,
					"'metrics.textfile' must be an absolute path of a file "
					"named *.prom (node_exporter's textfile collector reads "
					"only those), not '%s'",
					t);
			}
		} else if (key && !strcmp(key, "interval")) {
			if (get_uint(p, v, key, 1, 3600, &c->metrics.interval_s))
				return -1;
		} else {
			return perr(p, k, "unknown key 'metrics.%s' (known: textfile, interval)",
				    key ? key : "?");
		}
	}
	return 0;
}

/* privilege: {summary_interval: S} - seconds per capability / W+X summary window */
static int parse_privilege(struct pctx *p, struct hw_config *c, yaml_node_t *m)
{
	yaml_node_t *k, *v;
	if (need_map(p, m, "privilege"))
		return -1;
	FOR_PAIRS(p, m, k, v)
	{
		const char *key = scalar(k);
		if (key && !strcmp(key, "summary_interval")) {
			if (get_uint(p, v, key, 1, 3600, &c->priv_window_s))
				return -1;
		} else {
			return perr(p, k, "unknown key 'privilege.%s' (known: summary_interval)",
				    key ? key : "?");
		}
	}
	return 0;
}

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
static int parse_net(struct pctx *p, struct hw_config *c, yaml_node_t *m)
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

/* files: {watch: [RULE...], add: [RULE...]}; RULE is a pattern string (every operation) or
 * {path: PATTERN, ops: [read, write, truncate, unlink, rename, chmod, chown, link]}. */
static int parse_file_rules(struct pctx *p, yaml_node_t *s, const char *key,
			    struct hw_file_rule **out, size_t *n)
{
	static const char *opn[] = {"read",   "write", "truncate", "unlink",
				    "rename", "chmod", "chown",    "link"};
	if (s->type != YAML_SEQUENCE_NODE)
		return perr(p, s, "'files.%s' must be a list of paths or {path, ops}", key);
	for (yaml_node_item_t *it = s->data.sequence.items.start; it < s->data.sequence.items.top;
	     it++) {
		yaml_node_t *e = yaml_document_get_node(&p->doc, *it), *k, *v;
		const char *pat = scalar(e);
		unsigned ops = 0xff;
		if (!pat && e->type == YAML_MAPPING_NODE) {
			ops = 0;
			FOR_PAIRS(p, e, k, v)
			{
				const char *kk = scalar(k);
				if (kk && !strcmp(kk, "path") && scalar(v)) {
					pat = scalar(v);
				} else if (kk && !strcmp(kk, "ops") &&
					   v->type == YAML_SEQUENCE_NODE) {
					for (yaml_node_item_t *o = v->data.sequence.items.start;
					     o < v->data.sequence.items.top; o++) {
						yaml_node_t *on =
							yaml_document_get_node(&p->doc, *o);
						const char *os = scalar(on);
						unsigned b = 0;
						for (unsigned j = 0; os && j < 8; j++)
							if (!strcmp(os, opn[j]))
								b = 1u << j;
						if (!strcmp(os ? os : "", "all"))
							b = 0xff;
						if (!b)
							return perr(p, on,
								    "unknown file operation '%s' "
								    "(known: read, write, "
								    "truncate, unlink, rename, "
								    "chmod, chown, link, all)",
								    os ? os : "?");
						ops |= b;
					}
				} else {
					return perr(
						p, k,
						"unknown key 'files.%s[].%s' (known: path, ops)",
						key, kk ? kk : "?");
				}
			}
			if (!ops)
				return perr(p, e, "'files.%s' entry needs 'ops'", key);
		}
		if (!pat || !*pat)
			return perr(p, e, "'files.%s' entries are paths or {path, ops}", key);
		if (!file_pattern_ok(pat))
			return perr(p, e,
				    "bad watch pattern '%s' (use /abs/path, /dir/, */NAME, */DIR/ "
				    "or /proc/*/NAME; names under 32 bytes)",
				    pat);
		struct hw_file_rule *nr = realloc(*out, (*n + 1) * sizeof(*nr));
		if (!nr)
			return perr(p, e, "out of memory");
		*out = nr;
		if (!(nr[*n].pattern = strdup(pat)))
			return perr(p, e, "out of memory");
		nr[*n].ops = ops;
		(*n)++;
	}
	return 0;
}

static int parse_files(struct pctx *p, struct hw_config *c, yaml_node_t *m)
{
	yaml_node_t *k, *v;
	if (need_map(p, m, "files"))
		return -1;
	FOR_PAIRS(p, m, k, v)
	{
		const char *key = scalar(k);
		if (key && !strcmp(key, "watch")) {
			c->file_rules_set = true;
			if (parse_file_rules(p, v, key, &c->file_rules, &c->n_file_rules))
				return -1;
		} else if (key && !strcmp(key, "add")) {
			if (parse_file_rules(p, v, key, &c->file_add, &c->n_file_add))
				return -1;
		} else if (key && !strcmp(key, "mode")) {
			if (parse_file_mode(p, c, v))
				return -1;
		} else {
			return perr(p, k, "unknown key 'files.%s' (known: watch, add, mode)",
				    key ? key : "?");
		}
	}
	return 0;
}

/* control: {socket, collector_allow: [commands], collector_max_for: seconds} */
static int parse_control(struct pctx *p, struct hw_config *c, yaml_node_t *m)
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

static int parse_root(struct pctx *p, struct hw_config *c, yaml_node_t *root)
{
	yaml_node_t *k, *v;
	if (!root)
		return 0; /* empty file: defaults */
	if (root->type != YAML_MAPPING_NODE)
		return perr(p, root, "the top level must be a mapping of settings");
	FOR_PAIRS(p, root, k, v)
	{
		const char *key = scalar(k);
		int rc;
		if (!key)
			return perr(p, k, "keys must be strings");
		if (!strcmp(key, "herd"))
			rc = get_str(p, v, key, &c->herd);
		else if (!strcmp(key, "version"))
			rc = get_version(p, v, key, &c->version);
		else if (!strcmp(key, "host_name"))
			rc = get_str(p, v, key, &c->host_name);
		else if (!strcmp(key, "output"))
			rc = get_str(p, v, key, &c->output);
		else if (!strcmp(key, "heartbeat_interval"))
			rc = get_uint(p, v, key, 1, 86400, &c->heartbeat_s);
		else if (!strcmp(key, "args_max_bytes"))
			rc = get_uint(p, v, key, 64, 8191, &c->args_max);
		else if (!strcmp(key, "ringbuf_mb"))
			rc = get_uint(p, v, key, 1, 1024, &c->ringbuf_mb);
		else if (!strcmp(key, "exec_failed_enoent"))
			rc = get_bool(p, v, key, &c->exec_enoent);
		else if (!strcmp(key, "probes"))
			rc = parse_probes(p, c, v);
		else if (!strcmp(key, "filters"))
			rc = parse_filters(p, c, v);
		else if (!strcmp(key, "containers"))
			rc = parse_containers(p, c, v);
		else if (!strcmp(key, "collector"))
			rc = parse_collector(p, c, v);
		else if (!strcmp(key, "custom_probes"))
			rc = parse_custom_list(p, c, v);
		else if (!strcmp(key, "control_socket"))
			rc = get_str(p, v, key, &c->control_socket);
		else if (!strcmp(key, "control"))
			rc = parse_control(p, c, v);
		else if (!strcmp(key, "privilege"))
			rc = parse_privilege(p, c, v);
		else if (!strcmp(key, "net"))
			rc = parse_net(p, c, v);
		else if (!strcmp(key, "files"))
			rc = parse_files(p, c, v);
		else if (!strcmp(key, "metrics"))
			rc = parse_metrics(p, c, v);
		else if (!strcmp(key, "container_meta"))
			rc = parse_ctrmeta(p, c, v);
		else if (!strcmp(key, "inventory"))
			rc = parse_inventory(p, c, v);
		else if (!strcmp(key, "exec_hash"))
			rc = parse_exec_hash(p, c, v);
		else if (!strcmp(key, "outputs"))
			rc = parse_outputs(p, c, v);
		else
			return perr(
				p, k,
				"unknown key '%s' (known: herd, version, host_name, output, "
				"heartbeat_interval, args_max_bytes, ringbuf_mb, "
				"exec_failed_enoent, probes, filters, containers, collector, "
				"custom_probes, control_socket, control, privilege, net, files, "
				"metrics, container_meta, inventory, exec_hash, outputs)",
				key);
		if (rc)
			return -1;
	}
	if (c->ringbuf_mb & (c->ringbuf_mb - 1))
		return perr(p, root, "'ringbuf_mb' must be a power of two, not %u", c->ringbuf_mb);
	return 0;
}

/* A key given twice in one mapping: libyaml keeps both pairs and the parsers would take the
 * last silently. Checked over every mapping node of the document, so at every level. */
static int check_dup_keys(struct pctx *p, yaml_node_t *m)
{
	yaml_node_pair_t *a, *b;
	for (a = m->data.mapping.pairs.start; a < m->data.mapping.pairs.top; a++) {
		const char *ka = scalar(yaml_document_get_node(&p->doc, a->key));
		for (b = m->data.mapping.pairs.start; ka && b < a; b++) {
			const char *kb = scalar(yaml_document_get_node(&p->doc, b->key));
			if (kb && !strcmp(ka, kb))
				return perr(p, yaml_document_get_node(&p->doc, a->key),
					    "duplicate key '%s'", ka);
		}
	}
	return 0;
}

static int check_doc(struct pctx *p)
{
	for (yaml_node_t *n = p->doc.nodes.start; n < p->doc.nodes.top; n++)
		if (n->type == YAML_MAPPING_NODE && check_dup_keys(p, n))
			return -1;
	return 0;
}

int load_doc(struct pctx *p, const char *name, const char *text, size_t len)
{
	yaml_parser_t parser;
	if (!yaml_parser_initialize(&parser)) {
		snprintf(p->err, p->errlen, "%s: cannot initialise the YAML parser", name);
		return -1;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &p->doc)) {
		snprintf(p->err, p->errlen, "%s:%zu: YAML syntax error: %s", name,
			 parser.problem_mark.line + 1, parser.problem ? parser.problem : "unknown");
		yaml_parser_delete(&parser);
		return -1;
	}
	yaml_parser_delete(&parser);
	if (check_doc(p)) {
		yaml_document_delete(&p->doc);
		return -1;
	}
	return 0;
}

int config_parse_into(struct hw_config *c, const char *name, const char *text, size_t len,
		      char *err, size_t errlen)
{
	struct pctx p = {.name = name, .err = err, .errlen = errlen};
	int rc;
	if (load_doc(&p, name, text, len))
		return -1;
	rc = parse_root(&p, c, yaml_document_get_root_node(&p.doc));
	yaml_document_delete(&p.doc);
	return rc;
}

int config_parse(struct hw_config *c, const char *name, const char *text, size_t len, char *err,
		 size_t errlen)
{
	config_defaults(c);
	if (config_parse_into(c, name, text, len, err, errlen)) {
		config_free(c);
		return -1;
	}
	return 0;
}

char *config_read_file(const char *path, size_t *lenp, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0, cap = 0;

	if (!f) {
		snprintf(err, errlen, "%s: cannot open config: %s", path, strerror(errno));
		return NULL;
	}
	for (;;) {
		if (len + 1 >= cap) {
			if (cap >= (1 << 20)) {
				snprintf(err, errlen, "%s: config larger than 1 MiB", path);
				goto fail;
			}
			cap = cap ? cap * 2 : 4096;
			char *nb = realloc(buf, cap);
			if (!nb) {
				snprintf(err, errlen, "%s: out of memory", path);
				goto fail;
			}
			buf = nb;
		}
		size_t n = fread(buf + len, 1, cap - len - 1, f);
		if (n == 0)
			break;
		len += n;
	}
	fclose(f);
	buf[len] = 0;
	*lenp = len;
	return buf;
fail:
	free(buf);
	fclose(f);
	return NULL;
}

int config_load(struct hw_config *c, const char *path, char *err, size_t errlen)
{
	size_t len;
	char *buf = config_read_file(path, &len, err, errlen);
	int rc;
	if (!buf)
		return -1;
	rc = config_parse(c, path, buf, len, err, errlen);
	free(buf);
	return rc;
}
