/* custom_config.c - custom probe entries (probes.custom in the config, "ctl add-probe"): a
 * tracepoint or uprobe with what to capture and in-kernel filters. An error inside an entry
 * does not fail the config: the entry keeps its reason and the probe is reported as
 * unavailable with it (docs/control.md). */
#include "agent/config_int.h"
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

/* A custom probe entry. Errors inside an entry do not fail the config: the entry keeps its
 * error and is reported as unavailable, so one bad probe never stops the others. */
static void custom_err(struct hw_custom_def *d, yaml_node_t *n, const char *fmt, const char *a)
{
	char msg[300];
	if (d->error)
		return;
	snprintf(msg, sizeof(msg), fmt, a ? a : "");
	d->error = strdup(msg);
	if (n)
		d->line = n->start_mark.line + 1;
}

static void parse_capture(struct pctx *p, struct hw_custom_def *d, yaml_node_t *e)
{
	struct hw_custom_capture *c;
	yaml_node_t *k, *v;
	if (d->ncap >= HW_CUSTOM_MAX_CAPTURE) {
		custom_err(d, e, "more than 8 captured values", NULL);
		return;
	}
	c = &d->cap[d->ncap++];
	if (scalar(e)) { /* a tracepoint field by name */
		c->name = strdup(scalar(e));
		return;
	}
	if (e->type != YAML_MAPPING_NODE) {
		custom_err(d, e,
			   "capture entries are a field name or {name, arg|ret|field, type, max}",
			   NULL);
		return;
	}
	FOR_PAIRS(p, e, k, v)
	{
		const char *key = scalar(k), *val = scalar(v);
		if (!key || !val) {
			custom_err(d, k, "capture keys and values must be scalars", NULL);
			return;
		}
		if (!strcmp(key, "name") || !strcmp(key, "field")) {
			free(c->name);
			c->name = strdup(val);
		} else if (!strcmp(key, "arg")) {
			char *end;
			long x = strtol(val, &end, 10);
			if (*end || x < 1 || x > 6)
				custom_err(d, v, "arg must be 1..6, not '%s'", val);
			c->arg = (int)x;
		} else if (!strcmp(key, "ret")) {
			c->ret = !strcmp(val, "true") || !strcmp(val, "yes");
		} else if (!strcmp(key, "type")) {
			free(c->type);
			c->type = strdup(val);
		} else if (!strcmp(key, "max") || !strcmp(key, "len")) {
			char *end;
			unsigned long x = strtoul(val, &end, 10);
			if (*end || x < 1 || x > 255)
				custom_err(d, v, "max must be 1..255, not '%s'", val);
			c->max = (unsigned)x;
		} else {
			custom_err(d, k,
				   "unknown capture key '%s' (known: name, field, arg, ret, type, "
				   "max)",
				   key);
		}
	}
	if (!c->name) {
		char nm[16];
		snprintf(nm, sizeof(nm), c->ret ? "ret" : "arg%d", c->arg);
		c->name = strdup(nm);
	}
}

static void parse_filter(struct pctx *p, struct hw_custom_def *d, yaml_node_t *f)
{
	yaml_node_t *fk, *fv;
	struct hw_custom_filter *cf;
	if (d->nflt >= HW_CUSTOM_MAX_FILTER) {
		custom_err(d, f, "more than 4 filters", NULL);
		return;
	}
	if (f->type != YAML_MAPPING_NODE) {
		custom_err(d, f, "filters are {field, op, value}", NULL);
		return;
	}
	cf = &d->flt[d->nflt++];
	FOR_PAIRS(p, f, fk, fv)
	{
		const char *fkey = scalar(fk), *fval = scalar(fv);
		char **dst = !fkey                    ? NULL
			     : !strcmp(fkey, "field") ? &cf->field
			     : !strcmp(fkey, "op")    ? &cf->op
			     : !strcmp(fkey, "value") ? &cf->value
						      : NULL;
		if (!dst || !fval) {
			custom_err(d, fk, "unknown filter key '%s' (known: field, op, value)",
				   fkey);
			continue;
		}
		free(*dst);
		*dst = strdup(fval);
	}
	if (!cf->field || !cf->op || !cf->value)
		custom_err(d, f, "a filter needs field, op and value", NULL);
}

