// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Collector-side unit tests (no network, no root), built with ASan/UBSan:
 * wire frames, the strict JSON parser, canonical tokens, stored-seq ranges, the herd engine,
 * and a seeded mutation fuzz of the frame and JSON parsers (hostile input must never crash).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "collector/herd.h"
#include "collector/json.h"
#include "collector/store.h"
#include "collector/tokens.h"
#include "common/wire.h"

static int failed;
#define CHECK(name, cond)                                                                          \
	do {                                                                                       \
		if (cond)                                                                          \
			printf("ok - %s\n", name);                                                 \
		else {                                                                             \
			printf("not ok - %s: %s (line %d)\n", name, #cond, __LINE__);              \
			failed = 1;                                                                \
		}                                                                                  \
	} while (0)

static const char *EV =
	"{\"seq\":12,\"time\":\"2026-11-27T10:00:00.123456789Z\",\"kind\":\"process.exec\","
	"\"host\":{\"name\":\"vm1\",\"id\":\"abc\",\"boot_id\":\"b1\",\"herd\":\"web\"},"
	"\"proc\":{\"pid\":42,\"uid\":33,\"euid\":33,\"comm\":\"sh\",\"exe\":\"/usr/bin/dash\","
	"\"args\":[\"sh\",\"-c\",\"id\\n\\u00ff\"],\"container\":{\"id\":\"m1\",\"herd\":\"web\"}},"
	"\"parent\":{\"pid\":7,\"exe\":\"/usr/sbin/"
	"nginx\"},\"exec\":{\"result\":0,\"setuid\":false,\"fileless\":false}}";

static void test_wire(void)
{
	const char raw[] = "{\"seq\":1}\n{\"seq\":2}\n";
	uint8_t *f;
	size_t fl;
	CHECK("wire_encode", hw_wire_batch_encode(NULL, 1, 9, 1, 2, 0x0123456789abcdefull, "host",
						  "boot", raw, sizeof(raw) - 1, &f, &fl) == 0);
	struct hw_frame_hdr h;
	CHECK("wire_hdr_ok", hw_wire_parse_hdr(f, &h) == 0 && h.type == HW_FRAME_BATCH &&
				     h.len == fl - HW_WIRE_HDR_LEN);
	struct hw_batch b;
	CHECK("wire_batch_ok",
	      h.version == HW_WIRE_VERSION &&
		      hw_wire_parse_batch(h.version, f + HW_WIRE_HDR_LEN, h.len, &b) == 0 &&
		      b.batch_id == 9 && b.count == 2 && b.run_id == 0x0123456789abcdefull &&
		      b.host_len == 4 && !memcmp(b.host_id, "host", 4) && b.boot_len == 4 &&
		      !memcmp(b.boot_id, "boot", 4));
	char out[64];
	CHECK("wire_decompress_ok", hw_wire_batch_decompress(&b, NULL, out, sizeof(out)) == 0 &&
					    !memcmp(out, raw, sizeof(raw) - 1));
	b.count = 3;
	CHECK("wire_bad_count",
	      hw_wire_batch_decompress(&b, NULL, out, sizeof(out)) == HW_WIRE_BAD_COUNT);
	b.count = 2;
	b.raw_len = 5;
	CHECK("wire_raw_len_mismatch",
	      hw_wire_batch_decompress(&b, NULL, out, sizeof(out)) == HW_WIRE_DECOMPRESS);
	uint8_t g[HW_WIRE_HDR_LEN];
	memcpy(g, f, sizeof(g));
	g[0] ^= 1;
	CHECK("wire_bad_magic", hw_wire_parse_hdr(g, &h) == HW_WIRE_BAD_MAGIC);
	memcpy(g, f, sizeof(g));
	g[4] = HW_WIRE_VERSION + 1;
	CHECK("wire_bad_version", hw_wire_parse_hdr(g, &h) == HW_WIRE_BAD_VERSION);
	g[4] = 0;
	CHECK("wire_bad_version_0", hw_wire_parse_hdr(g, &h) == HW_WIRE_BAD_VERSION);
	memcpy(g, f, sizeof(g));
	g[5] = 7;
	CHECK("wire_bad_type", hw_wire_parse_hdr(g, &h) == HW_WIRE_BAD_TYPE);
	memcpy(g, f, sizeof(g));
	g[7] = 1;
	CHECK("wire_bad_flags", hw_wire_parse_hdr(g, &h) == HW_WIRE_BAD_FLAGS);
	memcpy(g, f, sizeof(g));
	g[8] = 0x7f;
	CHECK("wire_oversized_payload", hw_wire_parse_hdr(g, &h) == HW_WIRE_OVERSIZED);
	uint8_t *p = f + HW_WIRE_HDR_LEN;
	size_t pl = fl - HW_WIRE_HDR_LEN;
	CHECK("wire_short_payload", hw_wire_parse_batch(2, p, 20, &b) == HW_WIRE_MALFORMED);
	CHECK("wire_short_fixed_v2",
	      hw_wire_parse_batch(2, p, HW_WIRE_BATCH_FIXED + 2, &b) == HW_WIRE_MALFORMED);
	CHECK("wire_batch_bad_version", hw_wire_parse_batch(3, p, pl, &b) == HW_WIRE_BAD_VERSION);
	for (int which = 32; which <= 33; which++) { /* host_len, boot_len */
		uint8_t save = p[which];
		p[which] = 200; /* an id longer than the maximum */
		CHECK("wire_id_too_long", hw_wire_parse_batch(2, p, pl, &b) == HW_WIRE_OVERSIZED);
		p[which] = 120; /* within the maximum but beyond the payload */
		CHECK("wire_id_beyond_payload",
		      hw_wire_parse_batch(2, p, pl, &b) == HW_WIRE_MALFORMED);
		p[which] = 0;
		CHECK("wire_id_empty", hw_wire_parse_batch(2, p, pl, &b) == HW_WIRE_MALFORMED);
		p[which] = save;
	}
	/* ids exactly fill the payload: no zstd byte left */
	CHECK("wire_no_zstd",
	      hw_wire_parse_batch(2, p, HW_WIRE_BATCH_FIXED + 8, &b) == HW_WIRE_MALFORMED);
	p[16] = 0xff; /* count > HW_WIRE_MAX_EVENTS */
	CHECK("wire_too_many_events", hw_wire_parse_batch(2, p, pl, &b) == HW_WIRE_OVERSIZED);
	p[16] = 0;
	p[19] = 0;
	CHECK("wire_zero_events", hw_wire_parse_batch(2, p, pl, &b) == HW_WIRE_MALFORMED);
	free(f);
	/* a version 1 batch (no run id) is still read, with run id 0 */
	{
		uint8_t v1[HW_WIRE_BATCH_FIXED_V1 + 4 + 4 + 3] = {0};
		v1[7] = 5;              /* batch id */
		v1[15] = 1;             /* first seq */
		v1[19] = 1;             /* count */
		v1[23] = 10;            /* raw_len */
		v1[24] = 4, v1[25] = 4; /* host_len, boot_len */
		memcpy(v1 + 26, "hostboot", 8);
		CHECK("wire_v1_batch_read",
		      hw_wire_parse_batch(1, v1, sizeof(v1), &b) == 0 && b.batch_id == 5 &&
			      b.run_id == 0 && b.host_len == 4 && !memcmp(b.host_id, "host", 4) &&
			      !memcmp(b.boot_id, "boot", 4) && b.zlen == 3);
		CHECK("wire_v1_batch_short", hw_wire_parse_batch(1, v1, HW_WIRE_BATCH_FIXED_V1 + 8,
								 &b) == HW_WIRE_MALFORMED);
	}
	struct hw_ack a = {.batch_id = 77, .stored = 5, .duplicates = 2, .rejected = 1}, a2;
	uint8_t ab[HW_WIRE_HDR_LEN + HW_WIRE_ACK_LEN];
	hw_wire_ack_encode(&a, ab);
	CHECK("wire_ack_roundtrip",
	      hw_wire_parse_hdr(ab, &h) == 0 && h.type == HW_FRAME_ACK && h.version == 1 &&
		      hw_wire_parse_ack(ab + HW_WIRE_HDR_LEN, h.len, &a2) == 0 &&
		      a2.batch_id == 77 && a2.stored == 5 && a2.duplicates == 2 &&
		      a2.rejected == 1);
	CHECK("wire_encode_refuses_long_id",
	      hw_wire_batch_encode(
		      NULL, 1, 1, 1, 1, 1,
		      "0123456789012345678901234567890123456789012345678901234567890123456789012345"
		      "678901234567890123456789012345678901234567890123456789",
		      "b", "x\n", 2, &f, &fl) == -22);
}

static struct jtok toks[4096];

static int parses(const char *s)
{
	return json_parse(s, strlen(s), toks, 4096) > 0;
}

static void test_json(void)
{
	CHECK("json_event_parses", parses(EV));
	const char *good[] = {
		"{}", "[]", "0", "-0.5e+3", "\"\\ud83d\\ude00\"", " {\"a\" : [1, true, null]} "};
	int all = 1;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		all &= parses(good[i]);
	CHECK("json_valid_accepted", all);
	const char *bad[] = {
		"{",        "{\"a\":1,}", "[1,]",        "01",         "-",     "1.",    "1e",
		"\"a\nb\"", "\"\\x\"",    "\"\\u12g4\"", "{\"a\"}",    "{1:2}", "[1 2]", "tru",
		"nul",      "{} {}",      "\"abc",       "{\"a\":1}x", "",      "[\"\\", "\"\\u00"};
	int none = 1;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parses(bad[i])) {
			printf("# accepted invalid JSON: %s\n", bad[i]);
			none = 0;
		}
	CHECK("json_invalid_rejected", none);
	char deep[300];
	memset(deep, '[', 100);
	memset(deep + 100, ']', 100);
	deep[200] = 0;
	CHECK("json_depth_limited", !parses(deep));
	CHECK("json_token_limit", json_parse("[1,2,3,4]", 9, toks, 3) < 0);
	int n = json_parse(EV, strlen(EV), toks, 4096);
	struct jdoc d = {EV, toks, n};
	char buf[64];
	CHECK("json_path",
	      json_str(&d, json_path(&d, 0, "proc.container.herd"), buf, sizeof(buf)) == 3 &&
		      !strcmp(buf, "web"));
	int args = json_path(&d, 0, "proc.args");
	int third = args + 1;
	third = (int)toks[third].next;
	third = (int)toks[third].next;
	json_str(&d, third, buf, sizeof(buf));
	CHECK("json_unescape", !strcmp(buf, "id\n\xc3\xbf"));
	CHECK("json_missing_path", json_path(&d, 0, "proc.nothing.here") < 0);
	/* prepared keys: compared by length and first 8 bytes, then the rest; escaped keys by
	 * their value; the first of equal keys (lenient parse); keys at the end of the text */
	const char *gk = "{\"container_b\":1,\"container\":2,\"containe\":3,\"n\\u0061me\":4,"
			 "\"container_a\":5,\"pid\":6,\"pid\":7,\"x\":8}";
	n = json_parse(gk, strlen(gk), toks, 64);
	struct jdoc dk = {gk, toks, n};
	static const char *const wk[] = {"container_a", "container", "name", "pid", "x", "contain"};
	int out[6];
	json_get_many(&dk, 0, wk, 6, out);
	int okk = 1;
	const long long want[] = {5, 2, 4, 6, 8, -1};
	for (int k = 0; k < 6; k++) {
		int ok;
		long long v = out[k] < 0 ? -1 : json_int(&dk, out[k], &ok);
		okk &= v == want[k];
	}
	CHECK("json_get_keys", okk);
	const char *sp = "\"\\ud83d\\ude00\"";
	n = json_parse(sp, strlen(sp), toks, 16);
	struct jdoc d2 = {sp, toks, n};
	json_str(&d2, 0, buf, sizeof(buf));
	CHECK("json_surrogate_pair", !strcmp(buf, "\xf0\x9f\x98\x80"));
	char q[64];
	json_quote(q, sizeof(q), "a\"b\\c\n\x01", 7);
	CHECK("json_quote", !strcmp(q, "\"a\\\"b\\\\c\\u000a\\u0001\""));
}

static int strict_why(const char *s)
{
	int why;
	uint32_t at;
	int n = json_parse_strict(s, strlen(s), toks, 4096, &why, &at);
	return n > 0 ? 0 : why;
}

/* Issue 15: what json_parse accepts but agent input must not carry. */
static void test_json_strict(void)
{
	CHECK("json_strict_event_ok", strict_why(EV) == 0);
	CHECK("json_strict_dup_key_top",
	      strict_why("{\"seq\":1,\"kind\":\"a\",\"seq\":2}") == JSON_E_DUP_KEY);
	CHECK("json_strict_dup_key_nested",
	      strict_why("{\"host\":{\"name\":\"web-7\",\"name\":\"db-1\"}}") == JSON_E_DUP_KEY);
	CHECK("json_strict_dup_key_escaped",
	      strict_why("{\"name\":1,\"n\\u0061me\":2}") == JSON_E_DUP_KEY &&
		      strict_why("{\"\\u00e9\":1,\"\xc3\xa9\":2}") == JSON_E_DUP_KEY);
	CHECK("json_strict_dup_key_after_container",
	      strict_why("{\"a\":{\"x\":[1,{\"a\":2}]},\"b\":1,\"a\":3}") == JSON_E_DUP_KEY);
	CHECK("json_strict_same_key_other_objects",
	      strict_why("{\"a\":{\"a\":1},\"b\":{\"a\":{\"a\":2}},\"ab\":1,\"ba\":2}") == 0);
	char many[4096];
	size_t o = 0;
	o += (size_t)snprintf(many + o, sizeof(many) - o, "{");
	for (int i = 0; i < 200; i++)
		o += (size_t)snprintf(many + o, sizeof(many) - o, "%s\"k%d\":%d", i ? "," : "", i,
				      i);
	snprintf(many + o, sizeof(many) - o, "}");
	CHECK("json_strict_many_distinct_keys", strict_why(many) == 0);
	/* keys told apart only after their first 8 bytes, equal keys of 8 bytes and more, short
	 * keys at the very end of the text (no 8-byte load), an escaped key against a plain one of
	 * 8 bytes and more, keys with raw UTF-8 */
	CHECK("json_strict_long_keys",
	      strict_why("{\"container_a\":1,\"container_b\":2,\"container\":3,\"containe\":4}") ==
			      0 &&
		      strict_why("{\"container_a\":1,\"x\":0,\"container_a\":2}") ==
			      JSON_E_DUP_KEY &&
		      strict_why("{\"abcdefgh\":1,\"abcdefgh\":2}") == JSON_E_DUP_KEY);
	CHECK("json_strict_keys_at_end", strict_why("{\"a\":1,\"a\":2}") == JSON_E_DUP_KEY &&
						 strict_why("{\"a\":1,\"b\":2}") == 0 &&
						 strict_why("{\"\":1,\"\":2}") == JSON_E_DUP_KEY &&
						 strict_why("{\"\":1,\"a\":2}") == 0);
	CHECK("json_strict_dup_key_escaped_long",
	      strict_why("{\"boot_id_and_more\":1,\"boot_id_and_mor\\u0065\":2}") ==
			      JSON_E_DUP_KEY &&
		      strict_why("{\"boot_id_and_more\":1,\"boot_id_and_mor\\u0066\":2}") == 0 &&
		      strict_why("{\"\\u0000\":1,\"\":2}") == 0 &&
		      strict_why("{\"na\xc3\xa9me\":1,\"na\\u00e9me\":2}") == JSON_E_DUP_KEY);
	CHECK("json_lenient_keeps_dup_keys",
	      parses("{\"a\":1,\"a\":2}")); /* stored data, the CLI */
	CHECK("json_strict_utf8_valid",
	      strict_why("[\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\", \"\\ud83d\\ude00\"]") == 0);
	const char *bad[] = {"\"\xff\"",
			     "\"ab\xc3\"",
			     "\"\xc0\xaf\"",
			     "\"\xed\xa0\x80\"",
			     "\"\xf4\x90\x80\x80\"",
			     "{\"k\xfe\":1}",
			     "\"\\ud800\"",
			     "\"\\udc00x\"",
			     "\"\\ud800\\u0041\"",
			     "\"0123456789abcdef\x80\""};
	int all = 1;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (strict_why(bad[i]) != JSON_E_UTF8) {
			printf("# accepted or misnamed: %s\n", bad[i]);
			all = 0;
		}
	CHECK("json_strict_utf8_refused", all);
	CHECK("json_strict_syntax", strict_why("{\"a\":}") == JSON_E_SYNTAX);

	const char *nums = "[1e2,3002.7,5,-9223372036854775808,9223372036854775807,"
			   "9223372036854775808,\"5\",-0]";
	int n = json_parse(nums, strlen(nums), toks, 64);
	struct jdoc d = {nums, toks, n};
	int ok[8];
	long long v[8];
	for (int i = 0, t = 1; i < 8; i++, t = (int)toks[t].next)
		v[i] = json_int(&d, t, &ok[i]);
	CHECK("json_int_strict", !ok[0] && !ok[1] && ok[2] && v[2] == 5 && ok[3] &&
					 v[3] == INT64_MIN && ok[4] && v[4] == INT64_MAX &&
					 !ok[5] && !ok[6] && ok[7] && v[7] == 0);
	char q[64];
	json_quote(q, sizeof(q), "a\xff\xc3\xa9", 4);
	CHECK("json_quote_invalid_utf8", !strcmp(q, "\"a\\u00ff\xc3\xa9\""));
	struct jbuf b = {0};
	const char *raw = "{\"a\":\"x\xfe\xc3\xa9\xe2\x82\"}";
	jb_json_utf8(&b, raw, strlen(raw));
	CHECK("json_utf8_repaired",
	      b.p && !strcmp(b.p, "{\"a\":\"x\\u00fe\xc3\xa9\\u00e2\\u0082\"}"));
	free(b.p);
}

