/* config.c - YAML configuration via libyaml's document API. Every error names the file, the
 * line and the reason; unknown keys are errors (a typo must not silently disable a filter).
 * Here: the defaults and config_free(), reading the file, the document (duplicate keys are
 * errors at every level), the top level (parse_root) and its small sections (probes, filters,
 * privilege), and the helpers every section uses (config_int.h). Each larger section has a
 * file of its own, config_<section>.c. */
#include "agent/config_int.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

bool (*config_probe_name_ok)(const char *name);

void config_defaults(struct hw_config *c)
{
	memset(c, 0, sizeof(*c));
	c->heartbeat_s = 30;
	c->args_max = 4096;
	c->ringbuf_mb = 8;
	c->priv_window_s = 10;
	/* net.mode socket: cheaper than the syscall hooks on a connect storm (kernel time per
	 * connection, storms: docs/performance.md), accepts folded; syscall where no cgroup v2 */
	c->net_mode.syscall = false;
	c->net_fold_repeats = true;
	c->net[0].fold_window_s = 10; /* net.connect */
	c->net[1].fold_window_s = 10; /* net.accept (socket hooks) */
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
	tty_config_defaults(c);
}

unsigned config_ctl_command(const char *name)
{
	static const char *names[] = {"status",    "enable",     "disable",      "reload",
				      "set",       "add-probe",  "remove-probe", "kill",
				      "inventory", "quarantine", "release",      "tty"};
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

void strlist_free(struct hw_strlist *l)
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
	free(c->net_mode.cgroup2_path);
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

int parse_section(struct pctx *p, yaml_node_t *m, const char *sect, const char *known,
		  config_key_fn one, void *obj)
{
	yaml_node_t *k, *v;
	if (sect && need_map(p, m, sect))
		return -1;
	FOR_PAIRS(p, m, k, v)
	{
		const char *key = scalar(k);
		if (!key)
			return perr(p, k, "keys must be strings");
		int rc = one(p, obj, key, v);
		if (rc == CONFIG_KEY_UNKNOWN && sect)
			return perr(p, k, "unknown key '%s.%s' (known: %s)", sect, key, known);
		if (rc == CONFIG_KEY_UNKNOWN)
			return perr(p, k, "unknown key '%s' (known: %s)", key, known);
		if (rc)
			return -1;
	}
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

static int filters_key(struct pctx *p, void *obj, const char *key, yaml_node_t *v)
{
	struct hw_config *c = obj;
	if (!strcmp(key, "ignore_exe"))
		return get_strlist(p, v, key, &c->ignore_exe);
	if (strcmp(key, "ignore_cgroup"))
		return CONFIG_KEY_UNKNOWN;
	if (get_strlist(p, v, key, &c->ignore_cgroup))
		return -1;
	for (size_t i = 0; i < c->ignore_cgroup.n; i++)
		if (c->ignore_cgroup.v[i][0] != '/')
			return perr(p, v,
				    "ignore_cgroup entries are cgroup paths starting with '/', not "
				    "'%s'",
				    c->ignore_cgroup.v[i]);
	return 0;
}

/* privilege.summary_interval: seconds per capability / W+X summary window */
static int privilege_key(struct pctx *p, void *obj, const char *key, yaml_node_t *v)
{
	struct hw_config *c = obj;
	if (!strcmp(key, "summary_interval"))
		return get_uint(p, v, key, 1, 3600, &c->priv_window_s);
	return CONFIG_KEY_UNKNOWN;
}

static int parse_filters(struct pctx *p, struct hw_config *c, yaml_node_t *m)
{
	return parse_section(p, m, "filters", "ignore_exe, ignore_cgroup", filters_key, c);
}

/* privilege: {summary_interval: S} */
static int parse_privilege(struct pctx *p, struct hw_config *c, yaml_node_t *m)
{
	return parse_section(p, m, "privilege", "summary_interval", privilege_key, c);
}

/* the top level's keys: settings, and the sections (parse_<section>, config_<section>.c) */
static int root_key(struct pctx *p, void *obj, const char *key, yaml_node_t *v)
{
	struct hw_config *c = obj;
	if (!strcmp(key, "herd"))
		return get_str(p, v, key, &c->herd);
	if (!strcmp(key, "version"))
		return get_version(p, v, key, &c->version);
	if (!strcmp(key, "host_name"))
		return get_str(p, v, key, &c->host_name);
	if (!strcmp(key, "output"))
		return get_str(p, v, key, &c->output);
	if (!strcmp(key, "heartbeat_interval"))
		return get_uint(p, v, key, 1, 86400, &c->heartbeat_s);
	if (!strcmp(key, "args_max_bytes"))
		return get_uint(p, v, key, 64, 8191, &c->args_max);
	if (!strcmp(key, "ringbuf_mb"))
		return get_uint(p, v, key, 1, 1024, &c->ringbuf_mb);
	if (!strcmp(key, "exec_failed_enoent"))
		return get_bool(p, v, key, &c->exec_enoent);
	if (!strcmp(key, "control_socket"))
		return get_str(p, v, key, &c->control_socket);
	static const struct {
		const char *key;
		int (*parse)(struct pctx *p, struct hw_config *c, yaml_node_t *m);
	} sections[] = {
		{"probes", parse_probes},
		{"filters", parse_filters},
		{"containers", parse_containers},
		{"collector", parse_collector},
		{"custom_probes", parse_custom_list},
		{"control", parse_control},
		{"privilege", parse_privilege},
		{"net", parse_net},
		{"files", parse_files},
		{"metrics", parse_metrics},
		{"container_meta", parse_ctrmeta},
		{"inventory", parse_inventory},
		{"exec_hash", parse_exec_hash},
		{"outputs", parse_outputs},
		{"tty", parse_tty},
	};
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
		if (!strcmp(key, sections[i].key))
			return sections[i].parse(p, c, v) ? -1 : 0;
	return CONFIG_KEY_UNKNOWN;
}

static int parse_root(struct pctx *p, struct hw_config *c, yaml_node_t *root)
{
	if (!root)
		return 0; /* empty file: defaults */
	if (root->type != YAML_MAPPING_NODE)
		return perr(p, root, "the top level must be a mapping of settings");
	if (parse_section(p, root, NULL,
			  "herd, version, host_name, output, heartbeat_interval, args_max_bytes, "
			  "ringbuf_mb, exec_failed_enoent, probes, filters, containers, collector, "
			  "custom_probes, control_socket, control, privilege, net, files, metrics, "
			  "container_meta, inventory, exec_hash, outputs, tty",
			  root_key, c))
		return -1;
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
