/* Unit tests for the Prometheus text format writer (common/prom.c): escaping of label values
 * and help text, valid UTF-8 out of any bytes, number formats, a family's lines. */
#include "common/prom.h"
#include "unit.h"
#include <math.h>
#include <stdlib.h>

static const char *esc(const char *in)
{
	static char out[256];
	prom_escape_label(out, sizeof(out), in);
	return out;
}

int main(void)
{
	CHECK_STR("plain label value", esc("process.exec"), "process.exec");
	CHECK_STR("backslash, quote, newline escaped", esc("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
	CHECK_STR("valid UTF-8 kept", esc("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\x84"),
		  "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\x84");
	CHECK_STR("stray byte becomes U+FFFD",
		  esc("a\xff"
		      "b"),
		  "a\xef\xbf\xbd"
		  "b");
	CHECK_STR("overlong form refused", esc("\xc0\xaf"), "\xef\xbf\xbd\xef\xbf\xbd");
	CHECK_STR("surrogate refused", esc("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	CHECK_STR("sequence cut by the end", esc("x\xe2\x82"), "x\xef\xbf\xbd\xef\xbf\xbd");
	char small[6];
	size_t need = prom_escape_label(small, sizeof(small), "\"\"\"\"");
	CHECK("escape reports the length it needed, cuts between escapes, stays terminated",
	      need == 8 && !strcmp(small, "\\\"\\\""));

	struct prom b = {0};
	prom_family(&b, "x_total", "counter", "Help with \\ and\nnewline.");
	prom_u64(&b, "x_total", 18446744073709551615ull, "kind", "a\"b", "cause", "c", NULL);
	prom_u64(&b, "x_total", 0, NULL);
	prom_family(&b, "y_seconds", "gauge", "Y.");
	prom_f64(&b, "y_seconds", 1.5, NULL);
	prom_f64(&b, "y_seconds", NAN, "l", "nan", NULL);
	prom_f64(&b, "y_seconds", -INFINITY, "l", "inf", NULL);
	CHECK_STR("family lines", b.p,
		  "# HELP x_total Help with \\\\ and\\nnewline.\n"
		  "# TYPE x_total counter\n"
		  "x_total{kind=\"a\\\"b\",cause=\"c\"} 18446744073709551615\n"
		  "x_total 0\n"
		  "# HELP y_seconds Y.\n"
		  "# TYPE y_seconds gauge\n"
		  "y_seconds 1.5\n"
		  "y_seconds{l=\"nan\"} NaN\n"
		  "y_seconds{l=\"inf\"} -Inf\n");
	CHECK("not out of memory", !b.oom);
	prom_free(&b);

	prom_process(&b, "process");
	CHECK("process metrics: cpu", b.p && strstr(b.p, "\nprocess_cpu_seconds_total "));
	const char *rss = b.p ? strstr(b.p, "\nprocess_resident_memory_bytes ") : NULL;
	CHECK("process metrics: resident memory > 0", rss && strtoull(rss + 31, NULL, 10) > 0);
	const char *st = b.p ? strstr(b.p, "\nprocess_start_time_seconds ") : NULL;
	CHECK("process metrics: start time after 2020", st && strtod(st + 28, NULL) > 1.5e9);
	CHECK("process metrics: open fds, max fds",
	      b.p && strstr(b.p, "\nprocess_open_fds ") && strstr(b.p, "\nprocess_max_fds "));
	prom_free(&b);
	UNIT_DONE();
}
