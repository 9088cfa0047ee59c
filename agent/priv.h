/* priv.h - shared by the priv family's two agent files: priv_decode.c (the decoders) and
 * priv_counts.c (what the kernel counts, summarised per window). */
#ifndef HW_AGENT_PRIV_H
#define HW_AGENT_PRIV_H
#include "agent/agent.h"

/* the syscall's name for an HW_SC_* index ("unknown" when unknown) */
const char *sc_name(unsigned sc);
/* "cap": "CAP_SYS_ADMIN" (or the number when unknown) */
void put_cap_name(struct jbuf *b, unsigned cap);
/* an event of an ignored process (filters.ignore_exe), counted as filtered */
bool priv_ignored(struct agent *a, const struct hw_hdr *h);

#endif
