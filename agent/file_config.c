/* file_config.c - the files section of the agent's configuration: the file family's watch
 * list (files.watch replaces the built-in list, files.add extends it), each rule a pattern
 * and the operations it reports. Patterns are checked with file_pattern_ok() (the forms the
 * kernel side can match); a wrong rule is an error naming the file and the line
 * (docs/config.md). */
#include "agent/config_int.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* a rule given as {path: PATTERN, ops: [OP...]} */
struct rule_entry {
	const char *pat;
	unsigned ops;
};

static int rule_key(struct pctx *p, void *obj, const char *key, yaml_node_t *v)
{
	static const char *opn[] = {"read",   "write", "truncate", "unlink",
				    "rename", "chmod", "chown",    "link"};
	struct rule_entry *r = obj;
	if (!strcmp(key, "path") && scalar(v)) {
		r->pat = scalar(v);
		return 0;
	}
	if (strcmp(key, "ops") || v->type != YAML_SEQUENCE_NODE)
		return CONFIG_KEY_UNKNOWN;
	for (yaml_node_item_t *o = v->data.sequence.items.start; o < v->data.sequence.items.top;
	     o++) {
		yaml_node_t *on = yaml_document_get_node(&p->doc, *o);
		const char *os = scalar(on);
		unsigned b = 0;
		for (unsigned j = 0; os && j < 8; j++)
			if (!strcmp(os, opn[j]))
				b = 1u << j;
		if (!strcmp(os ? os : "", "all"))
			b = 0xff;
		if (!b)
			return perr(p, on,
				    "unknown file operation '%s' (known: read, write, truncate, "
				    "unlink, rename, chmod, chown, link, all)",
				    os ? os : "?");
		r->ops |= b;
	}
	return 0;
}

/* files.watch or files.add: [RULE...]; RULE is a pattern string (every operation) or
 * {path: PATTERN, ops: [read, write, truncate, unlink, rename, chmod, chown, link]}. */
static int parse_file_rules(struct pctx *p, yaml_node_t *s, const char *key,
			    struct hw_file_rule **out, size_t *n)
{
	if (s->type != YAML_SEQUENCE_NODE)
		return perr(p, s, "'files.%s' must be a list of paths or {path, ops}", key);
	for (yaml_node_item_t *it = s->data.sequence.items.start; it < s->data.sequence.items.top;
	     it++) {
		yaml_node_t *e = yaml_document_get_node(&p->doc, *it);
		struct rule_entry r = {scalar(e), 0xff};
		if (!r.pat && e->type == YAML_MAPPING_NODE) {
			char sect[64];
			snprintf(sect, sizeof(sect), "files.%s[]", key);
			r.ops = 0;
			if (parse_section(p, e, sect, "path, ops", rule_key, &r))
				return -1;
			if (!r.ops)
				return perr(p, e, "'files.%s' entry needs 'ops'", key);
		}
		if (!r.pat || !*r.pat)
			return perr(p, e, "'files.%s' entries are paths or {path, ops}", key);
		if (!file_pattern_ok(r.pat))
			return perr(p, e,
				    "bad watch pattern '%s' (use /abs/path, /dir/, */NAME, */DIR/ "
				    "or /proc/*/NAME; names under 32 bytes)",
				    r.pat);
		struct hw_file_rule *nr = realloc(*out, (*n + 1) * sizeof(*nr));
		if (!nr)
			return perr(p, e, "out of memory");
		*out = nr;
		if (!(nr[*n].pattern = strdup(r.pat)))
			return perr(p, e, "out of memory");
		nr[*n].ops = r.ops;
		(*n)++;
	}
	return 0;
}

static int files_key(struct pctx *p, void *obj, const char *key, yaml_node_t *v)
{
	struct hw_config *c = obj;
	if (!strcmp(key, "watch")) {
		c->file_rules_set = true;
		return parse_file_rules(p, v, key, &c->file_rules, &c->n_file_rules);
	}
	if (!strcmp(key, "add"))
		return parse_file_rules(p, v, key, &c->file_add, &c->n_file_add);
	if (!strcmp(key, "mode")) /* file_fan_config.c */
		return parse_file_mode(p, c, v);
	return CONFIG_KEY_UNKNOWN;
}

/* files: {watch: [RULE...], add: [RULE...], mode: auto|watch|exact} (files.watch replaces the
 * built-in list) */
int parse_files(struct pctx *p, struct hw_config *c, yaml_node_t *m)
{
	return parse_section(p, m, "files", "watch, add, mode", files_key, c);
}
