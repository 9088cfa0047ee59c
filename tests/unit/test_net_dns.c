/* test_net_dns - the DNS question parser (agent/decode_net.c) against crafted and random
 * messages, under ASan/UBSan: exact presentation names for hostile labels, every malformed
 * case with its reason, truncation, and a random-bytes run that must never read outside the
 * buffer, always yield plain ASCII, and map back to the original label bytes. */
#include "agent/decode_net.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fails;

static void check(const char *name, int cond, const char *detail)
{
	if (cond) {
		printf("ok - dns parser: %s\n", name);
	} else {
		printf("not ok - dns parser: %s: %s\n", name, detail ? detail : "");
		fails++;
	}
}

/* header (id 0x1234, RD, QDCOUNT 1) + wire name + type + class IN */
static size_t mkmsg(uint8_t *m, const uint8_t *wire, size_t wl, unsigned type)
{
	static const uint8_t hdr[12] = {0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0};
	memcpy(m, hdr, 12);
	memcpy(m + 12, wire, wl);
	m[12 + wl] = type >> 8;
	m[13 + wl] = type & 0xff;
	m[14 + wl] = 0;
	m[15 + wl] = 1;
	return 16 + wl;
}

/* Back from presentation form to label bytes (wire form without the final 0). */
static size_t unescape(const char *s, size_t n, uint8_t *out)
{
	size_t o = 0, lenpos = 0;
	out[o++] = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.') {
			lenpos = o;
			out[o++] = 0;
			continue;
		}
		uint8_t c = s[i];
		if (s[i] == '\\' && i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '9') {
			c = (s[i + 1] - '0') * 100 + (s[i + 2] - '0') * 10 + (s[i + 3] - '0');
			i += 3;
		} else if (s[i] == '\\') {
			c = s[++i];
		}
		out[o++] = c;
		out[lenpos]++;
	}
	return o;
}

int main(void)
{
	uint8_t m[600];
	struct dns_question q;
	size_t n;

	/* hostile labels, as in tests/probes/test_net.sh */
	static const uint8_t odd[] =
		"\x06we.ird\x06sp ace\x07q\"uo\\te\x04nl\nx\x02\xffz\x02\xc3\xa9\x04test";
	n = mkmsg(m, odd, sizeof(odd), 1); /* sizeof includes the final 0 label */
	net_dns_parse(m, n, n, &q);
	const char *want = "we\\.ird.sp\\032ace.q\"uo\\\\te.nl\\010x.\\255z.\\195\\169.test";
	check("hostile labels escaped exactly",
	      q.have_name && q.nlen == strlen(want) && !memcmp(q.name, want, q.nlen), q.name);
	check("type, class, id", q.have_type && q.qtype == 1 && q.qclass == 1 && q.id == 0x1234,
	      NULL);

	n = mkmsg(m, (const uint8_t *)"", 1, 2);
	net_dns_parse(m, n, n, &q);
	check("root name is '.'", q.have_name && q.nlen == 1 && q.name[0] == '.' && q.qtype == 2,
	      NULL);

	n = mkmsg(m,
		  (const uint8_t *)"\x03"
				   "abc\xc0\x0c",
		  6, 1);
	net_dns_parse(m, n, n, &q);
	check("compression pointer refused",
	      !q.have_name && q.malformed && strstr(q.malformed, "compression"), q.malformed);

	uint8_t big[300];
	for (int i = 0; i < 5; i++) {
		big[i * 60] = 59;
		memset(big + i * 60 + 1, 'a', 59);
	}
	big[300 - 1] = 0;
	n = mkmsg(m, big, 300, 1);
	net_dns_parse(m, n, n, &q);
	check("name over 255 bytes refused",
	      !q.have_name && q.malformed && strstr(q.malformed, "255"), q.malformed);

	/* a response (QR set) sent to port 53: parsed like a query, the flag kept for the
	 * decoder's "response": true (it is reported, never dropped) */
	n = mkmsg(m, odd, sizeof(odd), 28);
	m[2] |= 0x80;
	net_dns_parse(m, n, n, &q);
	check("QR set: parsed, flag kept",
	      q.have_name && q.have_type && q.qtype == 28 && (q.flags & 0x8000) && !q.malformed,
	      q.malformed);

	net_dns_parse(m, 7, 7, &q);
	check("short header refused", q.malformed != NULL && !q.have_name, NULL);

	n = mkmsg(m, odd, sizeof(odd), 1);
	m[5] = 0;
	net_dns_parse(m, n, n, &q);
	check("no question refused", q.malformed && !strcmp(q.malformed, "no question"),
	      q.malformed);

	n = mkmsg(m, odd, sizeof(odd), 1);
	net_dns_parse(m, 20, n, &q);
	check("capture shorter than message: truncated",
	      q.truncated && !q.malformed && !q.have_name, NULL);
	net_dns_parse(m, 20, 20, &q);
	check("message ends inside a label: malformed", q.malformed && !q.truncated, NULL);
	net_dns_parse(m, n - 2, n - 2, &q);
	check("question without type/class: malformed", q.have_name && !q.have_type && q.malformed,
	      NULL);

	/* random messages: never out of bounds (ASan), ASCII only, and names map back to bytes */
	srand(42);
	int bad_ascii = 0, bad_round = 0, named = 0;
	for (int it = 0; it < 200000; it++) {
		size_t cap = rand() % 300, len = cap + (rand() % 3 == 0 ? rand() % 50 : 0);
		uint8_t *buf = malloc(cap ? cap : 1); /* exact size: ASan sees any overread */
		for (size_t i = 0; i < cap; i++)
			buf[i] = rand();
		if (cap > 12 && rand() % 2) {
			/* mostly valid shapes: random labels */
			size_t p = 12;
			buf[4] = 0, buf[5] = 1;
			while (p + 1 < cap && rand() % 8) {
				size_t l = rand() % 64;
				if (l > 63 || p + 1 + l >= cap)
					break;
				buf[p] = l;
				p += 1 + l;
			}
			if (p < cap)
				buf[p] = 0;
		}
		net_dns_parse(buf, cap, len, &q);
		for (size_t i = 0; i < q.nlen; i++)
			if ((unsigned char)q.name[i] < 0x21 || (unsigned char)q.name[i] > 0x7e)
				bad_ascii++;
		if (q.have_name && !(q.nlen == 1 && q.name[0] == '.')) {
			uint8_t back[600];
			size_t bl = unescape(q.name, q.nlen, back);
			named++;
			if (bl > cap - 12 || memcmp(back, buf + 12, bl))
				bad_round++;
		}
		free(buf);
	}
	check("random: names are printable ASCII", bad_ascii == 0, NULL);
	char d[64];
	snprintf(d, sizeof(d), "%d of %d names", bad_round, named);
	check("random: names map back to the exact label bytes", bad_round == 0 && named > 1000, d);
	return fails ? 1 : 0;
}
