// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * response.c - the response command (--response-cmd), one of the alert outputs
 * (collector/alert_out.c): at most RESPONSE_MAX at once, each with its alert on stdin (written as the
 * pipe accepts it) and killed after --response-timeout-s.
 */
#include "collector/collector.h"

/* ---- alerts ---- */

void response_close_fd(struct response *r)
{
	if (r->ev) {
		event_free(r->ev);
		r->ev = NULL;
	}
	if (r->fd >= 0) {
		close(r->fd);
		r->fd = -1;
	}
	free(r->buf);
	r->buf = NULL;
}

/* The command's stdin accepts more: write what fits, never wait. */
static void response_write(evutil_socket_t fd, short what, void *arg)
{
	struct response *r = arg;
	while (r->off < r->len) {
		ssize_t w = write(r->fd, r->buf + r->off, r->len - r->off);
		if (w > 0) {
			r->off += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return; /* the event fires again when the pipe has room */
		/* EPIPE: the command exited or closed its stdin without reading it all */
		break;
	}
	response_close_fd(r); /* EOF on the command's stdin */
}

/* Close every inherited descriptor but 0-2 (in the child, before exec). */
static void close_inherited(void)
{
#ifdef SYS_close_range
	if (syscall(SYS_close_range, 3u, ~0u, 0u) == 0)
		return;
#endif
	DIR *d = opendir("/proc/self/fd");
	if (!d) {
		for (int fd = 3; fd < 1024; fd++)
			close(fd);
		return;
	}
	int dfd = dirfd(d);
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] >= '0' && e->d_name[0] <= '9') {
			int fd = atoi(e->d_name);
			if (fd > 2 && fd != dfd)
				close(fd);
		}
	closedir(d);
}

/*
 * --response-cmd: `sh -c CMD` per alert, the alert JSON and a newline on its stdin. The alert
 * is written as the pipe accepts it, from the event loop (a command that does not read its
 * stdin cannot stall ingest); the command inherits no descriptor of the collector besides
 * stdin, stdout and stderr; it runs in its own process group, which is killed after
 * --response-timeout-s (counted: response_timeouts). At most RESPONSE_MAX run at once; an
 * alert beyond that runs no command (counted: response_skipped).
 */
void run_response(struct collector *c, const char *json, size_t len)
{
	int p[2];
	if (!c->response_cmd)
		return;
	if (c->nresponses >= RESPONSE_MAX) {
		c->response_skipped++;
		fprintf(stderr,
			"herdwatch-collector: %u response commands still running: this alert's "
			"skipped\n",
			c->nresponses);
		return;
	}
	struct response *r = calloc(1, sizeof(*r));
	if (!r || !(r->buf = malloc(len + 1)) || pipe2(p, O_CLOEXEC)) {
		if (r)
			free(r->buf);
		free(r);
		c->response_skipped++;
		return;
	}
	memcpy(r->buf, json, len);
	r->buf[len] = '\n';
	r->len = len + 1;
	pid_t pid = fork();
	if (pid == 0) {
		setpgid(0, 0);
		if (p[0] != 0) {
			dup2(p[0], 0); /* dup2 clears FD_CLOEXEC on 0 */
		} else {
			int fl = fcntl(0, F_GETFD);
			fcntl(0, F_SETFD, fl & ~FD_CLOEXEC);
		}
		close_inherited();
		signal(SIGPIPE, SIG_DFL);
		execl("/bin/sh", "sh", "-c", c->response_cmd, (char *)NULL);
		_exit(127);
	}
	close(p[0]);
	if (pid < 0) {
		fprintf(stderr, "herdwatch-collector: response command: fork: %s\n",
			strerror(errno));
		close(p[1]);
		free(r->buf);
		free(r);
		c->response_skipped++;
		return;
	}
	setpgid(pid, pid); /* also here: no race with the kill of a timeout */
	c->response_runs++;
	r->c = c;
	r->pid = pid;
	r->fd = p[1];
	r->start_ns = mono_ns();
	fcntl(r->fd, F_SETFL, fcntl(r->fd, F_GETFL) | O_NONBLOCK);
	r->ev = event_new(c->base, r->fd, EV_WRITE | EV_PERSIST, response_write, r);
	r->next = c->responses;
	c->responses = r;
	c->nresponses++;
	response_write(r->fd, EV_WRITE, r); /* most alerts fit the pipe at once */
	if (r->ev && r->fd >= 0)
		event_add(r->ev, NULL);
	else if (r->fd >= 0)
		response_close_fd(r); /* no event: cannot wait for room */
}

/* From the tick: reap finished commands, kill those past the timeout. */
void response_check(struct collector *c)
{
	uint64_t now = mono_ns();
	for (struct response **pp = &c->responses, *r; (r = *pp);) {
		int status;
		pid_t w = waitpid(r->pid, &status, WNOHANG);
		if (w == r->pid || (w < 0 && errno == ECHILD)) {
			response_close_fd(r);
			*pp = r->next;
			c->nresponses--;
			free(r);
			continue;
		}
		if (!r->killed && c->response_timeout_s &&
		    now - r->start_ns >= (uint64_t)c->response_timeout_s * 1000000000ull) {
			fprintf(stderr,
				"herdwatch-collector: response command (pid %d) still running "
				"after %u s: killed\n",
				(int)r->pid, c->response_timeout_s);
			kill(-r->pid, SIGKILL);
			kill(r->pid, SIGKILL);
			r->killed = 1;
			c->response_timeouts++;
			response_close_fd(r);
		}
		pp = &r->next;
	}
}
