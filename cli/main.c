// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * herdwatch - command-line client of the collector's query API (HTTP/JSON on loopback).
 *
 *   herdwatch [--api HOST:PORT] [--json] events [--member M] [--kind K] [--since T]
 *             [--until T] [--grep TEXT] [--limit N] [--follow]
 *   herdwatch [...] alerts [--member M] [--kind K] [--since T] [--limit N] [--follow]
 *   herdwatch [...] herds | members | stats
 *   herdwatch [...] [--token-file FILE] request HOST WORD...
 * The API address defaults to $HERDWATCH_API, else 127.0.0.1:7480 (--api overrides both).
 * T: RFC 3339, ns since the epoch, or an age such as 30s, 10m, 2h, 7d.
 * Lists are paged: the collector bounds the work of one answer, the client asks on until it has
 * --limit events (newest first) or, with --follow, everything new.
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "collector/json.h"

static const char *api = "127.0.0.1:7480";
static int as_json;
static const char *token_file;
static int http_status;

#define PAGE 10000 /* the collector's largest page */

/* method GET or POST; body (form) and token for POST. Returns the body of a 200 answer. */
static char *http_req(const char *method, const char *path, const char *form, const char *token)
{
	char host[256];
	const char *colon = strrchr(api, ':');
	if (!colon || (size_t)(colon - api) >= sizeof(host))
		return NULL;
	memcpy(host, api, (size_t)(colon - api));
	host[colon - api] = 0;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
	if (getaddrinfo(host, colon + 1, &hints, &ai))
		return NULL;
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen)) {
		freeaddrinfo(ai);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	freeaddrinfo(ai);
	char req[16384];
	int n = snprintf(req, sizeof(req),
			 "%s %s HTTP/1.0\r\nHost: %s\r\n%s%s%sContent-Type: "
			 "application/x-www-form-urlencoded\r\nContent-Length: %zu\r\n\r\n%s",
			 method, path, api, token ? "Authorization: Bearer " : "",
			 token ? token : "", token ? "\r\n" : "", form ? strlen(form) : 0,
			 form ? form : "");
	if (n < 0 || (size_t)n >= sizeof(req) || write(fd, req, (size_t)n) != n) {
		close(fd);
		return NULL;
	}
	struct jbuf b = {0};
	char tmp[65536];
	ssize_t r;
	while ((r = read(fd, tmp, sizeof(tmp))) > 0)
		jb_raw(&b, tmp, (size_t)r);
	close(fd);
	if (b.oom || !b.p)
		return NULL;
	char *body = strstr(b.p, "\r\n\r\n");
	http_status = b.len > 12 && !strncmp(b.p, "HTTP/1.", 7) ? atoi(b.p + 9) : 0;
	if (strncmp(b.p, "HTTP/1.", 7) || !body || strncmp(b.p + 9, "200", 3)) {
		fprintf(stderr, "herdwatch: %s: %.*s\n", path, (int)strcspn(b.p, "\r\n"), b.p);
		free(b.p);
		return NULL;
	}
	memmove(b.p, body + 4, strlen(body + 4) + 1);
	return b.p;
}

static char *http_get(const char *path)
{
	return http_req("GET", path, NULL, NULL);
}

static void urlenc(struct jbuf *b, const char *k, const char *v)
{
	if (!v)
		return;
	jb_printf(b, "%s%s=", strchr(b->p, '?') ? "&" : "?", k);
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("-_.~", *p))
			jb_raw(b, (const char *)p, 1);
		else
			jb_printf(b, "%%%02X", *p);
	}
}

/* "10m" -> now - 10 min (ns); RFC 3339 and integers pass through */
static char *abs_time(const char *t, char *buf, size_t n)
{
	if (!t)
		return NULL;
	size_t l = strlen(t);
	char unit = l ? t[l - 1] : 0;
	double mult = unit == 's'   ? 1
		      : unit == 'm' ? 60
		      : unit == 'h' ? 3600
		      : unit == 'd' ? 86400
				    : 0;
	if (mult && !strchr(t, 'T')) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		double now = (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
		snprintf(buf, n, "%.0f", now - atof(t) * mult * 1e9);
		return buf;
	}
	snprintf(buf, n, "%s", t);
	return buf;
}