static int extract(const char *s, struct ev_info *ev, char tk[][TOKEN_MAX])
{
	int n = json_parse(s, strlen(s), toks, 4096);
	struct jdoc d = {s, toks, n};
	return n > 0 ? ev_extract(&d, 0, ev, tk) : -2;
}

/* Every kind of token has a row in token_kinds[] with its wording: one event of each kind that
 * makes tokens, through the real extraction; a token whose kind has no row (or renders as the
 * bare fallback) fails here. */
static void test_token_kinds(void)
{
	static const char *const evs[] = {
		"\"process.exec\",\"exec\":{}",
		"\"net.connect\",\"net\":{\"proto\":\"tcp\",\"dst\":{\"ip\":\"10.0.0.1\",\"port\":"
		"443}}",
		"\"net.accept\",\"net\":{\"proto\":\"tcp\",\"src\":{\"ip\":\"10.0.0.2\",\"port\":"
		"22},"
		"\"dst\":{\"ip\":\"8.8.8.8\",\"port\":40000}}",
		"\"net.listen\",\"net\":{\"proto\":\"tcp\",\"src\":{\"port\":8080}}",
		"\"net.bind\",\"net\":{\"proto\":\"udp\",\"src\":{\"port\":53}}",
		"\"net.socket\",\"net\":{\"family\":\"packet\",\"type\":\"raw\"}",
		"\"net.dns\",\"dns\":{\"query\":\"a.b.example.co.uk\"}",
		"\"file.open\",\"file\":{\"op\":\"read\",\"path\":\"/etc/shadow\",\"watch\":\"/etc/"
		"shadow\"}",
		"\"file.caps\",\"file\":{\"op\":\"setcap\",\"path\":\"/tmp/x\",\"watch\":null}",
		"\"process.capability\",\"cap\":{\"name\":\"CAP_SYS_ADMIN\"}",
		"\"kernel.module_load\",\"module\":{\"name\":\"rootkit\"}",
		"\"user.auth\",\"auth\":{\"service\":\"sudo\",\"user\":\"root\",\"result\":"
		"\"success\"}",
		"\"process.ptrace\",\"ptrace\":{\"request\":\"PTRACE_ATTACH\"}",
		"\"process.cred_change\",\"cred\":{\"syscall\":\"setuid\",\"new\":{\"euid\":0}}",
		"\"process.namespace\",\"ns\":{\"syscall\":\"unshare\"}",
		"\"kernel.bpf\",\"bpf\":{\"cmd\":\"BPF_PROG_LOAD\"}",
		"\"system.mount\",\"mount\":{\"fstype\":\"overlay\"}",
		"\"user.shell\",\"shell\":{\"shell\":\"/usr/bin/bash\"}",
		"\"process.memfd\"",
		"\"process.wx_memory\"",
		"\"process.rename\"",
		"\"inventory.listener\",\"inventory\":{\"proto\":\"tcp\",\"ip\":\"0.0.0.0\","
		"\"port\":22,"
		"\"procs\":[{\"pid\":1,\"exe\":\"/usr/sbin/sshd\"}]}",
		"\"inventory.module\",\"inventory\":{\"name\":\"nf_tables\"}",
		"\"inventory.setid\",\"inventory\":{\"path\":\"/usr/bin/passwd\",\"setuid\":true,"
		"\"uid\":0}",
		"\"inventory.authorized_key\",\"inventory\":{\"user\":\"root\",\"fingerprint\":"
		"\"SHA256:abc\"}",
		"\"inventory.crontab\",\"inventory\":{\"path\":\"/etc/crontab\",\"sha256\":"
		"\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}",
		"\"inventory.unit\",\"inventory\":{\"unit\":\"ssh.service\",\"scope\":\"system\","
		"\"wanted_by\":\"multi-user.target\"}",
		"\"inventory.preload\",\"inventory\":{\"entry\":\"/lib/x.so\"}",
		"\"inventory.uid0\",\"inventory\":{\"name\":\"toor\"}",
		"\"process.binary\",\"binary\":{\"path\":\"/usr/bin/x\",\"sha256\":"
		"\"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\"}",
	};
	struct ev_info ev;
	char tk[EV_MAX_TOKENS][TOKEN_MAX], ev_s[1024], d[1024];
	int all = 1, rows = 1;
	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++) {
		snprintf(ev_s, sizeof(ev_s),
			 "{\"seq\":1,\"kind\":%s,\"host\":{\"name\":\"h\"},"
			 "\"proc\":{\"exe\":\"/usr/bin/x\",\"euid\":0},"
			 "\"parent\":{\"exe\":\"/usr/bin/p\"}}",
			 evs[i]);
		/* the kind's own object goes inside: rebuild with it at the top level */
		char kind[64];
		sscanf(evs[i], "\"%63[^\"]\"", kind);
		const char *obj = strchr(evs[i], ',');
		snprintf(ev_s, sizeof(ev_s),
			 "{\"seq\":1,\"kind\":\"%s\",\"host\":{\"name\":\"h\"},"
			 "\"proc\":{\"exe\":\"/usr/bin/x\",\"euid\":0},\"parent\":{\"exe\":\"/usr/"
			 "bin/p\"}%s}",
			 kind, obj ? obj : "");
		int n = extract(ev_s, &ev, tk);
		if (n < 1) {
			printf("# %s: no token\n", kind);
			all = 0;
			continue;
		}
		for (int t = 0; t < n; t++) {
			const struct token_kind *k = token_kind_of(tk[t]);
			tokens_describe(tk[t], d, sizeof(d));
			if (!k || !strncmp(d, "showed ", 7) || strchr(d, '{')) {
				printf("# %s: %s -> %s\n", kind, tk[t], d);
				all = 0;
			}
		}
	}
	for (const struct token_kind *k = token_kinds; k->prefix; k++)
		rows &= k->events && *k->events && k->wording && *k->wording;
	CHECK("token_kinds_every_kind_has_wording", all);
	CHECK("token_kinds_rows_complete", rows);
	tokens_describe("auth|/usr/bin/sudo|sudo|by=service|as=root|success", d, sizeof(d));
	CHECK("token_kinds_auth_words",
	      !strcmp(d, "authenticated as root with /usr/bin/sudo (PAM service sudo, run by a "
			 "service account): success"));
	tokens_describe("exec|/bin/sh|parent=/usr/sbin/nginx|user=service|setuid", d, sizeof(d));
	CHECK("token_kinds_exec_extra_fields",
	      !strcmp(d, "ran /bin/sh (parent /usr/sbin/nginx) as service, setuid"));
	tokens_describe("nosuchkind|x", d, sizeof(d));
	CHECK("token_kinds_unknown_plain", !strcmp(d, "showed nosuchkind|x"));
}

/* Issue 19: inventory items become tokens of what a member carries; numbers that differ
 * between members (pids, inodes, ephemeral ports, the run) stay out of them. */
static void test_tokens_inventory(void)
{
	static const char *const cases[][2] = {
		{"\"listener\",\"inventory\":{\"run\":3,\"proto\":\"tcp\",\"ip\":\"0.0.0.0\","
		 "\"port\":22,\"inode\":99,\"procs\":[{\"pid\":812,\"exe\":\"/usr/sbin/sshd\"},"
		 "{\"pid\":900,\"exe\":\"/usr/bin/other\"}],\"nprocs\":2}",
		 "inv_listen|/usr/sbin/sshd|tcp/22|any"},
		{"\"listener\",\"inventory\":{\"proto\":\"udp\",\"ip\":\"::1\",\"port\":41234,"
		 "\"procs\":[{\"pid\":5,\"exe\":\"/opt/app-2.5.0/bin/app\"}]}",
		 "inv_listen|/opt/app-<v>/bin/app|udp/ephemeral|loopback"},
		{"\"listener\",\"inventory\":{\"proto\":\"tcp\",\"ip\":\"10.1.2.3\",\"port\":4444,"
		 "\"procs\":[]}",
		 "inv_listen|?|tcp/4444|private"},
		{"\"module\",\"inventory\":{\"name\":\"diamorphine\",\"size\":16384}",
		 "inv_module|diamorphine"},
		{"\"setid\",\"inventory\":{\"path\":\"/usr/local/bin/x\",\"setuid\":true,"
		 "\"setgid\":true,\"uid\":0,\"mtime\":5}",
		 "inv_setid|/usr/local/bin/x|setuid+setgid|owner=root"},
		{"\"setid\",\"inventory\":{\"path\":\"/usr/sbin/unix_chkpwd\",\"setuid\":false,"
		 "\"setgid\":true,\"uid\":0}",
		 "inv_setid|/usr/sbin/unix_chkpwd|setgid|owner=root"},
		{"\"authorized_key\",\"inventory\":{\"user\":\"deploy\",\"line\":4,"
		 "\"fingerprint\":\"SHA256:q1w2e3\",\"comment\":\"a@b\"}",
		 "inv_key|deploy|SHA256:q1w2e3"},
		{"\"crontab\",\"inventory\":{\"path\":\"/var/spool/cron/crontabs/root\",\"sha256\":"
		 "\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\",\"entries\":"
		 "1}",
		 "inv_cron|/var/spool/cron/crontabs/root|0011223344556677"},
		{"\"unit\",\"inventory\":{\"unit\":\"evil.service\",\"scope\":\"system\","
		 "\"wanted_by\":\"multi-user.target\"}",
		 "inv_unit|evil.service|system|multi-user.target"},
		{"\"preload\",\"inventory\":{\"entry\":\"/lib/libhide.so\"}",
		 "inv_preload|/lib/libhide.so"},
		{"\"uid0\",\"inventory\":{\"name\":\"toor\",\"uid\":0}", "inv_uid0|toor"},
		{"\"summary\",\"inventory\":{\"counts\":{}}", "(no token)"},
	};
	int all = 1;
	char ev[2048], kind[64];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sscanf(cases[i][0], "\"%63[^\"]\"", kind);
		static char tk[EV_MAX_TOKENS][TOKEN_MAX];
		struct ev_info e;
		snprintf(ev, sizeof(ev),
			 "{\"seq\":1,\"kind\":\"inventory.%s\",\"host\":{\"name\":\"h\"}%s}", kind,
			 strchr(cases[i][0], ','));
		int n = extract(ev, &e, tk);
		const char *got = n == 1 ? tk[0] : "(no token)";
		if (strcmp(got, cases[i][1])) {
			printf("# inventory.%s: %s, want %s\n", kind, got, cases[i][1]);
			all = 0;
		}
	}
	CHECK("tokens_inventory_kinds", all);
	char d[1024];
	tokens_describe("inv_listen|/usr/bin/nc.openbsd|tcp/4444|any", d, sizeof(d));
	CHECK("tokens_inventory_listener_words",
	      !strcmp(d, "has a listener on tcp/4444 (any addresses) held by /usr/bin/nc.openbsd"));
	tokens_describe("inv_setid|/usr/local/bin/x|setuid|owner=root", d, sizeof(d));
	CHECK("tokens_inventory_setid_words",
	      !strcmp(d, "carries the setuid file /usr/local/bin/x (owned by root)"));
	CHECK("tokens_inventory_is_inventory",
	      token_is_inventory("inv_uid0|toor") && !token_is_inventory("exec|/bin/sh"));
}

static void test_tokens(void)
{
	struct ev_info ev;
	char tk[EV_MAX_TOKENS][TOKEN_MAX];
	CHECK("token_exec",
	      extract(EV, &ev, tk) == 1 &&
		      !strcmp(tk[0], "exec|/usr/bin/dash|parent=/usr/sbin/nginx|user=service"));
	CHECK("token_member_is_container", !strcmp(ev.member, "vm1/m1") &&
						   !strcmp(ev.herd, "web") && ev.seq == 12 &&
						   ev.ts_ns == 1795773600123456789ull);
	const char *c = "{\"seq\":1,\"kind\":\"net.connect\",\"host\":{\"name\":\"h\"},\"proc\":{"
			"\"exe\":\"/opt/a/1234567/bin\","
			"\"container\":null},\"net\":{\"proto\":\"tcp\",\"dst\":{\"ip\":\"10.1.2."
			"3\",\"port\":45000}}}";
	CHECK("token_connect_ephemeral",
	      extract(c, &ev, tk) == 1 &&
		      !strcmp(tk[0], "connect|/opt/a/#/bin|tcp/ephemeral|private"));
	CHECK("token_host_member", !strcmp(ev.member, "h") && !ev.in_container);
	const char *f = "{\"seq\":2,\"kind\":\"file.open\",\"host\":{\"name\":\"h\"},\"proc\":{"
			"\"exe\":\"/tmp/tmp.Xa81Kd9/run\","
			"\"container\":{\"id\":\"3f2a9c1d4e5f\",\"herd\":\"x\"}},\"file\":{"
			"\"path\":\"/var/lib/3f2a9c1d4e5f/f\",\"op\":\"open\"}}";
	CHECK("token_file_random_names",
	      extract(f, &ev, tk) == 1 && !strcmp(tk[0], "file|/tmp/*/run|open|/var/lib/<ctr>/f"));
	const char *su =
		"{\"seq\":3,\"kind\":\"file.chmod\",\"host\":{\"name\":\"h\"},\"proc\":{\"exe\":\"/"
		"usr/bin/chmod\"},"
		"\"file\":{\"path\":\"/tmp/x/"
		"planted\",\"op\":\"chmod\",\"watch\":null,\"setuid\":true,\"setgid\":false}}";
	CHECK("token_file_setuid_anywhere",
	      extract(su, &ev, tk) == 1 &&
		      !strcmp(tk[0], "file|/usr/bin/chmod|chmod+setuid|/tmp/x/planted"));
	const char *sc = "{\"seq\":4,\"kind\":\"file.caps\",\"host\":{\"name\":\"h\"},\"proc\":{"
			 "\"exe\":\"/usr/sbin/setcap\"},"
			 "\"file\":{\"path\":\"/opt/t/"
			 "capable\",\"op\":\"setcap\",\"watch\":null,\"caps\":[\"CAP_NET_RAW\"]}}";
	CHECK("token_file_caps",
	      extract(sc, &ev, tk) == 1 &&
		      !strcmp(tk[0], "file|/usr/sbin/setcap|setcap|/opt/t/capable"));
	CHECK("token_no_seq_rejected", extract("{\"kind\":\"x\"}", &ev, tk) == -1);
	const char *bad_int[] = {
		"{\"seq\":\"5\",\"kind\":\"x\"}",
		"{\"seq\":1e2,\"kind\":\"x\"}",
		"{\"seq\":3002.7,\"kind\":\"x\"}",
		"{\"seq\":99999999999999999999,\"kind\":\"x\"}",
		"{\"seq\":1,\"proc\":{\"pid\":3002.7}}",
		"{\"seq\":1,\"proc\":{\"uid\":\"0\"}}",
		"{\"seq\":1,\"parent\":{\"pid\":1e3}}",
		"{\"seq\":1,\"kind\":\"net.connect\",\"net\":{\"dst\":{\"port\":443.5}}}",
	};
	int all = 1;
	for (size_t i = 0; i < sizeof(bad_int) / sizeof(bad_int[0]); i++) {
		ev.bad = NULL;
		extract(bad_int[i], &ev, tk);
		if (!ev.bad || ev.bad_why != EV_BAD_INT) {
			printf("# not refused: %s\n", bad_int[i]);
			all = 0;
		}
	}
	CHECK("token_not_integer_bad", all);
	CHECK("token_null_pid_ok",
	      extract("{\"seq\":1,\"proc\":{\"pid\":null,\"auid\":null}}", &ev, tk) == 0 &&
		      !ev.bad);
	extract("{\"seq\":1,\"kind\":\"x\",\"host\":{\"name\":\"web-7\\u0000db\"}}", &ev, tk);
	CHECK("token_nul_in_host_bad",
	      ev.bad && ev.bad_why == EV_BAD_NUL && !strcmp(ev.bad, "host.name"));
	extract("{\"seq\":1,\"kind\":\"process.exec\",\"proc\":{\"container\":{\"id\":\"c\","
		"\"herd\":\"w\\u0000\"}}}",
		&ev, tk);
	CHECK("token_nul_in_herd_bad", ev.bad && ev.bad_why == EV_BAD_NUL);
	CHECK("token_nul_in_args_ok",
	      extract("{\"seq\":1,\"kind\":\"x\",\"proc\":{\"args\":[\"a\\u0000b\"]}}", &ev, tk) ==
			      0 &&
		      !ev.bad);
	CHECK("token_heartbeat_none",
	      extract("{\"seq\":3,\"kind\":\"agent.heartbeat\"}", &ev, tk) == 0);
	CHECK("rfc3339", parse_rfc3339("1970-01-02T00:00:01.5Z", 22) == 86401500000000ull &&
				 parse_rfc3339("garbage-time-string!", 20) == 0);
}

