/* tty_decode.c - tty.input and tty.output records (bpf/tty.bpf.c) into events: the terminal,
 * the session, the descriptor, how many bytes the call moved and the bytes copied (at most
 * tty.bytes_per_event). The data is whatever a process read or wrote: escape sequences and
 * control bytes are escaped by the JSON writer (agent/json.h), invalid UTF-8 becomes \u00XX.
 * A record whose length disagrees with its header is refused (counted as a decode loss).
 * The contract: docs/events-tty.md. */
#include "agent/emit.h"
#include <errno.h>
#include <string.h>

int decode_tty(struct agent *a, const void *rec, size_t len)
{
	const struct hw_tty *e = rec;
	struct jbuf *b = &a->jb;

	if (len < HW_TTY_FIXED || e->len > HW_TTY_DATA_MAX || HW_TTY_FIXED + e->len > len)
		return -EINVAL;
	emit_event(a, e->hdr.type == HW_EV_TTY_IN ? "tty.input" : "tty.output", &e->hdr, "tty");
	jb_kstr(b, "name", e->name, strnlen(e->name, sizeof(e->name)));
	jb_ku64(b, "session", e->sid);
	jb_ki64(b, "fd", e->fd);
	jb_ku64(b, "bytes", e->total);
	jb_kstr(b, "data", (const char *)e->data, e->len);
	jb_kbool(b, "truncated", e->flags & HW_TTY_CUT);
	if (e->flags & HW_TTY_VECTOR)
		jb_kbool(b, "first_segment_only", true);
	if (e->hdr.flags & HW_F_READ_FAIL)
		jb_kbool(b, "read_failed", true);
	emit_event_end(a);
	return 0;
}