static void s_of(const struct jdoc *d, int root, const char *path, char *buf, size_t n)
{
	int i = json_path(d, root, path);
	if (i >= 0 && d->t[i].type == J_STR)
		json_str(d, i, buf, n);
	else if (i >= 0 && d->t[i].type != J_NULL && d->t[i].type != J_OBJ && d->t[i].type != J_ARR)
		snprintf(buf, n, "%.*s", (int)(d->t[i].end - d->t[i].start), d->s + d->t[i].start);
	else
		buf[0] = 0;
}

static struct jtok *toks;
static size_t ntoks;

/* Parse a whole answer; the token array grows as needed (a JSON text of n bytes has at most
 * n tokens). Returns the token count, or -1 (not JSON). */
static int parse(const char *body)
{
	size_t len = strlen(body);
	for (;;) {
		int n = toks ? json_parse(body, len, toks, (int)ntoks) : -1;
		if (n > 0 || ntoks > len + 1 || ntoks >= (size_t)1 << 30)
			return n > 0 ? n : -1;
		size_t nn = ntoks ? ntoks * 4 : 1 << 16;
		struct jtok *t = realloc(toks, nn * sizeof(*t));
		if (!t)
			return -1;
		toks = t;
		ntoks = nn;
	}
}

/* A list answer's number field (last_id, next_before), or dflt. */
static long long num_of(const char *body, const char *key, long long dflt)
{
	int n = parse(body);
	if (n <= 0)
		return dflt;
	struct jdoc d = {body, toks, n};
	int ok = 0;
	long long v = json_int(&d, json_get(&d, 0, key), &ok);
	return ok ? v : dflt;
}

/* Entries in a list answer (-1: not a list answer). */
static long long count_of(const char *body, const char *listkey)
{
	int n = parse(body);
	if (n <= 0)
		return -1;
	struct jdoc d = {body, toks, n};
	int arr = json_get(&d, 0, listkey);
	return arr >= 0 && toks[arr].type == J_ARR ? (long long)toks[arr].size : -1;
}

static int truncated_of(const char *body)
{
	int n = parse(body);
	if (n <= 0)
		return 0;
	struct jdoc d = {body, toks, n};
	int i = json_get(&d, 0, "truncated");
	return i >= 0 && toks[i].type == J_TRUE;
}

