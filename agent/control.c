/* control.c - the agent's local control socket, and the "herdwatch-agent ctl" client.
 *
 * A Unix stream socket (default /run/herdwatch/agent.sock) in a root-only 0700 directory,
 * itself mode 0600; the peer's credentials (SO_PEERCRED) must also be uid 0. One request per
 * connection: the client writes its arguments, each NUL-terminated, and shuts down its write
 * side; the agent answers one JSON line {"ok":true|false, ...} and closes.
 *
 *   status                          probes (with hooks, reasons, counters), overrides, seq
 *   enable|disable NAME [--for S]   a probe or family, optionally for S seconds only
 *   reload                          re-read the config file (as SIGHUP)
 *   set YAML                        apply config settings on top of the file (filters, ...)
 *   add-probe [--for S] YAML        add a custom probe (removed again after S seconds)
 *   remove-probe NAME               remove a custom probe
 *   kill PID|PROC-KEY [SIGNAL]      a response: signal a process (agent/respond.c)
 *   inventory                       take the inventory now (agent/inventory.c)
 *   quarantine TARGET --for S       network quarantine of a process tree, a cgroup or the
 *   release TARGET                  host, until released or S seconds (quarantine.c)
 *   tty on|off [--session PID]      TTY capture for the host or a session (agent/tty.c)
 *
 * Every request that changes something is reported as an agent.control event (who asked,
 * what, the result), followed by a heartbeat with the new manifest. Connections are read
 * without blocking, a bit at a time from the event loop; one that has not sent its whole
 * request within 2 s is answered with an error and closed.
 */
#include "agent/agent.h"
#include "agent/user.h"
#include "agent/ship.h"
#include "common/wire.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define CTL_MAX_REQ 65536
#define CTL_MAX_ARGS 16
#define CTL_MAX_CONNS 8
#define CTL_TIMEOUT_MS 2000

/* a client connection whose request is still arriving */
static struct ctl_conn {
	int fd; /* 0: free */
	struct ucred cr;
	char *buf;
	size_t len;
	uint64_t deadline;
} conns[CTL_MAX_CONNS];

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

int control_open(struct agent *a, const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char dir[sizeof(sa.sun_path)];
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		agent_log("control socket path too long: %s\n", path);
		return -ENAMETOOLONG;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		if (mkdir(dir, 0700) && errno != EEXIST) {
			agent_log("cannot create %s: %s\n", dir, strerror(errno));
			return -errno;
		}
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* a socket left by an agent that died is replaced; a live agent's is not */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		agent_log("another agent answers on %s\n", path);
		close(fd);
		return -EADDRINUSE;
	}
	unlink(path);
	/* The socket file takes its mode from the socket's inode at bind (minus the umask):
	 * set both before bind, so no chmod by path (which would follow a symlink planted
	 * there) is needed and the file is never more open than 0600. */
	mode_t old = umask(0177);
	int rc = fchmod(fd, 0600);
	if (!rc)
		rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc || listen(fd, 8)) {
		rc = -errno;
		agent_log("cannot listen on %s: %s\n", path, strerror(-rc));
		close(fd);
		return rc;
	}
	a->ctl_path = strdup(path);
	return fd;
}

static void reply(int fd, struct jbuf *b)
{
	jb_raw(b, "\n", 1);
	const char *p = b->p;
	size_t left = b->len;
	while (left) {
		ssize_t n = write(fd, p, left);
		if (n <= 0)
			break;
		p += n;
		left -= n;
	}
}

/* Replace whatever b holds with {"ok":false,"error":...}. */
static void set_err(struct jbuf *b, const char *fmt, const char *arg)
{
	char msg[600];
	snprintf(msg, sizeof(msg), fmt, arg ? arg : "");
	jb_reset(b);
	jb_obj_begin(b);
	jb_kbool(b, "ok", false);
	jb_kcstr(b, "error", msg);
}

static void reply_err(int fd, const char *fmt, const char *arg)
{
	struct jbuf b;
	char msg[600];
	snprintf(msg, sizeof(msg), fmt, arg ? arg : "");
	jb_init(&b, 256);
	jb_obj_begin(&b);
	jb_kbool(&b, "ok", false);
	jb_kcstr(&b, "error", msg);
	jb_obj_end(&b);
	reply(fd, &b);
	jb_free(&b);
}

