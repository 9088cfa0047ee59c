/* ctrmeta_config.c - the container_meta section of the agent's config (docs/config.md): where
 * containerd, Docker and CRI-O keep their containers' metadata, which labels to copy into
 * events and which label names the herd. Paths are checked to be absolute here; whether they
 * exist is the business of agent/ctrmeta.c, which watches for them to appear. */
#include "agent/config_int.h"
#include <stdlib.h>
#include <string.h>

void ctrmeta_config_free(struct hw_ctrmeta_config *m)
{
	free(m->containerd_state);
	free(m->containerd_address);
	free(m->ctr);
	free(m->docker_root);
	free(m->crio_root);
	for (size_t i = 0; i < m->labels.n; i++)
		free(m->labels.v[i]);
	free(m->labels.v);
	free(m->herd_label);
	memset(m, 0, sizeof(*m));
}

static bool same_str(const char *x, const char *y)
{
	return x == y || (x && y && !strcmp(x, y));
}

bool ctrmeta_config_same(const struct hw_ctrmeta_config *x, const struct hw_ctrmeta_config *y)
{
	if (x->off != y->off || x->labels.n != y->labels.n ||
	    !same_str(x->containerd_state, y->containerd_state) ||
	    !same_str(x->containerd_address, y->containerd_address) || !same_str(x->ctr, y->ctr) ||
	    !same_str(x->docker_root, y->docker_root) || !same_str(x->crio_root, y->crio_root) ||
	    !same_str(x->herd_label, y->herd_label))
		return false;
	for (size_t i = 0; i < x->labels.n; i++)
		if (strcmp(x->labels.v[i], y->labels.v[i]))
			return false;
	return true;
}

/* an absolute path, or "" (that runtime off) */
static int get_dir(struct pctx *p, yaml_node_t *v, const char *key, char **out)
{
	if (get_str(p, v, key, out))
		return -1;
	if ((*out)[0] && (*out)[0] != '/')
		return perr(p, v, "'container_meta.%s' must be an absolute path or \"\", not '%s'",
			    key, *out);
	return 0;
}

/* A label name as Kubernetes allows it: [prefix/]name, letters, digits, '-', '_', '.', '/'. */
static int check_label(struct pctx *p, yaml_node_t *v, const char *key, const char *l)
{
	size_t n = strlen(l);
	if (n > 253 + 1 + 63)
		return perr(p, v, "'container_meta.%s': label name too long (%zu bytes)", key, n);
	for (const char *c = l; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || strchr("-_./", *c)))
			return perr(p, v,
				    "'container_meta.%s': '%s' is not a label name (letters, "
				    "digits, '-', '_', '.', '/')",
				    key, l);
	return 0;
}

static int ctrmeta_key(struct pctx *p, void *obj, const char *key, yaml_node_t *v)
{
	struct hw_ctrmeta_config *cm = obj;
	int rc;
	if (!strcmp(key, "enabled")) {
		bool on = true;
		rc = get_bool(p, v, key, &on);
		cm->off = !on;
		return rc;
	}
	if (!strcmp(key, "containerd_state"))
		return get_dir(p, v, key, &cm->containerd_state);
	if (!strcmp(key, "containerd_address"))
		return get_dir(p, v, key, &cm->containerd_address);
	if (!strcmp(key, "ctr"))
		return get_str(p, v, key, &cm->ctr);
	if (!strcmp(key, "docker_root"))
		return get_dir(p, v, key, &cm->docker_root);
	if (!strcmp(key, "crio_root"))
		return get_dir(p, v, key, &cm->crio_root);
	if (!strcmp(key, "labels")) {
		rc = get_strlist(p, v, key, &cm->labels);
		/* one more slot is kept for herd_label */
		if (!rc && cm->labels.n > HW_CTR_LABELS_MAX - 1)
			return perr(p, v, "'container_meta.labels': at most %d labels, not %zu",
				    HW_CTR_LABELS_MAX - 1, cm->labels.n);
		for (size_t i = 0; !rc && i < cm->labels.n; i++)
			rc = check_label(p, v, key, cm->labels.v[i]);
		return rc;
	}
	if (!strcmp(key, "herd_label")) {
		rc = get_str(p, v, key, &cm->herd_label);
		return rc ? rc : check_label(p, v, key, cm->herd_label);
	}
	return CONFIG_KEY_UNKNOWN;
}

int parse_ctrmeta(struct pctx *p, struct hw_config *c, yaml_node_t *m)
{
	return parse_section(p, m, "container_meta",
			     "enabled, containerd_state, containerd_address, ctr, docker_root, "
			     "crio_root, labels, herd_label",
			     ctrmeta_key, &c->ctrmeta);
}
