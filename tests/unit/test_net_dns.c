/* test_net_dns - the DNS question parser (agent/net_decode.c) and the answer parser
 * (agent/net_dns_answer.h) against crafted and random messages, under ASan/UBSan: exact
 * presentation names for hostile labels, every malformed case with its reason, truncation,
 * compression loops and forward pointers, and random-bytes runs that must never read outside
 * the buffer, always yield plain ASCII, and map back to the original label bytes. */
#include "agent/net_decode.h"
#include "agent/net_dns_answer.h"
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

/* An answer: header (id 0xbeef, QR RD RA, rcode), question "a.test" A, then the records in
 * wire form as given. */
static size_t mkans(uint8_t *m, unsigned rcode, unsigned ancount, const uint8_t *rr, size_t rl)
{
	static const uint8_t q[] = {1, 'a', 4, 't', 'e', 's', 't', 0, 0, 1, 0, 1};
	uint8_t hdr[12] = {0xbe, 0xef, 0x81, 0x80 | rcode, 0, 1, ancount >> 8, ancount & 0xff, 0,
			   0,    0,    0};
	memcpy(m, hdr, 12);
	memcpy(m + 12, q, sizeof(q));
	if (rl)
		memcpy(m + 12 + sizeof(q), rr, rl);
	return 12 + sizeof(q) + rl;
}