static void test_ranges(void)
{
	struct store *s;
	char path[] = "/tmp/hw-unit-XXXXXX";
	int fd = mkstemp(path);
	close(fd);
	if (store_open(&s, path, 0)) {
		CHECK("store_open", 0);
		return;
	}
	struct stream *st = store_stream(s, "n", 1, "h", 1, "b", 1, 5);
	int ok = st != NULL;
	uint64_t add[] = {5, 1, 2, 3, 10, 4, 7, 6, 9, 8};
	for (size_t i = 0; ok && i < 10; i++) {
		ok &= !stream_has(st, add[i]);
		stream_add(st, add[i]);
		ok &= stream_has(st, add[i]);
	}
	CHECK("ranges_add_has", ok && !stream_has(st, 11) && !stream_has(st, 0));
	store_begin(s);
	CHECK("ranges_commit", store_commit(s) == 0);
	store_drop_streams(s);
	st = store_stream(s, "n", 1, "h", 1, "b", 1, 5);
	int all = 1;
	for (uint64_t q = 1; q <= 10; q++)
		all &= stream_has(st, q);
	CHECK("ranges_persisted", all && !stream_has(st, 11));
	/* a run is (name, host id, boot id, run id): another run, name or host starts empty */
	struct stream *run2 = store_stream(s, "n", 1, "h", 1, "b", 1, 6);
	struct stream *other = store_stream(s, "m", 1, "h", 1, "b", 1, 5);
	struct stream *split =
		store_stream(s, "n", 1, "hb", 2, "", 0, 5); /* same bytes, cut elsewhere */
	CHECK("ranges_per_run", run2 && run2 != st && !stream_has(run2, 1) && other &&
					other != st && !stream_has(other, 1) && split != st &&
					store_stream(s, "n", 1, "h", 1, "b", 1, 5) == st);
	/* mark / rollback: a batch refused half-way leaves no seq marked */
	stream_mark(st);
	for (uint64_t q = 11; q <= 300; q += 2)
		stream_add(st, q); /* many new ranges: r grows */
	stream_rollback(st);
	all = 1;
	for (uint64_t q = 1; q <= 10; q++)
		all &= stream_has(st, q);
	CHECK("ranges_rollback", all && !stream_has(st, 11) && !stream_has(st, 299));
	/* rows of a schema 1 database (migrated as name '' and run 0) continue for agents without
	 * run ids (run 0), under their certificate's name; runs with an id do not see them */
	store_begin(s);
	sqlite3_exec(store_db(s),
		     "INSERT INTO streams(name, host_id, boot_id, run, ranges, updated)"
		     " VALUES('', 'oldhost', 'oldboot', 0, '1-40', 0)",
		     NULL, NULL, NULL);
	store_commit(s);
	struct stream *legacy = store_stream(s, "vm1", 3, "oldhost", 7, "oldboot", 7, 0);
	struct stream *fresh = store_stream(s, "vm1", 3, "oldhost", 7, "oldboot", 7, 42);
	CHECK("ranges_legacy_adopted", legacy && stream_has(legacy, 40) &&
					       !stream_has(legacy, 41) && fresh &&
					       !stream_has(fresh, 1));
	stream_add(legacy, 41);
	store_begin(s);
	store_commit(s);
	store_drop_streams(s);
	legacy = store_stream(s, "vm1", 3, "oldhost", 7, "oldboot", 7, 0);
	struct stream *orig = store_stream(s, "", 0, "oldhost", 7, "oldboot", 7, 0);
	CHECK("ranges_legacy_saved_under_name", legacy && stream_has(legacy, 41) && orig &&
							!stream_has(orig, 41) &&
							stream_has(orig, 40));
	store_close(s);
	unlink(path);
	char wal[64];
	snprintf(wal, sizeof(wal), "%s-wal", path);
	unlink(wal);
	snprintf(wal, sizeof(wal), "%s-shm", path);
	unlink(wal);
}

struct got {
	int outlier, change, silent, paged, folded;
	char member[64], sev[16];
	char json[8192], change_json[8192];
};

static void on_alert(void *ctx, const char *json, size_t len, const char *kind, const char *sev,
		     const char *herd, const char *member, double score, uint64_t now)
{
	struct got *g = ctx;
	if (!strcmp(kind, "member.outlier")) {
		g->outlier++;
		g->paged += !strcmp(sev, "alert");
		snprintf(g->member, sizeof(g->member), "%s", member);
		snprintf(g->sev, sizeof(g->sev), "%s", sev);
		snprintf(g->json, sizeof(g->json), "%.*s", (int)len, json);
	} else if (!strcmp(kind, "herd.change")) {
		g->change++;
		snprintf(g->change_json, sizeof(g->change_json), "%.*s", (int)len, json);
	} else if (!strcmp(kind, "member.silent"))
		g->silent++;
	else if (!strcmp(kind, "member.folded"))
		g->folded++;
}

/* The token of one event made of kind, the proc object's members and the kind's object. */
static const char *token_of(const char *kind, const char *proc, const char *obj)
{
	static char tk[EV_MAX_TOKENS][TOKEN_MAX];
	char ev[2048];
	struct ev_info e;
	snprintf(ev, sizeof(ev),
		 "{\"seq\":1,\"kind\":\"%s\",\"host\":{\"name\":\"h\"},\"proc\":{%s}%s%s}", kind,
		 proc, obj ? "," : "", obj ? obj : "");
	return extract(ev, &e, tk) == 1 ? tk[0] : "(no token)";
}

/* The exe of an event as its tokens show it. */
static const char *exe_of(const char *exe)
{
	char proc[1024];
	snprintf(proc, sizeof(proc), "\"exe\":\"%s\"", exe);
	const char *t = token_of("process.memfd", proc, NULL);
	return strncmp(t, "memfd|", 6) ? t : t + 6;
}

/* Five members of herd "h18" show base (from events), then member "m5" shows odd: an alert or
 * not, and its text in g. */
static void herd_one_odd(struct got *g, const char *const base[], int nbase, const char *odd)
{
	struct herd_cfg c;
	herd_cfg_default(&c);
	c.learn_s = 10;
	c.hold_ms = 1000;
	struct herd_engine *e = herd_new(&c, on_alert, g);
	const uint64_t S = 1000000000ull;
	uint64_t t = 1000 * S;
	char mn[8];
	for (int r = 0; r < 3; r++)
		for (int i = 1; i <= 5; i++)
			for (int k = 0; k < nbase; k++) {
				snprintf(mn, sizeof(mn), "m%d", i);
				herd_observe(e, "h18", mn, "h", NULL, base[k], 1, 1,
					     t + (uint64_t)r * S);
			}
	t += 20 * S;
	herd_observe(e, "h18", "m5", "h", NULL, odd, 7, 7, t);
	herd_tick(e, t + 2 * S);
	herd_free(e);
}

/* Issue 18: versioned paths. Two releases, builds or store entries of one program give one
 * token; names that merely hold a digit stay as they are. */
static void test_tokens_versions(void)
{
	static const char *const same[][2] = {
		{"/opt/app-2.5.0/bin/app", "/opt/app-2.6.1/bin/app"},
		{"/srv/app/v1.2.3/bin/app", "/srv/app/v1.3.0/bin/app"},
		{"/srv/app/1.2.3-rc1/app", "/srv/app/1.2.4/app"},
		{"/srv/app/v41/app", "/srv/app/v42/app"},
		{"/usr/lib/jvm/java-17-openjdk-amd64/bin/java",
		 "/usr/lib/jvm/java-21-openjdk-amd64/bin/java"},
		{"/usr/lib/llvm-14/bin/clang", "/usr/lib/llvm-15/bin/clang"},
		{"/app/releases/20261206T101500/bin/app", "/app/releases/20261207T083000/bin/app"},
		{"/app/releases/20261206101500/bin/app", "/app/releases/20261207083000/bin/app"},
		{"/app/releases/2026-12-06_10-15-00/bin/app",
		 "/app/releases/2027-01-02_08-00-00/bin/app"},
		{"/nix/store/0c7c9w3cw5p5wpvmrg4bnf8m8h4g1f1a-app-1.2/bin/app",
		 "/nix/store/9x8ksr5g0z6s2l1l3jvxz0zqj1fd6a6p-app-1.3/bin/app"},
		{"/snap/x/1234/bin/x", "/snap/x/1235/bin/x"},
		{"/snap/x/17/bin/x", "/snap/x/18/bin/x"},
		{"/usr/bin/python3.11", "/usr/bin/python3.12"},
		{"/opt/python-3.12.0a7/bin/python", "/opt/python-3.12.1/bin/python"},
		{"/opt/jdk1.8.0_292/bin/java", "/opt/jdk1.8.0_302/bin/java"},
		{"/usr/lib/modules/6.1.0-18-amd64/kernel/x.ko",
		 "/usr/lib/modules/6.1.0-21-amd64/kernel/x.ko"},
	};
	int all = 1;
	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		char a[TOKEN_MAX];
		snprintf(a, sizeof(a), "%s", exe_of(same[i][0]));
		const char *b = exe_of(same[i][1]);
		if (strcmp(a, b)) {
			printf("# %s -> %s but %s -> %s\n", same[i][0], a, same[i][1], b);
			all = 0;
		}
	}
	CHECK("token_versions_one_token", all);
	static const char *const shape[][2] = {
		{"/opt/app-2.5.0/bin/app", "/opt/app-<v>/bin/app"},
		{"/srv/app/v1.2.3/bin/app", "/srv/app/<v>/bin/app"},
		{"/usr/lib/jvm/java-17-openjdk-amd64/bin/java",
		 "/usr/lib/jvm/java-<v>-openjdk-amd64/bin/java"},
		{"/app/releases/20261206T101500/bin/app", "/app/releases/#/bin/app"},
		{"/nix/store/0c7c9w3cw5p5wpvmrg4bnf8m8h4g1f1a-app-1.2/bin/app",
		 "/nix/store/*-app-<v>/bin/app"},
		{"/snap/x/17/bin/x", "/snap/x/#/bin/x"},
		{"/usr/bin/python3.11", "/usr/bin/python<v>"},
		{"/usr/lib/x86_64-linux-gnu/libssl.so.3", "/usr/lib/x86_64-linux-gnu/libssl.so.3"},
		{"/usr/lib/x86_64-linux-gnu/libQt5Core.so.5.15.8",
		 "/usr/lib/x86_64-linux-gnu/libQt5Core.so.<v>"},
		{"/opt/app/1.2.3abc/x", "/opt/app/1.2.3abc/x"}, /* not a version: kept */
	};
	all = 1;
	for (size_t i = 0; i < sizeof(shape) / sizeof(shape[0]); i++)
		if (strcmp(exe_of(shape[i][0]), shape[i][1])) {
			printf("# %s -> %s, not %s\n", shape[i][0], exe_of(shape[i][0]),
			       shape[i][1]);
			all = 0;
		}
	CHECK("token_versions_placeholders", all);
	static const char *const kept[] = {
		"/usr/bin/python3",
		"/usr/bin/perl",
		"/bin/sh",
		"/usr/bin/x86_64-linux-gnu-gcc",
		"/usr/sbin/sshd",
		"/usr/bin/md5sum",
		"/usr/bin/sha256sum",
		"/usr/bin/v4l2-ctl",
		"/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
		"/usr/lib/x86_64-linux-gnu/libc.so.6",
		"/usr/lib/x86_64-linux-gnu/security/pam_unix.so",
		"/usr/bin/gpgv2",
		"/etc/rc2.d/S01ssh",
		"/opt/app/bin/app-v2",
		"/usr/lib/python3/dist-packages/x.py",
		"/usr/bin/nc.openbsd",
		"/usr/bin/gcc-12",
		"/dev/dm-0",
		"/opt/x/tool-5",
		"/opt/x/tool-5.sh",
	};
	all = 1;
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
		if (strcmp(exe_of(kept[i]), kept[i])) {
			printf("# %s mangled: %s\n", kept[i], exe_of(kept[i]));
			all = 0;
		}
	CHECK("token_versions_names_kept",
	      all && strcmp(exe_of("/usr/bin/python3"), "/usr/bin/perl"));
	/* a long run of dot-joined numbers that is no version (shorter than what a token keeps):
	 * kept as it is, in one pass */
	char lng[600] = "/x/";
	for (int i = 0; i < 200; i++)
		strcat(lng, "1.");
	strcat(lng, "1x");
	const char *lt = exe_of(lng);
	CHECK("token_versions_long_input", !strcmp(lt, lng));
	/* in a herd: a member that got the next release first runs the same program, no alert */
	char b0[600], odd[600];
	snprintf(b0, sizeof(b0), "exec|%s|parent=/usr/lib/systemd/systemd|user=service",
		 exe_of("/opt/shop/releases/2.5.0/bin/shopd"));
	snprintf(odd, sizeof(odd), "exec|%s|parent=/usr/lib/systemd/systemd|user=service",
		 exe_of("/opt/shop/releases/2.5.1/bin/shopd"));
	const char *base[] = {b0, "listen|/usr/sbin/nginx|tcp/443"};
	struct got g = {0};
	herd_one_odd(&g, base, 2, odd);
	CHECK("token_versions_release_no_alert", g.outlier == 0);
}

/* Issue 18: DNS names by the Public Suffix List. */
static const char *dom_of(const char *q)
{
	char o[600];
	snprintf(o, sizeof(o), "\"dns\":{\"query\":\"%s\"}", q);
	const char *t = token_of("net.dns", "\"exe\":\"/usr/bin/curl\"", o);
	return strncmp(t, "dns|/usr/bin/curl|", 18) ? t : t + 18;
}

static int doms(const char *const (*c)[2], size_t n)
{
	int all = 1;
	for (size_t i = 0; i < n; i++)
		if (strcmp(dom_of(c[i][0]), c[i][1])) {
			printf("# %s -> %s, not %s\n", c[i][0], dom_of(c[i][0]), c[i][1]);
			all = 0;
		}
	return all;
}