/* "--for S" anywhere after the command: the duration in ms (0 = none), removed from args. */
static int take_for(char **args, int *n, uint64_t *ms, struct jbuf *b)
{
	*ms = 0;
	for (int i = 1; i < *n; i++) {
		if (strcmp(args[i], "--for"))
			continue;
		char *end;
		unsigned long s = i + 1 < *n ? strtoul(args[i + 1], &end, 10) : 0;
		if (i + 1 >= *n || *end || s == 0 || s > 7 * 86400) {
			set_err(b, "--for needs seconds (1..604800)", NULL);
			return -1;
		}
		*ms = s * 1000ULL;
		memmove(&args[i], &args[i + 2], (*n - i - 2) * sizeof(*args));
		*n -= 2;
		return 0;
	}
	return 0;
}

static bool known_name(struct agent *a, const char *name)
{
	if (probe_name_ok(name) || !strcmp(name, "custom") || file_fan_name_ok(name))
		return true;
	if (!strncmp(name, "custom.", 7))
		return custom_find(a, name + 7) != NULL;
	return false;
}

/* 0, or -ENOSPC when the table is full (nothing is overwritten). */
static int set_override(struct agent *a, const char *name, bool en, uint64_t for_ms)
{
	int slot = -1;
	for (int i = 0; i < HW_MAX_OVERRIDES; i++) {
		if (a->ovr[i].name[0] && !strcmp(a->ovr[i].name, name)) {
			slot = i;
			break;
		}
		if (!a->ovr[i].name[0] && slot < 0)
			slot = i;
	}
	if (slot < 0)
		return -ENOSPC;
	snprintf(a->ovr[slot].name, sizeof(a->ovr[slot].name), "%s", name);
	a->ovr[slot].enabled = en;
	a->ovr[slot].until_ms = for_ms ? now_ms() + for_ms : 0;
	return 0;
}

/* Overrides of custom probes that no longer exist go with them. */
static void drop_stale_overrides(struct agent *a)
{
	for (int i = 0; i < HW_MAX_OVERRIDES; i++)
		if (!strncmp(a->ovr[i].name, "custom.", 7) && !known_name(a, a->ovr[i].name))
			a->ovr[i].name[0] = 0;
}

/* What is attached may have changed: every family follows the overrides. */
static void apply_all(struct agent *a)
{
	drop_stale_overrides(a);
	probes_apply(a);
	families_apply(a);
}

/* agent.control: who changed what, and how it went. */
static void emit_control(struct agent *a, const struct ctl_who *who, char **args, int n,
			 uint64_t for_ms, bool ok, const char *answer, size_t answer_len)
{
	emit_begin(a, "agent.control", 0);
	jb_key(&a->jb, "control");
	jb_obj_begin(&a->jb);
	jb_kcstr(&a->jb, "source", who->source);
	if (!strcmp(who->source, "socket")) {
		jb_ku64(&a->jb, "pid", who->pid);
		jb_ku64(&a->jb, "uid", who->uid);
	} else if (!strcmp(who->source, "collector")) {
		jb_ku64(&a->jb, "request_id", who->id);
	}
	jb_kcstr(&a->jb, "command", args[0]);
	jb_key(&a->jb, "args");
	jb_arr_begin(&a->jb);
	for (int i = 1; i < n; i++)
		jb_cstr(&a->jb, args[i]);
	jb_arr_end(&a->jb);
	jb_key(&a->jb, "for_s");
	if (for_ms)
		jb_u64(&a->jb, for_ms / 1000);
	else
		jb_null(&a->jb);
	jb_kbool(&a->jb, "ok", ok);
	if (answer) {
		jb_key(&a->jb, "answer");
		jb_raw(&a->jb, answer, answer_len);
		a->jb.comma = true;
	}
	jb_obj_end(&a->jb);
	emit_end(a);
}

