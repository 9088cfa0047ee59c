/* config_files.c - the files section of the agent's configuration: the file family's watch
 * list (files.watch replaces the built-in list, files.add extends it), each rule a pattern
 * and the operations it reports. Patterns are checked with file_pattern_ok() (the forms the
 * kernel side can match); a wrong rule is an error naming the file and the line
 * (docs/config.md). */
#include "agent/config_int.h"
#include <stdlib.h>
#include <string.h>

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

int parse_files(struct pctx *p, struct hw_config *c, yaml_node_t *m)
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
		} else {
			return perr(p, k, "unknown key 'files.%s' (known: watch, add)",
				    key ? key : "?");
		}
	}
	return 0;
}