static void test_tokens_dns(void)
{
	char why[1024];
	int from = tokens_psl_init(NULL, 0, why, sizeof(why));
	printf("# %s\n", why);
	CHECK("token_dns_psl_loaded", from == TOKENS_PSL_FILE_OK);
	static const char *const reg[][2] = {
		{"a.b.example.co.uk", "example.co.uk"},
		{"x7f3a.attacker.co.uk", "attacker.co.uk"},
		{"x.github.io", "x.github.io"},
		{"a.x.github.io", "x.github.io"},
		{"www.EXAMPLE.com.", "example.com"},
		{"a.b.c.d.e.f.g.h.i.j.example.com", "example.com"},
		{"co.uk", "co.uk"},
		{"github.io", "github.io"},
		{"evil\\\\.google.com", "evil\\.google.com"}, /* one label "evil.google" */
	};
	CHECK("token_dns_registrable_domain", doms(reg, sizeof(reg) / sizeof(reg[0])));
	static const char *const local[][2] = {
		{"api.default.svc.cluster.local", "api.default.svc.cluster.local"},
		{"pod-1.api.default.svc.cluster.local", "api.default.svc.cluster.local"},
		{"_http._tcp.api.default.svc.cluster.local", "api.default.svc.cluster.local"},
		{"default.svc.cluster.local", "default.svc.cluster.local"},
		{"10-1-2-3.default.pod.cluster.local", "default.pod.cluster.local"},
		{"a.b.cluster.local", "b.cluster.local"},
		{"printer.local", "printer.local"},
		{"x.printer.local", "printer.local"},
		{"ip-10-0-0-1.ec2.internal", "ec2.internal"},
		{"db", "db"},
		{"", ""},
	};
	CHECK("token_dns_cluster_and_local", doms(local, sizeof(local) / sizeof(local[0])));
	/* in a herd: the attacker's domain under a shared suffix is not the peers' lookups */
	char b0[300], odd[300];
	snprintf(b0, sizeof(b0), "dns|/usr/bin/curl|%s", dom_of("api.partner.co.uk"));
	snprintf(odd, sizeof(odd), "dns|/usr/bin/curl|%s", dom_of("x7f3a.attacker.co.uk"));
	const char *base[] = {b0, "listen|/usr/sbin/nginx|tcp/443"};
	struct got g = {0};
	herd_one_odd(&g, base, 2, odd);
	CHECK("token_dns_attacker_domain_alerts",
	      g.outlier == 1 && strstr(g.json, "attacker.co.uk"));
	/* no list file: libpsl's built-in list; none at all: the last two labels, as before */
	from = tokens_psl_init("/nonexistent/psl.dat", 0, why, sizeof(why));
	printf("# %s\n", why);
	CHECK("token_dns_psl_builtin",
	      from == TOKENS_PSL_BUILTIN && strstr(why, "built-in") &&
		      strstr(why, "/nonexistent/psl.dat") &&
		      !strcmp(dom_of("a.b.example.co.uk"), "example.co.uk"));
	char junk[] = "/tmp/hw-psl-XXXXXX";
	int fd = mkstemp(junk);
	CHECK("token_dns_psl_junk_refused",
	      fd >= 0 && write(fd, "root:x:0:0\nhello\n", 17) == 17 &&
		      tokens_psl_init(junk, 1, why, sizeof(why)) == TOKENS_PSL_NONE &&
		      strstr(why, "not a public suffix list"));
	if (fd >= 0) {
		close(fd);
		unlink(junk);
	}
	from = tokens_psl_init("/nonexistent/psl.dat", 1, why, sizeof(why));
	printf("# %s\n", why);
	CHECK("token_dns_psl_none", from == TOKENS_PSL_NONE && strstr(why, "last two labels") &&
					    !strcmp(dom_of("a.b.example.co.uk"), "co.uk") &&
					    !strcmp(dom_of("pod-1.api.default.svc.cluster.local"),
						    "api.default.svc.cluster.local"));
	tokens_psl_init(NULL, 0, why, sizeof(why));
}

/* Issue 18: auth tokens say who: the calling program, the class of its real user, the class
 * of the account the step is for. */
static void test_tokens_auth(void)
{
	const char *svc_sudo =
		"\"auth\":{\"service\":\"sudo\",\"user\":\"deploy\",\"ruser\":\"deploy\",\"step\":"
		"\"authenticate\",\"result\":\"success\",\"sudo_runas\":\"root\"}";
	const char *eng_sudo =
		"\"auth\":{\"service\":\"sudo\",\"user\":\"alice\",\"ruser\":\"alice\",\"step\":"
		"\"authenticate\",\"result\":\"success\",\"sudo_runas\":\"root\"}";
	const char *eng_sess =
		"\"auth\":{\"service\":\"sudo\",\"user\":\"root\",\"ruser\":\"alice\",\"step\":"
		"\"open_session\",\"result\":\"success\",\"sudo_runas\":\"root\"}";
	const char *sudo_svc = "\"uid\":998,\"euid\":0,\"exe\":\"/usr/bin/sudo\"";
	const char *sudo_eng = "\"uid\":1000,\"euid\":0,\"exe\":\"/usr/bin/sudo\"";
	char a[TOKEN_MAX];
	snprintf(a, sizeof(a), "%s", token_of("user.auth", sudo_svc, svc_sudo));
	CHECK("token_auth_service_sudo",
	      !strcmp(a, "auth|/usr/bin/sudo|sudo|by=service|as=root|success"));
	CHECK("token_auth_engineer_sudo",
	      !strcmp(token_of("user.auth", sudo_eng, eng_sudo),
		      "auth|/usr/bin/sudo|sudo|by=other|as=root|success") &&
		      !strcmp(token_of("user.auth", sudo_eng, eng_sess),
			      "auth|/usr/bin/sudo|sudo|by=other|as=root|success"));
	CHECK("token_auth_sshd",
	      !strcmp(token_of("user.auth", "\"uid\":0,\"exe\":\"/usr/sbin/sshd\"",
			       "\"auth\":{\"service\":\"sshd\",\"user\":\"alice\",\"ruser\":null,"
			       "\"step\":\"authenticate\",\"result\":\"PAM_AUTH_ERR\"}"),
		      "auth|/usr/sbin/sshd|sshd|by=root|as=user|PAM_AUTH_ERR"));
	CHECK("token_auth_absent_fields",
	      !strcmp(token_of("user.auth", "\"pid\":5",
			       "\"auth\":{\"service\":\"login\",\"user\":null}"),
		      "auth|?|login|by=?|as=?|?"));
	/* in a herd where engineers sudo, a service account's sudo stands out, and says so */
	char b0[TOKEN_MAX];
	snprintf(b0, sizeof(b0), "%s", token_of("user.auth", sudo_eng, eng_sudo));
	const char *base[] = {b0, "listen|/usr/sbin/nginx|tcp/443"};
	struct got g = {0};
	herd_one_odd(&g, base, 2, a);
	CHECK("token_auth_service_sudo_alerts",
	      g.outlier == 1 && !strcmp(g.member, "m5") &&
		      strstr(g.json,
			     "m5 authenticated as root with /usr/bin/sudo (PAM service sudo, "
			     "run by a service account): success; 0 of 4 peers"));
	/* a token of the shape before (from a restored herd snapshot) still reads */
	struct got g2 = {0};
	const char *old_base[] = {"auth|sudo|user|success", "listen|/usr/sbin/nginx|tcp/443"};
	herd_one_odd(&g2, old_base, 2, "auth|sudo|root|success");
	CHECK("token_auth_old_shape_reads",
	      g2.outlier == 1 &&
		      strstr(g2.json, "m5 sudo authentication of a root user (success)"));
}

static void test_herd(void)
{
	struct herd_cfg c;
	herd_cfg_default(&c);
	c.learn_s = 10;
	c.hold_ms = 1000;
	c.silent_s = 60;
	struct got g = {0};
	struct herd_engine *e = herd_new(&c, on_alert, &g);
	const uint64_t S = 1000000000ull;
	uint64_t t = 1000 * S;
	const char *m[] = {"m1", "m2", "m3", "m4", "m5", "m6"};
	const char *base[] = {"exec|/usr/sbin/nginx|parent=/usr/lib/systemd/systemd|user=root",
			      "listen|/usr/sbin/nginx|tcp/443",
			      "connect|/usr/bin/php|tcp/5432|private"};
	for (int r = 0; r < 3; r++)
		for (int i = 0; i < 6; i++)
			for (int k = 0; k < 3; k++)
				herd_observe(e, "web", m[i], "h", NULL, base[k], 1, 1,
					     t + (uint64_t)r * S);
	t += 20 * S; /* learning over */
	herd_observe(e, "web", "m4", "h", NULL,
		     "exec|/usr/bin/nc|parent=/usr/sbin/nginx|user=service", 77, 99, t);
	herd_tick(e, t + S / 2);
	CHECK("herd_held_before_judging", g.outlier == 0);
	herd_tick(e, t + 2 * S);
	CHECK("herd_outlier_alert", g.outlier == 1 && !strcmp(g.member, "m4"));
	CHECK("herd_alert_explains", strstr(g.json, "0 of 5 peers") &&
					     strstr(g.json, "/usr/bin/nc") &&
					     strstr(g.json, "\"events\":[77]"));
	t += 10 * S;
	for (int i = 0; i < 6; i++)
		herd_observe(e, "web", m[i], "h", NULL,
			     "exec|/opt/v2/app|parent=/usr/sbin/nginx|user=service", 1, 1, t);
	herd_tick(e, t + 2 * S);
	CHECK("herd_deploy_is_change", g.change == 1 && g.outlier == 1);
	herd_seen(e, NULL, "h2", "h2", NULL, 1, t);
	herd_tick(e, t + 61 * S);
	CHECK("herd_silent_host", g.silent >= 1);
	{
		/* 200 members x 60 tokens (a realistic service): engine bytes per member */
		struct herd_engine *big = herd_new(&c, NULL, NULL);
		char mn[32], tk[96];
		for (int i = 0; i < 200; i++)
			for (int k = 0; k < 60; k++) {
				snprintf(mn, sizeof(mn), "m%d", i);
				snprintf(tk, sizeof(tk),
					 "exec|/usr/bin/tool%d|parent=/usr/sbin/svc|user=service",
					 k);
				herd_observe(big, "svc", mn, "h", NULL, tk, 1, 1, t);
			}
		size_t per = herd_mem_bytes(big) / herd_member_count(big);
		printf("# herd engine: %zu bytes per member\n", per);
		CHECK("herd_state_per_member", per <= 64 * 1024);
		herd_free(big);
	}
	/* bounded per-member state: thousands of distinct tokens on one member */
	char tok[64];
	for (int i = 0; i < 5000; i++) {
		snprintf(tok, sizeof(tok), "exec|/x/%d|parent=/y|user=root", i);
		herd_observe(e, "web", "m1", "h", NULL, tok, 1, 1, t + 62 * S + (uint64_t)i);
	}
	size_t before = herd_mem_bytes(e);
	for (int i = 5000; i < 6000; i++) {
		snprintf(tok, sizeof(tok), "exec|/x/%d|parent=/y|user=root", i);
		herd_observe(e, "web", "m1", "h", NULL, tok, 1, 1, t + 62 * S + (uint64_t)i);
	}
	herd_tick(e, t + 63 * S);
	char *members = herd_dump_members(e, t + 63 * S);
	printf("# herd engine: %zu bytes before, %zu after 1000 more distinct tokens\n", before,
	       herd_mem_bytes(e));
	CHECK("herd_member_table_bounded", herd_mem_bytes(e) <= before + 4096);
	CHECK("herd_member_overflow_reported",
	      members &&
		      !strstr(members, "\"member\":\"m1\",\"herd\":\"web\",\"version\":null,"
				       "\"cohort\":\"web\",\"host\":\"h\",\"type\":\"container\","
				       "\"first_seen\":\"\"") &&
		      strstr(members, "\"tokens_overflow\":") &&
		      !strstr(members, "\"tokens_overflow\":0,\"silent\":false,\"active\":true},{"
				       "\"member\":\"m2\"") &&
		      herd_overflow(e) > 0);
	free(members);

	/* snapshot: a restored engine knows the herd (no learning) and judges at once */
	uint8_t *snap;
	size_t sl;
	CHECK("herd_save", herd_save(e, &snap, &sl) == 0 && sl > 8);
	struct got g2 = {0};
	struct herd_engine *e2 = herd_new(&c, on_alert, &g2);
	uint64_t t2 = t + 100 * S;
	CHECK("herd_restore",
	      herd_restore(e2, snap, sl, t2) == 0 && herd_member_count(e2) == herd_member_count(e));
	herd_observe(e2, "web", "m2", "h", NULL,
		     "exec|/usr/bin/python3|parent=/usr/sbin/nginx|user=root", 5, 6, t2);
	herd_observe(e2, "web", "m5", "h", NULL, base[1], 7, 8, t2);
	herd_tick(e2, t2 + 2 * S);
	CHECK("herd_restored_judges_at_once", g2.outlier == 1 && !strcmp(g2.member, "m2"));
	herd_free(e2);
	struct herd_engine *e3 = herd_new(&c, on_alert, &g2);
	CHECK("herd_restore_damaged",
	      herd_restore(e3, snap, sl / 2, t2) == -EINVAL &&
		      herd_restore(e3, (const uint8_t *)"garbage!", 8, t2) == -EINVAL);
	for (size_t cut = 0; cut < sl; cut += 1 + sl / 200) /* truncated anywhere: no crash */
		herd_restore(e3, snap, cut, t2);
	herd_free(e3);
	free(snap);
	herd_free(e);
}

/* Cohorts: herd "shop" of eight members at version 1.0, then a rolling deploy of version 2.0
 * (new members, one after the other): the first is a canary (notice), the second makes the
 * cohort change (one report), the rest raise nothing. The v2 token is normal for a v2 member
 * and an outlier for a v1 member. Versions survive a snapshot. */
