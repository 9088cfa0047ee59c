/* output.c - JSON-lines output with held events and told failures (see output.h). */
#include "agent/output.h"
#include "agent/log.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t out_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

void output_init(struct hw_output *o)
{
	const char *env = getenv("HW_OUTPUT_HOLD_BYTES");
	memset(o, 0, sizeof(*o));
	o->fd = -1;
	o->name = "output";
	o->hold_max = env ? strtoull(env, NULL, 0) : OUT_HOLD_MAX;
	if (o->hold_max < 4096)
		o->hold_max = 4096;
	o->flush_at = o->hold_max < OUT_BUF ? o->hold_max : OUT_BUF;
}

/* The start of a failure episode, then at most every OUT_MSG_MS while it lasts. */
static void tell_failure(struct hw_output *o, int err, uint64_t now)
{
	if (!o->err) {
		o->since_ms = now;
		o->dropped = 0;
		agent_log("writing output %s failed: %s; holding events in "
				"memory (up to %zu KiB) and retrying every second; what does not fit "
				"is dropped and announced as agent.loss (cause output_error)\n",
			o->name, strerror(err), o->hold_max >> 10);
		o->msg_ms = now;
	} else if (now - o->msg_ms >= OUT_MSG_MS) {
		agent_log("writing output %s still fails: %s (%zu KiB held, "
				"%llu events dropped so far)\n",
			o->name, strerror(err), o->len >> 10, (unsigned long long)o->dropped);
		o->msg_ms = now;
	}
	o->err = err;
	o->retry_ms = now + OUT_RETRY_MS;
}

static void tell_resumed(struct hw_output *o, uint64_t now)
{
	agent_log("writing output %s works again after %llu ms: %llu events "
			"were dropped (announced as agent.loss, cause output_error)\n",
		o->name, (unsigned long long)(now - o->since_ms), (unsigned long long)o->dropped);
	o->err = 0;
	o->resumed = true;
	if (o->cap > o->flush_at) { /* give back what the episode took */
		char *nb = realloc(o->buf, o->flush_at);
		if (nb) {
			o->buf = nb;
			o->cap = o->flush_at;
		}
	}
}

/* One pass of write() over what is waiting; what was written leaves the buffer. */
static int write_out(struct hw_output *o)
{
	size_t done = 0;
	int err = 0;
	while (done < o->len) {
		ssize_t w = write(o->fd, o->buf + done, o->len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			err = w < 0 ? errno : EIO;
			break;
		}
		done += w;
	}
	if (done)
		o->mid_line = o->buf[done - 1] != '\n';
	memmove(o->buf, o->buf + done, o->len - done);
	o->len -= done;
	return err;
}

int output_flush(struct hw_output *o, bool force)
{
	uint64_t now = out_now_ms();
	if (o->fd < 0 || (!o->len && !o->err))
		return 0;
	if (o->err && !force && now < o->retry_ms)
		return -o->err;
	int err = write_out(o);
	if (err) {
		o->errors++;
		tell_failure(o, err, now);
		return -err;
	}
	if (o->err)
		tell_resumed(o, now);
	return 0;
}

/* Room for n more bytes: the buffer grows up to hold_max while writes fail. */
static bool make_room(struct hw_output *o, size_t n)
{
	if (o->len + n > o->flush_at && !o->err)
		output_flush(o, false);
	if (o->len + n <= o->cap)
		return true;
	size_t want = o->len + n, cap = o->cap ? o->cap : o->flush_at;
	if (want > o->hold_max && want > o->flush_at)
		return false;
	while (cap < want)
		cap *= 2;
	if (cap > o->hold_max)
		cap = want > o->hold_max ? want : o->hold_max;
	char *nb = realloc(o->buf, cap);
	if (!nb)
		return false;
	o->buf = nb;
	o->cap = cap;
	return true;
}

bool output_add(struct hw_output *o, const char *line, size_t n)
{
	if (o->fd < 0)
		return true;
	if (!make_room(o, n)) {
		o->dropped++;
		return false;
	}
	memcpy(o->buf + o->len, line, n);
	o->len += n;
	return true;
}

/* The old file ends in part of a line: its rest would start the new file with a broken line.
 * It is dropped and counted (the event is lost for this output). */
static void drop_partial(struct hw_output *o)
{
	char *nl = o->len ? memchr(o->buf, '\n', o->len) : NULL;
	if (!o->mid_line || !nl)
		return;
	size_t skip = nl + 1 - o->buf;
	memmove(o->buf, o->buf + skip, o->len - skip);
	o->len -= skip;
	o->cut++;
	o->mid_line = false;
}

int output_open(struct hw_output *o, const char *path)
{
	int fd = -1;
	if (!path || !strcmp(path, "-"))
		fd = STDOUT_FILENO;
	else if (strcmp(path, "none"))
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 && path && strcmp(path, "none"))
		return -errno;
	output_flush(o, true); /* the old output gets what it can take */
	if (o->fd >= 0 && o->own_fd)
		close(o->fd);
	drop_partial(o);
	o->fd = fd;
	o->own_fd = fd > STDOUT_FILENO;
	o->name = "stdout"; /* the caller points name at its copy of path */
	if (fd < 0) { /* "none": what waited for the old output is lost */
		for (size_t i = 0; i < o->len; i++)
			o->cut += o->buf[i] == '\n';
		o->len = 0;
	}
	return 0;
}

void output_close(struct hw_output *o)
{
	if (o->fd >= 0 && o->own_fd)
		close(o->fd);
	free(o->buf);
	o->buf = NULL;
	o->fd = -1;
	o->len = o->cap = 0;
}