/* Print a list response; returns last_id (for --follow) or -1. */
static long long show(const char *body, const char *listkey, int kind)
{
	int n = parse(body);
	if (n <= 0) {
		fprintf(stderr, "herdwatch: the collector's answer is not JSON\n");
		return -2;
	}
	struct jdoc d = {body, toks, n};
	int arr = listkey ? json_get(&d, 0, listkey) : 0;
	if (arr < 0 || toks[arr].type != J_ARR)
		return -2;
	int i = arr + 1;
	for (uint32_t k = 0; k < toks[arr].size; k++, i = (int)toks[i].next) {
		if (as_json) {
			int inner = kind == 0   ? json_get(&d, i, "event")
				    : kind == 1 ? json_get(&d, i, "alert")
						: i;
			if (kind == 0) {
				/* keep the member the collector assigned next to the raw event */
				printf("%.*s\n", (int)(toks[i].end - toks[i].start),
				       body + toks[i].start);
			} else {
				printf("%.*s\n", (int)(toks[inner].end - toks[inner].start),
				       body + toks[inner].start);
			}
			continue;
		}
		char a[256], b[256], c[256], e[512], f[256], g[1024];
		if (kind == 0) {
			int ev = json_get(&d, i, "event");
			s_of(&d, i, "id", a, sizeof(a));
			s_of(&d, ev, "time", b, sizeof(b));
			s_of(&d, i, "member", c, sizeof(c));
			s_of(&d, ev, "kind", f, sizeof(f));
			s_of(&d, ev, "proc.exe", e, sizeof(e));
			char obj[1024] = "";
			s_of(&d, ev, "file.path", g, sizeof(g));
			if (!g[0]) {
				char ip[128], port[16];
				s_of(&d, ev, "net.dst.ip", ip, sizeof(ip));
				s_of(&d, ev, "net.dst.port", port, sizeof(port));
				if (ip[0])
					snprintf(g, sizeof(g), "%s:%s", ip, port);
			}
			if (!g[0])
				s_of(&d, ev, "auth.user", g, sizeof(g));
			snprintf(obj, sizeof(obj), "%s", g);
			printf("%-8s %-30.30s %-20.20s %-18.18s %-28.28s %s\n", a, b, c, f, e, obj);
		} else if (kind == 1) {
			int al = json_get(&d, i, "alert");
			s_of(&d, i, "id", a, sizeof(a));
			s_of(&d, al, "time", b, sizeof(b));
			s_of(&d, al, "kind", f, sizeof(f));
			s_of(&d, al, "severity", e, sizeof(e));
			s_of(&d, al, "member", c, sizeof(c));
			s_of(&d, al, "explanation", g, sizeof(g));
			printf("%-6s %-30.30s %-15s %-7s %-20s %s\n", a, b, f, e, c[0] ? c : "-",
			       g);
		} else if (kind == 2) {
			s_of(&d, i, "herd", a, sizeof(a));
			s_of(&d, i, "members", b, sizeof(b));
			s_of(&d, i, "active", c, sizeof(c));
			s_of(&d, i, "changes", e, sizeof(e));
			s_of(&d, i, "learning", f, sizeof(f));
			/* cohorts: "1.4.2:12 1.5.0:3" ("-" when no member has a version) */
			int ca = json_get(&d, i, "cohorts"), o = 0, versioned = 0;
			g[0] = 0;
			if (ca >= 0 && toks[ca].type == J_ARR) {
				int j = ca + 1;
				for (uint32_t q = 0; q < toks[ca].size;
				     q++, j = (int)toks[j].next) {
					char v[256], nm[32];
					s_of(&d, j, "version", v, sizeof(v));
					s_of(&d, j, "members", nm, sizeof(nm));
					versioned += v[0] != 0;
					int w = snprintf(g + o, sizeof(g) - (size_t)o, "%s%s:%s",
							 o ? " " : "", v[0] ? v : "unversioned",
							 nm);
					if (w < 0 || (size_t)w >= sizeof(g) - (size_t)o)
						break;
					o += w;
				}
			}
			printf("%-20s %8s %8s %8s %9s  %s\n", a, b, c, e, f, versioned ? g : "-");
		} else {
			char v[256];
			s_of(&d, i, "member", a, sizeof(a));
			s_of(&d, i, "herd", b, sizeof(b));
			s_of(&d, i, "version", v, sizeof(v));
			s_of(&d, i, "type", c, sizeof(c));
			s_of(&d, i, "score", e, sizeof(e));
			s_of(&d, i, "alerts", f, sizeof(f));
			s_of(&d, i, "last_seen", g, sizeof(g));
			char t[32], sil[16];
			s_of(&d, i, "tokens", t, sizeof(t));
			s_of(&d, i, "silent", sil, sizeof(sil));
			printf("%-24s %-14s %-12s %-9s %6s %6s %6s %-6s %s\n", a, b[0] ? b : "-",
			       v[0] ? v : "-", c, e, f, t, sil[0] == 't' ? "yes" : "no", g);
		}
	}
	fflush(stdout);
	int li = listkey ? json_get(&d, 0, "last_id") : -1;
	int ok = 0;
	long long last = json_int(&d, li, &ok);
	return ok ? last : -1;
}

