// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * tokens.c - canonical herd tokens from events (see tokens.h).
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "collector/tokens.h"
#include "collector/tokens_int.h"

/* Tokens are bounded text: truncating an over-long path in them is intended. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif

uint64_t parse_rfc3339(const char *s, size_t n)
{
	int v[6] = {0};
	static const int pos[6] = {0, 5, 8, 11, 14, 17}, len[6] = {4, 2, 2, 2, 2, 2};
	if (n < 20)
		return 0;
	for (int k = 0; k < 6; k++)
		for (int i = 0; i < len[k]; i++) {
			char c = s[pos[k] + i];
			if (c < '0' || c > '9')
				return 0;
			v[k] = v[k] * 10 + (c - '0');
		}
	if (s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
	    s[13] != ':' || s[16] != ':')
		return 0;
	uint64_t frac = 0;
	size_t i = 19;
	if (i < n && s[i] == '.') {
		int digits = 0;
		for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			if (digits < 9) {
				frac = frac * 10 + (uint64_t)(s[i] - '0');
				digits++;
			}
		while (digits++ < 9)
			frac *= 10;
	}
	/* days from civil (proleptic Gregorian) */
	int y = v[0], m = v[1], d = v[2];
	if (m < 1 || m > 12 || d < 1 || d > 31)
		return 0;
	y -= m <= 2;
	int era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (unsigned)((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1);
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	long long days = (long long)era * 146097 + (long long)doe - 719468;
	if (days < 0)
		return 0;
	return ((uint64_t)days * 86400 + (uint64_t)v[3] * 3600 + (uint64_t)v[4] * 60 +
		(uint64_t)v[5]) *
		       1000000000ull +
	       frac;
}

/* Concatenate the NULL-terminated list of strings into out (truncating); the hot path of token
 * building, where snprintf's format parsing cost more than the rest of the extraction. */
static void cat(char *out, size_t cap, ...)
{
	va_list ap;
	size_t o = 0;
	va_start(ap, cap);
	for (const char *p; (p = va_arg(ap, const char *));) {
		size_t l = strlen(p);
		if (l > cap - 1 - o)
			l = cap - 1 - o;
		memcpy(out + o, p, l);
		o += l;
	}
	va_end(ap);
	out[o] = 0;
}

static const char *itoa_ll(long long v, char buf[24])
{
	char *p = buf + 23;
	int neg = v < 0;
	unsigned long long u = neg ? 0ull - (unsigned long long)v : (unsigned long long)v;
	*p = 0;
	do
		*--p = (char)('0' + u % 10);
	while (u /= 10);
	if (neg)
		*--p = '-';
	return p;
}

static void get_str(const struct jdoc *d, int root, const char *path, char *buf, size_t cap)
{
	int i = json_path(d, root, path);
	if (json_str(d, i, buf, cap) < 0)
		buf[0] = 0;
}

static void set_bad(struct ev_info *ev, const char *field, int why)
{
	if (!ev->bad) {
		ev->bad = field;
		ev->bad_why = why;
	}
}

/* An identifier: as get_str, and one holding \u0000 makes the event bad (the C strings the
 * collector keys members and streams by would end there). */
static void get_id(const struct jdoc *d, int root, const char *path, char *buf, size_t cap,
		   struct ev_info *ev, const char *field)
{
	int i = json_path(d, root, path);
	int n = json_str(d, i, buf, cap);
	if (n < 0)
		buf[0] = 0;
	else if (d->t[i].has_esc && memchr(buf, 0, (size_t)n))
		set_bad(ev, field, EV_BAD_NUL);
}

/* A field the event contract makes an integer: absent or null, or an integer. */
static void check_int(const struct jdoc *d, int i, struct ev_info *ev, const char *field)
{
	int ok;
	if (i >= 0 && d->t[i].type != J_NULL && (json_int(d, i, &ok), !ok))
		set_bad(ev, field, EV_BAD_INT);
}

static long long get_int(const struct jdoc *d, int root, const char *path, long long dflt,
			 struct ev_info *ev)
{
	int ok = 0, i = json_path(d, root, path);
	long long v = json_int(d, i, &ok);
	if (!ok && i >= 0 && d->t[i].type != J_NULL)
		set_bad(ev, path, EV_BAD_INT);
	return ok ? v : dflt;
}