static void status(struct agent *a, struct jbuf *b)
{
	jb_kbool(b, "ok", true);
	jb_kcstr(b, "version", HW_VERSION);
	jb_ku64(b, "pid", a->self_pid);
	jb_ku64(b, "seq", a->seq);
	jb_kcstr(b, "config", a->config_path);
	jb_key(b, "probes");
	probes_json(a, b, true);
	jb_key(b, "overrides");
	jb_arr_begin(b);
	uint64_t now = now_ms();
	for (int i = 0; i < HW_MAX_OVERRIDES; i++) {
		if (!a->ovr[i].name[0])
			continue;
		jb_obj_begin(b);
		jb_kcstr(b, "name", a->ovr[i].name);
		jb_kbool(b, "enabled", a->ovr[i].enabled);
		jb_key(b, "remaining_s");
		if (a->ovr[i].until_ms)
			jb_u64(b, a->ovr[i].until_ms > now ? (a->ovr[i].until_ms - now + 999) / 1000
							   : 0);
		else
			jb_null(b);
		jb_obj_end(b);
	}
	jb_arr_end(b);
	jb_key(b, "overlays");
	jb_arr_begin(b);
	for (size_t i = 0; i < a->n_overlays; i++)
		jb_cstr(b, a->overlays[i]);
	jb_arr_end(b);
}

/* Run one request; the answer (one JSON object, no newline) is left in b. Used by the control
 * socket and by requests that arrive from the collector. */
int control_exec(struct agent *a, const struct ctl_who *who, char **args, int n, struct jbuf *bp)
{
	struct jbuf b = *bp;
	char err[600];
	uint64_t for_ms = 0;
	const char *cmd = args[0];
	bool changes = strcmp(cmd, "status") != 0;

	jb_reset(&b);
	jb_obj_begin(&b);
	if (take_for(args, &n, &for_ms, &b))
		goto out;
	if (!strcmp(cmd, "status") && n == 1) {
		status(a, &b);
	} else if ((!strcmp(cmd, "enable") || !strcmp(cmd, "disable")) && n == 2) {
		if (!known_name(a, args[1])) {
			set_err(&b, "unknown probe '%s' (see ctl status)", args[1]);
			goto out;
		}
		bool en = cmd[0] == 'e';
		if (!strncmp(args[1], "tty", 3) && (!args[1][3] || args[1][3] == '.')) {
			set_err(&b,
				"'%s' follows 'ctl tty on|off' and the tty section, not "
				"enable/disable",
				args[1]);
			goto out;
		}
		if (set_override(a, args[1], en, for_ms)) {
			set_err(&b,
				"too many overrides at once (at most %s): enable or disable a "
				"family, or wait for timed ones to expire",
				"32");
			goto out;
		}
		apply_all(a);
		jb_kbool(&b, "ok", true);
		jb_kcstr(&b, "probe", args[1]);
		jb_kcstr(&b, "now", en ? "enabled" : "disabled");
		if (for_ms)
			jb_ku64(&b, "for_s", for_ms / 1000);
	} else if (!strcmp(cmd, "reload") && n == 1) {
		if (agent_reload(a, NULL, err, sizeof(err))) {
			set_err(&b, "%s", err);
			goto out;
		}
		jb_kbool(&b, "ok", true);
	} else if (!strcmp(cmd, "set") && n == 2) {
		if (agent_reload(a, args[1], err, sizeof(err))) {
			set_err(&b, "%s", err);
			goto out;
		}
		jb_kbool(&b, "ok", true);
	} else if (!strcmp(cmd, "add-probe") && n == 2) {
		struct hw_custom_def d;
		if (config_parse_custom(&d, args[1], strlen(args[1]), err, sizeof(err))) {
			set_err(&b, "%s", err);
			goto out;
		}
		int rc = custom_add(a, &d, true, err, sizeof(err));
		if (rc) {
			/* not kept; a running probe of the same name stays as it was */
			set_err(&b, "custom probe refused: %s", err);
			custom_def_free(&d);
			goto out;
		}
		struct custom_probe *added = for_ms ? custom_find(a, d.name) : NULL;
		if (added)
			added->until_ms = now_ms() + for_ms;
		jb_kbool(&b, "ok", true);
		jb_kcstr(&b, "probe", d.name);
		jb_kcstr(&b, "now", "attached");
		custom_def_free(&d);
	} else if (!strcmp(cmd, "kill") && (n == 2 || n == 3) && !for_ms) {
		if (respond_kill(a, who, args[1], n == 3 ? args[2] : NULL, &b))
			goto out;
	} else if (!strcmp(cmd, "inventory") && n == 1 && !for_ms) {
		if (inventory_request(a, who, &b))
			goto out;
	} else if (!strcmp(cmd, "quarantine") && n >= 2) {
		if (quar_quarantine(a, who, args, n, for_ms, &b))
			goto out;
	} else if (!strcmp(cmd, "release") && n == 2 && !for_ms) {
		if (quar_release(a, who, args[1], &b))
			goto out;
	} else if (!strcmp(cmd, "tty") && n >= 2) {
		if (tty_request(a, who, args, n, for_ms, &b))
			goto out;
	} else if (!strcmp(cmd, "remove-probe") && n == 2) {
		if (custom_remove(a, args[1])) {
			set_err(&b, "no custom probe '%s'", args[1]);
			goto out;
		}
		drop_stale_overrides(a);
		jb_kbool(&b, "ok", true);
	} else {
		set_err(&b,
			"unknown or malformed command '%s' (status, enable, disable, reload, set, "
			"add-probe, remove-probe, kill, inventory, quarantine, release, tty)",
			cmd);
		goto out;
	}
out:
	jb_obj_end(&b);
	*bp = b;
	int rc = strncmp(b.p, "{\"ok\":true", 10) ? -1 : 0;
	if (changes) {
		/* the answer of a change is short; a refusal carries the reason */
		emit_control(a, who, args, n, for_ms, rc == 0, b.p, b.len);
		if (rc == 0)
			emit_heartbeat(a); /* the manifest as it is now */
		sinks_flush(a);
	}
	return rc;
}