static void test_cohorts(void)
{
	struct herd_cfg c;
	herd_cfg_default(&c);
	c.learn_s = 10;
	c.hold_ms = 1000;
	c.new_member_s = 30;
	c.change_window_s = 20; /* the herd's first tokens are not a change by the deploy */
	c.silent_s = 0;
	struct got g = {0};
	struct herd_engine *e = herd_new(&c, on_alert, &g);
	const uint64_t S = 1000000000ull;
	uint64_t t = 1000 * S;
	const char *base[] = {"exec|/usr/sbin/shopd|parent=/usr/lib/systemd/systemd|user=service",
			      "connect|/usr/sbin/shopd|tcp/5432|private"};
	const char *v2tok = "exec|/opt/shop/v2/worker|parent=/usr/sbin/shopd|user=service";
	char mn[16];
	for (int r = 0; r < 3; r++)
		for (int i = 1; i <= 8; i++) {
			snprintf(mn, sizeof(mn), "s%d", i);
			for (int k = 0; k < 2; k++)
				herd_observe(e, "shop", mn, "h", "1.0", base[k], 1, 1,
					     t + (uint64_t)r * S);
		}
	t += 60 * S; /* learning over, the v1 members are no longer new */
	for (int i = 1; i <= 8; i++) {
		snprintf(mn, sizeof(mn), "s%d", i);
		herd_observe(e, "shop", mn, "h", "1.0", base[0], 1, 1, t);
	}
	/* canary: the first member of version 2.0 */
	for (int k = 0; k < 2; k++)
		herd_observe(e, "shop", "t1", "h", "2.0", base[k], 1, 1, t);
	herd_observe(e, "shop", "t1", "h", "2.0", v2tok, 11, 12, t);
	herd_tick(e, t + 2 * S);
	CHECK("cohort_canary_is_notice",
	      g.outlier == 1 && !strcmp(g.member, "t1") && !strcmp(g.sev, "notice") &&
		      strstr(g.json, "\"canary\":true") && strstr(g.json, "shop@2.0"));
	CHECK("cohort_canary_explains",
	      strstr(g.json, "t1 (shop@2.0) ran /opt/shop/v2/worker") &&
		      strstr(g.json, "0 of 0 peers of version 2.0, 0 of 8 in herd shop") &&
		      strstr(g.json, "canary: cohort shop@2.0 has 1 member"));
	/* the rest of the rollout, a few seconds apart */
	for (int i = 2; i <= 6; i++) {
		t += 3 * S;
		snprintf(mn, sizeof(mn), "t%d", i);
		for (int k = 0; k < 2; k++)
			herd_observe(e, "shop", mn, "h", "2.0", base[k], 1, 1, t);
		herd_observe(e, "shop", mn, "h", "2.0", v2tok, 1, 1, t);
		herd_tick(e, t + 2 * S);
	}
	CHECK("cohort_rollout_one_change",
	      g.change == 1 && strstr(g.change_json, "\"version\":\"2.0\"") &&
		      strstr(g.change_json, "\"cohort\":\"shop@2.0\"") &&
		      strstr(g.change_json, "/opt/shop/v2/worker"));
	CHECK("cohort_rollout_no_member_alert", g.outlier == 1 && g.paged == 0);
	/* a new v2 member doing what v2 does: normal in its cohort */
	t += 40 * S;
	for (int k = 0; k < 2; k++)
		herd_observe(e, "shop", "t7", "h", "2.0", base[k], 1, 1, t);
	herd_observe(e, "shop", "t7", "h", "2.0", v2tok, 1, 1, t);
	herd_tick(e, t + 2 * S);
	CHECK("cohort_token_normal_in_its_cohort", g.outlier == 1);
	/* a v1 member doing it: 0 of its 7 version peers */
	t += 5 * S;
	herd_observe(e, "shop", "s3", "h", "1.0", v2tok, 31, 32, t);
	herd_tick(e, t + 2 * S);
	CHECK("cohort_token_outlier_in_other_cohort",
	      g.outlier == 2 && !strcmp(g.member, "s3") && !strcmp(g.sev, "alert") &&
		      strstr(g.json, "s3 (shop@1.0)") &&
		      strstr(g.json, "0 of 7 peers of version 1.0, 7 of 14 in herd shop"));
	char *herds = herd_dump_herds(e, t + 3 * S);
	CHECK("cohort_dump_herds",
	      herds &&
		      strstr(herds, "{\"version\":\"1.0\",\"cohort\":\"shop@1.0\",\"members\":8") &&
		      strstr(herds, "{\"version\":\"2.0\",\"cohort\":\"shop@2.0\",\"members\":7"));
	free(herds);
	/* an in-place upgrade moves the member to the other cohort */
	herd_seen(e, "shop", "s8", "h", "2.0", 0, t + 3 * S);
	char *members = herd_dump_members(e, t + 3 * S);
	CHECK("cohort_member_upgrade",
	      members && strstr(members, "\"member\":\"s8\",\"herd\":\"shop\",\"version\":\"2.0\","
					 "\"cohort\":\"shop@2.0\""));
	free(members);
	uint8_t *snap;
	size_t sl;
	struct herd_engine *e2 = herd_new(&c, NULL, NULL);
	CHECK("cohort_snapshot",
	      herd_save(e, &snap, &sl) == 0 && herd_restore(e2, snap, sl, t + 4 * S) == 0);
	members = herd_dump_members(e2, t + 4 * S);
	CHECK("cohort_snapshot_keeps_versions",
	      members &&
		      strstr(members, "\"member\":\"t1\",\"herd\":\"shop\",\"version\":\"2.0\"") &&
		      strstr(members, "\"member\":\"s1\",\"herd\":\"shop\",\"version\":\"1.0\""));
	free(members);
	free(snap);
	herd_free(e2);
	herd_free(e);
}

static void tick_to(struct herd_engine *e, uint64_t *clock, uint64_t to)
{
	const uint64_t step = 100000000ull;
	for (; *clock + step <= to; *clock += step)
		herd_tick(e, *clock + step);
}

/* Decayed prevalence: a token the peers showed several half-lives ago scores as rarer than one
 * they showed recently (with a hard 24 h window both counted as "3 of 5 peers"). */
static void test_herd_decay(void)
{
	struct herd_cfg c;
	herd_cfg_default(&c);
	c.learn_s = 10;
	c.half_life_s = 100;
	c.change_window_s = 60;
	c.gone_s = 0; /* off: quiet peers stay peers */
	c.new_member_s = 60;
	struct got g = {0};
	struct herd_engine *e = herd_new(&c, on_alert, &g);
	const uint64_t S = 1000000000ull;
	uint64_t t = 1000 * S;
	const char *m[] = {"d1", "d2", "d3", "d4", "d5", "d6"};
	const char *old = "exec|/usr/bin/old-report|parent=/usr/sbin/cron|user=service";
	const char *recent = "exec|/usr/bin/new-report|parent=/usr/sbin/cron|user=service";
	for (int i = 0; i < 6; i++)
		herd_observe(e, "dec", m[i], "h", NULL, "listen|/usr/sbin/nginx|tcp/443", 1, 1, t);
	for (int i = 0; i < 3; i++)
		herd_observe(e, "dec", m[i], "h", NULL, old, 1, 1, t);
	t += 500 * S; /* five half-lives */
	for (int i = 0; i < 3; i++)
		herd_observe(e, "dec", m[i], "h", NULL, recent, 1, 1, t - 70 * S);
	herd_observe(e, "dec", "d6", "h", NULL, old, 2, 2, t);
	herd_observe(e, "dec", "d6", "h", NULL, recent, 3, 3, t);
	herd_tick(e, t + 2 * S);
	CHECK("decay_old_token_rare",
	      g.outlier == 1 && strstr(g.json, "old-report") &&
		      strstr(g.json, "0.1 of 5 peers (decayed, half-life 100 s)"));
	CHECK("decay_recent_token_common", g.outlier == 1 && !strstr(g.json, "new-report"));
	herd_free(e);
}

/* Memory: one member shows 1M distinct tokens among 200 members with a normal workload: the
 * engine stays within 64 KiB per member by its own accounting, and says what it dropped. */
static void test_herd_memory(void)
{
	struct herd_cfg c;
	herd_cfg_default(&c);
	c.learn_s = 10;
	struct herd_engine *e = herd_new(&c, NULL, NULL);
	const uint64_t S = 1000000000ull;
	uint64_t t = 1000 * S, clock = t;
	char mn[32], tk[96];
	for (int i = 0; i < 200; i++)
		for (int k = 0; k < 60; k++) {
			snprintf(mn, sizeof(mn), "n%d", i);
			snprintf(tk, sizeof(tk),
				 "exec|/usr/bin/tool%d|parent=/usr/sbin/svc|user=service", k);
			herd_observe(e, "mem", mn, "h", NULL, tk, 1, 1, t);
		}
	size_t normal = herd_mem_bytes(e);
	t += 20 * S;
	size_t mid = 0;
	for (int i = 0; i < 1000000; i++) {
		snprintf(tk, sizeof(tk), "exec|/tmp/x%d|parent=/bin/sh|user=root", i);
		herd_observe(e, "mem", "n7", "h", NULL, tk, 1, 1, t + (uint64_t)i * 1000);
		if (i == 100000)
			mid = herd_mem_bytes(e);
		if (i % 10000 == 0)
			tick_to(e, &clock, t + (uint64_t)i * 1000);
	}
	tick_to(e, &clock, t + 5 * S);
	size_t per = herd_mem_bytes(e) / herd_member_count(e);
	printf("# herd engine: %zu bytes for 200 normal members, %zu after 100k distinct tokens on "
	       "one, %zu after 1M (%zu per member), overflow %llu, candidates dropped %llu\n",
	       normal, mid, herd_mem_bytes(e), per, (unsigned long long)herd_overflow(e),
	       (unsigned long long)herd_candidates_dropped(e));
	CHECK("herd_memory_per_member_bounded", per <= 64 * 1024);
	CHECK("herd_memory_flood_bounded",
	      herd_mem_bytes(e) <= normal + 160 * 1024 && herd_mem_bytes(e) <= mid + 4096);
	CHECK("herd_memory_overflow_counted",
	      herd_overflow(e) > 900000 && herd_candidates_dropped(e) > 0);
	char *members = herd_dump_members(e, t + 5 * S);
	char *n7 = members ? strstr(members, "\"member\":\"n7\"") : NULL;
	char *end = n7 ? strchr(n7, '}') : NULL;
	if (end)
		*end = 0;
	CHECK("herd_memory_overflow_in_member",
	      end && strstr(n7, "\"tokens_overflow\":") && !strstr(n7, "\"tokens_overflow\":0,"));
	free(members);
	herd_free(e);
}

/* Rolling deploy: 24 members pick up a new binary 2 s apart (over 46 s, far beyond the 1 s
 * hold): one herd change, no member alert left standing (the first member, alerted before
 * anyone else did it, gets a follow-up folding it into the change). Meanwhile a real outlier
 * still alerts. Then three generations of replaced containers: the herd size is the live
 * members, a deploy is still one herd change, an outlier an alert (not a small-herd notice). */
static void test_herd_rolling(void)
{
	struct herd_cfg c;
	herd_cfg_default(&c);
	c.learn_s = 10;
	c.gone_s = 60;
	c.forget_s = 600;
	struct got g = {0};
	struct herd_engine *e = herd_new(&c, on_alert, &g);
	const uint64_t S = 1000000000ull;
	uint64_t t = 1000 * S, clock = t;
	const char *base[] = {"exec|/usr/sbin/nginx|parent=/usr/lib/systemd/systemd|user=root",
			      "listen|/usr/sbin/nginx|tcp/443",
			      "connect|/usr/bin/php|tcp/5432|private"};
	const char *v2 = "exec|/opt/app-2.0/bin/app|parent=/usr/sbin/nginx|user=service";
	const char *bad = "exec|/usr/bin/nc|parent=/usr/sbin/nginx|user=service";
	char mn[32];
	for (int i = 0; i < 24; i++)
		for (int k = 0; k < 3; k++) {
			snprintf(mn, sizeof(mn), "r%d", i);
			herd_observe(e, "roll", mn, "h", NULL, base[k], 1, 1, t);
		}
	t += 20 * S;
	for (int i = 0; i < 24; i++) {
		for (int j = 0; j < 24; j++) { /* everyone keeps working */
			snprintf(mn, sizeof(mn), "r%d", j);
			herd_observe(e, "roll", mn, "h", NULL, base[j % 3], 1, 1, t);
		}
		snprintf(mn, sizeof(mn), "r%d", i);
		herd_observe(e, "roll", mn, "h", NULL, v2, 10 + i, 10 + i, t);
		if (i == 11)
			herd_observe(e, "roll", "r3", "h", NULL, bad, 99, 99, t);
		tick_to(e, &clock, t + 2 * S);
		t += 2 * S;
	}
	tick_to(e, &clock, t + 10 * S);
	printf("# rolling deploy: %d herd change, %d member alerts, %d folded\n", g.change,
	       g.outlier, g.folded);
	CHECK("rolling_one_herd_change", g.change == 1 && strstr(g.change_json, "app-2.0"));
	CHECK("rolling_outlier_alerts",
	      g.paged >= 1 && strstr(g.json, "/usr/bin/nc") && strstr(g.json, "\"member\":\"r3\""));
	/* the only other member alert is the first member's, folded into the change */
	CHECK("rolling_no_member_alert_left", g.outlier - 1 == g.folded && g.folded <= 1);
	herd_free(e);

	/* generations of replaced containers */
	struct got g2 = {0};
	e = herd_new(&c, on_alert, &g2);
	t = 1000 * S;
	clock = t;
	for (int gen = 0; gen < 4; gen++) {
		for (int r = 0; r < 3; r++) {
			for (int i = 0; i < 8; i++)
				for (int k = 0; k < 3; k++) {
					snprintf(mn, sizeof(mn), "g%d-%d", gen, i);
					herd_observe(e, "gen", mn, "h", NULL, base[k], 1, 1, t);
				}
			tick_to(e, &clock, t + 30 * S);
			t += 30 * S;
		}
		if (gen < 3)
			t += 120 * S; /* the generation is replaced: its containers fall silent */
	}
	int before_outl = g2.outlier;
	char *herds = herd_dump_herds(e, t);
	CHECK("generations_herd_size_live", herds && strstr(herds, "\"active\":8,"));
	/* the first generation, gone for more than forget_s, was dropped from the engine */
	CHECK("generations_forgotten", herds && strstr(herds, "\"members\":24,"));
	free(herds);
	for (int i = 0; i < 8; i++) {
		snprintf(mn, sizeof(mn), "g3-%d", i);
		herd_observe(e, "gen", mn, "h", NULL, v2, 1, 1, t);
	}
	tick_to(e, &clock, t + 2 * S);
	CHECK("generations_deploy_detected", g2.change == 1 && g2.outlier == before_outl &&
						     strstr(g2.change_json, "\"herd_size\":8,"));
	t += 3 * S;
	herd_observe(e, "gen", "g3-5", "h", NULL, bad, 5, 5, t);
	tick_to(e, &clock, t + 2 * S);
	CHECK("generations_outlier_alert",
	      g2.outlier == before_outl + 1 && !strcmp(g2.sev, "alert") &&
		      strstr(g2.json, "0 of 7 peers") && strstr(g2.json, "\"herd_size\":8,"));
	herd_free(e);
}

/* Members m1..m<nm> of herd `name` show the same three tokens at t (learning is over at t + 20 s
 * with learn_s 10). */
static void herd_base(struct herd_engine *e, const char *name, int nm, uint64_t t)
{
	const char *base[] = {"exec|/usr/sbin/nginx|parent=/usr/lib/systemd/systemd|user=root",
			      "listen|/usr/sbin/nginx|tcp/443",
			      "connect|/usr/bin/php|tcp/5432|private"};
	char mn[32];
	for (int i = 1; i <= nm; i++)
		for (int k = 0; k < 3; k++) {
			snprintf(mn, sizeof(mn), "m%d", i);
			herd_observe(e, name, mn, "h", NULL, base[k], 1, 1, t);
		}
}

/* Issue 18 B: every new token gets its own full hold. m4 shows a rare token, then 0.9 s later a
 * second one, which the rest of the herd shows 0.5 s after that (a deploy): the first token's
 * judging (due 0.1 s after the second arrived) must not take the second along. */
static void test_herd_hold_per_token(void)
{
	struct herd_cfg c;
	herd_cfg_default(&c);
	c.learn_s = 10;
	c.hold_ms = 1000;
	struct got g = {0};
	struct herd_engine *e = herd_new(&c, on_alert, &g);
	const uint64_t S = 1000000000ull, MS = 1000000ull;
	uint64_t t = 1000 * S, clock;
	const char *a = "exec|/usr/bin/nc|parent=/usr/sbin/nginx|user=service";
	const char *b = "exec|/opt/app/bin/app-worker|parent=/usr/sbin/nginx|user=service";
	herd_base(e, "hp", 6, t);
	t += 20 * S;
	clock = t;
	herd_observe(e, "hp", "m4", "h", NULL, a, 1, 1, t);
	herd_observe(e, "hp", "m4", "h", NULL, b, 2, 2, t + 900 * MS);
	tick_to(e, &clock, t + 1000 * MS);
	CHECK("hold_per_token_first_judged", g.outlier == 1 && strstr(g.json, "/usr/bin/nc"));
	CHECK("hold_per_token_second_still_held", g.outlier == 1 && !strstr(g.json, "app-worker"));
	const char *others[] = {"m1", "m2", "m3", "m5"};
	for (int i = 0; i < 4; i++)
		herd_observe(e, "hp", others[i], "h", NULL, b, 3, 3, t + 1400 * MS);
	tick_to(e, &clock, t + 5 * S);
	CHECK("hold_per_token_deploy_seen",
	      g.change == 1 && strstr(g.change_json, "app-worker") && g.outlier == 1);
	herd_free(e);
}

/* One incident, one alert: a shell at t, nc 40 ms later, the read of /etc/shadow 55 ms later; a
 * tick falls between the ends of their holds. Before, the first tick paged the shell alone
 * and the next one the rest: two pages for one intrusion. */