static const char *ip_class(const char *ip)
{
	unsigned char a[16];
	if (inet_pton(AF_INET, ip, a) == 1) {
		if (a[0] == 127)
			return "loopback";
		if (a[0] == 10 || (a[0] == 172 && (a[1] & 0xf0) == 16) ||
		    (a[0] == 192 && a[1] == 168) || (a[0] == 169 && a[1] == 254) ||
		    (a[0] == 100 && (a[1] & 0xc0) == 64))
			return "private";
		if (a[0] == 0)
			return "any";
		return "public";
	}
	if (inet_pton(AF_INET6, ip, a) == 1) {
		static const unsigned char lo[16] = {[15] = 1};
		if (!memcmp(a, lo, 16))
			return "loopback";
		if ((a[0] & 0xfe) == 0xfc || (a[0] == 0xfe && (a[1] & 0xc0) == 0x80))
			return "private";
		if (a[0] == 0 && a[10] == 0xff && a[11] == 0xff) {
			char v4[INET_ADDRSTRLEN];
			inet_ntop(AF_INET, a + 12, v4, sizeof(v4));
			return ip_class(v4);
		}
		return "public";
	}
	return "unknown";
}

static const char *user_class(long long uid)
{
	if (uid == 0)
		return "root";
	if (uid >= 0 && uid < 1000)
		return "service";
	return "other";
}

/* every top-level key the extraction reads, found in one pass over the event */
static const char *const rk[] = {"seq", "kind", "time",  "host",   "proc", "parent",    "exec",
				 "net", "file", "cap",   "module", "auth", "ptrace",    "cred",
				 "ns",  "bpf",  "mount", "shell",  "dns",  "inventory", "binary"};
enum {
	R_PARENT = 5,
	R_EXEC,
	R_NET,
	R_FILE,
	R_CAP,
	R_MODULE,
	R_AUTH,
	R_PTRACE,
	R_CRED,
	R_NS,
	R_BPF,
	R_MOUNT,
	R_SHELL,
	R_DNS,
	R_INV,
	R_BINARY,
	R_N
};
static const char *const pk[] = {"exe", "comm", "container", "euid", "uid", "pid", "ppid"};
enum { P_N = sizeof(pk) / sizeof(pk[0]) };
static struct json_keys rkeys, pkeys;

/* prepared before main: ev_extract only reads them */
static void __attribute__((constructor)) keys_init(void)
{
	json_keys_init(&rkeys, rk, R_N);
	json_keys_init(&pkeys, pk, P_N);
}

/* A listener's address as its token shows it: any (0.0.0.0, ::), loopback, private, public */
static const char *listen_scope(const char *ip)
{
	if (!strcmp(ip, "0.0.0.0") || !strcmp(ip, "::"))
		return "any";
	return ip_class(ip);
}