static void formenc(struct jbuf *b, const char *k, const char *v)
{
	jb_printf(b, "%s%s=", b->len ? "&" : "", k);
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("-_.~", *p))
			jb_raw(b, (const char *)p, 1);
		else
			jb_printf(b, "%%%02X", *p);
	}
}

/* The collector's API token: --token-file, $HERDWATCH_API_TOKEN_FILE, or herdwatch.db.api-token
 * (the collector writes it next to its database, DB.api-token, readable by root only). */
static int read_token(char *buf, size_t n)
{
	const char *path = token_file ? token_file : getenv("HERDWATCH_API_TOKEN_FILE");
	if (!path || !*path)
		path = "herdwatch.db.api-token";
	FILE *f = fopen(path, "re");
	if (!f || !fgets(buf, (int)n, f)) {
		fprintf(stderr,
			"herdwatch: cannot read the collector's API token from %s: %s\n"
			"herdwatch: the collector writes it next to its database (DB.api-token, or "
			"its "
			"--api-token-file); pass it with --token-file FILE (as root)\n",
			path, f ? "empty file" : strerror(errno));
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	buf[strcspn(buf, " \t\r\n")] = 0;
	return 0;
}

/* herdwatch request HOST WORD...: a control request to the agent of HOST over its stream,
 * the words as for "herdwatch-agent ctl" (e.g. enable file.open --for 600). It changes the
 * agent's state: a POST with the collector's API token. */
static int cmd_request(int argc, char **argv)
{
	struct jbuf form = {0};
	char token[256];
	if (argc < 2) {
		fprintf(stderr, "usage: herdwatch [--token-file FILE] request HOST WORD... (e.g. "
				"enable file.open --for 600)\n");
		return 2;
	}
	if (read_token(token, sizeof(token)))
		return 1;
	formenc(&form, "host", argv[0]);
	for (int i = 1; i < argc; i++)
		formenc(&form, "arg", argv[i]);
	char *body = form.oom ? NULL : http_req("POST", "/api/request", form.p, token);
	free(form.p);
	if (!body) {
		if (http_status == 401 || http_status == 403)
			fprintf(stderr,
				"herdwatch: the collector refused the request: %s API token (is %s "
				"the token file of the collector at %s?)\n",
				http_status == 401 ? "no" : "wrong",
				token_file ? token_file : "the default", api);
		else
			fprintf(stderr,
				"herdwatch: cannot reach the collector at %s (or it refused the "
				"request)\n",
				api);
		return 1;
	}
	fputs(body, stdout);
	int ok = strstr(body, "\"ok\":true") != NULL;
	free(body);
	return ok ? 0 : 1;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: herdwatch [--api HOST:PORT] [--json] events|alerts|herds|members|stats "
		"[options]\n"
		"       herdwatch [--api HOST:PORT] [--token-file FILE] request HOST WORD...\n"
		"         a control request to that agent; FILE: the collector's API token\n"
		"         [$HERDWATCH_API_TOKEN_FILE or herdwatch.db.api-token]\n"
		"  events: --member M --kind K --since T --until T --grep TEXT --limit N --follow\n"
		"  alerts: --member M --kind K --since T --limit N --follow\n"
		"  T: RFC 3339, ns since the epoch, or an age: 30s 10m 2h 7d\n");
}

/* herds, members, stats: one answer, as a table (or as JSON) */
static int cmd_table(const char *cmd)
{
	char path[64];
	snprintf(path, sizeof(path), "/api/%s", cmd);
	char *body = http_get(path);
	if (!body) {
		fprintf(stderr, "herdwatch: cannot reach the collector at %s\n", api);
		return 1;
	}
	if (as_json || !strcmp(cmd, "stats")) {
		fputs(body, stdout);
	} else {
		if (!strcmp(cmd, "herds"))
			printf("%-20s %8s %8s %8s %9s  %s\n", "HERD", "MEMBERS", "ACTIVE",
			       "CHANGES", "LEARNING", "COHORTS (VERSION:MEMBERS)");
		else
			printf("%-24s %-14s %-12s %-9s %6s %6s %6s %-6s %s\n", "MEMBER", "HERD",
			       "VERSION", "TYPE", "SCORE", "ALERTS", "TOKENS", "SILENT",
			       "LAST SEEN");
		show(body, NULL, !strcmp(cmd, "herds") ? 2 : 3);
	}
	free(body);
	return 0;
}

