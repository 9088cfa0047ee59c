/* sink.c - the list of the agent's sinks and the loops over it (the interface: agent/sink.h). */
#include "agent/agent.h"
#include "agent/sink.h"

int sinks_add(struct agent *a, const struct hw_sink_ops *ops, int loss_cause)
{
	if (a->nsinks >= HW_MAX_SINKS)
		return -1;
	a->sinks[a->nsinks] =
		(struct hw_sink){.ops = ops, .a = a, .loss_cause = loss_cause, .losses_due = true};
	return a->nsinks++;
}

void sinks_put(struct agent *a, const char *kind, uint64_t seq, const char *line, size_t n)
{
	for (int i = 0; i < a->nsinks; i++)
		if (!a->sinks[i].ops->put(&a->sinks[i], kind, seq, line, n))
			count_user_loss(a, kind, a->sinks[i].loss_cause);
}

void sinks_batch(struct agent *a, bool new_events, int idle_passes)
{
	for (int i = 0; i < a->nsinks; i++)
		a->sinks[i].ops->batch(&a->sinks[i], new_events, idle_passes);
}

void sinks_flush(struct agent *a)
{
	for (int i = 0; i < a->nsinks; i++)
		a->sinks[i].ops->flush(&a->sinks[i]);
}

void sinks_announce(struct agent *a)
{
	for (int i = 0; i < a->nsinks; i++)
		a->sinks[i].losses_due = a->sinks[i].ops->announce(a, &a->sinks[i]);
}

bool sinks_losses_due(struct agent *a, int loss_cause)
{
	for (int i = 0; i < a->nsinks; i++)
		if (a->sinks[i].loss_cause == loss_cause && !a->sinks[i].losses_due)
			return false;
	return true;
}

void sinks_stats(struct agent *a, struct jbuf *b)
{
	for (int i = 0; i < a->nsinks; i++)
		if (a->sinks[i].ops->stats)
			a->sinks[i].ops->stats(&a->sinks[i], b);
}

int sinks_drain(struct agent *a)
{
	int rc = 0;
	for (int i = 0; i < a->nsinks; i++)
		if (a->sinks[i].ops->drain(&a->sinks[i]))
			rc = -1;
	return rc;
}
