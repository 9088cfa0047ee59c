/* config.h - the agent's YAML configuration (see docs/config.md). */
#ifndef HW_CONFIG_H
#define HW_CONFIG_H
#include <stdbool.h>
#include <stddef.h>
#include <regex.h>

struct hw_strlist {
	char **v;
	size_t n;
};

struct hw_container_pattern {
	char *src;
	regex_t re;             /* group 1: herd, group 2 (optional): member id */
	unsigned version_group; /* group holding the version (image tag, release); 0 = none */
};

/* container_meta: where the container runtimes keep their metadata, and what of it to copy
 * (agent/ctrmeta.c). NULL paths take the runtimes' defaults; "" turns a runtime off. */
#define HW_CTR_LABELS_MAX 16
struct hw_ctrmeta_config {
	bool off;                 /* container_meta.enabled: false */
	char *containerd_state;   /* the v2 task state directory (namespaces below it) */
	char *containerd_address; /* containerd's socket, for ctr */
	char *ctr;                /* the ctr program; "" = annotations of config.json only */
	char *docker_root;        /* Docker's containers directory */
	char *crio_root;          /* CRI-O's overlay-containers directory */
	struct hw_strlist labels; /* labels copied into container.pod.labels / container.labels */
	char *herd_label; /* container.herd from this label when no containers rule matched */
};

struct hw_probe_setting {
	char *name; /* probe name ("process.exec") or family ("process") */
	bool enabled;
};

/* A custom probe as declared (config or control socket); checked and resolved in custom.c.
 * A probe whose entry is malformed keeps its error here: it is reported, the rest applies. */
#define HW_CUSTOM_MAX_CAPTURE 8
#define HW_CUSTOM_MAX_FILTER 4
enum hw_custom_hook { HW_CUSTOM_TP, HW_CUSTOM_UPROBE, HW_CUSTOM_URETPROBE };
struct hw_custom_capture {
	char *name;   /* tracepoint field name, or the value's name for uprobes */
	int arg;      /* uprobes: argument 1..6; 0 = none */
	bool ret;     /* uretprobes: the return value */
	char *type;   /* uprobes: int, uint, string, bytes */
	unsigned max; /* strings and bytes: bound (0 = not given) */
};
struct hw_custom_filter {
	char *field;
	char *op;    /* eq ne lt le gt ge prefix */
	char *value; /* as written; parsed against the field's kind */
};
struct hw_custom_def {
	char *name;
	enum hw_custom_hook hook;
	char *target; /* "category:name" or "binary:symbol" / "binary:0xoffset" */
	struct hw_custom_capture cap[HW_CUSTOM_MAX_CAPTURE];
	size_t ncap;
	struct hw_custom_filter flt[HW_CUSTOM_MAX_FILTER];
	size_t nflt;
	char *cgroup; /* scope: a cgroup v2 path (and its descendants); NULL = any */
	unsigned pid; /* scope: one process (tgid); 0 = any */
	char *error;  /* malformed entry: why */
	size_t line;
};

/* net.<kind> filters (kinds: connect, accept, listen, bind, dns; order of enum hw_net_kind) */
#define HW_NET_NKINDS 5
#define HW_NET_NPORTS 16
struct hw_net_kind_config {
	bool ignore_loopback;
	unsigned nports;
	unsigned short ports[HW_NET_NPORTS];
	struct hw_strlist cidrs; /* validated "addr/len" strings */
	unsigned fold_window_s;  /* connect and accept; 0 = off */
};

/* files.mode: how file.open sees the watched files (agent/file_fan_config.c, agent/file_fan.c) */
enum hw_file_mode {
	HW_FILE_MODE_AUTO,  /* watch where the kernel has no BPF-LSM, exact elsewhere */
	HW_FILE_MODE_WATCH, /* fanotify marks on the watched files only */
	HW_FILE_MODE_EXACT, /* the syscall exit tracepoints, every open on the host */
};
const char *file_mode_name(unsigned mode);

/* files.watch / files.add entry (agent/file_watch.c) */
struct hw_file_rule {
	char *pattern; /* "/abs/prefix", "/dir/", "STAR/NAME", "STAR/DIR/", "/proc/STAR/NAME" */
	unsigned ops;  /* HW_FOP_* */
};

/* outputs.syslog and outputs.webhook (agent/config_outputs.c, agent/sink_relay.c) */
#define HW_OUTPUT_MAX_HEADERS 8
struct hw_output_config {
	char *address; /* syslog: unix:PATH, udp:HOST:PORT, tcp:HOST:PORT; webhook: the URL */
	char *ca;      /* webhook over https: CA file (NULL: the system's) */
	char *headers[HW_OUTPUT_MAX_HEADERS]; /* webhook: "Name: value" */
	unsigned nheaders;
	unsigned facility;    /* syslog */
	unsigned max_message; /* syslog: bytes of one message */
	unsigned batch_max;   /* webhook: events per POST */
	unsigned flush_ms;    /* webhook: wait this long for a batch to fill */
	unsigned buffer_kb;   /* the queue's bound */
	unsigned timeout_ms;  /* connect, write, answer */
};