/* inventory.* (docs/events-inventory.md): what the member carries, one token per item. */
static int inv_token(const struct jdoc *d, int inv, const char *k, const char *ctr, char *out,
		     struct ev_info *ev)
{
	char a[TOKEN_MAX], b[TOKEN_MAX], c[TOKEN_MAX];
	if (!strcmp(k, "listener")) {
		char proto[16], ip[64], pb[24];
		get_str(d, inv, "proto", proto, sizeof(proto));
		get_str(d, inv, "ip", ip, sizeof(ip));
		long long port = get_int(d, inv, "port", 0, ev);
		/* the first process that holds it (lowest pid): the array's first element */
		int procs = json_get(d, inv, "procs");
		int first = procs >= 0 && d->t[procs].type == J_ARR && d->t[procs].size ? procs + 1
											: -1;
		get_str(d, first, "exe", a, sizeof(a));
		tokens_canon(a, ctr, b, sizeof(b));
		cat(out, TOKEN_MAX, "inv_listen|", b[0] ? b : "?", "|", proto, "/",
		    port >= 32768 ? "ephemeral" : itoa_ll(port, pb), "|", listen_scope(ip), NULL);
	} else if (!strcmp(k, "module")) {
		get_str(d, inv, "name", a, sizeof(a));
		cat(out, TOKEN_MAX, "inv_module|", a, NULL);
	} else if (!strcmp(k, "setid")) {
		int su = json_get(d, inv, "setuid"), sg = json_get(d, inv, "setgid");
		int u = su >= 0 && d->t[su].type == J_TRUE, g = sg >= 0 && d->t[sg].type == J_TRUE;
		get_str(d, inv, "path", a, sizeof(a));
		tokens_canon(a, ctr, b, sizeof(b));
		cat(out, TOKEN_MAX, "inv_setid|", b, "|",
		    u && g ? "setuid+setgid"
		    : u    ? "setuid"
			   : "setgid",
		    "|owner=", user_class(get_int(d, inv, "uid", -1, ev)), NULL);
	} else if (!strcmp(k, "authorized_key")) {
		get_str(d, inv, "user", a, sizeof(a));
		get_str(d, inv, "fingerprint", b, sizeof(b));
		cat(out, TOKEN_MAX, "inv_key|", a, "|", b, NULL);
	} else if (!strcmp(k, "crontab")) {
		get_str(d, inv, "path", a, sizeof(a));
		tokens_canon(a, ctr, b, sizeof(b));
		get_str(d, inv, "sha256", c, sizeof(c));
		c[c[0] ? 16 : 0] = 0; /* 64 bits of it tell contents apart */
		cat(out, TOKEN_MAX, "inv_cron|", b, "|", c[0] ? c : "?", NULL);
	} else if (!strcmp(k, "unit")) {
		get_str(d, inv, "scope", a, sizeof(a));
		get_str(d, inv, "wanted_by", b, sizeof(b));
		get_str(d, inv, "unit", c, sizeof(c));
		cat(out, TOKEN_MAX, "inv_unit|", c, "|", a, "|", b, NULL);
	} else if (!strcmp(k, "preload")) {
		get_str(d, inv, "entry", a, sizeof(a));
		tokens_canon(a, ctr, b, sizeof(b));
		cat(out, TOKEN_MAX, "inv_preload|", b, NULL);
	} else if (!strcmp(k, "uid0")) {
		get_str(d, inv, "name", a, sizeof(a));
		cat(out, TOKEN_MAX, "inv_uid0|", a, NULL);
	} else {
		return 0; /* inventory.summary: none */
	}
	return 1;
}

int token_is_inventory(const char *token)
{
	return !strncmp(token, "inv_", 4);
}

/* binary|<exe>|sha256=<first 16 hex digits>: which build of the file at that path a member
 * runs, from exec.sha256 or a process.binary answer (64 lowercase hex digits, else none) */
static int binary_token(const struct jdoc *d, int obj, const char *exe, char *tok)
{
	char sha[80];
	get_str(d, obj, "sha256", sha, sizeof(sha));
	if (!exe[0] || strlen(sha) != 64)
		return 0;
	for (int i = 0; i < 64; i++)
		if (!is_digit(sha[i]) && !(sha[i] >= 'a' && sha[i] <= 'f'))
			return 0;
	sha[16] = 0;
	cat(tok, TOKEN_MAX, "binary|", exe, "|sha256=", sha, NULL);
	return 1;
}

/* The envelope of an event: seq, kind, time, host, and the member it belongs to (the host, or
 * host/container). r and pr: the event's and its proc's keys; ctr: the container id or "".
 * -1 when seq is not a count. */
static int ev_envelope(const struct jdoc *d, int root, struct ev_info *ev, int *r, int *pr,
		       char *ctr, size_t ctrlen)
{
	json_get_keys(d, root, &rkeys, r);
	int ok = 0;
	ev->bad = NULL;
	ev->exe_release[0] = 0;
	ev->seq = json_int(d, r[0], &ok);
	if (!ok || ev->seq < 0) {
		check_int(d, r[0], ev, "seq");
		return -1;
	}
	get_id(d, r[1], "", ev->kind, sizeof(ev->kind), ev, "kind");
	int ti = r[2];
	ev->ts_ns = ti >= 0 && d->t[ti].type == J_STR
			    ? parse_rfc3339(d->s + d->t[ti].start, d->t[ti].end - d->t[ti].start)
			    : 0;
	int host = r[3], proc = r[4];
	json_get_keys(d, proc, &pkeys, pr);
	check_int(d, pr[3], ev, "proc.euid");
	check_int(d, pr[4], ev, "proc.uid");
	check_int(d, pr[5], ev, "proc.pid");
	check_int(d, pr[6], ev, "proc.ppid");
	check_int(d, json_get(d, r[R_PARENT], "pid"), ev, "parent.pid");
	get_id(d, host, "name", ev->host, sizeof(ev->host), ev, "host.name");
	if (!ev->host[0])
		get_id(d, host, "id", ev->host, sizeof(ev->host), ev, "host.id");
	if (!ev->host[0])
		cat(ev->host, sizeof(ev->host), "unknown", NULL);
	get_id(d, host, "herd", ev->host_herd, sizeof(ev->host_herd), ev, "host.herd");
	get_id(d, host, "version", ev->host_version, sizeof(ev->host_version), ev, "host.version");
	int container = pr[2];
	get_id(d, container, "id", ctr, ctrlen, ev, "proc.container.id");
	ev->in_container = ctr[0] != 0;
	if (ev->in_container) {
		cat(ev->member, sizeof(ev->member), ev->host, "/", ctr, NULL);
		get_id(d, container, "herd", ev->herd, sizeof(ev->herd), ev, "proc.container.herd");
		get_id(d, container, "version", ev->version, sizeof(ev->version), ev,
		       "proc.container.version");
	} else {
		cat(ev->member, sizeof(ev->member), ev->host, NULL);
		cat(ev->herd, sizeof(ev->herd), ev->host_herd, NULL);
		cat(ev->version, sizeof(ev->version), ev->host_version, NULL);
	}

	return 0;
}

