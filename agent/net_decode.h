/* net_decode.h - the DNS question parser used by net_decode.c. Defined in this header (static
 * inline) so that its unit test (tests/unit/test_net_dns.c) compiles it with ASan/UBSan. */
#ifndef HW_DECODE_NET_H
#define HW_DECODE_NET_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct dns_question {
	char name[4 * 255 + 8]; /* presentation form: every byte at most 4 characters */
	size_t nlen;
	unsigned id, flags, qdcount, qtype, qclass;
	bool have_name, have_type, truncated;
	const char *malformed; /* why the question could not be read, or NULL */
};

static inline void dns_put(struct dns_question *q, const char *s, size_t n)
{
	if (q->nlen + n < sizeof(q->name)) {
		memcpy(q->name + q->nlen, s, n);
		q->nlen += n;
	}
}

/* Parse the header and first question of a DNS message of which the first cap bytes (of
 * msg_len) are in m. Never reads outside m[0..cap); the name is plain ASCII: label bytes other
 * than printable ASCII are written \DDD, '.' and '\' inside a label \. and \\. */
static inline void net_dns_parse(const uint8_t *m, size_t cap, size_t msg_len,
				 struct dns_question *q)
{
	size_t pos = 12, total = 0;

	memset(q, 0, sizeof(*q));
	if (cap < 12) {
		q->malformed = "shorter than a DNS header";
		return;
	}
	q->id = m[0] << 8 | m[1];
	q->flags = m[2] << 8 | m[3];
	q->qdcount = m[4] << 8 | m[5];
	if (q->qdcount == 0) {
		q->malformed = "no question";
		return;
	}
	for (int labels = 0;; labels++) {
		if (pos >= cap) {
			if (cap < msg_len)
				q->truncated = true;
			else
				q->malformed = "name runs past the end of the message";
			return;
		}
		unsigned l = m[pos];
		if (l == 0) {
			pos++;
			break;
		}
		if (l & 0xc0) {
			q->malformed = "compression pointer or extended label in the question";
			return;
		}
		total += l + 1;
		if (total + 1 > 255) {
			q->malformed = "name longer than 255 bytes";
			return;
		}
		if (pos + 1 + l > cap) {
			if (cap < msg_len)
				q->truncated = true;
			else
				q->malformed = "label runs past the end of the message";
			return;
		}
		if (labels)
			dns_put(q, ".", 1);
		for (unsigned i = 0; i < l; i++) {
			uint8_t c = m[pos + 1 + i];
			char esc[8];
			if (c == '.' || c == '\\') {
				esc[0] = '\\';
				esc[1] = c;
				dns_put(q, esc, 2);
			} else if (c < 0x21 || c > 0x7e) {
				snprintf(esc, sizeof(esc), "\\%03u", c);
				dns_put(q, esc, 4);
			} else {
				dns_put(q, (const char *)&c, 1);
			}
		}
		pos += 1 + l;
	}
	if (q->nlen == 0)
		dns_put(q, ".", 1); /* the root */
	q->have_name = true;
	if (pos + 4 <= cap) {
		q->qtype = m[pos] << 8 | m[pos + 1];
		q->qclass = m[pos + 2] << 8 | m[pos + 3];
		q->have_type = true;
	} else if (cap < msg_len) {
		q->truncated = true;
	} else {
		q->malformed = "question without type and class";
	}
}

#endif