/* The newest `want` events or alerts matching url, shown oldest first. The last id shown (-1:
 * none) in *last; 1 when the collector cannot be reached or answers garbage. */
static int show_newest(const struct jbuf *url, const char *listkey, int kindno, long long want,
		       long long *last)
{
	/* newest first, page by page (before=next_before) until `want` events or the oldest data:
	 * the collector examines a bounded number of chunks per answer */
	char **pages = NULL;
	size_t npages = 0;
	long long got = 0, nb = -1;
	for (;;) {
		struct jbuf u = {0};
		char a[32];
		jb_raw(&u, url->p, url->len);
		snprintf(a, sizeof(a), "%lld", want - got < PAGE ? want - got : PAGE);
		urlenc(&u, "limit", a);
		if (nb >= 0) {
			snprintf(a, sizeof(a), "%lld", nb);
			urlenc(&u, "before", a);
		}
		char *body = http_get(u.p);
		free(u.p);
		if (!body) {
			fprintf(stderr, "herdwatch: cannot reach the collector at %s\n", api);
			goto fail;
		}
		long long cnt = count_of(body, listkey);
		if (cnt < 0) {
			fprintf(stderr, "herdwatch: the collector's answer is not JSON\n");
			free(body);
			goto fail;
		}
		char **pp = realloc(pages, (npages + 1) * sizeof(*pp));
		if (!pp) {
			fprintf(stderr, "herdwatch: out of memory\n");
			free(body);
			goto fail;
		}
		pages = pp;
		pages[npages++] = body;
		got += cnt;
		/* alerts: one page (the newest `limit`, at most PAGE) */
		nb = kindno == 0 ? num_of(body, "next_before", -1) : -1;
		if (nb < 0 || got >= want)
			break;
	}
	if (!as_json) {
		if (kindno == 0)
			printf("%-8s %-30s %-20s %-18s %-28s %s\n", "ID", "TIME", "MEMBER", "KIND",
			       "EXE", "OBJECT");
		else
			printf("%-6s %-30s %-15s %-7s %-20s %s\n", "ID", "TIME", "KIND", "SEV",
			       "MEMBER", "EXPLANATION");
	}
	*last = -1;
	int bad = 0;
	for (size_t i = npages; i-- > 0;) {
		long long l = show(pages[i], listkey, kindno);
		if (l < -1)
			bad = 1;
		if (l > *last)
			*last = l;
		free(pages[i]);
	}
	free(pages);
	return bad;
fail:
	for (size_t i = 0; i < npages; i++)
		free(pages[i]);
	free(pages);
	return 1;
}

