/* log.c - the agent's messages to stderr (the journal under systemd): one line each, prefixed
 * with the program's name, written with one write() so that lines from the agent's threads
 * never interleave. Events never go here: they go to the sinks (agent/sink.h). */
#include "agent/log.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void agent_log(const char *fmt, ...)
{
	char line[2048];
	static const char prefix[] = "herdwatch-agent: ";
	size_t n = sizeof(prefix) - 1;
	va_list ap;

	memcpy(line, prefix, n);
	va_start(ap, fmt);
	int r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	if (r < 0)
		return;
	n += (size_t)r < sizeof(line) - n ? (size_t)r : sizeof(line) - n - 1;
	if (line[n - 1] != '\n') {
		if (n == sizeof(line) - 1)
			n--;
		line[n++] = '\n';
	}
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}