static void conn_close(struct agent *a, struct ctl_conn *c)
{
	if (a->ctl_ep >= 0)
		epoll_ctl(a->ctl_ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->buf);
	memset(c, 0, sizeof(*c));
}

/* The whole request is in: run it and answer. */
static void conn_run(struct agent *a, struct ctl_conn *c)
{
	char *args[CTL_MAX_ARGS];
	int n = 0;
	/* the answer is written in one go; a client that does not read it gets 200 ms */
	struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) & ~O_NONBLOCK);
	c->buf[c->len] = 0;
	for (size_t i = 0; i < c->len && n < CTL_MAX_ARGS;) {
		args[n++] = c->buf + i;
		i += strlen(c->buf + i) + 1;
	}
	if (n == 0) {
		reply_err(c->fd, "empty request", NULL);
		return;
	}
	struct ctl_who who = {.source = "socket", .pid = c->cr.pid, .uid = c->cr.uid};
	struct jbuf out;
	jb_init(&out, 4096);
	control_exec(a, &who, args, n, &out);
	reply(c->fd, &out);
	jb_free(&out);
}

/* Read what has arrived; run the request once the client has shut down its write side. */
static void conn_read(struct agent *a, struct ctl_conn *c)
{
	for (;;) {
		ssize_t n = read(c->fd, c->buf + c->len, CTL_MAX_REQ - c->len);
		if (n > 0) {
			c->len += n;
			if (c->len == CTL_MAX_REQ) {
				reply_err(c->fd, "request larger than 64 KiB", NULL);
				conn_close(a, c);
				return;
			}
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return; /* more later: the event loop calls again */
		if (n == 0)
			conn_run(a, c);
		conn_close(a, c);
		return;
	}
}

/* New connections: check the peer, then read their requests as they arrive (never wait). */
void control_handle(struct agent *a, int lfd)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		struct ucred cr;
		socklen_t cl = sizeof(cr);
		struct ctl_conn *c = NULL;

		if (fd < 0)
			return;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) || cr.uid != 0) {
			reply_err(fd, "permission denied: the control socket is for root only",
				  NULL);
			a->ctl_refused++;
			close(fd);
			continue;
		}
		for (int i = 0; i < CTL_MAX_CONNS && !c; i++)
			if (!conns[i].fd)
				c = &conns[i];
		if (!c || !(c->buf = malloc(CTL_MAX_REQ + 1))) {
			reply_err(fd, "busy: too many control connections at once, try again",
				  NULL);
			close(fd);
			continue;
		}
		c->fd = fd;
		c->cr = cr;
		c->len = 0;
		c->deadline = now_ms() + CTL_TIMEOUT_MS;
		struct epoll_event ee = {.events = EPOLLIN, .data.fd = fd};
		if (a->ctl_ep >= 0)
			epoll_ctl(a->ctl_ep, EPOLL_CTL_ADD, fd, &ee);
		conn_read(a, c);
	}
}

/* A control connection became readable; false if fd is not one. */
bool control_conn_io(struct agent *a, int fd)
{
	for (int i = 0; i < CTL_MAX_CONNS; i++)
		if (conns[i].fd == fd && fd) {
			conn_read(a, &conns[i]);
			return true;
		}
	return false;
}