/* net.*: where a program connects, what it accepts, listens on, binds, opens, looks up */
static int net_token(const struct jdoc *d, int net, int dns, const char *k, const char *exe,
		     char *out, struct ev_info *ev)
{
	int n = 0;
	char(*tok)[TOKEN_MAX] = (char(*)[TOKEN_MAX])out;
	char proto[16], ip[64];
	get_str(d, net, "proto", proto, sizeof(proto));
	if (!proto[0])
		cat(proto, sizeof(proto), "ip", NULL);
	long long dport = get_int(d, net, "dst.port", 0, ev);
	long long sport = get_int(d, net, "src.port", 0, ev);
	if (!strcmp(k, "net.connect")) {
		get_str(d, net, "dst.ip", ip, sizeof(ip));
		char pb[24];
		cat(tok[n++], TOKEN_MAX, "connect|", exe, "|", proto, "/",
		    dport >= 32768 ? "ephemeral" : itoa_ll(dport, pb), "|", ip_class(ip), NULL);
	} else if (!strcmp(k, "net.accept")) {
		/* accept: src is the local side in the agent's view when dst is the peer */
		char peer[64];
		get_str(d, net, "dst.ip", peer, sizeof(peer));
		long long lport = sport ? sport : dport; /* src is the local end */
		get_str(d, net, "src.ip", ip, sizeof(ip));
		char pb[24];
		cat(tok[n++], TOKEN_MAX, "accept|", exe, "|", proto, "/", itoa_ll(lport, pb), "|",
		    ip_class(peer[0] ? peer : ip), NULL);
	} else if (!strcmp(k, "net.listen")) {
		long long port = sport ? sport : dport;
		snprintf(tok[n++], TOKEN_MAX, "listen|%s|%s/%lld", exe, proto, port);
	} else if (!strcmp(k, "net.bind")) {
		long long port = sport ? sport : dport;
		if (port > 0 && port < 32768)
			snprintf(tok[n++], TOKEN_MAX, "bind|%s|%s/%lld", exe, proto, port);
	} else if (!strcmp(k, "net.socket")) {
		char fam[32], type[32];
		get_str(d, net, "family", fam, sizeof(fam));
		get_str(d, net, "type", type, sizeof(type));
		snprintf(tok[n++], TOKEN_MAX, "socket|%s|%s/%s", exe, fam, type);
	} else if (!strcmp(k, "net.dns")) {
		char q[256], dom[256];
		get_str(d, dns, "query", q, sizeof(q));
		tokens_dns_domain(q, dom, sizeof(dom));
		snprintf(tok[n++], TOKEN_MAX, "dns|%s|%s", exe, dom);
	}
	return n;
}

/* file.*: the operation on a watched path (the watch's name when it has one) */
static int file_token(const struct jdoc *d, int file, const char *k, const char *exe,
		      const char *ctr, char *out)
{
	char raw[TOKEN_MAX];
	char path[TOKEN_MAX], cp[TOKEN_MAX], op[32];
	get_str(d, file, "watch", raw, sizeof(raw));
	if (!raw[0])
		get_str(d, file, "path", raw, sizeof(raw));
	tokens_canon(raw, ctr, cp, sizeof(cp));
	cat(path, sizeof(path), cp, NULL);
	get_str(d, file, "op", op, sizeof(op));
	if (!op[0])
		cat(op, sizeof(op), k + 5, NULL);
	/* a set-id chmod is its own behaviour, not one more mode change of that file */
	int su = json_path(d, file, "setuid"), sg = json_path(d, file, "setgid");
	if (su >= 0 && d->t[su].type == J_TRUE)
		cat(op, sizeof(op), "chmod+setuid", NULL);
	else if (sg >= 0 && d->t[sg].type == J_TRUE)
		cat(op, sizeof(op), "chmod+setgid", NULL);
	cat(out, TOKEN_MAX, "file|", exe, "|", op, "|", path, NULL);
	return 1;
}

