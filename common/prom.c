// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* prom.c - the Prometheus text exposition format (see prom.h). */
#include "common/prom.h"

#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

void prom_free(struct prom *b)
{
	free(b->p);
	*b = (struct prom){0};
}

static bool grow(struct prom *b, size_t n)
{
	if (b->oom)
		return false;
	if (b->len + n + 1 <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < b->len + n + 1)
		cap *= 2;
	char *p = realloc(b->p, cap);
	if (!p) {
		b->oom = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

static void put(struct prom *b, const char *s, size_t n)
{
	if (!grow(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

static void puts_(struct prom *b, const char *s)
{
	put(b, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 when the byte at s does not start one
 * (stray continuation byte, overlong form, surrogate, beyond U+10FFFF, cut short). */
static size_t utf8_len(const unsigned char *s)
{
	unsigned c = s[0];
	if (c < 0x80)
		return 1;
	size_t n = c >= 0xc2 && c <= 0xdf   ? 2
		   : c >= 0xe0 && c <= 0xef ? 3
		   : c >= 0xf0 && c <= 0xf4 ? 4
					    : 0;
	if (!n)
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0; /* also stops at the terminating NUL */
	if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f) ||
	    (c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] > 0x8f))
		return 0;
	return n;
}

size_t prom_escape_label(char *out, size_t cap, const char *v)
{
	size_t o = 0, w_len = 0; /* needed, written (an escape or a character is never split) */
	const unsigned char *s = (const unsigned char *)v;
	while (*s) {
		char tmp[4];
		const char *w = tmp;
		size_t n, adv;
		if (*s == '\\' || *s == '"') {
			tmp[0] = '\\', tmp[1] = (char)*s, n = 2, adv = 1;
		} else if (*s == '\n') {
			tmp[0] = '\\', tmp[1] = 'n', n = 2, adv = 1;
		} else if ((adv = utf8_len(s))) {
			w = (const char *)s, n = adv;
		} else {
			w = "\xef\xbf\xbd", n = 3, adv = 1; /* U+FFFD */
		}
		if (o == w_len && o + n < cap) {
			memcpy(out + o, w, n);
			w_len += n;
		}
		o += n;
		s += adv;
	}
	if (cap)
		out[w_len] = 0;
	return o;
}

void prom_family(struct prom *b, const char *name, const char *type, const char *help)
{
	puts_(b, "# HELP ");
	puts_(b, name);
	put(b, " ", 1);
	for (const char *h = help; *h; h++)
		if (*h == '\\')
			put(b, "\\\\", 2);
		else if (*h == '\n')
			put(b, "\\n", 2);
		else
			put(b, h, 1);
	puts_(b, "\n# TYPE ");
	puts_(b, name);
	put(b, " ", 1);
	puts_(b, type);
	put(b, "\n", 1);
}

static void labels(struct prom *b, va_list ap)
{
	const char *k;
	bool first = true;
	while ((k = va_arg(ap, const char *))) {
		const char *v = va_arg(ap, const char *);
		if (!v)
			v = "";
		put(b, first ? "{" : ",", 1);
		first = false;
		puts_(b, k);
		put(b, "=\"", 2);
		size_t n = prom_escape_label(NULL, 0, v);
		if (grow(b, n)) {
			prom_escape_label(b->p + b->len, n + 1, v);
			b->len += n;
		}
		put(b, "\"", 1);
	}
	if (!first)
		put(b, "}", 1);
}

void prom_u64(struct prom *b, const char *name, uint64_t v, ...)
{
	va_list ap;
	char num[32];
	puts_(b, name);
	va_start(ap, v);
	labels(b, ap);
	va_end(ap);
	int n = snprintf(num, sizeof(num), " %llu\n", (unsigned long long)v);
	put(b, num, (size_t)n);
}

void prom_f64(struct prom *b, const char *name, double v, ...)
{
	va_list ap;
	char num[48];
	puts_(b, name);
	va_start(ap, v);
	labels(b, ap);
	va_end(ap);
	int n;
	if (isnan(v))
		n = snprintf(num, sizeof(num), " NaN\n");
	else if (isinf(v))
		n = snprintf(num, sizeof(num), " %cInf\n", v > 0 ? '+' : '-');
	else
		n = snprintf(num, sizeof(num), " %.17g\n", v);
	put(b, num, (size_t)n);
}

void prom_one_u64(struct prom *b, const char *name, const char *type, const char *help, uint64_t v)
{
	prom_family(b, name, type, help);
	prom_u64(b, name, v, NULL);
}

void prom_one_f64(struct prom *b, const char *name, const char *type, const char *help, double v)
{
	prom_family(b, name, type, help);
	prom_f64(b, name, v, NULL);
}

/* Seconds since the epoch at which this process started: its start time in clock ticks after
 * boot (/proc/self/stat field 22) plus the boot time (/proc/stat btime). 0 when unknown. */
static double start_time_s(void)
{
	char buf[1024];
	unsigned long long ticks = 0, btime = 0;
	FILE *f = fopen("/proc/self/stat", "re");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = 0;
	char *p = strrchr(buf, ')'); /* comm may hold spaces and parentheses */
	/* after ")": state (field 3) ... starttime (field 22) */
	if (!p || sscanf(p + 2,
			 "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d "
			 "%*d %llu",
			 &ticks) != 1)
		return 0;
	f = fopen("/proc/stat", "re");
	while (f && fgets(buf, sizeof(buf), f))
		if (sscanf(buf, "btime %llu", &btime) == 1)
			break;
	if (f)
		fclose(f);
	long hz = sysconf(_SC_CLK_TCK);
	return btime && hz > 0 ? (double)btime + (double)ticks / (double)hz : 0;
}

static unsigned long long open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned long long n = 0;
	struct dirent *e;
	if (!d)
		return 0;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n ? n - 1 : 0; /* without the descriptor that read the directory */
}

void prom_process(struct prom *b, const char *prefix)
{
	char name[128];
	struct rusage ru;
	unsigned long vsz = 0, rss = 0;
	long page = sysconf(_SC_PAGESIZE);
	struct rlimit rl;

	getrusage(RUSAGE_SELF, &ru);
	FILE *f = fopen("/proc/self/statm", "re");
	if (f) {
		if (fscanf(f, "%lu %lu", &vsz, &rss) != 2)
			vsz = rss = 0;
		fclose(f);
	}
	double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
		     ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
	snprintf(name, sizeof(name), "%s_cpu_seconds_total", prefix);
	prom_one_f64(b, name, "counter", "User and system CPU time spent, in seconds.", cpu);
	snprintf(name, sizeof(name), "%s_resident_memory_bytes", prefix);
	prom_one_u64(b, name, "gauge", "Resident memory size, in bytes.",
		     (uint64_t)rss * (uint64_t)page);
	snprintf(name, sizeof(name), "%s_virtual_memory_bytes", prefix);
	prom_one_u64(b, name, "gauge", "Virtual memory size, in bytes.",
		     (uint64_t)vsz * (uint64_t)page);
	snprintf(name, sizeof(name), "%s_start_time_seconds", prefix);
	prom_one_f64(b, name, "gauge",
		     "Start time of the process since the Unix epoch, in seconds.", start_time_s());
	snprintf(name, sizeof(name), "%s_open_fds", prefix);
	prom_one_u64(b, name, "gauge", "Open file descriptors.", open_fds());
	if (!getrlimit(RLIMIT_NOFILE, &rl)) {
		snprintf(name, sizeof(name), "%s_max_fds", prefix);
		prom_one_u64(b, name, "gauge", "Limit of open file descriptors (RLIMIT_NOFILE).",
			     rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur);
	}
}