/* Connections whose request did not arrive in time are answered and closed. */
static void conn_expire(struct agent *a, uint64_t now)
{
	for (int i = 0; i < CTL_MAX_CONNS; i++)
		if (conns[i].fd && now >= conns[i].deadline) {
			reply_err(conns[i].fd, "request not complete within 2 s", NULL);
			conn_close(a, &conns[i]);
		}
}

void control_close_all(struct agent *a)
{
	for (int i = 0; i < CTL_MAX_CONNS; i++)
		if (conns[i].fd)
			conn_close(a, &conns[i]);
}

/* May the collector ask for this? By default it may only turn probes ON (enable, add-probe),
 * for a bounded time: control.collector_allow and control.collector_max_for change that.
 * NULL if allowed, else the reason. */
static const char *collector_refusal(struct agent *a, char **args, int n, char *why, size_t whylen)
{
	unsigned bit = config_ctl_command(args[0]);
	if (!bit) {
		snprintf(why, whylen, "unknown command '%s'", args[0]);
		return why;
	}
	if (!(a->cfg.control.collector_allow & bit)) {
		snprintf(why, whylen,
			 "'%s' is not allowed from the collector (control.collector_allow)",
			 args[0]);
		return why;
	}
	/* turning the TTY capture on is bounded in time like enabling a probe; off is not */
	bool tty_on = bit == HW_CTL_TTY && n >= 2 && !strcmp(args[1], "on");
	if ((bit & (HW_CTL_ENABLE | HW_CTL_DISABLE | HW_CTL_ADD_PROBE | HW_CTL_QUARANTINE)) ||
	    tty_on) {
		unsigned long s = 0;
		for (int i = 1; i + 1 < n; i++)
			if (!strcmp(args[i], "--for")) {
				char *end;
				s = strtoul(args[i + 1], &end, 10);
				if (*end)
					s = 0;
			}
		if (!s || s > a->cfg.control.collector_max_for_s) {
			snprintf(why, whylen,
				 "'%s' from the collector needs --for SECONDS (1..%u, "
				 "control.collector_max_for)",
				 args[0], a->cfg.control.collector_max_for_s);
			return why;
		}
	}
	if (bit & HW_CTL_ADD_PROBE) {
		/* adds a probe; it must not replace one of the config */
		for (int i = 0; i < HW_CP_SLOTS; i++) {
			const struct custom_probe *cp = custom_at(a, i);
			if (cp && !cp->from_ctl && n >= 2 && strstr(args[n - 1], cp->name)) {
				struct hw_custom_def d;
				char err[300];
				if (!config_parse_custom(&d, args[n - 1], strlen(args[n - 1]), err,
							 sizeof(err)) &&
				    d.name && !strcmp(d.name, cp->name)) {
					custom_def_free(&d);
					snprintf(why, whylen,
						 "'%s' is a probe of the config: the collector may "
						 "not replace it",
						 cp->name);
					return why;
				}
				custom_def_free(&d);
			}
		}
	}
	return NULL;
}

/* Requests the collector sent over the event stream (e.g. an alert's response asking this host
 * for more visibility for a while): checked against control.collector_allow, run like
 * control-socket requests, each reported as an agent.request event with its answer. */
void control_collector_requests(struct agent *a)
{
	char buf[HW_WIRE_MAX_REQUEST + 1];
	unsigned id;
	size_t len;
	if (!a->ship)
		return;
	while ((len = ship_take_request(a->ship, buf, sizeof(buf) - 1, &id)) > 0) {
		char *args[CTL_MAX_ARGS];
		int n = 0, rc;
		struct jbuf out;
		char why[400];
		buf[len] = 0;
		for (size_t i = 0; i < len && n < CTL_MAX_ARGS;) {
			args[n++] = buf + i;
			i += strlen(buf + i) + 1;
		}
		/* keep the arguments as they came (control_exec may remove --for), then run the
		 * request before building the event: a request may emit events itself (reload) */
		char orig[HW_WIRE_MAX_REQUEST + 1];
		memcpy(orig, buf, len + 1);
		jb_init(&out, 1024);
		const char *refused =
			n ? collector_refusal(a, args, n, why, sizeof(why)) : "empty request";
		if (refused) {
			set_err(&out, "%s", refused);
			jb_obj_end(&out);
			rc = -1;
		} else {
			struct ctl_who who = {.source = "collector", .id = id};
			rc = control_exec(a, &who, args, n, &out);
		}
		emit_begin(a, "agent.request", 0);
		jb_key(&a->jb, "request");
		jb_obj_begin(&a->jb);
		jb_kcstr(&a->jb, "source", "collector");
		jb_ku64(&a->jb, "id", id);
		jb_key(&a->jb, "args");
		jb_arr_begin(&a->jb);
		for (size_t i = 0; i < len;) {
			jb_cstr(&a->jb, orig + i);
			i += strlen(orig + i) + 1;
		}
		jb_arr_end(&a->jb);
		jb_kbool(&a->jb, "ok", rc == 0);
		jb_kcstr(&a->jb, "refused", refused);
		jb_key(&a->jb, "answer");
		jb_raw(&a->jb, out.p, out.len);
		a->jb.comma = true;
		jb_obj_end(&a->jb);
		emit_end(a);
		jb_free(&out);
	}
}

