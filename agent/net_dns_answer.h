/* net_dns_answer.h - the DNS answer parser used by net_decode.c: header, questions skipped, answer
 * records (owner name, type, class, TTL, and the data of A, AAAA, CNAME, NS and PTR records).
 * Defined in this header (static inline) so that its unit test (tests/unit/test_net_dns.c)
 * compiles it with ASan/UBSan.
 *
 * Answers come from whatever answers on port 53 and are hostile. Every index is checked against
 * the captured length; a compression pointer must point strictly before the label that holds it
 * (so a chain of pointers always ends: no loop is possible) and at most DNS_MAX_JUMPS are
 * followed; names stay within 255 bytes; at most DNS_MAX_RR records are read. Running out of
 * captured bytes in a message longer than the capture is "cut", not malformed.
 */
#ifndef HW_DNS_ANSWER_H
#define HW_DNS_ANSWER_H
#include "agent/net_decode.h"
#include <arpa/inet.h>

#define DNS_MAX_RR 16
#define DNS_MAX_JUMPS 32
#define DNS_PNAME (4 * 255 + 8) /* presentation form: every byte at most 4 characters */

struct dns_rr {
	char name[DNS_PNAME];
	char data[DNS_PNAME]; /* A/AAAA: the address; CNAME/NS/PTR: the name; else empty */
	size_t nlen, dlen;
	unsigned type, rclass, rdlen;
	uint32_t ttl;
	uint8_t addr[16]; /* A: 4 bytes, AAAA: 16 */
	bool has_data;
};

struct dns_answer {
	struct dns_question q; /* header and first question (name, type) */
	unsigned rcode, ancount, nrr;
	bool aa, tc, cut;      /* cut: the capture ended before the last record */
	const char *malformed; /* why the answer could not be read in full, or NULL */
	struct dns_rr rr[DNS_MAX_RR];
};

/* Append the presentation form of one label's bytes. */
static inline void dns_put_label(char *out, size_t cap, size_t *n, const uint8_t *l, unsigned len)
{
	for (unsigned i = 0; i < len; i++) {
		char esc[8];
		size_t k;
		uint8_t c = l[i];
		if (c == '.' || c == '\\') {
			esc[0] = '\\';
			esc[1] = c;
			k = 2;
		} else if (c < 0x21 || c > 0x7e) {
			k = snprintf(esc, sizeof(esc), "\\%03u", c);
		} else {
			esc[0] = c;
			k = 1;
		}
		if (*n + k < cap) {
			memcpy(out + *n, esc, k);
			*n += k;
		}
	}
}

/* Read a (possibly compressed) name at *pos of m[0..cap) into out (presentation form, NUL
 * terminated). On return *pos is just after the name where it started. 0 when read, 1 when
 * the capture ended inside it, -1 with *why when malformed. */
static inline int dns_read_name(const uint8_t *m, size_t cap, size_t *pos, char *out, size_t outcap,
				size_t *olen, const char **why)
{
	size_t p = *pos, total = 0, end = 0;
	unsigned jumps = 0;
	bool jumped = false;

	*olen = 0;
	for (;;) {
		if (p >= cap)
			return 1;
		unsigned l = m[p];
		if ((l & 0xc0) == 0xc0) {
			if (p + 2 > cap)
				return 1;
			size_t to = (l & 0x3f) << 8 | m[p + 1];
			if (to >= p) {
				*why = "compression pointer does not point backwards";
				return -1;
			}
			if (++jumps > DNS_MAX_JUMPS) {
				*why = "too many compression pointers";
				return -1;
			}
			if (!jumped)
				end = p + 2;
			jumped = true;
			p = to;
			continue;
		}
		if (l & 0xc0) {
			*why = "extended label type";
			return -1;
		}
		if (l == 0) {
			if (!jumped)
				end = p + 1;
			break;
		}
		total += l + 1;
		if (total + 1 > 255) {
			*why = "name longer than 255 bytes";
			return -1;
		}
		if (p + 1 + l > cap)
			return 1;
		if (*olen && *olen + 1 < outcap)
			out[(*olen)++] = '.';
		dns_put_label(out, outcap, olen, m + p + 1, l);
		p += 1 + l;
	}
	if (*olen == 0 && outcap > 1)
		out[(*olen)++] = '.'; /* the root */
	out[*olen] = 0;
	*pos = end;
	return 0;
}

