/* unit.h - a minimal harness for C unit tests: prints "ok - name" / "not ok - name: why"
 * per check (tests/run counts them) and exits non-zero when any check failed. */
#ifndef HW_UNIT_H
#define HW_UNIT_H
#include <stdio.h>
#include <string.h>

static int unit_failed;

#define CHECK(name, cond)                                                                          \
	do {                                                                                       \
		if (cond) {                                                                        \
			printf("ok - %s\n", name);                                                 \
		} else {                                                                           \
			printf("not ok - %s: %s (%s:%d)\n", name, #cond, __FILE__, __LINE__);      \
			unit_failed = 1;                                                           \
		}                                                                                  \
	} while (0)

#define CHECK_STR(name, got, want)                                                                 \
	do {                                                                                       \
		const char *g_ = (got), *w_ = (want);                                              \
		if (g_ && w_ && strcmp(g_, w_) == 0) {                                             \
			printf("ok - %s\n", name);                                                 \
		} else {                                                                           \
			printf("not ok - %s: got '%s', want '%s'\n", name, g_ ? g_ : "(null)",     \
			       w_ ? w_ : "(null)");                                                \
			unit_failed = 1;                                                           \
		}                                                                                  \
	} while (0)

#define UNIT_DONE() return unit_failed ? 1 : 0

#endif
