/* family.c - the probe families as registered units. A family's probes are rows of
 * common/probes.def (attached and detached by probes.c from their candidates); what a family
 * does beyond that is one row here, and main, runtime, control and probes loop over this table
 * instead of calling families by name:
 *   init       the family's own state (a struct private to its files, reached through a pointer
 *              in struct agent): at start, before anything else of the family runs; 0 or
 *              -errno (the agent does not start);
 *   fini       frees it: at exit, after stop and after the probes are detached;
 *   configure  probes declared in the config (custom tracepoints, uprobes): at start, after the
 *              process table is seeded, and on every reload before sync_maps;
 *   sync_maps  the family's settings and filters into its kernel maps: after loading and on
 *              every reload;
 *   apply      what the family attaches itself (uprobes on shells and libpam, custom probes)
 *              follows the config and the control overrides: at start, on reload and after
 *              every control request;
 *   tick       every pass of the event loop (at most ~10 ms apart while events flow);
 *   second     once a second (folded summaries that fall due);
 *   heartbeat  the family's own fields in agent.heartbeat's "agent" object;
 *   stop       at exit, after the probes are detached (finish work in flight).
 * A new family is its BPF file, its decoders, its probe rows and one row here; its state is a
 * struct of its own with an init and a fini here, never a file static. */
#include "agent/agent.h"
#include "agent/user.h"
#include "agent/binhash.h"
#include <stdio.h>
#include <string.h>

static int custom_configure(struct agent *a)
{
	custom_sync(a);
	return 0;
}

static int custom_apply_all(struct agent *a)
{
	custom_apply(a);
	return 0;
}

static int user_file_sync(struct agent *a)
{
	return file_sync_maps(a);
}

static const struct hw_family families[] = {
	{.name = "priv",
	 .init = priv_init,
	 .fini = priv_free,
	 .sync_maps = priv_sync_maps,
	 .tick = priv_tick},
	{.name = "net",
	 .init = net_init,
	 .fini = net_free,
	 .sync_maps = net_sync_maps,
	 .second = net_tick},
	/* and the file family's records: the folded opens reported at exit */
	{.name = "user",
	 .init = user_init,
	 .fini = user_free,
	 .sync_maps = user_file_sync,
	 .apply = user_apply,
	 .heartbeat = user_heartbeat},
	/* file.open through fanotify (files.mode watch): agent/file_fan.c */
	{.name = "file_watch",
	 .init = file_fan_init,
	 .fini = file_fan_free,
	 .apply = file_fan_apply,
	 .second = file_fan_second,
	 .heartbeat = file_fan_heartbeat,
	 .stop = file_fan_stop},
	{.name = "custom",
	 .fini = custom_free,
	 .configure = custom_configure,
	 .apply = custom_apply_all},
	{.name = "inventory",
	 .init = inventory_init,
	 .fini = inventory_free,
	 .tick = inventory_tick,
	 .heartbeat = inventory_heartbeat,
	 .stop = inventory_stop},
	{.name = "quarantine", .second = quar_second, .heartbeat = quar_heartbeat},
	{.name = "tty",
	 .init = tty_init,
	 .fini = tty_free,
	 .sync_maps = tty_sync_maps,
	 .apply = tty_apply,
	 .second = tty_second,
	 .heartbeat = tty_heartbeat},
	/* not a probe family: exec.sha256's worker and cache (binhash.c) */
	{.name = "exec_hash",
	 .configure = binhash_configure,
	 .tick = binhash_tick,
	 .heartbeat = binhash_heartbeat},
};

#define FOR_EACH_FAMILY(f) for (const struct hw_family *f = families; f < families + NFAMILIES; f++)

#define NFAMILIES (sizeof(families) / sizeof(families[0]))

int families_init(struct agent *a)
{
	FOR_EACH_FAMILY (f) {
		int rc = f->init ? f->init(a) : 0;
		if (rc) {
			agent_log("cannot set up the %s family: %s\n", f->name, strerror(-rc));
			families_free(a);
			return rc;
		}
	}
	return 0;
}

/* in the reverse order of init; each fini takes a family that init never made */
void families_free(struct agent *a)
{
	for (size_t i = NFAMILIES; i-- > 0;)
		if (families[i].fini)
			families[i].fini(a);
}

void families_configure(struct agent *a)
{
	FOR_EACH_FAMILY (f)
		if (f->configure && f->configure(a))
			agent_log("the %s family's configured probes could not all be set up\n",
				  f->name);
}

void families_sync_maps(struct agent *a)
{
	FOR_EACH_FAMILY (f)
		if (f->sync_maps && f->sync_maps(a))
			agent_log("cannot write the %s probes' settings\n", f->name);
}

void families_apply(struct agent *a)
{
	FOR_EACH_FAMILY (f)
		if (f->apply)
			f->apply(a);
}

void families_tick(struct agent *a, uint64_t now_ms)
{
	FOR_EACH_FAMILY (f)
		if (f->tick)
			f->tick(a, now_ms);
}

void families_second(struct agent *a)
{
	FOR_EACH_FAMILY (f)
		if (f->second)
			f->second(a);
}

void families_heartbeat(struct agent *a, struct jbuf *b)
{
	FOR_EACH_FAMILY (f)
		if (f->heartbeat)
			f->heartbeat(a, b);
}

void families_stop(struct agent *a)
{
	FOR_EACH_FAMILY (f)
		if (f->stop)
			f->stop(a);
}