static void test_herd_burst_one_alert(void)
{
	struct herd_cfg c;
	herd_cfg_default(&c);
	c.learn_s = 10;
	c.hold_ms = 800;
	struct got g = {0};
	struct herd_engine *e = herd_new(&c, on_alert, &g);
	const uint64_t S = 1000000000ull, MS = 1000000ull;
	uint64_t t = 1000 * S, clock;
	herd_base(e, "hb", 5, t);
	t += 20 * S;
	clock = t;
	herd_observe(e, "hb", "m3", "h", NULL, "exec|/usr/bin/dash|parent=/usr/bin/bash|user=root",
		     1, 1, t);
	herd_observe(e, "hb", "m3", "h", NULL, "exec|/usr/bin/nc|parent=/usr/bin/dash|user=root", 2,
		     2, t + 40 * MS);
	herd_observe(e, "hb", "m3", "h", NULL, "file|/usr/bin/cat|read|/etc/shadow", 3, 3,
		     t + 55 * MS);
	tick_to(e, &clock, t + 820 * MS); /* the shell's hold is over, the others' not yet */
	CHECK("burst_waits_for_its_rest", g.outlier == 0);
	tick_to(e, &clock, t + 3 * S);
	CHECK("burst_one_alert", g.outlier == 1 && strstr(g.json, "/usr/bin/dash") &&
					 strstr(g.json, "/usr/bin/nc") &&
					 strstr(g.json, "/etc/shadow"));
	/* a burst that goes on: not waited for twice (token 4 is due 150 ms after token 3) */
	herd_observe(e, "hb", "m2", "h", NULL, "exec|/usr/bin/perl|parent=/usr/bin/bash|user=root",
		     4, 4, t + 10 * S);
	herd_observe(e, "hb", "m2", "h", NULL,
		     "exec|/usr/bin/python3|parent=/usr/bin/perl|user=root", 5, 5,
		     t + 10 * S + 150 * MS);
	herd_observe(e, "hb", "m2", "h", NULL, "exec|/usr/bin/wget|parent=/usr/bin/perl|user=root",
		     6, 6, t + 10 * S + 300 * MS);
	tick_to(e, &clock, t + 14 * S);
	CHECK("burst_waited_once",
	      g.outlier == 3); /* m2: two pages, its third token not waited for */
	herd_free(e);
}

/* Issue 18 A: a release rolling slower than --rollout-s. Ten members pick up a new binary 90 s
 * apart: the first is paged at once (nobody else does it), the second is held, and the herd
 * change comes with the fifth, 6 min after the first page: that page is folded too. */
static void test_herd_slow_rollout(void)
{
	struct herd_cfg c;
	herd_cfg_default(&c);
	c.learn_s = 10;
	struct got g = {0};
	struct herd_engine *e = herd_new(&c, on_alert, &g);
	const uint64_t S = 1000000000ull;
	uint64_t t = 1000 * S, clock;
	const char *v2 = "exec|/opt/app/bin/app-next|parent=/usr/sbin/nginx|user=service";
	char mn[32];
	herd_base(e, "slow", 10, t);
	t += 20 * S;
	clock = t;
	for (int i = 1; i <= 5; i++) {
		snprintf(mn, sizeof(mn), "m%d", i);
		herd_observe(e, "slow", mn, "h", NULL, v2, (uint64_t)i, (uint64_t)i, t);
		tick_to(e, &clock, t + 90 * S);
		t += 90 * S;
	}
	printf("# slow rollout: %d herd change, %d member alerts, %d folded\n", g.change, g.outlier,
	       g.folded);
	CHECK("slow_rollout_herd_change", g.change == 1 && strstr(g.change_json, "app-next"));
	CHECK("slow_rollout_first_page_folded", g.outlier == 1 && g.folded == 1);
	herd_free(e);
}

/* Issue 18 C: a new member is compared with what its peers do over the comparison window, not
 * only with their first minutes. Every peer runs a report 12 min after it started (past its
 * first 10 min), and keeps running it; a member started 30 min later runs it too: no alert. */
static void test_herd_new_member_routine(void)
{
	struct herd_cfg c;
	herd_cfg_default(&c);
	c.learn_s = 10;
	struct got g = {0};
	struct herd_engine *e = herd_new(&c, on_alert, &g);
	const uint64_t S = 1000000000ull;
	uint64_t t = 1000 * S;
	const char *rep = "exec|/usr/bin/report|parent=/usr/sbin/cron|user=service";
	const char *nc = "exec|/usr/bin/nc|parent=/usr/sbin/nginx|user=service";
	char mn[32];
	herd_base(e, "nm", 6, t);
	for (uint64_t at = 720; at <= 1800; at += 360) {
		herd_base(e, "nm", 6, t + at * S);
		for (int i = 1; i <= 6; i++) {
			snprintf(mn, sizeof(mn), "m%d", i);
			herd_observe(e, "nm", mn, "h", NULL, rep, 1, 1, t + at * S);
		}
		herd_tick(e, t + (at + 2) * S);
	}
	int before = g.outlier;
	t += 1800 * S;
	herd_observe(e, "nm", "n1", "h", NULL, rep, 5, 5, t);
	herd_observe(e, "nm", "n1", "h", NULL, nc, 6, 6, t);
	herd_tick(e, t + 2 * S);
	CHECK("new_member_judged", g.outlier == before + 1 && !strcmp(g.member, "n1") &&
					   strstr(g.json, "/usr/bin/nc") &&
					   strstr(g.json, "\"new_member\":true"));
	CHECK("new_member_peers_routine_counts",
	      g.outlier == before + 1 && !strstr(g.json, "/usr/bin/report"));
	herd_free(e);
}

/* Issue 18 D: events are judged at their own time. Herd "lt" of six members since T - 2 h (T is
 * 1970-01-11T00:00:00Z). m4's agent was cut off for an hour: its spool, flushed at T, holds a
 * shell at T - 1 h and nc at T - 30 min. Both are judged at once (their hold is long over), in
 * order, each alert marked late with its event and arrival time. A member first seen through
 * late events started then, and is live now. Events beyond the skew bounds (3 days behind, 1 h
 * ahead) are judged at arrival, marked clock_skew. */
static void test_herd_late(void)
{
	struct herd_cfg c;
	herd_cfg_default(&c);
	c.learn_s = 10;
	struct got g = {0};
	struct herd_engine *e = herd_new(&c, on_alert, &g);
	const uint64_t S = 1000000000ull, MS = 1000000ull, T = 10 * 86400 * S;
	const char *sh = "exec|/usr/bin/dash|parent=/usr/sbin/nginx|user=service";
	const char *nc = "exec|/usr/bin/nc|parent=/usr/sbin/nginx|user=service";
	const char *x1 = "exec|/tmp/x1|parent=/usr/sbin/nginx|user=service";
	const char *x2 = "exec|/tmp/x2|parent=/usr/sbin/nginx|user=service";
	herd_base(e, "lt", 6, T - 7200 * S);
	herd_base(e, "lt", 6, T - 60 * S);
	herd_tick(e, T - 59 * S);
	herd_observe_at(e, "lt", "m4", "h", NULL, sh, 41, 41, T - 3600 * S, T);
	herd_observe_at(e, "lt", "m4", "h", NULL, nc, 42, 42, T - 1800 * S, T);
	herd_observe_at(e, "lt", "n9", "h", NULL, "listen|/usr/sbin/nginx|tcp/443", 43, 43,
			T - 1800 * S, T);
	herd_tick(e, T + 100 * MS);
	CHECK("late_judged_at_once_in_order",
	      g.outlier == 2 && strstr(g.json, "/usr/bin/nc") && !strstr(g.json, "dash"));
	CHECK("late_alert_marked",
	      strstr(g.json, "\"late\":true,\"event_time\":\"1970-01-10T23:30:00"
			     ".000000000Z\",\"arrival_time\":\"1970-01-11T00:00:00."
			     "000000000Z\"") &&
		      strstr(g.json, "(late: events of 1970-01-10T23:30:00"));
	char *members = herd_dump_members(e, T + S);
	CHECK("late_member_started_then_live_now",
	      members && strstr(members, "\"member\":\"n9\"") &&
		      strstr(members,
			     "\"first_seen\":\"1970-01-10T23:30:00.000000000Z\",\"last_seen\""
			     ":\"1970-01-11T00:00:00.000000000Z\""));
	free(members);
	CHECK("skew_bounds",
	      herd_time_skewed(e, T - 3 * 86400 * S, T) && herd_time_skewed(e, T + 3600 * S, T) &&
		      !herd_time_skewed(e, T - 3600 * S, T) &&
		      !herd_time_skewed(e, T + 30 * S, T) && !herd_time_skewed(e, 0, T));
	herd_observe_at(e, "lt", "m5", "h", NULL, x1, 51, 51, T + 3600 * S, T + 10 * S);
	herd_tick(e, T + 10500 * MS);
	CHECK("skew_ahead_not_delayed_nor_early", g.outlier == 2);
	herd_tick(e, T + 11100 * MS);
	CHECK("skew_ahead_judged_at_arrival", g.outlier == 3 && strstr(g.json, "/tmp/x1") &&
						      strstr(g.json, "\"clock_skew\":true") &&
						      !strstr(g.json, "\"late\""));
	herd_observe_at(e, "lt", "m6", "h", NULL, x2, 61, 61, T - 3 * 86400 * S, T + 20 * S);
	herd_tick(e, T + 20500 * MS);
	CHECK("skew_behind_not_late", g.outlier == 3);
	herd_tick(e, T + 21100 * MS);
	CHECK("skew_behind_judged_at_arrival",
	      g.outlier == 4 && strstr(g.json, "/tmp/x2") &&
		      strstr(g.json, "\"clock_skew\":true,\"event_time\""
				     ":\"1970-01-08T00:00:00"));
	herd_free(e);
}

/* Members of herd `name` m1..mN of version ver showing base tokens at t (herd_base with a
 * version) */
static void herd_base_v(struct herd_engine *e, const char *name, int nm, const char *ver,
			uint64_t t)
{
	const char *base[] = {"exec|/usr/sbin/nginx|parent=/usr/lib/systemd/systemd|user=root",
			      "listen|/usr/sbin/nginx|tcp/443",
			      "connect|/usr/bin/php|tcp/5432|private"};
	char mn[32];
	for (int i = 1; i <= nm; i++)
		for (int k = 0; k < 3; k++) {
			snprintf(mn, sizeof(mn), "m%d", i);
			herd_observe(e, name, mn, "h", ver, base[k], 1, 1, t);
		}
}

/* Issue 18 (fleetsim): a deploy under way. Eight members move to version 2 within a second;
 * version 2 opens a new connection, which each member shows at its own pace (after minutes).
 * The first to show it was paged ("0 of 7 peers of version 2"): nobody of the new version had
 * had time to show it. Every member took the version within --change-window-s: a notice, which
 * the cohort change then folds. After the window, an outlier of version 2 is paged again. */
static void test_herd_deploy_young(void)
{
	struct herd_cfg c;
	herd_cfg_default(&c);
	c.learn_s = 10;
	struct got g = {0};
	struct herd_engine *e = herd_new(&c, on_alert, &g);
	const uint64_t S = 1000000000ull;
	uint64_t t = 1000 * S, clock;
	const char *es = "connect|/usr/bin/php|tcp/9200|private";
	char mn[32];
	herd_base_v(e, "dy", 8, "1", t);
	herd_base_v(e, "dy", 8, "1", t + 3600 * S);
	t += 7200 * S;
	clock = t;
	herd_base_v(e, "dy", 8, "2", t); /* the release: all at once */
	herd_observe(e, "dy", "m3", "h", "2", es, 5, 5, t + 120 * S);
	tick_to(e, &clock, t + 125 * S);
	printf("# deploy under way: %s\n", g.json);
	CHECK("deploy_young_cohort_notice",
	      g.outlier == 1 && g.paged == 0 && strstr(g.json, "tcp/9200") &&
		      strstr(g.json,
			     "(deploy under way: every member of cohort dy@2 took version 2 "
			     "within the last 10 min: notice only)"));
	for (int i = 1; i <= 8; i++) {
		snprintf(mn, sizeof(mn), "m%d", i);
		if (i != 3)
			herd_observe(e, "dy", mn, "h", "2", es, 6, 6,
				     t + (150 + 10 * (uint64_t)i) * S);
	}
	tick_to(e, &clock, t + 300 * S);
	CHECK("deploy_young_then_cohort_change",
	      g.change >= 1 && strstr(g.change_json, "tcp/9200"));
	herd_observe(e, "dy", "m5", "h", "2", "exec|/usr/bin/nc|parent=/usr/sbin/nginx|user=root",
		     7, 7, t + 900 * S);
	tick_to(e, &clock, t + 905 * S);
	CHECK("deploy_old_cohort_pages", g.paged == 1 && strstr(g.json, "/usr/bin/nc"));
	herd_free(e);
}

/* Issue 18 (fleetsim): rare in the herd is not new to it. One member of twelve has run a log
 * sidecar for a day; a replacement member with the sidecar showed it too and was paged ("1 of
 * 11 peers"). Another member showed it without being an outlier for it, and the herd has known
 * it for longer than the change window: a notice that says so. What a member was alerted for
 * stays new: the same on a third member is paged. */
static void test_herd_rare_known(void)
{
	struct herd_cfg c;
	herd_cfg_default(&c);
	c.learn_s = 10;
	struct got g = {0};
	struct herd_engine *e = herd_new(&c, on_alert, &g);
	const uint64_t S = 1000000000ull;
	uint64_t t = 1000 * S, clock;
	const char *fb = "connect|/opt/fluent-bit/bin/fluent-bit|tcp/24224|private";
	const char *nc = "exec|/usr/bin/nc|parent=/usr/sbin/nginx|user=root";
	herd_base(e, "rk", 12, t);
	herd_observe(e, "rk", "m1", "h", NULL, fb, 1, 1, t);
	for (uint64_t at = 3600; at <= 86400; at += 3600) {
		herd_base(e, "rk", 12, t + at * S);
		herd_observe(e, "rk", "m1", "h", NULL, fb, 1, 1, t + at * S);
		herd_tick(e, t + (at + 2) * S);
	}
	int before = g.outlier;
	t += 86400 * S + 60 * S;
	clock = t;
	herd_observe(e, "rk", "m7", "h", NULL, fb, 2, 2, t);
	tick_to(e, &clock, t + 2 * S);
	printf("# rare but known: %s\n", g.json);
	CHECK("rare_known_notice",
	      g.outlier == before + 1 && !strcmp(g.sev, "notice") && strstr(g.json, "fluent-bit") &&
		      strstr(g.json,
			     "(rare but not new in herd rk: 1 other member showed it, first 24 h "
			     "ago: notice only)"));
	/* m2 is paged for nc (new to the herd); m9 doing it an hour later is paged too */
	herd_observe(e, "rk", "m2", "h", NULL, nc, 3, 3, t + 10 * S);
	tick_to(e, &clock, t + 12 * S);
	herd_base(e, "rk", 12, t + 3600 * S);
	herd_observe(e, "rk", "m2", "h", NULL, nc, 3, 3, t + 3600 * S);
	clock = t + 3600 * S;
	herd_observe(e, "rk", "m9", "h", NULL, nc, 4, 4, t + 3600 * S);
	tick_to(e, &clock, t + 3602 * S);
	CHECK("rare_alerted_stays_new", g.paged >= 2 && !strcmp(g.member, "m9") &&
						!strcmp(g.sev, "alert") &&
						strstr(g.json, "/usr/bin/nc"));
	herd_free(e);
}

/* A rollout slower than the change window is one cohort change. Eight members of version 1;
 * six of version 2 start 6 s apart (the window is 20 s), each running the new binary. The
 * first is a canary, the second makes the cohort change; the sixth starts 30 s after the first,
 * when the change mark (20 s) is over and four members started it within the window: the
 * version has shown it for longer than the window, so it is what the version does, not a
 * second change. */
static void test_herd_cohort_change_once(void)
{
	struct herd_cfg c;
	herd_cfg_default(&c);
	c.learn_s = 10;
	c.change_window_s = 20;
	struct got g = {0};
	struct herd_engine *e = herd_new(&c, on_alert, &g);
	const uint64_t S = 1000000000ull;
	uint64_t t = 1000 * S, clock;
	const char *v2 = "exec|/opt/shop/bin/shop-v2|parent=/usr/sbin/nginx|user=service";
	char mn[32];
	herd_base_v(e, "co", 8, "1", t);
	t += 60 * S;
	clock = t;
	herd_base_v(e, "co", 8, "1", t);
	for (int i = 1; i <= 6; i++) {
		uint64_t at = t + (uint64_t)(i - 1) * 6 * S;
		tick_to(e, &clock, at);
		herd_base_v(e, "co", 8, "1", at);
		snprintf(mn, sizeof(mn), "n%d", i);
		herd_observe(e, "co", mn, "h", "2", "listen|/usr/sbin/nginx|tcp/443", 1, 1, at);
		herd_observe(e, "co", mn, "h", "2", v2, (uint64_t)i, (uint64_t)i, at);
	}
	tick_to(e, &clock, t + 40 * S);
	printf("# cohort rollout slower than the window: %d changes, %d pages\n", g.change,
	       g.paged);
	CHECK("cohort_change_once_slow_rollout", g.change == 1 && strstr(g.change_json, "co@2"));
	CHECK("cohort_change_once_no_page", g.paged == 0);
	herd_free(e);
}

