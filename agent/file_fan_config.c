/* file_fan_config.c - the `files.mode` key: how the file.open probe sees opens of watched files.
 *
 *   auto   (default) `watch` where the kernel has no active BPF-LSM, `exact` elsewhere
 *   watch  fanotify marks on the watched files and directories only (agent/file_fan.c): an
 *          unwatched open runs no herdwatch code
 *   exact  the syscall exit tracepoints of open/openat/openat2/creat (bpf/file.bpf.c): every
 *          open on the host, failed ones and open flags included
 *
 * Contract: parse_file_mode() accepts exactly these three words and rejects anything else with
 * the file, line and the list of known values; file_mode_name() names a mode for the manifest
 * and the heartbeat. The other files.* keys stay in config.c. */
#include "agent/config_int.h"
#include <string.h>

static const char *const modes[] = {
	[HW_FILE_MODE_AUTO] = "auto",
	[HW_FILE_MODE_WATCH] = "watch",
	[HW_FILE_MODE_EXACT] = "exact",
};

const char *file_mode_name(unsigned mode)
{
	return mode < sizeof(modes) / sizeof(modes[0]) ? modes[mode] : "unknown";
}

int parse_file_mode(struct pctx *p, struct hw_config *c, yaml_node_t *v)
{
	const char *s = scalar(v);
	if (!s)
		return perr(p, v, "'files.mode' must be one of auto, watch, exact");
	for (unsigned i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (!strcmp(s, modes[i])) {
			c->file_mode = i;
			return 0;
		}
	return perr(p, v, "unknown 'files.mode' '%s' (known: auto, watch, exact)", s);
}