static void parse_custom_entry(struct pctx *p, struct hw_custom_def *d, yaml_node_t *e)
{
	yaml_node_t *k, *v;
	d->line = e->start_mark.line + 1;
	if (e->type != YAML_MAPPING_NODE) {
		custom_err(d, e,
			   "a custom probe is a mapping {name, tracepoint|uprobe|uretprobe, "
			   "capture, filter, cgroup, pid}",
			   NULL);
		return;
	}
	FOR_PAIRS(p, e, k, v)
	{
		const char *key = scalar(k);
		if (!key) {
			custom_err(d, k, "keys must be strings", NULL);
			continue;
		}
		if (!strcmp(key, "name") && scalar(v)) {
			free(d->name);
			d->name = strdup(scalar(v));
		} else if ((!strcmp(key, "tracepoint") || !strcmp(key, "uprobe") ||
			    !strcmp(key, "uretprobe")) &&
			   scalar(v)) {
			if (d->target)
				custom_err(d, k, "give one of tracepoint, uprobe, uretprobe", NULL);
			free(d->target);
			d->target = strdup(scalar(v));
			d->hook = key[0] == 't'   ? HW_CUSTOM_TP
				  : key[1] == 'p' ? HW_CUSTOM_UPROBE
						  : HW_CUSTOM_URETPROBE;
		} else if (!strcmp(key, "capture") && v->type == YAML_SEQUENCE_NODE) {
			for (yaml_node_item_t *it = v->data.sequence.items.start;
			     it < v->data.sequence.items.top; it++)
				parse_capture(p, d, yaml_document_get_node(&p->doc, *it));
		} else if (!strcmp(key, "filter") && v->type == YAML_SEQUENCE_NODE) {
			for (yaml_node_item_t *it = v->data.sequence.items.start;
			     it < v->data.sequence.items.top; it++)
				parse_filter(p, d, yaml_document_get_node(&p->doc, *it));
		} else if (!strcmp(key, "cgroup") && scalar(v)) {
			free(d->cgroup);
			d->cgroup = strdup(scalar(v));
			if (!*d->cgroup)
				custom_err(d, v, "cgroup must be a cgroup v2 path", NULL);
		} else if (!strcmp(key, "pid") && scalar(v)) {
			char *end;
			unsigned long x = strtoul(scalar(v), &end, 10);
			if (!isdigit((unsigned char)scalar(v)[0]) || *end || x < 1 || x > 4194304)
				custom_err(d, v, "pid must be a process id (1..4194304), not '%s'",
					   scalar(v));
			else
				d->pid = (unsigned)x;
		} else {
			custom_err(d, k,
				   "unknown or malformed custom probe key '%s' (known: name, "
				   "tracepoint, uprobe, uretprobe, capture (a list), filter (a "
				   "list), cgroup, pid)",
				   key);
		}
	}
	if (!d->name)
		custom_err(d, e, "custom probe without a name", NULL);
	if (!d->target)
		custom_err(d, e, "custom probe needs one of tracepoint, uprobe, uretprobe", NULL);
}

int parse_custom_list(struct pctx *p, struct hw_config *c, yaml_node_t *s)
{
	if (s->type != YAML_SEQUENCE_NODE)
		return perr(p, s, "'custom_probes' must be a list");
	for (yaml_node_item_t *it = s->data.sequence.items.start; it < s->data.sequence.items.top;
	     it++) {
		struct hw_custom_def *nc = realloc(c->custom, (c->n_custom + 1) * sizeof(*nc));
		if (!nc)
			return perr(p, s, "out of memory");
		c->custom = nc;
		memset(&nc[c->n_custom], 0, sizeof(nc[0]));
		parse_custom_entry(p, &nc[c->n_custom], yaml_document_get_node(&p->doc, *it));
		c->n_custom++;
	}
	return 0;
}

int config_parse_custom(struct hw_custom_def *d, const char *text, size_t len, char *err,
			size_t errlen)
{
	struct pctx p = {.name = "add-probe", .err = err, .errlen = errlen};
	yaml_node_t *root;
	memset(d, 0, sizeof(*d));
	if (load_doc(&p, "add-probe", text, len))
		return -1;
	root = yaml_document_get_root_node(&p.doc);
	if (!root) {
		snprintf(err, errlen, "add-probe: empty probe");
		yaml_document_delete(&p.doc);
		return -1;
	}
	parse_custom_entry(&p, d, root);
	yaml_document_delete(&p.doc);
	return 0;
}
