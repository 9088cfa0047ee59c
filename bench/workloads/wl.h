/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * wl.h - shared scaffolding for the benchmark workloads in bench/workloads/.
 *
 * Every workload does a fixed number of operations (-n N), then prints one line of
 * key=value pairs on stdout that bench/run parses:
 *
 *   workload=<name> pid=<pid> ops=<N> wall_ns=<...> cpu_ns=<...> user_ns=<...> sys_ns=<...> [extra...]
 *
 * wall_ns is measured around the operation loop only (setup excluded); cpu_ns counts the
 * workload process and its waited-for children (RUSAGE_SELF + RUSAGE_CHILDREN), so the exec
 * storm includes the CPU of the programs it starts. Extra keys name what the workload did
 * that a monitor should report (e.g. connects=, accepts=, execs=).
 */
#ifndef HW_BENCH_WL_H
#define HW_BENCH_WL_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

struct wl_clock {
	struct timespec t0;
	struct rusage self0, kids0;
};

static inline long long wl_ts_ns(const struct timespec *t)
{
	return (long long)t->tv_sec * 1000000000LL + t->tv_nsec;
}

static inline long long wl_tv_ns(const struct timeval *t)
{
	return (long long)t->tv_sec * 1000000000LL + (long long)t->tv_usec * 1000LL;
}

static inline void wl_start(struct wl_clock *c)
{
	getrusage(RUSAGE_SELF, &c->self0);
	getrusage(RUSAGE_CHILDREN, &c->kids0);
	clock_gettime(CLOCK_MONOTONIC, &c->t0);
}

/* Print the result line. fmt/... append extra " key=value" pairs (may be NULL). */
static inline void wl_report(const struct wl_clock *c, const char *name, long long ops,
			     const char *fmt, ...)
{
	struct timespec t1;
	struct rusage self1, kids1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	getrusage(RUSAGE_SELF, &self1);
	getrusage(RUSAGE_CHILDREN, &kids1);
	long long user = wl_tv_ns(&self1.ru_utime) - wl_tv_ns(&c->self0.ru_utime) +
			 wl_tv_ns(&kids1.ru_utime) - wl_tv_ns(&c->kids0.ru_utime);
	long long sys = wl_tv_ns(&self1.ru_stime) - wl_tv_ns(&c->self0.ru_stime) +
			wl_tv_ns(&kids1.ru_stime) - wl_tv_ns(&c->kids0.ru_stime);
	printf("workload=%s pid=%d ops=%lld wall_ns=%lld cpu_ns=%lld user_ns=%lld sys_ns=%lld",
	       name, (int)getpid(), ops, wl_ts_ns(&t1) - wl_ts_ns(&c->t0), user + sys, user, sys);
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
	}
	printf("\n");
	fflush(stdout);
}

static inline void __attribute__((noreturn)) wl_die(const char *what)
{
	fprintf(stderr, "workload: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Parse a positive count; exits with a message on anything else. */
static inline long long wl_count(const char *s, const char *opt)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end || v <= 0) {
		fprintf(stderr, "workload: %s wants a positive number, got '%s'\n", opt, s);
		exit(2);
	}
	return v;
}

#endif
