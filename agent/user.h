/* user.h - the user family's agent side: uprobes on shells and libpam (agent/user_uprobes.c),
 * watched-file rules (agent/file_watch.c), decoders (agent/user_decode.c). */
#ifndef HW_USER_H
#define HW_USER_H
#include "agent/agent.h"

/* Attach or detach the user family's uprobes to match the effective (config + control
 * overrides) state of user.shell and user.auth. */
int user_apply(struct agent *a);
/* Watched-file rules into the file programs' maps. */
int file_sync_maps(struct agent *a);
/* Rescan for new bash/libreadline/libpam files and write "uprobes" into the heartbeat. */
void user_heartbeat(struct agent *a, struct jbuf *b);
/* A process exec'd a binary not seen before (HW_EV_USER_BIN). */
void user_new_binary(struct agent *a, uint32_t pid, uint32_t dev, uint64_t ino, uint32_t which);
void user_detach_all(struct agent *a);
/* A process exits: report the opens the kernel folded since that process's last file event
 * (file.* with "repeats" and "summary": true), so no count is lost with the process. */
void file_flush_repeats(struct agent *a, const struct hw_hdr *exit_hdr);
/* the table behind it (struct agent's freps): family init and teardown (0 or -ENOMEM) */
/* the family's state (user_uprobes.c), the file repeats' table with it (user_decode.c) */
int user_init(struct agent *a);
void user_free(struct agent *a);
int file_repeats_init(struct agent *a);
void file_repeats_free(struct agent *a);
/* The pattern of watch rule idx (the "watch" field), or NULL. */
const char *file_rule_name(struct agent *a, unsigned idx);
/* the rule of that index (pattern and ops), NULL past the last */
const struct hw_file_rule *file_rule_at(struct agent *a, unsigned idx);
/* file_fan.c: file.open through fanotify marks (files.mode watch, docs/events-user.md) */
bool file_fan_owns_open(struct agent *a);    /* file.open comes from fanotify now */
bool file_fan_owns_chown(struct agent *a);   /* and file.chown (FAN_ATTRIB) */
const char *file_fan_fault(struct agent *a); /* why watch mode is off until reload, or NULL */
bool file_fan_name_ok(const char *name);     /* "file.exact": the control override's name */
void file_fan_poll(struct agent *a);         /* before the ring buffer is read: take a batch */
/* a process exits: its identity kept a while for the events fanotify still holds of it */
void file_fan_note_exit(struct agent *a, const struct hw_hdr *h, const struct proc *p);
int file_fan_apply(struct agent *a); /* family hooks (agent/family.c) */
void file_fan_second(struct agent *a);
void file_fan_heartbeat(struct agent *a, struct jbuf *b);
void file_fan_stop(struct agent *a);
int file_fan_init(struct agent *a); /* its state (struct agent's fan): 0 or -ENOMEM */
void file_fan_free(struct agent *a);

#endif