/* user.auth: who authenticated as whom through which PAM service, and the result */
static int auth_token(const struct jdoc *d, int auth, const int *pr, const char *exe, char *out)
{
	char svc[64], user[128], runas[128], res[32];
	get_str(d, auth, "service", svc, sizeof(svc));
	get_str(d, auth, "user", user, sizeof(user));
	get_str(d, auth, "sudo_runas", runas, sizeof(runas));
	get_str(d, auth, "result", res, sizeof(res));
	/* by: the real uid of the program that called PAM, which sudo and su (set-uid
	 * root) keep from their caller: a service account's sudo is not an engineer's. */
	int okk = 0;
	long long uid = json_int(d, pr[4], &okk);
	/* as: the account the step is for. sudo's PAM_USER is its caller at authenticate
	 * and its target at open_session: sudo_runas names the target throughout. */
	const char *as = runas[0] ? runas : user;
	cat(out, TOKEN_MAX, "auth|", exe[0] ? exe : "?", "|", svc[0] ? svc : "?",
	    "|by=", okk ? user_class(uid) : "?", "|as=",
	    !as[0]               ? "?"
	    : strcmp(as, "root") ? "user"
				 : "root",
	    "|", res[0] ? res : "?", NULL);
	return 1;
}

int ev_extract(const struct jdoc *d, int root, struct ev_info *ev, char tok[][TOKEN_MAX])
{
	int r[R_N], pr[P_N];
	char ctr[128];
	if (ev_envelope(d, root, ev, r, pr, ctr, sizeof(ctr)))
		return -1;
	const char *k = ev->kind;
	char raw[TOKEN_MAX], exe[TOKEN_MAX];
	if (json_str(d, pr[0], raw, sizeof(raw)) <= 0 && json_str(d, pr[1], raw, sizeof(raw)) < 0)
		raw[0] = 0;
	int n = 0;
	if (!strcmp(k, "process.exec"))
		tokens_canon_rel(raw, ctr, exe, sizeof(exe), ev->exe_release,
				 sizeof(ev->exe_release));
	else
		tokens_canon(raw, ctr, exe, sizeof(exe));
	if (!strcmp(k, "process.exec")) {
		char pexe[TOKEN_MAX];
		get_str(d, r[R_PARENT], "exe", raw, sizeof(raw));
		tokens_canon(raw, ctr, pexe, sizeof(pexe));
		int okk = 0;
		long long euid = json_int(d, pr[3], &okk);
		if (!okk)
			euid = json_int(d, pr[4], &okk);
		if (!okk)
			euid = -1;
		int ex = r[R_EXEC];
		int su = json_get(d, ex, "setuid"), fl = json_get(d, ex, "fileless");
		int setuid = su >= 0 && d->t[su].type == J_TRUE;
		int fileless = fl >= 0 && d->t[fl].type == J_TRUE;
		cat(tok[n++], TOKEN_MAX, "exec|", exe, "|parent=", pexe, "|user=", user_class(euid),
		    setuid ? "|setuid" : "", fileless ? "|fileless" : "", NULL);
		n += binary_token(d, ex, exe, tok[n]);
	} else if (!strcmp(k, "process.binary")) {
		char path[TOKEN_MAX];
		get_str(d, r[R_BINARY], "path", raw, sizeof(raw));
		tokens_canon(raw, ctr, path, sizeof(path));
		n += binary_token(d, r[R_BINARY], path, tok[n]);
	} else if (!strncmp(k, "net.", 4)) {
		n += net_token(d, r[R_NET], r[R_DNS], k, exe, tok[n], ev);
	} else if (!strncmp(k, "file.", 5)) {
		n += file_token(d, r[R_FILE], k, exe, ctr, tok[n]);
	} else if (!strcmp(k, "process.capability")) {
		char cap[64];
		get_str(d, r[R_CAP], "name", cap, sizeof(cap));
		snprintf(tok[n++], TOKEN_MAX, "cap|%s|%s", exe, cap);
	} else if (!strcmp(k, "kernel.module_load")) {
		char name[256];
		get_str(d, r[R_MODULE], "name", raw, sizeof(raw));
		if (!raw[0])
			get_str(d, r[R_MODULE], "path", raw, sizeof(raw));
		tokens_canon(raw, ctr, name, sizeof(name));
		snprintf(tok[n++], TOKEN_MAX, "module|%s", name);
	} else if (!strcmp(k, "user.auth")) {
		n += auth_token(d, r[R_AUTH], pr, exe, tok[n]);
	} else if (!strcmp(k, "process.ptrace")) {
		char req[64];
		get_str(d, r[R_PTRACE], "request", req, sizeof(req));
		snprintf(tok[n++], TOKEN_MAX, "ptrace|%s|%s", exe, req);
	} else if (!strcmp(k, "process.cred_change")) {
		long long ne = get_int(d, r[R_CRED], "new.euid", -1, ev);
		char sc[32];
		get_str(d, r[R_CRED], "syscall", sc, sizeof(sc));
		snprintf(tok[n++], TOKEN_MAX, "cred|%s|%s|to=%s", exe, sc, user_class(ne));
	} else if (!strcmp(k, "process.namespace")) {
		char sc[32];
		get_str(d, r[R_NS], "syscall", sc, sizeof(sc));
		snprintf(tok[n++], TOKEN_MAX, "ns|%s|%s", exe, sc);
	} else if (!strcmp(k, "kernel.bpf")) {
		char cmd[64];
		get_str(d, r[R_BPF], "cmd", cmd, sizeof(cmd));
		snprintf(tok[n++], TOKEN_MAX, "bpf|%s|%s", exe, cmd);
	} else if (!strcmp(k, "system.mount")) {
		char fs[64];
		get_str(d, r[R_MOUNT], "fstype", fs, sizeof(fs));
		snprintf(tok[n++], TOKEN_MAX, "mount|%s|%s", exe, fs);
	} else if (!strcmp(k, "user.shell")) {
		char sh[TOKEN_MAX];
		get_str(d, r[R_SHELL], "shell", raw, sizeof(raw));
		tokens_canon(raw, ctr, sh, sizeof(sh));
		snprintf(tok[n++], TOKEN_MAX, "shell|%s", sh);
	} else if (!strncmp(k, "inventory.", 10)) {
		n += inv_token(d, r[R_INV], k + 10, ctr, tok[n], ev);
	} else if (!strcmp(k, "process.memfd") || !strcmp(k, "process.wx_memory") ||
		   !strcmp(k, "process.rename")) {
		snprintf(tok[n++], TOKEN_MAX, "%s|%s", k + 8, exe);
	}
	return n;
}

