/* sink.h - where finished event lines go. Every output of the agent is a sink behind this one
 * interface: the JSON-lines file (agent/sink_file.c over agent/output.c) and the collector
 * stream (agent/sink_collector.c over agent/ship.c); a new output (syslog, a webhook) is one
 * more file implementing these operations and one sinks_add() call.
 *
 * The contract every sink keeps:
 * - put() never blocks on I/O: the event loop is the agent's only reader of the ring buffer.
 *   A sink that cannot take an event returns false; the caller counts the loss under the
 *   event's kind and the sink's loss cause (agent.loss). Losses the sink finds later (a spool
 *   that overflowed, a batch that could not be read back) it announces itself in announce().
 * - batch() ends one batch of the event loop: write, or make durable, what was put.
 * - flush() writes what waits now (after a control answer, so that it is not held 10 ms).
 * - announce() runs once a second: the sink announces its own losses through report_loss();
 *   it returns false while losses counted under its cause must not be announced yet (a file
 *   output announces its write failures once writing works again, not into the failing file).
 * - stats() adds its fields to the heartbeat's "stats" object.
 * - drain() at exit: everything out, or into the sink's own durable store; 0 when nothing is
 *   lost, else it has said what on stderr.
 * A down sink never stops the others: each holds and bounds its own backlog. */
#ifndef HW_SINK_H
#define HW_SINK_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct agent;
struct jbuf;
struct hw_sink;

struct hw_sink_ops {
	const char *name;
	bool (*put)(struct hw_sink *s, const char *kind, uint64_t seq, const char *line, size_t n);
	void (*batch)(struct hw_sink *s, bool new_events, int idle_passes);
	void (*flush)(struct hw_sink *s);
	bool (*announce)(struct agent *a, struct hw_sink *s);
	void (*stats)(struct hw_sink *s, struct jbuf *b);
	int (*drain)(struct hw_sink *s);
};

struct hw_sink {
	const struct hw_sink_ops *ops;
	struct agent *a;
	int loss_cause;  /* enum hw_uloss_cause of what put() refused */
	bool losses_due; /* announce() said its cause's losses may be announced */
	void *priv;      /* the sink's own state (syslog, webhook) */
};

#define HW_MAX_SINKS 6

/* Register a sink (at start): its index, -1 when the table is full. */
int sinks_add(struct agent *a, const struct hw_sink_ops *ops, int loss_cause);
/* One finished event line (ends in '\n'; n counts it) to every sink. */
void sinks_put(struct agent *a, const char *kind, uint64_t seq, const char *line, size_t n);
void sinks_batch(struct agent *a, bool new_events, int idle_passes);
void sinks_flush(struct agent *a);
void sinks_announce(struct agent *a);
/* May losses counted under this cause be announced now? */
bool sinks_losses_due(struct agent *a, int loss_cause);
void sinks_stats(struct agent *a, struct jbuf *b);
int sinks_drain(struct agent *a);

/* The two sinks every agent has (the file output may be "none": a sink that writes nothing). */
extern const struct hw_sink_ops hw_sink_file;      /* a->out */
extern const struct hw_sink_ops hw_sink_collector; /* a->ship */

/* sink_relay.c: outputs.syslog and outputs.webhook (common/relay.h), registered at start and
 * off while their address is not set. outputs_apply() follows the config (at start and after
 * every reload): an output whose settings changed is restarted, what it held moves over. */
int outputs_start(struct agent *a);
void outputs_apply(struct agent *a);
void outputs_close(struct agent *a);
struct relay_stats;
/* The running outputs' names and figures (for the metrics), st an array of 2; how many. */
int outputs_stats(struct agent *a, const char *name[2], struct relay_stats *st);

#endif
