/* runtime.c - what changes while the agent runs: the output file and the configuration
 * (SIGHUP, "ctl reload", "ctl set"). */
#include "agent/agent.h"
#include "agent/ctrmeta.h"
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* path: a file (appended), "-" or NULL for stdout, "none" for no output. The output writes
 * once per batch, holds events while writes fail (agent/output.h). */
int open_output(struct agent *a, const char *path)
{
	int rc = output_open(&a->out, path);
	if (rc) {
		agent_log("cannot write output file %s: %s: create its "
			  "directory and make it writable, or choose another file (--output, "
			  "'output:' in the config; '-' for stdout)\n",
			  path, strerror(-rc));
		return -1;
	}
	if (path != a->out_path) {
		free(a->out_path);
		a->out_path = path ? strdup(path) : NULL;
	}
	if (a->out.fd > STDOUT_FILENO && a->out_path)
		a->out.name = a->out_path;
	return 0;
}

static void emit_config_event(struct agent *a, const char *result, const char *error)
{
	emit_begin(a, "agent.config", 0);
	jb_key(&a->jb, "config");
	jb_obj_begin(&a->jb);
	jb_kcstr(&a->jb, "path", a->config_path);
	jb_kcstr(&a->jb, "result", result);
	jb_kcstr(&a->jb, "error", error);
	jb_obj_end(&a->jb);
	emit_end(a);
}

/* Build the config from the file and the overlays (plus `extra`), then swap it in. Nothing
 * changes unless the whole result parses. */
int agent_reload(struct agent *a, const char *extra, char *err, size_t errlen)
{
	struct hw_config nc;
	size_t len = 0;
	char *text = NULL;

	config_defaults(&nc);
	if (a->config_path) {
		text = config_read_file(a->config_path, &len, err, errlen);
		if (!text || config_parse_into(&nc, a->config_path, text, len, err, errlen))
			goto fail;
		free(text);
		text = NULL;
	}
	for (size_t i = 0; i < a->n_overlays; i++)
		if (config_parse_into(&nc, "set", a->overlays[i], strlen(a->overlays[i]), err,
				      errlen))
			goto fail;
	if (extra && config_parse_into(&nc, "set", extra, strlen(extra), err, errlen))
		goto fail;
	if (nc.ringbuf_mb != a->cfg.ringbuf_mb)
		agent_log("ringbuf_mb changes take effect at restart\n");
	nc.ringbuf_mb = a->cfg.ringbuf_mb;
	net_mode_keep(&nc, &a->cfg);
	/* Reopen a file output on every reload, even under the same name: after log rotation
	 * the agent must write to the new file, not to the renamed one. A change to stdout ('-')
	 * or to no output ('none') is applied too. */
	const char *target = a->out_from_cmdline || !nc.output ? a->out_path : nc.output;
	bool special = target && (!strcmp(target, "-") || !strcmp(target, "none"));
	const char *cur = a->out_path ? a->out_path : "-";
	if (target && (!special || strcmp(target, cur))) {
		char *t = strdup(target);
		int orc = t ? open_output(a, t) : -1;
		free(t);
		if (orc) {
			snprintf(err, errlen, "cannot open the output file %s", target);
			goto fail;
		}
	}
	if (extra) {
		char **no = realloc(a->overlays, (a->n_overlays + 1) * sizeof(*no));
		char *copy = strdup(extra);
		if (!no || !copy) {
			free(copy);
			if (no)
				a->overlays = no;
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		a->overlays = no;
		a->overlays[a->n_overlays++] = copy;
	}
	if (!ctrmeta_config_same(&a->cfg.ctrmeta, &nc.ctrmeta)) {
		/* new places or labels: a fresh cache (the worker ends its lookup under way) */
		ctrmeta_stop(a->ctrmeta);
		a->ctrmeta = ctrmeta_start(&nc.ctrmeta);
	}
	config_free(&a->cfg);
	a->cfg = nc;
	a->cfg_gen++; /* cached process contexts hold container matches of the old config */
	probes_apply(a);
	families_configure(a);
	probes_sync_maps(a);
	families_apply(a);
	outputs_apply(a);
	emit_config_event(a, "applied", NULL);
	malloc_trim(0); /* the old config and what detaching freed */
	return 0;
fail:
	free(text);
	config_free(&nc);
	agent_log("reload rejected, keeping the running config: %s\n", err);
	emit_config_event(a, "rejected", err);
	return -1;
}
