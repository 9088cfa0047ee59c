/* Unit tests for config parsing: every setting, and each kind of bad input rejected with the
 * file, the line and the reason. */
#include "agent/agent.h"
#include "agent/config.h"
#include "unit.h"
#include <stdlib.h>

static bool names_ok(const char *n)
{
	return !strcmp(n, "process") || !strcmp(n, "process.exec") || !strcmp(n, "process.exit");
}

static int parse(struct hw_config *c, const char *text, char *err)
{
	return config_parse(c, "test.yaml", text, strlen(text), err, 512);
}

static void expect_error(const char *name, const char *text, const char *want)
{
	struct hw_config c;
	char err[512] = "";
	int rc = parse(&c, text, err);
	if (rc == 0) {
		printf("not ok - %s: accepted\n", name);
		unit_failed = 1;
		config_free(&c);
		return;
	}
	if (!strstr(err, want)) {
		printf("not ok - %s: message '%s' lacks '%s'\n", name, err, want);
		unit_failed = 1;
		return;
	}
	printf("ok - %s\n", name);
}

int main(void)
{
	struct hw_config c;
	char err[512];
	config_probe_name_ok = names_ok;

	CHECK("empty config gives defaults",
	      parse(&c, "", err) == 0 && c.heartbeat_s == 30 && c.args_max == 4096);
	config_free(&c);

	const char *full =
		"herd: web\n"
		"version: 1.4.2\n"
		"host_name: web-7\n"
		"output: /tmp/x.json\n"
		"heartbeat_interval: 5\n"
		"args_max_bytes: 8000\n"
		"ringbuf_mb: 32\n"
		"probes:\n  process: false\n  process.exec: true\n"
		"filters:\n  ignore_exe: [/usr/bin/noisy, /opt/agent/]\n"
		"  ignore_cgroup:\n    - /system.slice/backup.service\n"
		"containers:\n  - cgroup: '^/hw/([^/]+)/([^/]+)'\n"
		"  - cgroup: '^/k8s/([a-z]+)-([0-9a-f]+)@(v[0-9.]+)'\n    version_group: 3\n"
		"collector:\n  address: 127.0.0.1:7443\n  ca: ca.pem\n  cert: a.pem\n"
		"  key: a.key\n  spool_max_mb: 64\n";
	int rc = parse(&c, full, err);
	CHECK("full config parses", rc == 0);
	if (rc) {
		printf("# %s\n", err);
		UNIT_DONE();
	}
	CHECK_STR("herd", c.herd, "web");
	CHECK_STR("version", c.version, "1.4.2");
	CHECK_STR("host_name", c.host_name, "web-7");
	CHECK_STR("output", c.output, "/tmp/x.json");
	CHECK("numbers", c.heartbeat_s == 5 && c.args_max == 8000 && c.ringbuf_mb == 32);
	CHECK("exact probe name beats family", config_probe_enabled(&c, "process.exec", true));
	CHECK("family disables others", !config_probe_enabled(&c, "process.exit", true));
	CHECK("unmentioned probe keeps default", config_probe_enabled(&c, "net.connect", true));
	CHECK("ignore_exe list", c.ignore_exe.n == 2 && !strcmp(c.ignore_exe.v[1], "/opt/agent/"));
	CHECK("ignore_cgroup list", c.ignore_cgroup.n == 1);
	CHECK("container patterns", c.n_containers == 2);
	CHECK("container rule without version group",
	      c.n_containers == 2 && c.containers[0].version_group == 0);
	CHECK("container rule with version group",
	      c.n_containers == 2 && c.containers[1].version_group == 3);
	CHECK("collector", c.collector.address && c.collector.spool_max_mb == 64);
	char herd[128], id[128], ver[128];
	CHECK("container match: version from its group",
	      container_match(&c, "/k8s/web-3fa9@v1.4.2/x", herd, sizeof(herd), id, sizeof(id), ver,
			      sizeof(ver)) &&
		      !strcmp(herd, "web") && !strcmp(id, "3fa9") && !strcmp(ver, "v1.4.2"));
	CHECK("container match: no version group, no version",
	      container_match(&c, "/hw/api/m2", herd, sizeof(herd), id, sizeof(id), ver,
			      sizeof(ver)) &&
		      !strcmp(herd, "api") && !strcmp(id, "m2") && ver[0] == 0);
	config_free(&c);
	CHECK("version_group 2: member id from the last path component",
	      parse(&c,
		    "containers:\n  - cgroup: '^/svc/([a-z]+)@([^/]+)/'\n    version_group: 2\n",
		    err) == 0 &&
		      container_match(&c, "/svc/db@2026.11/db-0", herd, sizeof(herd), id,
				      sizeof(id), ver, sizeof(ver)) &&
		      !strcmp(herd, "db") && !strcmp(ver, "2026.11") && !strcmp(id, "db-0"));
	config_free(&c);
	CHECK("optional version group that did not match: no version",
	      parse(&c,
		    "containers:\n  - cgroup: '^/o/([a-z]+)/(m[0-9]+)(@(v[0-9]+))?$'\n    "
		    "version_group: 4\n",
		    err) == 0 &&
		      container_match(&c, "/o/web/m1", herd, sizeof(herd), id, sizeof(id), ver,
				      sizeof(ver)) &&
		      !strcmp(id, "m1") && ver[0] == 0 &&
		      container_match(&c, "/o/web/m1@v7", herd, sizeof(herd), id, sizeof(id), ver,
				      sizeof(ver)) &&
		      !strcmp(ver, "v7"));
	config_free(&c);

	/* outputs.syslog, outputs.webhook (docs/outputs.md) */
	const char *outs = "outputs:\n"
			   "  syslog:\n    address: tcp:127.0.0.1:514\n    facility: local3\n"
			   "    max_message: 4096\n"
			   "  webhook:\n    url: https://[::1]:8443/hook\n    ca: /etc/ca.pem\n"
			   "    headers: {Authorization: \"Bearer x\", X-Fleet: web}\n"
			   "    batch_max: 50\n    flush_ms: 0\n    buffer_kb: 128\n";
	rc = parse(&c, outs, err);
	CHECK("outputs parse", rc == 0);
	CHECK("outputs values",
	      rc == 0 && !strcmp(c.outputs.syslog.address, "tcp:127.0.0.1:514") &&
		      c.outputs.syslog.facility == 19 && c.outputs.syslog.max_message == 4096 &&
		      c.outputs.syslog.buffer_kb == 4096 && c.outputs.webhook.nheaders == 2 &&
		      !strcmp(c.outputs.webhook.headers[0], "Authorization: Bearer x") &&
		      c.outputs.webhook.batch_max == 50 && c.outputs.webhook.flush_ms == 0 &&
		      c.outputs.webhook.buffer_kb == 128);
	config_free(&c);
	CHECK("outputs: empty address is off",
	      parse(&c, "outputs:\n  syslog:\n    address: ''\n", err) == 0 &&
		      !c.outputs.syslog.address);
	config_free(&c);
	expect_error("syslog address without port", "outputs:\n  syslog:\n    address: udp:h\n",
		     "'outputs.syslog.address': 'h' is not HOST:PORT");
	expect_error("syslog port out of range", "outputs:\n  syslog:\n    address: tcp:h:70000\n",
		     "is not HOST:PORT");
	expect_error("syslog relative socket", "outputs:\n  syslog:\n    address: unix:dev/log\n",
		     "unix:/ABSOLUTE/PATH");
	expect_error("syslog UDP message too long",
		     "outputs:\n  syslog:\n    address: udp:h:514\n    max_message: 70000\n",
		     "at most 65507");
	expect_error("unknown facility", "outputs:\n  syslog:\n    facility: local8\n",
		     "must be a syslog facility");
	expect_error("unknown syslog key", "outputs:\n  syslog:\n    port: 514\n",
		     "unknown key 'outputs.syslog.port'");
	expect_error("unknown output", "outputs:\n  kafka: {}\n", "unknown key 'outputs.kafka'");
	expect_error("webhook scheme", "outputs:\n  webhook:\n    url: ws://h/\n",
		     "not an http:// or https:// URL");
	expect_error("webhook user in URL", "outputs:\n  webhook:\n    url: http://u:p@h/\n",
		     "no user:password@");
	expect_error("webhook header reserved",
		     "outputs:\n  webhook:\n    url: http://h/\n    headers: {Host: x}\n",
		     "'Host' is set by the agent");
	expect_error("webhook header control character",
		     "outputs:\n  webhook:\n    url: http://h/\n    headers: {X-A: \"a\\rb\"}\n",
		     "is not 'Name: value'");
	expect_error("webhook headers not a mapping",
		     "outputs:\n  webhook:\n    url: http://h/\n    headers: [a]\n",
		     "must be a mapping");
	expect_error("webhook batch_max 0",
		     "outputs:\n  webhook:\n    url: http://h/\n    batch_max: 0\n",
		     "between 1 and 10000");
	expect_error("webhook ca with http",
		     "outputs:\n  webhook:\n    url: http://h/\n    ca: x\n",
		     "is for an https:// URL");

	expect_error("unknown key names it and the line", "herd: a\nbogus: 1\n",
		     "test.yaml:2: unknown key 'bogus'");
	expect_error("YAML syntax error has a line", "herd: [a\nx: 1\n", "test.yaml:");
	expect_error("number out of range", "heartbeat_interval: 0\n", "between 1 and 86400");
	expect_error("not a number", "heartbeat_interval: soon\n", "whole number");
	expect_error("negative number", "args_max_bytes: -5\n", "whole number");
	expect_error("unknown probe", "probes:\n  process.exce: false\n",
		     "test.yaml:2: unknown probe 'process.exce'");
	expect_error("probe value not bool", "probes:\n  process: maybe\n", "true or false");
	expect_error("list expected", "filters:\n  ignore_exe: /bin/x\n", "list of strings");
	expect_error("cgroup must be absolute", "filters:\n  ignore_cgroup: [foo]\n",
		     "starting with '/'");
	expect_error("unknown filter key", "filters:\n  ignore_pid: [1]\n",
		     "unknown key 'filters.ignore_pid'");
	expect_error("bad regex", "containers:\n  - cgroup: '(['\n", "bad cgroup pattern");
	expect_error("regex without group", "containers:\n  - cgroup: '^/hw/'\n", "needs a group");
	expect_error("version as a list", "version: [1, 2]\n",
		     "test.yaml:1: 'version' must be a string");
	expect_error("version as a mapping", "herd: a\nversion:\n  tag: 1\n",
		     "test.yaml:3: 'version' must be a string");
	expect_error("version null", "version: ~\n", "'version' must be a string");
	expect_error("version empty", "version:\n", "'version' must be a string");
	expect_error("version too long",
		     "version: "
		     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
		     "'version' must be 1 to 127 characters");
	expect_error("version control character", "version: \"1.0\\n\"\n",
		     "'version' must not contain control characters");
	expect_error("version_group not a number",
		     "containers:\n  - cgroup: '^/a/([a-z]+)/(v[0-9]+)'\n    version_group: two\n",
		     "test.yaml:3: 'containers[].version_group' must be a whole number");
	expect_error("version_group as a list",
		     "containers:\n  - cgroup: '^/a/([a-z]+)'\n    version_group: [2]\n",
		     "'containers[].version_group' must be a number");
	expect_error("version_group 1 is the herd",
		     "containers:\n  - cgroup: '^/a/([a-z]+)/(v[0-9]+)'\n    version_group: 1\n",
		     "'containers[].version_group' must be between 2 and 9");
	expect_error("version_group beyond the pattern's groups",
		     "containers:\n  - version_group: 3\n    cgroup: '^/a/([a-z]+)/(m[0-9]+)'\n",
		     "test.yaml:2: 'containers[].version_group' is 3 but cgroup pattern "
		     "'^/a/([a-z]+)/(m[0-9]+)' has 2 groups");
	expect_error("unknown container key",
		     "containers:\n  - cgroup: '^/a/([a-z]+)'\n    version: 2\n",
		     "unknown key 'containers[].version' (known: cgroup, version_group)");
	expect_error("collector incomplete", "collector:\n  address: x:1\n", "mutual TLS");
	expect_error("top level not a map", "- a\n- b\n", "top level must be a mapping");
	expect_error("ringbuf not power of two", "ringbuf_mb: 3\n", "power of two");

	/* metrics: a node_exporter textfile */
	CHECK("metrics off by default, interval 15 s",
	      parse(&c, "", err) == 0 && !c.metrics.textfile && c.metrics.interval_s == 15);
	config_free(&c);
	CHECK("metrics section parses",
	      parse(&c,
		    "metrics: {textfile: /var/lib/prometheus/node-exporter/herdwatch.prom, "
		    "interval: 5}\n",
		    err) == 0 &&
		      c.metrics.textfile &&
		      !strcmp(c.metrics.textfile,
			      "/var/lib/prometheus/node-exporter/herdwatch.prom") &&
		      c.metrics.interval_s == 5);
	config_free(&c);
	CHECK("an empty textfile turns metrics off",
	      parse(&c, "metrics: {textfile: \"\"}\n", err) == 0 && !c.metrics.textfile);
	config_free(&c);
	expect_error(
		"metrics textfile relative", "metrics: {textfile: herdwatch.prom}\n",
		"test.yaml:1: 'metrics.textfile' must be an absolute path of a file named *.prom");
	expect_error("metrics textfile not *.prom", "metrics: {textfile: /tmp/herdwatch.txt}\n",
		     "not '/tmp/herdwatch.txt'");
	expect_error("metrics textfile a directory", "metrics: {textfile: /tmp/.prom}\n", "*.prom");
	expect_error("metrics interval bounded", "metrics: {interval: 0}\n", "interval");
	expect_error("unknown metrics key", "metrics: {port: 9100}\n",
		     "unknown key 'metrics.port' (known: textfile, interval)");

	/* container_meta: container identity */
	CHECK("container identity on by default, the runtimes' own paths",
	      parse(&c, "", err) == 0 && !c.ctrmeta.off && !c.ctrmeta.containerd_state &&
		      !c.ctrmeta.labels.n && !c.ctrmeta.herd_label);
	config_free(&c);
	CHECK("container_meta section parses",
	      parse(&c,
		    "container_meta:\n  labels: [app, app.kubernetes.io/name]\n  herd_label: app\n"
		    "  containerd_state: /run/c/t\n  ctr: \"\"\n  docker_root: \"\"\n",
		    err) == 0 &&
		      c.ctrmeta.labels.n == 2 &&
		      !strcmp(c.ctrmeta.labels.v[1], "app.kubernetes.io/name") &&
		      !strcmp(c.ctrmeta.herd_label, "app") &&
		      !strcmp(c.ctrmeta.containerd_state, "/run/c/t") && !c.ctrmeta.ctr[0] &&
		      !c.ctrmeta.docker_root[0]);
	config_free(&c);
	CHECK("container_meta enabled: false",
	      parse(&c, "container_meta: {enabled: false}\n", err) == 0 && c.ctrmeta.off);
	config_free(&c);
	expect_error(
		"container_meta relative path", "container_meta: {crio_root: var/lib}\n",
		"test.yaml:1: 'container_meta.crio_root' must be an absolute path or \"\", not "
		"'var/lib'");
	expect_error("container_meta label name", "container_meta: {labels: [\"a b\"]}\n",
		     "'container_meta.labels': 'a b' is not a label name");
	expect_error("container_meta at most 15 labels",
		     "container_meta: {labels: [a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p]}\n",
		     "at most 15 labels, not 16");
	expect_error("unknown container_meta key", "container_meta: {podman: /x}\n",
		     "unknown key 'container_meta.podman'");
	/* files.mode: how file.open sees watched files (agent/file_fan_config.c) */
	CHECK("files.mode auto by default", parse(&c, "", err) == 0 &&
						    c.file_mode == HW_FILE_MODE_AUTO &&
						    !strcmp(file_mode_name(c.file_mode), "auto"));
	config_free(&c);
	CHECK("files.mode watch",
	      parse(&c, "files: {mode: watch}\n", err) == 0 && c.file_mode == HW_FILE_MODE_WATCH);
	config_free(&c);
	CHECK("files.mode exact beside add",
	      parse(&c, "files: {mode: exact, add: [/srv/x/]}\n", err) == 0 &&
		      c.file_mode == HW_FILE_MODE_EXACT && c.n_file_add == 1);
	config_free(&c);
	expect_error("files.mode unknown word", "files: {mode: fast}\n",
		     "unknown 'files.mode' 'fast' (known: auto, watch, exact)");
	expect_error("files.mode not a list", "files: {mode: [watch]}\n",
		     "'files.mode' must be one of auto, watch, exact");
	expect_error("files unknown key names mode", "files: {modes: watch}\n",
		     "(known: watch, add, mode)");
	/* inventory: when, and the budget of a run */
	CHECK("inventory at start and every 6 h by default, within a budget",
	      parse(&c, "", err) == 0 && c.inventory.at_start && c.inventory.interval_h == 6 &&
		      c.inventory.time_budget_ms == 60000 && c.inventory.max_files == 1000000 &&
		      c.inventory.max_read_mb == 64 && c.inventory.max_items == 20000);
	config_free(&c);
	CHECK("inventory section parses",
	      parse(&c,
		    "inventory: {at_start: false, interval_hours: 0, time_budget_ms: 1, "
		    "max_files: 30, max_read_mb: 2, max_items: 5}\n",
		    err) == 0 &&
		      !c.inventory.at_start && c.inventory.interval_h == 0 &&
		      c.inventory.time_budget_ms == 1 && c.inventory.max_files == 30 &&
		      c.inventory.max_read_mb == 2 && c.inventory.max_items == 5);
	config_free(&c);
	expect_error("inventory interval bounded", "inventory: {interval_hours: -1}\n",
		     "'interval_hours' must be a whole number");
	expect_error("inventory budget not 0", "inventory: {time_budget_ms: 0}\n",
		     "'time_budget_ms' must be between 1 and 3600000");
	expect_error("unknown inventory key", "inventory: {dirs: [/usr]}\n",
		     "unknown key 'inventory.dirs' (known: at_start, interval_hours");
	CHECK("inventory is a control command",
	      config_ctl_command("inventory") == HW_CTL_INVENTORY);
	/* exec_hash: exec.sha256 and its bounds */
	CHECK("exec_hash on by default: 64 MiB files, 32 MiB/s, 4096 entries",
	      parse(&c, "", err) == 0 && c.exec_hash.enabled && c.exec_hash.max_file_kb == 65536 &&
		      c.exec_hash.budget_kb_s == 32768 && c.exec_hash.cache_entries == 4096);
	CHECK("exec_hash section parses",
	      parse(&c,
		    "exec_hash: {enabled: false, max_file_kb: 16, budget_kb_per_s: 100, "
		    "cache_entries: 32}\n",
		    err) == 0 &&
		      !c.exec_hash.enabled && c.exec_hash.max_file_kb == 16 &&
		      c.exec_hash.budget_kb_s == 100 && c.exec_hash.cache_entries == 32);
	expect_error("exec_hash cache bounded", "exec_hash: {cache_entries: 8}\n",
		     "test.yaml:1: 'cache_entries' must be between 16 and 1048576, not 8");
	expect_error("exec_hash budget a number", "exec_hash: {budget_kb_per_s: fast}\n",
		     "'budget_kb_per_s' must be a whole number, not 'fast'");
	expect_error("unknown exec_hash key", "exec_hash: {max_file_mb: 1}\n",
		     "unknown key 'exec_hash.max_file_mb' (known: enabled, max_file_kb, "
		     "budget_kb_per_s, cache_entries)");
	/* tty: the TTY capture, off by default */
	CHECK("tty off by default: host scope, 256 bytes per event, 8192 per session and second",
	      parse(&c, "", err) == 0 && !c.tty.enabled && !c.tty.sessions_only &&
		      c.tty.bytes_per_event == 256 && c.tty.budget_bytes_s == 8192);
	CHECK("tty section parses",
	      parse(&c,
		    "tty: {enabled: true, scope: sessions, bytes_per_event: 64, "
		    "budget_bytes_per_s: 0}\n",
		    err) == 0 &&
		      c.tty.enabled && c.tty.sessions_only && c.tty.bytes_per_event == 64 &&
		      c.tty.budget_bytes_s == 0);
	expect_error("tty scope host or sessions", "tty: {scope: everywhere}\n",
		     "test.yaml:1: 'tty.scope' must be host or sessions, not 'everywhere'");
	expect_error("tty bytes per event at most 256", "tty: {bytes_per_event: 512}\n",
		     "'bytes_per_event' must be between 1 and 256, not 512");
	expect_error("unknown tty key", "tty: {record_passwords: true}\n",
		     "unknown key 'tty.record_passwords' (known: enabled, scope, bytes_per_event, "
		     "budget_bytes_per_s)");
	CHECK("tty is a control command, not in the collector's default",
	      config_ctl_command("tty") == HW_CTL_TTY && !(HW_CTL_COLLECTOR_DEFAULT & HW_CTL_TTY));
	CHECK("collector_allow may name tty",
	      parse(&c, "control: {collector_allow: [tty]}\n", err) == 0 &&
		      c.control.collector_allow == HW_CTL_TTY);
	config_free(&c);

	/* control: the collector allow-list */
	CHECK("collector may only enable and add probes by default, for an hour at most",
	      parse(&c, "", err) == 0 &&
		      c.control.collector_allow == (HW_CTL_ENABLE | HW_CTL_ADD_PROBE) &&
		      c.control.collector_max_for_s == 3600);
	config_free(&c);
	CHECK("control section parses",
	      parse(&c,
		    "control:\n  socket: /run/x.sock\n  collector_allow: [status, enable, "
		    "remove-probe]\n  collector_max_for: 600\n",
		    err) == 0 &&
		      c.control.collector_allow ==
			      (HW_CTL_STATUS | HW_CTL_ENABLE | HW_CTL_REMOVE_PROBE) &&
		      c.control.collector_max_for_s == 600 &&
		      !strcmp(c.control_socket, "/run/x.sock"));
	config_free(&c);
	CHECK("responses are allowed only by name (kill, quarantine, release)",
	      parse(&c, "control: {collector_allow: [quarantine, release, kill]}\n", err) == 0 &&
		      c.control.collector_allow ==
			      (HW_CTL_QUARANTINE | HW_CTL_RELEASE | HW_CTL_KILL) &&
		      !(HW_CTL_COLLECTOR_DEFAULT & (HW_CTL_QUARANTINE | HW_CTL_RELEASE)));
	config_free(&c);
	CHECK("an empty allow-list refuses everything",
	      parse(&c, "control: {collector_allow: []}\n", err) == 0 &&
		      c.control.collector_allow == 0);
	config_free(&c);
	expect_error("unknown collector command", "control:\n  collector_allow: [enable, rm]\n",
		     "unknown command 'rm'");
	expect_error("unknown control key", "control:\n  allow: [enable]\n",
		     "unknown key 'control.allow'");
	expect_error("collector_max_for bounded", "control:\n  collector_max_for: 0\n",
		     "collector_max_for");
	/* a key given twice is refused with its file and line, at every mapping level */
	expect_error("duplicate top-level key", "herd: a\nheartbeat_interval: 5\nherd: b\n",
		     "test.yaml:3: duplicate key 'herd'");
	expect_error("duplicate key in a section", "collector:\n  address: a:1\n  address: b:2\n",
		     "test.yaml:3: duplicate key 'address'");
	expect_error("duplicate key in a list item",
		     "containers:\n  - cgroup: '^/a/([a-z]+)'\n    version_group: 2\n    cgroup: "
		     "'^/b'\n",
		     "test.yaml:4: duplicate key 'cgroup'");
	expect_error("duplicate key in a flow mapping", "probes: {process: true, process: false}\n",
		     "test.yaml:1: duplicate key 'process'");
	CHECK("same key in different mappings is fine",
	      parse(&c, "containers:\n  - cgroup: '^/a/([a-z]+)'\n  - cgroup: '^/b/([a-z]+)'\n",
		    err) == 0);
	config_free(&c);
	{
		/* a reload (config_parse_into a copy) refuses it too, and the caller keeps its own */
		struct hw_config nc;
		const char *dup = "herd: a\nherd: b\n";
		config_defaults(&nc);
		CHECK("reload: duplicate key refused",
		      config_parse_into(&nc, "r.yaml", dup, strlen(dup), err, 512) < 0 &&
			      strstr(err, "r.yaml:2: duplicate key 'herd'"));
		config_free(&nc);
	}
	/* every section's keys go through one loop (parse_section): a key that is no string, and
	 * an unknown key with the section's path and its known keys, at each level */
	expect_error("section key not a string", "metrics:\n  [a]: 1\n",
		     "test.yaml:2: keys must be strings");
	expect_error("list entry key not a string",
		     "containers:\n  - {cgroup: '^/a/(b)', [x]: 1}\n", "keys must be strings");
	expect_error("unknown top-level key lists the known ones", "herdd: a\n",
		     "test.yaml:1: unknown key 'herdd' (known: herd, version, host_name, output, "
		     "heartbeat_interval, args_max_bytes, ringbuf_mb, exec_failed_enoent, probes, "
		     "filters, containers, collector, custom_probes, control_socket, control, "
		     "privilege, net, files, metrics, container_meta, inventory, exec_hash, "
		     "outputs, tty)");
	expect_error("net kind key: fold_window_s only for connect and accept",
		     "net:\n  listen:\n    fold_window_s: 5\n",
		     "test.yaml:3: unknown key 'net.listen.fold_window_s' (known: ignore_loopback, "
		     "ignore_ports, ignore_cidrs)");
	CHECK("net.connect.fold_window_s taken",
	      parse(&c, "net:\n  connect:\n    fold_window_s: 7\n", err) == 0 &&
		      c.net[0].fold_window_s == 7);
	config_free(&c);
	expect_error("net kind must be a mapping", "net:\n  bind: [1]\n",
		     "'net.bind' must be a mapping");
	expect_error("unknown net kind", "net:\n  sendto: {}\n",
		     "unknown key 'net.sendto' (known: connect, accept, listen, bind, dns, mode, "
		     "cgroup2_path, fold_repeats)");
	expect_error("files rule entry key", "files:\n  watch:\n    - {path: /etc/x, op: [read]}\n",
		     "test.yaml:3: unknown key 'files.watch[].op' (known: path, ops)");
	expect_error("outputs.webhook key", "outputs:\n  webhook:\n    uri: http://a/\n",
		     "unknown key 'outputs.webhook.uri' (known: url, ca, headers, batch_max, "
		     "flush_ms, buffer_kb, timeout_ms)");
	expect_error("collector still needs its address after its keys",
		     "collector:\n  ca: /a\n  cert: /b\n  key: /c\n",
		     "'collector' needs an 'address'");
	/* net.mode and net.cgroup2_path (agent/net_config.c) */
	rc = parse(&c, "net: {mode: socket, cgroup2_path: /x/cg2, connect: {fold_window_s: 5}}\n",
		   err);
	CHECK("net.mode socket and cgroup2_path parse",
	      rc == 0 && !c.net_mode.syscall && !strcmp(c.net_mode.cgroup2_path, "/x/cg2") &&
		      c.net[0].fold_window_s == 5);
	if (rc == 0)
		config_free(&c);
	rc = parse(&c, "net: {fold_repeats: false, accept: {fold_window_s: 3}}\n", err);
	CHECK("net.fold_repeats and net.accept.fold_window_s parse",
	      rc == 0 && !c.net_fold_repeats && c.net[1].fold_window_s == 3 &&
		      c.net[0].fold_window_s == 10);
	if (rc == 0)
		config_free(&c);
	expect_error("net.fold_repeats must be a boolean", "net: {fold_repeats: 3}\n",
		     "fold_repeats");
	rc = parse(&c, "herd: a\n", err);
	CHECK("folding on by default: connect and accept windows of 10 s",
	      rc == 0 && c.net_fold_repeats && c.net[0].fold_window_s == 10 &&
		      c.net[1].fold_window_s == 10);
	if (rc == 0)
		config_free(&c);
	rc = parse(&c, "herd: a\n", err);
	CHECK("net.mode socket by default",
	      rc == 0 && !c.net_mode.syscall && !c.net_mode.cgroup2_path);
	if (rc == 0)
		config_free(&c);
	expect_error("net.mode: an unknown mode", "net:\n  mode: cgroup\n",
		     "test.yaml:2: 'net.mode' must be socket or syscall, not 'cgroup'");
	expect_error("net.cgroup2_path: relative", "net: {cgroup2_path: sys/fs/cgroup}\n",
		     "'net.cgroup2_path' must be an absolute path, not 'sys/fs/cgroup'");
	expect_error("net: an unknown key lists mode", "net: {modes: socket}\n",
		     "known: connect, accept, listen, bind, dns, mode, cgroup2_path");
	char e2[512];
	CHECK("missing file names the file",
	      config_load(&c, "/nonexistent/hw.yaml", e2, sizeof(e2)) < 0 &&
		      strstr(e2, "/nonexistent/hw.yaml") && strstr(e2, "No such file"));
	UNIT_DONE();
}
