/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * prom.h - writer of the Prometheus text exposition format, version 0.0.4 (the format
 * node_exporter's textfile collector reads and GET /metrics serves). Shared by the agent
 * (agent/metrics.c: a textfile) and the collector (collector/metrics.c: /metrics).
 *
 *   # HELP <name> <help: "\" and newline escaped>
 *   # TYPE <name> counter|gauge|untyped
 *   <name>{<label>="<value: \, " and newline escaped>",...} <value>
 *
 * A family's HELP and TYPE come first, then all its samples, before the next family. Label
 * values are written as valid UTF-8: a byte that is not part of a valid UTF-8 sequence becomes
 * U+FFFD. Out of memory leaves the buffer marked (oom) and stops growing it.
 */
#ifndef HW_PROM_H
#define HW_PROM_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct prom {
	char *p;
	size_t len, cap;
	bool oom;
};

#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

void prom_free(struct prom *b);
/* "# HELP" and "# TYPE" lines of one family; type is "counter" or "gauge". */
void prom_family(struct prom *b, const char *name, const char *type, const char *help);
/* One sample: name{labels} value. The variadic arguments are label (name, value) string
 * pairs, ended by NULL. */
void prom_u64(struct prom *b, const char *name, uint64_t v, ...) __attribute__((sentinel));
void prom_f64(struct prom *b, const char *name, double v, ...) __attribute__((sentinel));
/* A family with one unlabelled sample. */
void prom_one_u64(struct prom *b, const char *name, const char *type, const char *help, uint64_t v);
void prom_one_f64(struct prom *b, const char *name, const char *type, const char *help, double v);
/* The process's own figures as families <prefix>_cpu_seconds_total, _resident_memory_bytes,
 * _virtual_memory_bytes, _start_time_seconds, _open_fds and _max_fds ("process" gives the
 * names client libraries use). */
void prom_process(struct prom *b, const char *prefix);
/* Escape a label value into out (NUL-terminated when cap > 0; what does not fit is left out,
 * never half an escape or a character); returns the length the whole value needs. */
size_t prom_escape_label(char *out, size_t cap, const char *v);

#endif