static void answer_cases(void)
{
	static struct dns_answer a;
	uint8_t m[600];
	size_t n;
	/* a.test CNAME b.a.test (pointer to 12), b.a.test A 10.1.2.3, then AAAA 2001:db8::1 */
	static const uint8_t rrs[] = {0xc0, 12,   0, 5,  0, 1, 0, 0, 0,    60,   0, 4,  1,    'b',
				      0xc0, 12, /* CNAME */
				      0xc0, 36,   0, 1,  0, 1, 0, 0, 0x0e, 0x10, 0, 4,  10,   1,
				      2,    3, /* A, ttl 3600 */
				      0xc0, 12,   0, 28, 0, 1, 0, 0, 0,    5,    0, 16, 0x20, 1,
				      0x0d, 0xb8, 0, 0,  0, 0, 0, 0, 0,    0,    0, 0,  0,    1};
	n = mkans(m, 0, 3, rrs, sizeof(rrs));
	net_dns_answer_parse(m, n, n, &a);
	check("answer: CNAME, A, AAAA read",
	      !a.malformed && a.nrr == 3 && !strcmp(a.rr[0].data, "b.a.test") &&
		      a.rr[0].type == 5 && !strcmp(a.rr[1].name, "b.a.test") &&
		      !strcmp(a.rr[1].data, "10.1.2.3") && a.rr[1].ttl == 3600 &&
		      !strcmp(a.rr[2].data, "2001:db8::1") && !strcmp(a.q.name, "a.test") && !a.cut,
	      a.malformed);

	n = mkans(m, 3, 0, NULL, 0);
	net_dns_answer_parse(m, n, n, &a);
	check("answer: NXDOMAIN, no records", !a.malformed && a.rcode == 3 && a.nrr == 0, NULL);

	/* a pointer to itself, and two pointers to each other: refused, never followed forever */
	static const uint8_t self[] = {0xc0, 24, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4};
	n = mkans(m, 0, 1, self, sizeof(self));
	net_dns_answer_parse(m, n, n, &a);
	check("answer: pointer to itself refused",
	      a.malformed && strstr(a.malformed, "backwards") && a.nrr == 0, a.malformed);
	static const uint8_t fwd[] = {0xc0, 26, 0xc0, 24, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4};
	n = mkans(m, 0, 1, fwd, sizeof(fwd));
	net_dns_answer_parse(m, n, n, &a);
	check("answer: pointer loop refused", a.malformed && a.nrr == 0, a.malformed);

	/* a long backward chain of pointers (in the data of a record of unknown type, then
	 * used as the next record's name): bounded by DNS_MAX_JUMPS */
	uint8_t rr[300];
	size_t rl = 0;
	static const uint8_t h1[] = {0xc0, 12, 0, 99, 0, 1, 0, 0, 0, 1, 0, 80};
	memcpy(rr, h1, sizeof(h1));
	rl = sizeof(h1);
	for (int i = 0; i < 40; i++) {
		unsigned to = i ? 36 + 2 * (i - 1) : 12;
		rr[rl++] = 0xc0 | to >> 8;
		rr[rl++] = to & 0xff;
	}
	static const uint8_t tail[] = {0xc0, 36 + 2 * 39, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4};
	memcpy(rr + rl, tail, sizeof(tail));
	rl += sizeof(tail);
	n = mkans(m, 0, 2, rr, rl);
	net_dns_answer_parse(m, n, n, &a);
	check("answer: long pointer chains bounded", a.malformed && strstr(a.malformed, "too many"),
	      a.malformed);

	static const uint8_t bad_a[] = {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 1, 0, 5, 1, 2, 3, 4, 5};
	n = mkans(m, 0, 1, bad_a, sizeof(bad_a));
	net_dns_answer_parse(m, n, n, &a);
	check("answer: A of 5 bytes refused", a.malformed && strstr(a.malformed, "4 bytes"),
	      a.malformed);

	static const uint8_t bad_cname[] = {0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 1, 0, 3, 1, 'b', 0};
	uint8_t bc[sizeof(bad_cname) + 2];
	memcpy(bc, bad_cname, sizeof(bad_cname));
	bc[11] = 2; /* rdlength 2: the name "b." does not end inside the data */
	n = mkans(m, 0, 1, bc, sizeof(bad_cname));
	net_dns_answer_parse(m, n, n, &a);
	check("answer: CNAME running past its data refused", a.malformed != NULL, a.malformed);

	n = mkans(m, 0, 3, rrs, sizeof(rrs));
	net_dns_answer_parse(m, n - 5, n, &a);
	check("answer: capture cut inside the last record", a.cut && !a.malformed && a.nrr == 2,
	      a.malformed);
	net_dns_answer_parse(m, n - 5, n - 5, &a);
	check("answer: message ends inside a record: malformed",
	      !a.cut && a.malformed && a.nrr == 2, a.malformed);
	n = mkans(m, 0, 1000, rrs, sizeof(rrs));
	net_dns_answer_parse(m, n, n, &a);
	check("answer: more records claimed than sent",
	      a.malformed && a.nrr == 3 && a.ancount == 1000, a.malformed);
	n = mkans(m, 0, 3, rrs, sizeof(rrs));
	m[2] &= 0x7f;
	net_dns_answer_parse(m, n, n, &a);
	check("answer: QR clear reported", a.malformed && strstr(a.malformed, "QR"), a.malformed);
	n = mkans(m, 0, 3, rrs, sizeof(rrs));
	m[3] |= 0x0f, m[2] |= 0x02;
	net_dns_answer_parse(m, n, n, &a);
	check("answer: rcode and TC flag", a.rcode == 15 && a.tc, NULL);

	/* random bytes after a valid header: never out of bounds, always ASCII, bounded */
	int bad = 0;
	for (int it = 0; it < 100000; it++) {
		size_t cap = 12 + rand() % 300;
		uint8_t *buf = malloc(cap);
		for (size_t i = 0; i < cap; i++)
			buf[i] = rand() % 4 ? rand() : (rand() % 2 ? 0xc0 : rand() % 8);
		buf[2] |= 0x80;
		buf[4] = 0, buf[5] = rand() % 3, buf[6] = 0, buf[7] = rand() % 40;
		net_dns_answer_parse(buf, cap, cap + rand() % 2, &a);
		for (unsigned r = 0; r < a.nrr; r++)
			for (size_t i = 0; i < a.rr[r].nlen + a.rr[r].dlen; i++) {
				unsigned char c = i < a.rr[r].nlen ? a.rr[r].name[i]
								   : a.rr[r].data[i - a.rr[r].nlen];
				if (c < 0x21 || c > 0x7e)
					bad++;
			}
		if (a.nrr > DNS_MAX_RR)
			bad++;
		free(buf);
	}
	check("answer: random messages bounded, ASCII names", bad == 0, NULL);
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
	answer_cases();
	return fails ? 1 : 0;
}
