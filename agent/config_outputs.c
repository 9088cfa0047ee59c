/* config_outputs.c - the 'outputs:' section of the agent's config: outputs.syslog and
 * outputs.webhook (docs/config.md, docs/outputs.md). Every value is checked here, with the
 * reason and line of what is wrong, so that a reload with a bad output is rejected whole and
 * the running outputs stay; agent/sink_relay.c starts and changes the outputs from it. */
#include "agent/config_int.h"
#include "common/relay.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void output_defaults(struct hw_output_config *o)
{
	memset(o, 0, sizeof(*o));
	o->facility = 3; /* daemon */
	o->max_message = 8192;
	o->batch_max = 500;
	o->flush_ms = 1000;
	o->buffer_kb = 4096;
	o->timeout_ms = 5000;
}

void outputs_defaults(struct hw_config *c)
{
	output_defaults(&c->outputs.syslog);
	output_defaults(&c->outputs.webhook);
}

static void headers_free(struct hw_output_config *o)
{
	for (unsigned i = 0; i < o->nheaders; i++)
		free(o->headers[i]);
	o->nheaders = 0;
}

static void output_free(struct hw_output_config *o)
{
	free(o->address);
	free(o->ca);
	headers_free(o);
	o->address = o->ca = NULL;
}

void outputs_free(struct hw_config *c)
{
	output_free(&c->outputs.syslog);
	output_free(&c->outputs.webhook);
}

/* webhook.headers: a mapping of header names to values */
static int parse_headers(struct pctx *p, struct hw_output_config *o, yaml_node_t *m)
{
	yaml_node_t *k, *v;
	if (need_map(p, m, "outputs.webhook.headers"))
		return -1;
	headers_free(o);
	FOR_PAIRS(p, m, k, v)
	{
		const char *name = scalar(k), *val = scalar(v);
		if (!name || !val)
			return perr(p, k, "'outputs.webhook.headers' maps header names to strings");
		if (o->nheaders == HW_OUTPUT_MAX_HEADERS)
			return perr(p, k, "'outputs.webhook.headers': at most %d headers",
				    HW_OUTPUT_MAX_HEADERS);
		if (!strcasecmp(name, "Content-Length") || !strcasecmp(name, "Host") ||
		    !strcasecmp(name, "Content-Type") || !strcasecmp(name, "Transfer-Encoding"))
			return perr(p, k, "'outputs.webhook.headers': '%s' is set by the agent",
				    name);
		char *h;
		if (asprintf(&h, "%s: %s", name, val) < 0)
			return perr(p, k, "out of memory");
		o->headers[o->nheaders++] = h;
		struct relay_opts ro = {.kind = RELAY_WEBHOOK, .target = "http://x/"};
		char err[256];
		ro.headers[0] = h;
		ro.nheaders = 1;
		if (relay_check(&ro, err, sizeof(err)))
			return perr(p, v, "'outputs.webhook.headers': %s", err);
	}
	return 0;
}

/* keys both outputs have; 1 when key is not one of them */
static int common_key(struct pctx *p, struct hw_output_config *o, const char *sect, const char *key,
		      yaml_node_t *v)
{
	char full[64];
	snprintf(full, sizeof(full), "outputs.%s.%s", sect, key);
	if (!strcmp(key, "buffer_kb"))
		return get_uint(p, v, full, 64, 1048576, &o->buffer_kb);
	if (!strcmp(key, "timeout_ms"))
		return get_uint(p, v, full, 100, 60000, &o->timeout_ms);
	return 1;
}

static int syslog_key(struct pctx *p, void *obj, const char *key, yaml_node_t *v)
{
	struct hw_output_config *o = obj;
	int rc = common_key(p, o, "syslog", key, v);
	if (rc <= 0)
		return rc;
	if (!strcmp(key, "address"))
		return get_str(p, v, "outputs.syslog.address", &o->address);
	if (!strcmp(key, "max_message"))
		return get_uint(p, v, "outputs.syslog.max_message", 480, 1048576, &o->max_message);
	if (strcmp(key, "facility"))
		return CONFIG_KEY_UNKNOWN;
	const char *s = scalar(v);
	int f = s ? relay_facility(s) : -1;
	if (f < 0)
		return perr(p, v,
			    "'outputs.syslog.facility' must be a syslog facility (kern, user, "
			    "daemon, auth, authpriv, local0..local7, ...), not '%s'",
			    s ? s : "?");
	o->facility = (unsigned)f;
	return 0;
}

static int webhook_key(struct pctx *p, void *obj, const char *key, yaml_node_t *v)
{
	struct hw_output_config *o = obj;
	int rc = common_key(p, o, "webhook", key, v);
	if (rc <= 0)
		return rc;
	if (!strcmp(key, "url"))
		return get_str(p, v, "outputs.webhook.url", &o->address);
	if (!strcmp(key, "ca"))
		return get_str(p, v, "outputs.webhook.ca", &o->ca);
	if (!strcmp(key, "headers"))
		return parse_headers(p, o, v);
	if (!strcmp(key, "batch_max"))
		return get_uint(p, v, "outputs.webhook.batch_max", 1, 10000, &o->batch_max);
	if (!strcmp(key, "flush_ms"))
		return get_uint(p, v, "outputs.webhook.flush_ms", 0, 60000, &o->flush_ms);
	return CONFIG_KEY_UNKNOWN;
}

/* An address or URL that is given must be one the output can use; "" turns the output off. */
static int check_target(struct pctx *p, yaml_node_t *m, struct hw_output_config *o,
			enum relay_kind kind)
{
	const char *key = kind == RELAY_SYSLOG ? "outputs.syslog.address" : "outputs.webhook.url";
	if (o->address && !*o->address) {
		free(o->address);
		o->address = NULL;
	}
	if (!o->address)
		return 0;
	struct relay_opts ro = {.kind = kind, .target = o->address, .max_message = o->max_message};
	char err[256];
	if (relay_check(&ro, err, sizeof(err)))
		return perr(p, m, "'%s': %s", key, err);
	if (o->ca && kind == RELAY_WEBHOOK && strncmp(o->address, "https://", 8))
		return perr(p, m, "'outputs.webhook.ca' is for an https:// URL, not '%s'",
			    o->address);
	return 0;
}

static int outputs_key(struct pctx *p, void *obj, const char *key, yaml_node_t *v)
{
	struct hw_config *c = obj;
	if (!strcmp(key, "syslog")) {
		if (parse_section(p, v, "outputs.syslog",
				  "address, facility, max_message, buffer_kb, timeout_ms",
				  syslog_key, &c->outputs.syslog))
			return -1;
		return check_target(p, v, &c->outputs.syslog, RELAY_SYSLOG);
	}
	if (!strcmp(key, "webhook")) {
		if (parse_section(p, v, "outputs.webhook",
				  "url, ca, headers, batch_max, flush_ms, buffer_kb, timeout_ms",
				  webhook_key, &c->outputs.webhook))
			return -1;
		return check_target(p, v, &c->outputs.webhook, RELAY_WEBHOOK);
	}
	return CONFIG_KEY_UNKNOWN;
}

int parse_outputs(struct pctx *p, struct hw_config *c, yaml_node_t *m)
{
	return parse_section(p, m, "outputs", "syslog, webhook", outputs_key, c);
}