/* Issue 18 (fleetsim): a periodic job seen through a fresh version. Twelve members of version 1
 * run a configuration-management job every 30 min, each at its own minute. Version 2 starts
 * with n1, and 12-20 min later n2..n7 join; n7 runs the job a minute after it started, before
 * its version-mates had their turn ("0 of 6 peers of version 2, 12 of 18 in herd"): they have
 * not been up as long as members take to run it first, so their absence is little evidence --
 * not an outlier at all. What no member does is judged as before: a page. */
static void test_herd_onset(void)
{
	struct herd_cfg c;
	herd_cfg_default(&c);
	c.learn_s = 10;
	struct got g = {0};
	struct herd_engine *e = herd_new(&c, on_alert, &g);
	const uint64_t S = 1000000000ull;
	uint64_t t = 1000 * S, clock = t;
	const char *cm =
		"exec|/opt/puppetlabs/puppet/bin/ruby|parent=/usr/lib/systemd/systemd|user=root";
	char mn[32];
	for (uint64_t at = 0; at < 4 * 3600; at += 30) {
		tick_to(e, &clock, t + at * S);
		if (at % 300 == 0)
			herd_base_v(e, "pj", 12, "1", t + at * S);
		for (int i = 1; i <= 12; i++)
			if (at % 1800 == (uint64_t)i * 150 % 1800) {
				snprintf(mn, sizeof(mn), "m%d", i);
				herd_observe(e, "pj", mn, "h", "1", cm, 1, 1, t + at * S);
			}
	}
	t += 4 * 3600 * S;
	int before = g.outlier, pages = g.paged;
	for (uint64_t at = 0; at <= 21 * 60; at += 30) {
		tick_to(e, &clock, t + at * S);
		if (at % 300 == 0)
			herd_base_v(e, "pj", 12, "1", t + at * S);
		for (int i = 1; i <= 7; i++) {
			uint64_t join = i == 1 ? 0 : (uint64_t)(12 + (i - 2) * 8 / 5) * 60;
			if (at < join || (at - join) % 300)
				continue;
			snprintf(mn, sizeof(mn), "n%d", i);
			herd_observe(e, "pj", mn, "h", "2", "listen|/usr/sbin/nginx|tcp/443", 1, 1,
				     t + at * S);
		}
	}
	herd_observe(e, "pj", "n7", "h", "2", cm, 9, 9, t + 21 * 60 * S);
	tick_to(e, &clock, t + (21 * 60 + 3) * S);
	if (g.outlier != before)
		printf("# periodic job on a fresh version: %s\n", g.json);
	CHECK("onset_fresh_version_periodic_job_no_outlier", g.outlier == before);
	herd_observe(e, "pj", "n6", "h", "2", "exec|/usr/bin/nc|parent=/usr/sbin/nginx|user=root",
		     10, 10, t + 21 * 60 * S + 5 * S);
	tick_to(e, &clock, t + (21 * 60 + 8) * S);
	CHECK("onset_new_token_still_pages", g.paged == pages + 1 && strstr(g.json, "/usr/bin/nc"));
	herd_free(e);
}

/* Issue 18 (fleetsim): what members of another version did before this version came to the
 * herd is not new to it, and a notice is not a page. Version 1 of herd "sc": m1 runs a log
 * sidecar since the herd was three members (a notice: too small for evidence), m2 since a day.
 * A member of version 2 (released today) with the sidecar: rare but not new (before: paged,
 * "0 of 4 peers of version 2, 2 of 12 in herd"). What version 2 brought stays new to version 1:
 * its binary on a member of version 1 is paged. */
static void test_herd_rare_known_versions(void)
{
	struct herd_cfg c;
	herd_cfg_default(&c);
	c.learn_s = 10;
	struct got g = {0};
	struct herd_engine *e = herd_new(&c, on_alert, &g);
	const uint64_t S = 1000000000ull;
	uint64_t t = 1000 * S, clock = t;
	const char *fb = "connect|/opt/fluent-bit/bin/fluent-bit|tcp/24224|private";
	const char *v2 = "exec|/opt/app/2/bin/app|parent=/usr/lib/systemd/systemd|user=service";
	char mn[32];
	herd_base_v(e, "sc", 3, "1", t);
	tick_to(e, &clock, t + 60 * S);
	herd_observe(e, "sc", "m1", "h", "1", fb, 1, 1, t + 60 * S);
	tick_to(e, &clock, t + 65 * S);
	CHECK("rare_known_small_herd_notice", g.outlier == 1 && !strcmp(g.sev, "notice"));
	for (uint64_t at = 600; at <= 86400; at += 600) {
		tick_to(e, &clock, t + at * S);
		herd_base_v(e, "sc", 12, "1", t + at * S);
		herd_observe(e, "sc", "m1", "h", "1", fb, 1, 1, t + at * S);
		if (at >= 3600)
			herd_observe(e, "sc", "m2", "h", "1", fb, 1, 1, t + at * S);
	}
	t += 86400 * S;
	for (uint64_t at = 60; at <= 1800; at += 60) {
		tick_to(e, &clock, t + at * S);
		herd_base_v(e, "sc", 12, "1", t + at * S);
		for (int i = 1; i <= 5; i++) {
			snprintf(mn, sizeof(mn), "n%d", i);
			herd_observe(e, "sc", mn, "h", "2", "listen|/usr/sbin/nginx|tcp/443", 1, 1,
				     t + at * S);
			herd_observe(e, "sc", mn, "h", "2", v2, 1, 1, t + at * S);
		}
	}
	int before = g.outlier, pages = g.paged;
	herd_observe(e, "sc", "n5", "h", "2", fb, 5, 5, t + 1800 * S);
	tick_to(e, &clock, t + 1803 * S);
	printf("# sidecar on version 2: %s\n", g.json);
	CHECK("rare_known_other_version_notice",
	      g.outlier == before + 1 && g.paged == pages && strstr(g.json, "fluent-bit") &&
		      strstr(g.json, "(rare but not new in herd sc: 2 other members showed it"));
	herd_observe(e, "sc", "m7", "h", "1", v2, 6, 6, t + 1810 * S);
	tick_to(e, &clock, t + 1813 * S);
	CHECK("rare_known_newer_version_stays_new", g.paged == pages + 1 &&
							    !strcmp(g.member, "m7") &&
							    strstr(g.json, "/opt/app/2/bin/app"));
	herd_free(e);
}

/* An engineer's sudo. Herd "su": during learning m1 and m2 had engineers' sessions (sshd login,
 * sudo as a regular user, a command under sudo). A day later an engineer on m5 runs a command
 * under sudo that nobody ran here: a notice that says why (before: paged). A service account's
 * sudo of another new command is paged, and so is what an engineer's command does that is new
 * (a kernel module loaded). */
static void test_herd_admin_sudo(void)
{
	struct herd_cfg c;
	herd_cfg_default(&c);
	c.learn_s = 60;
	struct got g = {0};
	struct herd_engine *e = herd_new(&c, on_alert, &g);
	const uint64_t S = 1000000000ull;
	uint64_t t = 1000 * S, clock = t;
	const char *login = "auth|/usr/sbin/sshd|sshd|by=root|as=user|success";
	const char *sudo_eng = "auth|/usr/bin/sudo|sudo|by=other|as=root|success";
	const char *sudo_svc = "auth|/usr/bin/sudo|sudo|by=service|as=root|success";
	const char *sudo_exec = "exec|/usr/bin/sudo|parent=/usr/bin/bash|user=root|setuid";
	const char *sysctl = "exec|/usr/bin/systemctl|parent=/usr/bin/sudo|user=root";
	const char *tail = "exec|/usr/bin/tail|parent=/usr/bin/sudo|user=root";
	const char *df = "exec|/usr/bin/df|parent=/usr/bin/sudo|user=root";
	const char *ins = "exec|/usr/sbin/insmod|parent=/usr/bin/sudo|user=root";
	herd_base(e, "su", 8, t);
	const char *m12[] = {"m1", "m2"};
	for (int i = 0; i < 2; i++) {
		herd_observe(e, "su", m12[i], "h", NULL, login, 1, 1, t + 10 * S);
		herd_observe(e, "su", m12[i], "h", NULL, sudo_eng, 2, 2, t + 20 * S);
		herd_observe(e, "su", m12[i], "h", NULL, sudo_exec, 3, 3, t + 20 * S);
		herd_observe(e, "su", m12[i], "h", NULL, sysctl, 4, 4, t + 20 * S);
	}
	for (uint64_t at = 600; at <= 86400; at += 600) {
		tick_to(e, &clock, t + at * S);
		herd_base(e, "su", 8, t + at * S);
	}
	t += 86400 * S;
	int before = g.outlier, pages = g.paged;
	herd_observe(e, "su", "m5", "h", NULL, login, 11, 11, t);
	herd_observe(e, "su", "m5", "h", NULL, sudo_eng, 12, 12, t + 10 * S);
	herd_observe(e, "su", "m5", "h", NULL, sudo_exec, 13, 13, t + 10 * S);
	herd_observe(e, "su", "m5", "h", NULL, tail, 14, 14, t + 10 * S);
	tick_to(e, &clock, t + 15 * S);
	printf("# engineer's sudo: %s\n", g.json);
	CHECK("admin_sudo_notice",
	      g.outlier > before && g.paged == pages && strstr(g.json, "/usr/bin/tail") &&
		      strstr(g.json,
			     "(an engineer's command under sudo: m5 authenticated to sudo as a "
			     "regular user, as engineers do in herd su"));
	/* (after the change window: m5 and m6 together would be held as a possible change) */
	t += 700 * S;
	herd_base(e, "su", 8, t);
	herd_observe(e, "su", "m6", "h", NULL, sudo_svc, 21, 21, t + 20 * S);
	herd_observe(e, "su", "m6", "h", NULL, df, 22, 22, t + 20 * S);
	tick_to(e, &clock, t + 25 * S);
	CHECK("admin_sudo_service_account_pages",
	      g.paged == pages + 1 && !strcmp(g.member, "m6") && strstr(g.json, "/usr/bin/df"));
	herd_observe(e, "su", "m7", "h", NULL, login, 31, 31, t + 30 * S);
	herd_observe(e, "su", "m7", "h", NULL, sudo_eng, 32, 32, t + 40 * S);
	herd_observe(e, "su", "m7", "h", NULL, sudo_exec, 33, 33, t + 40 * S);
	herd_observe(e, "su", "m7", "h", NULL, ins, 34, 34, t + 40 * S);
	herd_observe(e, "su", "m7", "h", NULL, "module|diamorphine", 35, 35, t + 40 * S);
	tick_to(e, &clock, t + 45 * S);
	CHECK("admin_sudo_module_pages",
	      g.paged == pages + 2 && !strcmp(g.member, "m7") && strstr(g.json, "diamorphine"));
	herd_free(e);
}

/* Issue 18 (fleetsim): the last members of an old version are no canary. Herd "ow" of ten
 * members of version 1 for a day; version 2 replaces seven of them (the rest of version 1 is
 * gone). An intruder on one of the three members left of version 1 is paged (before: a notice,
 * "canary: cohort ow@1 has 3 members"); the first member of a version 3 is still a canary. */
static void test_herd_old_cohort_no_canary(void)
{
	struct herd_cfg c;
	herd_cfg_default(&c);
	c.learn_s = 10;
	struct got g = {0};
	struct herd_engine *e = herd_new(&c, on_alert, &g);
	const uint64_t S = 1000000000ull;
	uint64_t t = 1000 * S, clock = t;
	const char *base[] = {"exec|/usr/sbin/nginx|parent=/usr/lib/systemd/systemd|user=root",
			      "listen|/usr/sbin/nginx|tcp/443",
			      "connect|/usr/bin/php|tcp/5432|private"};
	char mn[32];
	for (uint64_t at = 0; at <= 86400 + 1800; at += 300) {
		tick_to(e, &clock, t + at * S);
		for (int i = 1; i <= 10; i++) {
			int v2 = at > 86400 && i > 3;
			if (at > 86400 + 600 && v2)
				continue; /* replaced: gone */
			snprintf(mn, sizeof(mn), v2 ? "n%d" : "m%d", i);
			for (int k = 0; k < 3; k++)
				herd_observe(e, "ow", mn, "h", v2 ? "2" : "1", base[k], 1, 1,
					     t + at * S);
		}
	}
	/* (the seven of version 2 keep running) */
	for (uint64_t at = 86400 + 300; at <= 86400 + 1800; at += 300)
		for (int i = 4; i <= 10; i++) {
			snprintf(mn, sizeof(mn), "n%d", i);
			for (int k = 0; k < 3; k++)
				herd_observe(e, "ow", mn, "h", "2", base[k], 1, 1, t + at * S);
		}
	t += (86400 + 1800) * S;
	int pages = g.paged;
	herd_observe(e, "ow", "m2", "h", "1", "file|/usr/bin/cat|open|/etc/shadow", 7, 7,
		     t + 10 * S);
	tick_to(e, &clock, t + 13 * S);
	printf("# old version's last members: %s\n", g.json);
	CHECK("old_cohort_intruder_pages", g.paged == pages + 1 && !strcmp(g.member, "m2") &&
						   strstr(g.json, "\"canary\":false"));
	herd_observe(e, "ow", "x1", "h", "3", base[0], 1, 1, t + 20 * S);
	herd_observe(e, "ow", "x1", "h", "3",
		     "exec|/opt/v3/app|parent=/usr/sbin/nginx|user=service", 8, 8, t + 20 * S);
	tick_to(e, &clock, t + 23 * S);
	CHECK("new_cohort_still_canary",
	      g.paged == pages + 1 && !strcmp(g.member, "x1") && strstr(g.json, "\"canary\":true"));
	herd_free(e);
}

/* The release an exec's path names (ev_info.exe_release): what canon() turned into <v>, # or *. */
static void test_tokens_release(void)
{
	static const char *const cases[][2] = {
		{"/opt/shop/2.42.0/bin/shop-web", "2.42.0"},
		{"/usr/lib/jvm/java-17-openjdk-amd64/bin/java", "17"},
		{"/app/releases/20261206T101500/venv/bin/python3.11", "20261206T101500,3.11"},
		{"/nix/store/0c7c9w3cw5p5wpvmrg4bnf8m8h4g1f1a-app-1.2/bin/app", "0c7c9w3cw5p5,1.2"},
		{"/snap/x/1234/bin/x", "1234"},
		{"/usr/bin/bash", ""},
	};
	int all = 1;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		static char tk[EV_MAX_TOKENS][TOKEN_MAX];
		char ev[2048];
		struct ev_info e;
		snprintf(ev, sizeof(ev),
			 "{\"seq\":1,\"kind\":\"process.exec\",\"host\":{\"name\":\"h\"},\"proc\":"
			 "{\"exe\":\"%s\"},\"parent\":{\"exe\":\"/usr/lib/systemd/systemd\"},"
			 "\"exec\":{\"result\":0}}",
			 cases[i][0]);
		if (extract(ev, &e, tk) != 1 || strcmp(e.exe_release, cases[i][1])) {
			printf("# %s: release \"%s\", want \"%s\"\n", cases[i][0], e.exe_release,
			       cases[i][1]);
			all = 0;
		}
	}
	CHECK("tokens_exe_release", all);
}

/* Issue 18 (fleetsim): a release without versions. Herd "rl" of six hosts runs
 * /opt/shop/2.41.0/bin/shop-web, no version configured. m2 restarts it from 2.42.0, whose
 * shop-web runs a new helper: m2 took release 2.42.0 (cohort rl@2.42.0), and what the release's
 * programs do is a notice judged against the herd (before: paged, "0 of 5 peers"). m3 takes it
 * too and runs the helper: one cohort change, m2's notice folded. What a program outside the
 * release path does on a member that took a release is paged: a shell under shop-web on m4,
 * which ran a shop-web of a made-up release first. */
/* exec.sha256 as a herd token: six members run /usr/sbin/sshd of one build (the hash inline
 * in the exec event, or in process.binary when it followed); m4 runs another build at that path:
 * an outlier whose alert says so. Then the whole herd moves to a new build at once (a package
 * upgrade): a herd change, no member alert. */