const struct token_kind token_kinds[] = {
	{"exec", "process.exec", "ran {1} (parent {2=}) as {3=}{4*}", NULL},
	{"connect", "net.connect", "connected to {2} ({3}) from {1}", NULL},
	{"accept", "net.accept", "accepted {2} from {3} with {1}", NULL},
	{"listen", "net.listen", "listened on {2} with {1}", NULL},
	{"bind", "net.bind", "bound {2} with {1}", NULL},
	{"socket", "net.socket", "opened a {2} socket with {1}", NULL},
	{"dns", "net.dns", "looked up a name under {2} with {1}", NULL},
	{"file", "file.*", "{1} did {2} {3}", NULL},
	{"cap", "process.capability", "{1} used {2}", NULL},
	{"module", "kernel.module_load", "loaded kernel module {1}", NULL},
	{"auth", "user.auth", "authenticated as {4@} with {1} (PAM service {2}, run by {3@}): {5}",
	 /* the shape before auth tokens named who: auth|service|class|result (a snapshot) */
	 "{1} authentication of a {2} user ({3})"},
	{"ptrace", "process.ptrace", "{1} used ptrace {2}", NULL},
	{"cred", "process.cred_change", "{1} changed its credentials with {2} to {3=@}", NULL},
	{"ns", "process.namespace", "{1} entered or made namespaces with {2}", NULL},
	{"bpf", "kernel.bpf", "{1} used bpf() {2}", NULL},
	{"mount", "system.mount", "{1} mounted a {2} filesystem", NULL},
	{"shell", "user.shell", "typed commands into {1}", NULL},
	{"memfd", "process.memfd", "{1} made an in-memory file (memfd)", NULL},
	{"wx_memory", "process.wx_memory", "{1} mapped memory writable and executable", NULL},
	{"rename", "process.rename", "{1} renamed its process", NULL},
	{"inv_listen", "inventory.listener", "has a listener on {2} ({3} addresses) held by {1}",
	 NULL},
	{"inv_module", "inventory.module", "has kernel module {1} loaded", NULL},
	{"inv_setid", "inventory.setid", "carries the {2} file {1} (owned by {3=@})", NULL},
	{"inv_key", "inventory.authorized_key", "lets SSH key {2} log in as {1}", NULL},
	{"inv_cron", "inventory.crontab", "has crontab {1} (sha256 {2}...)", NULL},
	{"inv_unit", "inventory.unit", "has {1} enabled ({2} unit wanted by {3})", NULL},
	{"inv_preload", "inventory.preload", "preloads {1} into every program (ld.so.preload)",
	 NULL},
	{"inv_uid0", "inventory.uid0", "has account {1} with uid 0", NULL},
	{"binary", "process.exec process.binary",
	 "ran a binary at {1} whose hash ({2=}) differs from its herd's", NULL},
	{NULL, NULL, NULL, NULL},
};

