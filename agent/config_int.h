/* config_int.h - inside the config parser: the parse context and the YAML helpers shared by
 * config.c (the document, its top level and the small sections) and the config_<section>.c
 * files (one section each: a parse_<section>() called from parse_root() in config.c). */
#ifndef HW_CONFIG_INT_H
#define HW_CONFIG_INT_H
#include "agent/config.h"
#include <yaml.h>

struct pctx {
	yaml_document_t doc;
	const char *name;
	char *err;
	size_t errlen;
};

/* Each (key, value) node pair of a YAML mapping. */
#define FOR_PAIRS(p, map, k, v)                                                                    \
	for (yaml_node_pair_t *pr_ = (map)->data.mapping.pairs.start;                              \
	     pr_ < (map)->data.mapping.pairs.top &&                                                \
	     ((k) = yaml_document_get_node(&(p)->doc, pr_->key),                                   \
	     (v) = yaml_document_get_node(&(p)->doc, pr_->value), 1);                              \
	     pr_++)

/* One key of a section and its value, for parse_section(): 0 taken, -1 an error (said),
 * CONFIG_KEY_UNKNOWN when it is no key of the section. obj: what the section fills. */
#define CONFIG_KEY_UNKNOWN 1
typedef int (*config_key_fn)(struct pctx *p, void *obj, const char *key, yaml_node_t *v);

/* config.c */
/* The section m, a mapping named sect ("outputs.syslog"; NULL: the top level): each pair
 * given to one(p, obj, key, value) in order. A key that is no string, or one that one() does
 * not know ("unknown key 'SECT.KEY' (known: KNOWN)"), is an error. 0, or -1 after the error. */
int parse_section(struct pctx *p, yaml_node_t *m, const char *sect, const char *known,
		  config_key_fn one, void *obj);
int perr(struct pctx *p, yaml_node_t *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
const char *scalar(yaml_node_t *n);
int load_doc(struct pctx *p, const char *name, const char *text, size_t len);
int need_map(struct pctx *p, yaml_node_t *v, const char *key);
int get_str(struct pctx *p, yaml_node_t *v, const char *key, char **out);
int get_bool(struct pctx *p, yaml_node_t *v, const char *key, bool *out);
int get_strlist(struct pctx *p, yaml_node_t *v, const char *key, struct hw_strlist *out);
void strlist_free(struct hw_strlist *l);
int get_uint(struct pctx *p, yaml_node_t *v, const char *key, unsigned lo, unsigned hi,
	     unsigned *out);
/* ctrmeta_config.c */
int parse_ctrmeta(struct pctx *p, struct hw_config *c, yaml_node_t *m);
/* inventory_config.c */
int parse_inventory(struct pctx *p, struct hw_config *c, yaml_node_t *m);
/* binhash_config.c */
int parse_exec_hash(struct pctx *p, struct hw_config *c, yaml_node_t *m);
/* tty_config.c */
void tty_config_defaults(struct hw_config *c);
int parse_tty(struct pctx *p, struct hw_config *c, yaml_node_t *m);
/* config_outputs.c */
void outputs_defaults(struct hw_config *c);
void outputs_free(struct hw_config *c);
int parse_outputs(struct pctx *p, struct hw_config *c, yaml_node_t *m);
/* file_fan_config.c: files.mode */
int parse_file_mode(struct pctx *p, struct hw_config *c, yaml_node_t *v);
/* custom_config.c */
int parse_custom_list(struct pctx *p, struct hw_config *c, yaml_node_t *s);

/* net_config.c */
int parse_net(struct pctx *p, struct hw_config *c, yaml_node_t *m);
/* file_config.c */
int parse_files(struct pctx *p, struct hw_config *c, yaml_node_t *m);
/* config_containers.c */
int parse_containers(struct pctx *p, struct hw_config *c, yaml_node_t *s);
/* config_control.c */
int parse_control(struct pctx *p, struct hw_config *c, yaml_node_t *m);
/* config_collector.c */
int parse_collector(struct pctx *p, struct hw_config *c, yaml_node_t *m);
/* config_metrics.c */
int parse_metrics(struct pctx *p, struct hw_config *c, yaml_node_t *m);

#endif
