/* Unit tests for the JSON writer: escaping of hostile bytes, structure, numbers. */
#include "agent/json.h"
#include "unit.h"
#include <stdlib.h>

static const char *str_json(struct jbuf *b, const char *s, size_t n)
{
	jb_reset(b);
	jb_str(b, s, n);
	jb_raw(b, "", 1); /* NUL for printing */
	return b->p;
}

int main(void)
{
	struct jbuf b;
	jb_init(&b, 16); /* small: forces growth */

	CHECK_STR("plain ascii", str_json(&b, "abc", 3), "\"abc\"");
	CHECK_STR("quote and backslash", str_json(&b, "a\"b\\c", 5), "\"a\\\"b\\\\c\"");
	CHECK_STR("newline tab cr", str_json(&b, "a\nb\tc\rd", 7), "\"a\\nb\\tc\\rd\"");
	CHECK_STR("control bytes", str_json(&b, "\x01\x1f\x7f", 3), "\"\\u0001\\u001f\\u007f\"");
	CHECK_STR("NUL inside", str_json(&b, "a\0b", 3), "\"a\\u0000b\"");
	CHECK_STR("valid 2-byte UTF-8 kept", str_json(&b, "h\xc3\xa9", 3), "\"h\xc3\xa9\"");
	CHECK_STR("valid 4-byte UTF-8 kept", str_json(&b, "\xf0\x9f\x90\x91", 4),
		  "\"\xf0\x9f\x90\x91\"");
	CHECK_STR("invalid byte escaped",
		  str_json(&b,
			   "a\xff"
			   "b",
			   3),
		  "\"a\\u00ffb\"");
	CHECK_STR("truncated sequence escaped per byte", str_json(&b, "\xe2\x82", 2),
		  "\"\\u00e2\\u0082\"");
	CHECK_STR("overlong encoding rejected", str_json(&b, "\xc0\xaf", 2), "\"\\u00c0\\u00af\"");
	CHECK_STR("surrogate rejected", str_json(&b, "\xed\xa0\x80", 3),
		  "\"\\u00ed\\u00a0\\u0080\"");
	CHECK_STR("above U+10FFFF rejected", str_json(&b, "\xf4\x90\x80\x80", 4),
		  "\"\\u00f4\\u0090\\u0080\\u0080\"");
	CHECK_STR("lone continuation byte", str_json(&b, "\x80", 1), "\"\\u0080\"");

	/* every byte value alone: the output is always a quoted string without raw controls */
	int all_ok = 1;
	for (int c = 0; c < 256; c++) {
		char in = (char)c;
		const char *o = str_json(&b, &in, 1);
		size_t l = strlen(o);
		if (o[0] != '"' || o[l - 1] != '"' || l < 3)
			all_ok = 0;
		for (size_t i = 0; i < l; i++)
			if ((unsigned char)o[i] < 0x20 || (unsigned char)o[i] >= 0x80)
				all_ok = 0;
	}
	CHECK("every single byte escapes to printable ASCII", all_ok);

	/* a long hostile string grows the buffer correctly */
	char big[10000];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i % 256);
	jb_reset(&b);
	jb_str(&b, big, sizeof(big));
	CHECK("long string no oom", !b.oom && b.len > sizeof(big));

	jb_reset(&b);
	jb_obj_begin(&b);
	jb_ku64(&b, "a", 18446744073709551615ULL);
	jb_ki64(&b, "b", -9223372036854775807LL - 1);
	jb_key(&b, "c");
	jb_arr_begin(&b);
	jb_cstr(&b, "x");
	jb_null(&b);
	jb_bool(&b, true);
	jb_arr_end(&b);
	jb_kcstr(&b, "d", NULL);
	jb_key(&b, "e");
	jb_obj_begin(&b);
	jb_obj_end(&b);
	jb_obj_end(&b);
	jb_raw(&b, "", 1);
	CHECK_STR("structure and number limits", b.p,
		  "{\"a\":18446744073709551615,\"b\":-9223372036854775808,\"c\":[\"x\",null,true],"
		  "\"d\":null,\"e\":{}}");

	/* every number of up to 6 digits, each power of ten and its neighbours, as printf does */
	bool same = true;
	char want[32];
	for (uint64_t v = 0; v < 1000000 && same; v++) {
		jb_reset(&b);
		jb_u64(&b, v);
		snprintf(want, sizeof(want), "%llu", (unsigned long long)v);
		same = b.len == strlen(want) && !memcmp(b.p, want, b.len);
	}
	for (uint64_t p = 10; p && p <= 10000000000000000000ULL && same; p *= 10) {
		for (uint64_t v = p - 1; v <= p + 1; v++) {
			jb_reset(&b);
			jb_u64(&b, v);
			snprintf(want, sizeof(want), "%llu", (unsigned long long)v);
			same &= b.len == strlen(want) && !memcmp(b.p, want, b.len);
		}
		if (p == 10000000000000000000ULL)
			break;
	}
	CHECK("numbers: decimal as printf formats them", same);
	jb_free(&b);
	UNIT_DONE();
}