/* --follow: every half second, what is newer than id last, until interrupted */
static void follow_new(const struct jbuf *url, const char *listkey, int kindno, long long last)
{
	if (last < 0) {
		/* nothing matched yet: follow from the newest event stored now */
		char *body = http_get(kindno == 0 ? "/api/events?limit=1" : "/api/alerts?limit=1");
		last = body ? num_of(body, "last_id", -1) : -1;
		free(body);
		if (last < 0)
			last = 0;
	}
	for (;;) {
		usleep(500000);
		/* everything newer than the last shown id, oldest first, page after page until
		 * caught up (a burst larger than a page is not cut) */
		for (;;) {
			struct jbuf u = {0};
			char a[32];
			jb_raw(&u, url->p, url->len);
			snprintf(a, sizeof(a), "%lld", last);
			urlenc(&u, "after", a);
			snprintf(a, sizeof(a), "%d", PAGE);
			urlenc(&u, "limit", a);
			char *body = http_get(u.p);
			free(u.p);
			if (!body)
				break;
			long long cnt = count_of(body, listkey);
			int trunc = truncated_of(body);
			long long l2 = show(body, listkey, kindno);
			free(body);
			if (l2 > last)
				last = l2;
			if (cnt < PAGE && !trunc)
				break;
			if (l2 < 0)
				break;
		}
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"api", 1, 0, 'a'},        {"json", 0, 0, 'j'},  {"member", 1, 0, 'm'},
		{"kind", 1, 0, 'k'},       {"since", 1, 0, 's'}, {"until", 1, 0, 'u'},
		{"grep", 1, 0, 'g'},       {"limit", 1, 0, 'l'}, {"follow", 0, 0, 'f'},
		{"token-file", 1, 0, 't'}, {"help", 0, 0, 'h'},  {0, 0, 0, 0},
	};
	const char *member = NULL, *kind = NULL, *since = NULL, *until = NULL, *grep = NULL,
		   *limit = NULL;
	int follow = 0, o;
	if (getenv("HERDWATCH_API") && *getenv("HERDWATCH_API"))
		api = getenv("HERDWATCH_API"); /* --api overrides it */
	/* "request" takes free words (they may look like options): handled before getopt */
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--api") && i + 1 < argc) {
			api = argv[++i];
			continue;
		}
		if (!strcmp(argv[i], "--token-file") && i + 1 < argc) {
			token_file = argv[++i];
			continue;
		}
		if (!strcmp(argv[i], "request"))
			return cmd_request(argc - i - 1, argv + i + 1);
		break;
	}
	while ((o = getopt_long(argc, argv, "+", opts, NULL)) != -1 || optind < argc) {
		if (o == -1) {
			/* the command word may sit between options */
			static const char *cmdw;
			if (!cmdw) {
				cmdw = argv[optind];
				argv[optind] = argv[0];
				optind++;
				setenv("HW_CMD", cmdw, 1);
				continue;
			}
			usage();
			return 2;
		}
		switch (o) {
		case 'a':
			api = optarg;
			break;
		case 'j':
			as_json = 1;
			break;
		case 'm':
			member = optarg;
			break;
		case 'k':
			kind = optarg;
			break;
		case 's':
			since = optarg;
			break;
		case 'u':
			until = optarg;
			break;
		case 'g':
			grep = optarg;
			break;
		case 'l':
			limit = optarg;
			break;
		case 'f':
			follow = 1;
			break;
		case 't':
			token_file = optarg;
			break;
		default:
			usage();
			return 2;
		}
	}
	const char *cmd = getenv("HW_CMD");
	if (!cmd) {
		usage();
		return 2;
	}
	char t1[64], t2[64];
	struct jbuf url = {0};
	int kindno;
	const char *listkey;
	if (!strcmp(cmd, "events")) {
		jb_puts(&url, "/api/events");
		kindno = 0;
		listkey = "events";
	} else if (!strcmp(cmd, "alerts")) {
		jb_puts(&url, "/api/alerts");
		kindno = 1;
		listkey = "alerts";
	} else if (!strcmp(cmd, "herds") || !strcmp(cmd, "members") || !strcmp(cmd, "stats")) {
		return cmd_table(cmd);
	} else {
		usage();
		return 2;
	}
	urlenc(&url, "member", member);
	urlenc(&url, "kind", kind);
	urlenc(&url, "since", abs_time(since, t1, sizeof(t1)));
	urlenc(&url, "until", abs_time(until, t2, sizeof(t2)));
	urlenc(&url, "q", grep);
	long long want = limit ? atoll(limit) : 100;
	if (want < 1)
		want = 100;
	long long last;
	if (show_newest(&url, listkey, kindno, want, &last)) {
		free(url.p);
		return 1;
	}
	if (follow)
		follow_new(&url, listkey, kindno, last);
	free(url.p);
	return 0;
}