struct hw_config {
	char *herd;
	char *version; /* host's version (release, AMI): with the herd, its cohort */
	char *host_name;
	char *output;
	unsigned heartbeat_s;
	unsigned args_max;
	unsigned ringbuf_mb;
	bool exec_enoent;       /* report execs failing with ENOENT/ENOTDIR */
	unsigned priv_window_s; /* privilege.summary_interval: capability/W+X summaries */
	struct hw_probe_setting *probes;
	size_t n_probes;
	struct hw_strlist ignore_exe;
	struct hw_strlist ignore_cgroup;
	struct hw_container_pattern *containers;
	size_t n_containers;
	struct hw_custom_def *custom;
	size_t n_custom;
	char *control_socket;
	struct {
		unsigned collector_allow;     /* HW_CTL_* the collector may request */
		unsigned collector_max_for_s; /* bound of --for on collector requests */
	} control;
	struct hw_net_kind_config net[HW_NET_NKINDS];
	bool net_fold_repeats; /* net.fold_repeats: false = no folding, whatever the windows */
	struct {
		bool syscall;            /* net.mode: syscall (every net probe on syscall hooks) */
		char *cgroup2_path;      /* net.cgroup2_path: where cgroup v2 is; NULL = found */
	} net_mode;                      /* agent/net_config.c; read at start only */
	struct hw_file_rule *file_rules; /* files.watch (replaces the defaults) */
	size_t n_file_rules;
	bool file_rules_set;
	struct hw_file_rule *file_add; /* files.add (appended to the defaults) */
	size_t n_file_add;
	unsigned file_mode; /* files.mode: HW_FILE_MODE_* (agent/file_fan_config.c) */
	struct {
		char *address, *ca, *cert, *key, *spool_dir;
		unsigned spool_max_mb;
	} collector;
	struct {
		char *textfile; /* metrics.textfile: a *.prom file for node_exporter; NULL = off */
		unsigned interval_s; /* metrics.interval: seconds between rewrites of it */
	} metrics;
	struct hw_ctrmeta_config ctrmeta;
	struct {
		bool at_start;           /* inventory.at_start: a run when the agent starts */
		unsigned interval_h;     /* inventory.interval_hours: 0 = no periodic runs */
		unsigned time_budget_ms; /* inventory.time_budget_ms: wall-clock time of a run */
		unsigned max_files;      /* inventory.max_files: entries examined by a run */
		unsigned max_read_mb;    /* inventory.max_read_mb: bytes read by a run */
		unsigned max_items;      /* inventory.max_items: items reported by a run */
	} inventory;
	struct {
		bool enabled;           /* exec_hash.enabled: exec.sha256 (agent/binhash.c) */
		unsigned max_file_kb;   /* larger files are not hashed (too_large) */
		unsigned budget_kb_s;   /* bytes hashed per second, in KiB */
		unsigned cache_entries; /* files whose hash (or skip reason) is remembered */
	} exec_hash;
	struct {
		struct hw_output_config syslog, webhook; /* address NULL: off */
	} outputs;
	struct {
		bool enabled;             /* tty.enabled: the TTY capture (agent/tty.c) */
		bool sessions_only;       /* tty.scope: sessions (named by ctl tty) */
		unsigned bytes_per_event; /* data bytes copied per read or write, <= 256 */
		unsigned budget_bytes_s;  /* data bytes per session and second; 0 = no bound */
	} tty;
};

/* Control commands, as bits of control.collector_allow. */
enum {
	HW_CTL_STATUS = 1,
	HW_CTL_ENABLE = 2,
	HW_CTL_DISABLE = 4,
	HW_CTL_RELOAD = 8,
	HW_CTL_SET = 16,
	HW_CTL_ADD_PROBE = 32,
	HW_CTL_REMOVE_PROBE = 64,
	HW_CTL_KILL = 128, /* never in the default: a response must be allowed explicitly */
	HW_CTL_INVENTORY = 256,
	HW_CTL_QUARANTINE = 512, /* never in the default either */
	HW_CTL_RELEASE = 1024,
	HW_CTL_TTY = 2048, /* never in the default either */
};
#define HW_CTL_COLLECTOR_DEFAULT (HW_CTL_ENABLE | HW_CTL_ADD_PROBE)
#define HW_CTL_MAX_FOR_DEFAULT 3600
/* The bit of a control command by name, 0 if unknown. */
unsigned config_ctl_command(const char *name);

void config_defaults(struct hw_config *c);
/* Parse a YAML file into c (defaults first). On error returns -1 and writes
 * "FILE:LINE: reason" into err. */
int config_load(struct hw_config *c, const char *path, char *err, size_t errlen);
/* Same, from a string (tests). name is used in messages. */
int config_parse(struct hw_config *c, const char *name, const char *text, size_t len, char *err,
		 size_t errlen);
/* Parse text over an existing config (no defaults): settings it names replace or extend the
 * ones already there. Used for reload overlays ("ctl set"). */
int config_parse_into(struct hw_config *c, const char *name, const char *text, size_t len,
		      char *err, size_t errlen);
/* Parse one custom probe from YAML text (a mapping), for "ctl add-probe". */
int config_parse_custom(struct hw_custom_def *d, const char *text, size_t len, char *err,
			size_t errlen);
void custom_def_free(struct hw_custom_def *d);
/* Read a whole file (at most 1 MiB) into a malloc'd NUL-terminated buffer. */
char *config_read_file(const char *path, size_t *len, char *err, size_t errlen);
void ctrmeta_config_free(struct hw_ctrmeta_config *m);
bool ctrmeta_config_same(const struct hw_ctrmeta_config *x, const struct hw_ctrmeta_config *y);
void config_free(struct hw_config *c);
/* Is the probe enabled by the config? Later settings win; an exact name beats a family. */
bool config_probe_enabled(const struct hw_config *c, const char *probe, bool dflt);

/* Callback the agent registers so that probe names in the config are checked against the
 * probe table: returns true if name is a probe or a family. */
extern bool (*config_probe_name_ok)(const char *name);
/* agent/file_watch.c: is a files.watch pattern one the kernel matcher can handle? */
bool file_pattern_ok(const char *pattern);

#endif