static void test_herd_binary_hash(void)
{
	static const char *const
		h1 = "1111aaaa2222bbbb3333cccc4444dddd5555eeee6666ffff7777000088889999",
		*const h2 = "abababababababab0000000000000000cdcdcdcdcdcdcdcd1212121212121212",
		*const h3 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	struct herd_cfg c;
	herd_cfg_default(&c);
	c.learn_s = 10;
	c.hold_ms = 1000;
	struct got g = {0};
	struct herd_engine *e = herd_new(&c, on_alert, &g);
	const uint64_t S = 1000000000ull;
	uint64_t t = 1000 * S, clock = t;
	char ev_s[1024], mn[32], tk[EV_MAX_TOKENS][TOKEN_MAX];
	struct ev_info ev;
	/* member i runs sshd of build sha: from an exec event (inline) or process.binary */
	int ntok = 0;
#define SSHD(i, sha, binary_event, at)                                                             \
	do {                                                                                       \
		snprintf(mn, sizeof(mn), "m%d", i);                                                \
		if (binary_event)                                                                  \
			snprintf(ev_s, sizeof(ev_s),                                               \
				 "{\"seq\":1,\"kind\":\"process.binary\",\"host\":{\"name\":"      \
				 "\"h\"},"                                                         \
				 "\"proc\":{\"exe\":\"/usr/sbin/sshd\"},\"binary\":{\"path\":"     \
				 "\"/usr/sbin/sshd\",\"sha256\":\"%s\",\"exec_seq\":1}}",          \
				 sha);                                                             \
		else                                                                               \
			snprintf(ev_s, sizeof(ev_s),                                               \
				 "{\"seq\":1,\"kind\":\"process.exec\",\"host\":{\"name\":\"h\"}," \
				 "\"proc\":{\"exe\":\"/usr/sbin/sshd\",\"euid\":0},\"parent\":{"   \
				 "\"exe\":\"/usr/lib/systemd/"                                     \
				 "systemd\"},\"exec\":{\"sha256\":\"%s\"}}",                       \
				 sha);                                                             \
		ntok = extract(ev_s, &ev, tk);                                                     \
		for (int k_ = 0; k_ < ntok; k_++)                                                  \
			herd_observe(e, "ssh", mn, "h", NULL, tk[k_], 1, 1, at);                   \
	} while (0)
	for (uint64_t at = 0; at <= 600; at += 60) {
		tick_to(e, &clock, t + at * S);
		herd_base(e, "ssh", 6, t + at * S);
		for (int i = 1; i <= 6; i++)
			SSHD(i, h1, (i + at / 60) % 2, t + at * S);
	}
	CHECK("binary_token_from_exec_and_binary_event",
	      ntok >= 1 && !strcmp(tk[ntok - 1], "binary|/usr/sbin/sshd|sha256=1111aaaa2222bbbb"));
	CHECK("binary_hash_baseline_quiet", g.outlier == 0);
	t += 700 * S;
	tick_to(e, &clock, t);
	SSHD(4, h2, 0, t);
	tick_to(e, &clock, t + 3 * S);
	printf("# other build: %s\n", g.json);
	CHECK("binary_hash_outlier_alert",
	      g.outlier == 1 && !strcmp(g.member, "m4") && g.paged == 1 &&
		      strstr(g.json, "binary|/usr/sbin/sshd|sha256=abababababababab") &&
		      strstr(g.json, "ran a binary at /usr/sbin/sshd whose hash (abababababababab) "
				     "differs from its herd's"));
	int outliers = g.outlier, changes = g.change;
	t += 600 * S;
	tick_to(e, &clock, t);
	for (int i = 1; i <= 6; i++)
		SSHD(i, h3, i % 2, t + (uint64_t)i * S / 4);
	tick_to(e, &clock, t + 5 * S);
	printf("# herd upgrade: %s\n", g.change_json);
	CHECK("binary_hash_herd_upgrade_one_change",
	      g.change == changes + 1 && strstr(g.change_json, "sha256=0123456789abcdef"));
	CHECK("binary_hash_herd_upgrade_no_member_alert", g.outlier == outliers);
#undef SSHD
	herd_free(e);
}

static void test_herd_release_inferred(void)
{
	struct herd_cfg c;
	herd_cfg_default(&c);
	c.learn_s = 10;
	struct got g = {0};
	struct herd_engine *e = herd_new(&c, on_alert, &g);
	const uint64_t S = 1000000000ull;
	uint64_t t = 1000 * S, clock = t;
	const char *app =
		"exec|/opt/shop/<v>/bin/shop-web|parent=/usr/lib/systemd/systemd|user=service";
	const char *helper =
		"exec|/opt/shop/<v>/bin/thumbnailer|parent=/opt/shop/<v>/bin/shop-web|user=service";
	const char *sh = "exec|/usr/bin/dash|parent=/opt/shop/<v>/bin/shop-web|user=service";
	char mn[32];
	for (uint64_t at = 0; at <= 3600; at += 300) {
		tick_to(e, &clock, t + at * S);
		herd_base(e, "rl", 6, t + at * S);
		for (int i = 1; i <= 6; i++) {
			snprintf(mn, sizeof(mn), "m%d", i);
			herd_release_at(e, "rl", mn, "h", app, "2.41.0", t + at * S, t + at * S);
			herd_observe(e, "rl", mn, "h", NULL, app, 1, 1, t + at * S);
		}
	}
	t += 3700 * S;
	int pages = g.paged;
	herd_base(e, "rl", 6, t);
	herd_release_at(e, "rl", "m2", "h", app, "2.42.0", t, t);
	herd_observe(e, "rl", "m2", "h", NULL, app, 2, 2, t);
	herd_observe(e, "rl", "m2", "h", NULL, helper, 3, 3, t + S);
	tick_to(e, &clock, t + 4 * S);
	printf("# first member of a release: %s\n", g.json);
	CHECK("release_first_member_notice",
	      g.paged == pages && !strcmp(g.member, "m2") && strstr(g.json, "thumbnailer") &&
		      strstr(g.json, "\"cohort\":\"rl@2.42.0\"") &&
		      strstr(g.json, "\"canary\":true") &&
		      strstr(g.json, "(first members of release 2.42.0"));
	char *mj = herd_dump_members(e, t + 4 * S);
	CHECK("release_member_cohort",
	      mj && strstr(mj, "\"member\":\"m2\",\"herd\":\"rl\","
			       "\"version\":\"2.42.0\",\"cohort\":\"rl@2.42.0\""));
	free(mj);
	herd_release_at(e, "rl", "m3", "h", app, "2.42.0", t + 30 * S, t + 30 * S);
	herd_observe(e, "rl", "m3", "h", NULL, app, 4, 4, t + 30 * S);
	herd_observe(e, "rl", "m3", "h", NULL, helper, 5, 5, t + 31 * S);
	tick_to(e, &clock, t + 34 * S);
	CHECK("release_cohort_change_folds", g.change >= 1 && strstr(g.change_json, "rl@2.42.0") &&
						     strstr(g.change_json, "thumbnailer") &&
						     g.folded >= 1 && g.paged == pages);
	herd_release_at(e, "rl", "m4", "h", app, "9.9.9", t + 40 * S, t + 40 * S);
	herd_observe(e, "rl", "m4", "h", NULL, app, 6, 6, t + 40 * S);
	herd_observe(e, "rl", "m4", "h", NULL, sh, 7, 7, t + 41 * S);
	tick_to(e, &clock, t + 44 * S);
	CHECK("release_other_program_pages",
	      g.paged == pages + 1 && !strcmp(g.member, "m4") && strstr(g.json, "/usr/bin/dash"));
	/* all at once: every member takes 2.43.0 within a second; its new connection shows at
	 * each member's own pace, the first 2 min later: a release under way, a notice (before:
	 * paged, "0 of 5 peers of version 2.43.0") */
	t += 3600 * S;
	for (int i = 1; i <= 6; i++) {
		snprintf(mn, sizeof(mn), "m%d", i);
		herd_release_at(e, "rl", mn, "h", app, "2.43.0", t, t);
		herd_observe(e, "rl", mn, "h", NULL, app, 8, 8, t);
	}
	herd_base(e, "rl", 6, t + 120 * S);
	herd_observe(e, "rl", "m5", "h", NULL,
		     "connect|/opt/shop/<v>/bin/shop-web|tcp/9200|private", 9, 9, t + 120 * S);
	tick_to(e, &clock, t + 123 * S);
	printf("# release under way: %s\n", g.json);
	CHECK("release_under_way_notice",
	      g.paged == pages + 1 && !strcmp(g.member, "m5") && strstr(g.json, "tcp/9200") &&
		      strstr(g.json,
			     "(release 2.43.0 under way: m5 runs programs under /opt/shop/<v>/"));
	herd_free(e);
}

#define ALPHA "{}[]\",:\\u0e1-.tfn \x01\xff"

/* Seeded mutation fuzz: hostile bytes must be refused, never crash (ASan/UBSan watch). */
/* Issue 19: hosts of a herd report their inventory at start and again every 6 h. One member
 * carries what the others do not (a listener, a uid-0 account, an authorized key, a set-id
 * file): that is an outlier, also when the herd was new (learning) at the first inventory, so
 * that what a host carried before herdwatch came is judged; the repetition 6 h later raises
 * nothing again, and neither do the items every member carries. */
static void inv_round(struct herd_engine *e, const char *herd, int nm, const char *const *odd,
		      int nodd, uint64_t t)
{
	static const char *const base[] = {"inv_listen|/usr/sbin/sshd|tcp/22|any", "inv_uid0|root",
					   "inv_setid|/usr/bin/passwd|setuid|owner=root",
					   "inv_unit|ssh.service|system|multi-user.target",
					   "inv_cron|/etc/crontab|0011223344556677"};
	char mn[16];
	for (int i = 1; i <= nm; i++) {
		snprintf(mn, sizeof(mn), "h%d", i);
		herd_seen(e, herd, mn, mn, NULL, 1, t);
		for (size_t k = 0; k < sizeof(base) / sizeof(base[0]); k++)
			herd_observe(e, herd, mn, mn, NULL, base[k], 1, 1, t);
	}
	for (int k = 0; k < nodd; k++)
		herd_observe(e, herd, "h6", "h6", NULL, odd[k], 2, 2, t);
}

static void test_herd_inventory(void)
{
	static const char *const odd[] = {"inv_listen|/usr/bin/nc.openbsd|tcp/4444|any",
					  "inv_uid0|toor", "inv_key|root|SHA256:attacker",
					  "inv_setid|/usr/local/bin/.x|setuid|owner=root"};
	const uint64_t S = 1000000000ull, H = 3600 * S;
	for (int fresh = 0; fresh < 2; fresh++) {
		struct herd_cfg c;
		herd_cfg_default(&c);
		c.learn_s = 300;
		c.hold_ms = 1000;
		c.silent_s = 0;
		c.gone_s = 0;
		struct got g = {0};
		struct herd_engine *e = herd_new(&c, on_alert, &g);
		uint64_t t = 1000 * S, clock = t;
		if (!fresh) { /* an established herd: the agent came to h6 later */
			inv_round(e, "inv", 6, NULL, 0, t);
			t += 600 * S;
			clock = t;
		}
		/* the inventory at the agents' start: h6 carries the odd items */
		inv_round(e, "inv", 6, odd, 4, t);
		tick_to(e, &clock, t + 5 * S);
		int first = g.outlier;
		/* 6 h later, the same inventory again */
		t += 6 * H;
		inv_round(e, "inv", 6, odd, 4, t);
		tick_to(e, &clock, t + 5 * S);
		int second = g.outlier;
		t += 6 * H;
		inv_round(e, "inv", 6, odd, 4, t);
		tick_to(e, &clock, t + 5 * S);
		int ok_member = !strcmp(g.member, "h6") && g.paged >= 1;
		int all_odd = strstr(g.json, "nc.openbsd") && strstr(g.json, "inv_uid0|toor") &&
			      strstr(g.json, "SHA256:attacker") &&
			      strstr(g.json, "/usr/local/bin/.x");
		int no_base = !strstr(g.json, "sshd") && !strstr(g.json, "inv_uid0|root");
		if (!fresh) {
			CHECK("herd_inventory_outlier_alerts", first == 1 && ok_member);
			CHECK("herd_inventory_outlier_names_items", all_odd && no_base);
			CHECK("herd_inventory_repeat_no_realert", second == 1 && g.outlier == 1);
		} else {
			/* learning at the first inventory: judged at the first repetition */
			CHECK("herd_inventory_learning_not_judged_yet", first == 0);
			CHECK("herd_inventory_predating_judged_after_learning",
			      second == 1 && ok_member && all_odd && no_base);
			CHECK("herd_inventory_learned_repeat_no_realert", g.outlier == 1);
		}
		CHECK(fresh ? "herd_inventory_no_change_alert_fresh"
			    : "herd_inventory_no_change_alert",
		      g.change == 0);
		herd_free(e);
	}
}

static void test_fuzz(void)
{
	srand(1);
	uint8_t *f;
	size_t fl;
	char raw[4096];
	size_t rl = 0;
	for (int i = 0; i < 4; i++)
		rl += (size_t)snprintf(raw + rl, sizeof(raw) - rl, "%s\n", EV);
	hw_wire_batch_encode(NULL, 3, 1, 12, 4, 77, "host", "boot", raw, rl, &f, &fl);
	static char out[HW_WIRE_MAX_RAW];
	ZSTD_DCtx *dctx = ZSTD_createDCtx();
	int accepted = 0;
	uint8_t *m = malloc(fl);
	for (int it = 0; it < 20000; it++) {
		memcpy(m, f, fl);
		int flips = 1 + rand() % 4;
		for (int k = 0; k < flips; k++)
			m[rand() % fl] = (uint8_t)rand();
		size_t len = rand() % 8 ? fl : (size_t)rand() % fl;
		struct hw_frame_hdr h;
		struct hw_batch b;
		if (len < HW_WIRE_HDR_LEN || hw_wire_parse_hdr(m, &h) ||
		    h.len > len - HW_WIRE_HDR_LEN)
			continue;
		if (hw_wire_parse_batch(h.version, m + HW_WIRE_HDR_LEN, h.len, &b) ||
		    hw_wire_batch_decompress(&b, dctx, out, sizeof(out)))
			continue;
		accepted++;
	}
	CHECK("fuzz_frames_no_crash", accepted >= 0);
	char *js = malloc(strlen(EV) + 1);
	int parsed = 0;
	for (int it = 0; it < 50000; it++) {
		strcpy(js, EV);
		size_t l = strlen(js);
		int flips = 1 + rand() % 3;
		for (int k = 0; k < flips; k++)
			js[rand() % l] = ALPHA[rand() % (sizeof(ALPHA) - 1)];
		if (rand() % 4 == 0)
			l = (size_t)rand() % l;
		int n = json_parse(js, l, toks, 4096);
		if (n > 0) {
			struct jdoc d = {js, toks, n};
			struct ev_info ev;
			char tk[EV_MAX_TOKENS][TOKEN_MAX];
			if (toks[0].type == J_OBJ)
				ev_extract(&d, 0, &ev, tk);
			parsed++;
		}
	}
	CHECK("fuzz_json_no_crash", parsed > 0);
	free(js);
	free(m);
	free(f);
	ZSTD_freeDCtx(dctx);
}

int main(void)
{
	test_wire();
	test_json();
	test_json_strict();
	test_tokens();
	test_token_kinds();
	test_tokens_inventory();
	test_herd_inventory();
	test_tokens_versions();
	test_tokens_dns();
	test_tokens_auth();
	test_ranges();
	test_herd();
	test_cohorts();
	test_herd_decay();
	test_herd_memory();
	test_herd_rolling();
	test_herd_hold_per_token();
	test_herd_burst_one_alert();
	test_herd_slow_rollout();
	test_herd_new_member_routine();
	test_herd_late();
	test_herd_deploy_young();
	test_herd_rare_known();
	test_herd_cohort_change_once();
	test_herd_onset();
	test_herd_rare_known_versions();
	test_herd_admin_sudo();
	test_herd_old_cohort_no_canary();
	test_tokens_release();
	test_herd_release_inferred();
	test_herd_binary_hash();
	test_fuzz();
	return failed;
}