/* Expire timed overrides and timed custom probes (each reported as agent.control, then one
 * heartbeat), and control connections that took too long; returns true if anything changed. */
bool control_expire(struct agent *a)
{
	uint64_t now = now_ms();
	bool changed = false;
	struct ctl_who who = {.source = "expiry"};
	conn_expire(a, now);
	for (int i = 0; i < HW_MAX_OVERRIDES; i++)
		if (a->ovr[i].name[0] && a->ovr[i].until_ms && now >= a->ovr[i].until_ms) {
			char name[64], *args[2] = {a->ovr[i].enabled ? "enable" : "disable", name};
			snprintf(name, sizeof(name), "%s", a->ovr[i].name);
			a->ovr[i].name[0] = 0;
			apply_all(a);
			emit_control(a, &who, args, 2, 0, true, "{\"ok\":true,\"now\":\"expired\"}",
				     strlen("{\"ok\":true,\"now\":\"expired\"}"));
			changed = true;
		}
	for (int i = 0; i < HW_CP_SLOTS; i++) {
		const struct custom_probe *cp = custom_at(a, i);
		if (cp && cp->until_ms && now >= cp->until_ms) {
			char name[64], *args[2] = {"add-probe", name};
			snprintf(name, sizeof(name), "%s", cp->name);
			custom_remove(a, name);
			apply_all(a);
			emit_control(a, &who, args, 2, 0, true, "{\"ok\":true,\"now\":\"removed\"}",
				     strlen("{\"ok\":true,\"now\":\"removed\"}"));
			changed = true;
		}
	}
	if (changed) {
		emit_heartbeat(a);
		sinks_flush(a);
	}
	return changed;
}

int control_client(const char *path, int argc, char **argv)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char buf[65536];
	size_t len = 0;
	int fd;

	if (argc < 1) {
		fprintf(stderr,
			"usage: herdwatch-agent ctl [--socket PATH] status|enable NAME "
			"[--for S]|disable NAME [--for S]|reload|set YAML|add-probe [--for "
			"S] YAML|remove-probe NAME|kill PID|PROC-KEY [SIGNAL]|inventory|quarantine "
			"PID|PROC-KEY|CGROUP|host --for S [--loopback]|release TARGET|tty on|off "
			"[--session PID] [--for S]\n");
		return 2;
	}
	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "herdwatch-agent ctl: socket path too long\n");
		return 2;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int e = errno;
		if (e == EACCES || e == EPERM)
			fprintf(stderr,
				"herdwatch-agent ctl: permission denied on %s: the control socket "
				"is for root only\n",
				path);
		else
			fprintf(stderr,
				"herdwatch-agent ctl: cannot reach the agent at %s: %s (is "
				"herdwatch-agent running?)\n",
				path, strerror(e));
		return 1;
	}
	/* the agent may answer (a refusal) before reading everything: read its answer anyway */
	signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < argc; i++) {
		size_t l = strlen(argv[i]) + 1;
		if (write(fd, argv[i], l) != (ssize_t)l)
			break;
	}
	shutdown(fd, SHUT_WR);
	for (;;) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			break;
		len += n;
		if (len == sizeof(buf) - 1)
			break;
	}
	close(fd);
	buf[len] = 0;
	if (!len) {
		fprintf(stderr, "herdwatch-agent ctl: no answer from the agent\n");
		return 1;
	}
	fputs(buf, stdout);
	return strstr(buf, "\"ok\":true") == buf + 1 ? 0 : 1;
}