/* One answer record at *pos; 0 read, 1 cut, -1 malformed (a->malformed set). */
static inline int dns_read_rr(const uint8_t *m, size_t cap, size_t *pos, struct dns_answer *a,
			      struct dns_rr *r)
{
	int st = dns_read_name(m, cap, pos, r->name, sizeof(r->name), &r->nlen, &a->malformed);
	if (st)
		return st;
	size_t p = *pos;
	if (p + 10 > cap)
		return 1;
	r->type = m[p] << 8 | m[p + 1];
	r->rclass = m[p + 2] << 8 | m[p + 3];
	r->ttl = (uint32_t)m[p + 4] << 24 | m[p + 5] << 16 | m[p + 6] << 8 | m[p + 7];
	r->rdlen = m[p + 8] << 8 | m[p + 9];
	p += 10;
	if (p + r->rdlen > cap)
		return 1;
	r->has_data = false;
	r->dlen = 0;
	r->data[0] = 0;
	if (r->type == 1 || r->type == 28) {
		unsigned want = r->type == 1 ? 4 : 16;
		if (r->rdlen != want) {
			a->malformed =
				r->type == 1 ? "A record not 4 bytes" : "AAAA record not 16 bytes";
			return -1;
		}
		memcpy(r->addr, m + p, want);
		inet_ntop(want == 4 ? AF_INET : AF_INET6, r->addr, r->data, sizeof(r->data));
		r->dlen = strlen(r->data);
		r->has_data = true;
	} else if (r->type == 5 || r->type == 2 || r->type == 12) {
		size_t q = p;
		/* the name must end inside the record's data */
		st = dns_read_name(m, p + r->rdlen, &q, r->data, sizeof(r->data), &r->dlen,
				   &a->malformed);
		if (st || q != p + r->rdlen) {
			if (st >= 0)
				a->malformed = "record data is not one name";
			return -1;
		}
		r->has_data = true;
	}
	*pos = p + r->rdlen;
	return 0;
}

/* Parse an answer of which the first cap bytes (of msg_len) are in m. */
static inline void net_dns_answer_parse(const uint8_t *m, size_t cap, size_t msg_len,
					struct dns_answer *a)
{
	size_t pos = 12;
	char skip[DNS_PNAME];
	size_t slen;

	a->ancount = a->nrr = a->rcode = 0;
	a->aa = a->tc = a->cut = false;
	a->malformed = NULL;
	net_dns_parse(m, cap, msg_len, &a->q);
	if (cap < 12) {
		a->malformed = "shorter than a DNS header";
		return;
	}
	a->rcode = a->q.flags & 0xf;
	a->aa = a->q.flags & 0x400;
	a->tc = a->q.flags & 0x200;
	a->ancount = m[6] << 8 | m[7];
	if (!(a->q.flags & 0x8000)) {
		a->malformed = "QR bit clear: a query, not an answer";
		return;
	}
	for (unsigned i = 0; i < a->q.qdcount; i++) {
		int st = dns_read_name(m, cap, &pos, skip, sizeof(skip), &slen, &a->malformed);
		if (st == 0 && pos + 4 > cap)
			st = 1;
		if (st) {
			if (st > 0 && cap < msg_len)
				a->cut = true;
			else if (st > 0)
				a->malformed = "question runs past the end of the message";
			return;
		}
		pos += 4;
	}
	while (a->nrr < a->ancount && a->nrr < DNS_MAX_RR) {
		int st = dns_read_rr(m, cap, &pos, a, &a->rr[a->nrr]);
		if (st > 0) {
			if (cap < msg_len)
				a->cut = true;
			else
				a->malformed = "record runs past the end of the message";
		}
		if (st)
			return;
		a->nrr++;
	}
}

#endif
