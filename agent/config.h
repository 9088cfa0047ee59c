/* config.h - the agent's YAML configuration (see docs/config.md). */
#ifndef HW_CONFIG_H
#define HW_CONFIG_H
#include <stdbool.h>
#include <stddef.h>
#include <regex.h>

struct hw_strlist {
	char **v;
	size_t n;
};

struct hw_container_pattern {
	char *src;
	regex_t re; /* group 1: herd, group 2 (optional): member id */
};

struct hw_probe_setting {
	char *name; /* probe name ("process.exec") or family ("process") */
	bool enabled;
};

struct hw_config {
	char *herd;
	char *host_name;
	char *output;
	unsigned heartbeat_s;
	unsigned args_max;
	unsigned ringbuf_mb;
	struct hw_probe_setting *probes;
	size_t n_probes;
	struct hw_strlist ignore_exe;
	struct hw_strlist ignore_cgroup;
	struct hw_container_pattern *containers;
	size_t n_containers;
	struct {
		char *address, *ca, *cert, *key, *spool_dir;
		unsigned spool_max_mb;
	} collector;
};

void config_defaults(struct hw_config *c);
/* Parse a YAML file into c (defaults first). On error returns -1 and writes
 * "FILE:LINE: reason" into err. */
int config_load(struct hw_config *c, const char *path, char *err, size_t errlen);
/* Same, from a string (tests). name is used in messages. */
int config_parse(struct hw_config *c, const char *name, const char *text, size_t len, char *err,
		 size_t errlen);
void config_free(struct hw_config *c);
/* Is the probe enabled by the config? Later settings win; an exact name beats a family. */
bool config_probe_enabled(const struct hw_config *c, const char *probe, bool dflt);

/* Callback the agent registers so that probe names in the config are checked against the
 * probe table: returns true if name is a probe or a family. */
extern bool (*config_probe_name_ok)(const char *name);

#endif