const struct token_kind *token_kind_of(const char *token)
{
	size_t l = strcspn(token, "|");
	for (const struct token_kind *k = token_kinds; k->prefix; k++)
		if (strlen(k->prefix) == l && !strncmp(k->prefix, token, l))
			return k;
	return NULL;
}

static const char *user_words(const char *class)
{
	if (!strcmp(class, "root"))
		return "root";
	if (!strcmp(class, "service"))
		return "a service account";
	if (!strcmp(class, "other"))
		return "a regular user";
	if (!strcmp(class, "user"))
		return "a non-root user";
	return "an unknown user";
}

void tokens_describe(const char *token, char *out, size_t n)
{
	const struct token_kind *k = token_kind_of(token);
	struct token_kind older_row;
	const char *f[8];
	size_t fl[8];
	int nf = 0;
	for (const char *p = token; nf < 8;) {
		const char *bar = strchr(p, '|');
		f[nf] = p;
		fl[nf++] = bar ? (size_t)(bar - p) : strlen(p);
		if (!bar)
			break;
		p = bar + 1;
	}
	size_t o = 0;
	if (!k || !n)
		goto plain;
	for (const char *w = k->wording; *w && o + 1 < n;) {
		if (*w != '{') {
			out[o++] = *w++;
			continue;
		}
		char *end;
		long i = strtol(w + 1, &end, 10);
		const char *close = strchr(end, '}');
		if (!close || i < 0 || i > 7)
			goto plain;
		/* what follows the number: '=' drop the label, '@' user class in words, '*' the rest */
		int strip = memchr(end, '=', close - end) || memchr(end, '@', close - end);
		int words = memchr(end, '@', close - end) != NULL;
		char mode = memchr(end, '*', close - end) ? '*' : 0;
		w = close + 1;
		if (mode == '*') {
			for (int j = (int)i; j < nf && o + 1 < n; j++) {
				int r = snprintf(out + o, n - o, ", %.*s", (int)fl[j], f[j]);
				o += r > 0 && (size_t)r < n - o ? (size_t)r : n - o - 1;
			}
			continue;
		}
		if (i >= nf) { /* fewer fields than the wording names: an older shape */
			if (k->older && k != &older_row) {
				older_row =
					(struct token_kind){k->prefix, k->events, k->older, NULL};
				k = &older_row;
				o = 0;
				w = k->wording;
				continue;
			}
			goto plain;
		}
		const char *v = f[i];
		size_t vl = fl[i];
		if (strip) {
			const char *eq = memchr(v, '=', vl);
			if (eq) {
				vl -= (size_t)(eq + 1 - v);
				v = eq + 1;
			}
		}
		char tmp[TOKEN_MAX];
		if (words) {
			snprintf(tmp, sizeof(tmp), "%.*s", (int)vl, v);
			v = user_words(tmp);
			vl = strlen(v);
		}
		int r = snprintf(out + o, n - o, "%.*s", (int)vl, v);
		o += r > 0 && (size_t)r < n - o ? (size_t)r : n - o - 1;
	}
	out[o] = 0;
	return;
plain:
	snprintf(out, n, "showed %s", token);
}
