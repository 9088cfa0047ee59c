#!/usr/bin/env bash
# The agent's metrics (metrics.textfile, docs/metrics.md): a node_exporter textfile in the
# Prometheus text format, rewritten atomically every metrics.interval seconds. Checked with
# promtool, read by a real node_exporter's textfile collector and scraped from it by a real
# prometheus (Debian's packages). The values are the agent's own: execs of a known binary
# raise events_total{kind="process.exec"}, probe states follow the heartbeat's manifest and a
# `ctl disable`, the ring buffer's size is the configured one, the unreachable collector leaves
# batches in the spool, the process's RSS is its VmRSS.
. "$(dirname "$0")/../lib.sh"
need_root
for t in promtool prometheus prometheus-node-exporter; do
	command -v $t >/dev/null || { not_ok "tools" "$t missing (scripts/deps.sh installs it)"; exit 1; }
done
"$HW_ROOT/scripts/herdwatch-ca" init "$T/pki" >/dev/null 2>&1 &&
	"$HW_ROOT/scripts/herdwatch-ca" agent "$T/pki" metrics-test >/dev/null 2>&1 ||
	{ not_ok "pki" "herdwatch-ca failed"; exit 1; }
mkdir -p "$T/textfiles" "$T/prom"
PROM_FILE="$T/textfiles/herdwatch.prom"
cat >"$T/agent.yaml" <<YML
ringbuf_mb: 16
metrics: {textfile: $PROM_FILE, interval: 1}
collector: {address: "127.0.0.1:1", ca: $T/pki/ca.pem, cert: $T/pki/metrics-test.pem,
  key: $T/pki/metrics-test.key, spool_dir: $T/spool}
YML

# node_exporter (its textfile collector only) and prometheus scraping it, started first: they
# come up while the agent loads its programs
port=$((20000 + RANDOM % 10000))
NE=127.0.0.1:$port PROM=127.0.0.1:$((port + 1))
prometheus-node-exporter --collector.disable-defaults --collector.textfile \
	--collector.textfile.directory="$T/textfiles" --web.listen-address="$NE" >"$T/ne.log" 2>&1 &
NE_PID=$!
cat >"$T/prometheus.yml" <<YML
global: { scrape_interval: 1s, evaluation_interval: 1s }
scrape_configs:
  - job_name: node
    static_configs: [ { targets: ["$NE"] } ]
YML
prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/prom" \
	--web.listen-address="$PROM" >"$T/prometheus.log" 2>&1 &
PROM_PID=$!
stop_servers() { # their state is thrown away: no need to wait for a clean shutdown
	kill -KILL "$NE_PID" "$PROM_PID" 2>/dev/null
	wait "$NE_PID" "$PROM_PID" 2>/dev/null
}
trap 'stop_servers; hw_cleanup' EXIT

agent_start "$T/agent.yaml" || { not_ok "agent starts" "$(cat "$T/agent.err")"; exit 1; }
# metric NAME{LABELS} (as written in the file): its value
metric() { awk -v n="$1" '$1 == n { print $2 }' "$PROM_FILE" 2>/dev/null; }
poll_first 5 metric herdwatch_agent_build_info >/dev/null
expect "textfile written" test -s "$PROM_FILE"
cp "$PROM_FILE" "$T/first.prom"
first_mtime=$(command stat -c %.3Y "$PROM_FILE")
ts() { [ -n "${HW_TRACE:-}" ] && echo "# $SECONDS $*"; true; }
ts agent started
if promtool check metrics <"$T/first.prom" >"$T/promtool.out" 2>&1; then ok "promtool check metrics"
else not_ok "promtool check metrics" "$(head -5 "$T/promtool.out")"; fi
undoc=$(awk '/^# TYPE / { print $3 }' "$T/first.prom" | while read -r f; do
	grep -qF "\`$f\`" "$HW_ROOT/docs/metrics.md" || echo "$f"; done)
expect "every metric is listed in docs/metrics.md (missing: ${undoc:-none})" test -z "$undoc"
expect_eq "textfile mode 0644 (node_exporter reads it as its own user)" "$(command stat -c %a "$PROM_FILE")" 644

# execs of a known binary
before=$(metric 'herdwatch_agent_events_total{kind="process.exec"}')
for _ in 1 2 3 4 5; do /bin/true; done
want=$((${before:-0} + 5))
got=$(poll_first 5 awk -v w="$want" '$1 == "herdwatch_agent_events_total{kind=\"process.exec\"}" && $2 >= w { print $2 }' "$PROM_FILE")
expect "events_total{process.exec} rises by the 5 execs (from ${before:-none} to >= $want: ${got:-no})" test -n "$got"

# probe states: the heartbeat's manifest, probe by probe
hb=$(last_heartbeat)
bad=$(jq -r '.agent.probes | to_entries[] | "\(.key) \(.value.state)"' <<<"$hb" | while read -r p s; do
	[ "$(metric "herdwatch_agent_probe_state{probe=\"$p\",state=\"$s\"}")" = 1 ] || echo "$p=$s"
done)
n=$(jq '.agent.probes | length' <<<"$hb")
expect "probe_state is the manifest's state for all $n probes (differ: ${bad:-none})" test -z "$bad" -a "$n" -gt 10
expect_eq "probe_state process.exec attached" "$(metric 'herdwatch_agent_probe_state{probe="process.exec",state="attached"}')" 1
expect_eq "probe_state process.exec not unavailable" "$(metric 'herdwatch_agent_probe_state{probe="process.exec",state="unavailable"}')" 0
ctl disable process.exit >/dev/null
got=$(poll_first 5 awk '$1 == "herdwatch_agent_probe_state{probe=\"process.exit\",state=\"disabled\"}" && $2 == 1 { print $2 }' "$PROM_FILE")
expect_eq "ctl disable: probe_state process.exit disabled" "$got" 1
expect_eq "ctl disable: process.exit no longer attached" "$(metric 'herdwatch_agent_probe_state{probe="process.exit",state="attached"}')" 0

if [ -z "$HW_SHARED_AGENT" ]; then # a shared agent keeps its own ring buffer
	expect_eq "ringbuf_size_bytes is ringbuf_mb" "$(metric herdwatch_agent_ringbuf_size_bytes)" $((16 << 20))
fi
used=$(metric herdwatch_agent_ringbuf_used_bytes)
expect "ringbuf_used_bytes within the ring (${used:-none})" test -n "$used" -a "${used:-0}" -le $((16 << 20))
# the collector cannot be reached: sealed batches wait in the spool (a shared agent keeps the
# collector stream it started with)
if [ -z "$HW_SHARED_AGENT" ]; then
	got=$(poll_first 5 awk '$1 == "herdwatch_agent_spool_batches" && $2 > 0 { print $2 }' "$PROM_FILE")
	expect "spool_batches > 0 while the collector is down (${got:-0})" test -n "$got"
	expect "spool_bytes > 0" test "$(metric herdwatch_agent_spool_bytes)" -gt 0
	expect "events_unacked > 0" test "$(metric herdwatch_agent_events_unacked)" -gt 0
	expect_eq "collector_connected 0" "$(metric herdwatch_agent_collector_connected)" 0
	expect_eq "spool_full drops 0" "$(metric 'herdwatch_agent_events_dropped_total{kind="*",cause="spool_full"}')" 0
fi
expect_eq "kernel drops listed per kind and cause" \
	"$(metric 'herdwatch_agent_events_dropped_total{kind="process.exec",cause="ringbuf_full"}')" 0
rss=$(metric herdwatch_agent_process_resident_memory_bytes)
real=$(($(awk '/^VmRSS/ { print $2 }' "/proc/$AGENT_PID/status") * 1024))
expect "process RSS ($rss) near VmRSS ($real)" test "${rss:-0}" -gt $((real / 2)) -a "${rss:-0}" -lt $((real * 2))
expect "process CPU seconds > 0" awk -v v="$(metric herdwatch_agent_process_cpu_seconds_total)" 'BEGIN { exit !(v > 0) }'
now_mtime=$(command stat -c %.3Y "$PROM_FILE")
expect "rewritten since the first check ($first_mtime, now $now_mtime), no temporary file left" \
	awk -v a="$first_mtime" -v b="$now_mtime" -v t="$(test -e "$PROM_FILE.tmp" && echo 1)" 'BEGIN { exit !(b > a && t == "") }'
ts local checks done

# node_exporter serves the file; prometheus scrapes node_exporter
ne=$(curl -sf "http://$NE/metrics")
expect_eq "node_exporter reads the textfile without error" \
	"$(awk '$1 == "node_textfile_scrape_error" { print $2 }' <<<"$ne")" 0
expect_eq "node_exporter serves probe_state" \
	"$(awk '$1 == "herdwatch_agent_probe_state{probe=\"process.exec\",state=\"attached\"}" { print $2 }' <<<"$ne")" 1
q() { curl -sf -G "http://$PROM/api/v1/query" --data-urlencode "query=$1" | jq -r '.data.result[0].value[1] // empty'; }
# q_at_least QUERY MIN: the value once it is at least MIN (scrapes made before do not count)
q_at_least() { q "$1" | awk -v m="$2" '$1 >= m'; }
got=$(poll_first 15 q_at_least 'herdwatch_agent_probe_state{probe="process.exit",state="disabled"}' 1)
expect_eq "prometheus: process.exit disabled" "$got" 1
got=$(q 'herdwatch_agent_events_total{kind="process.exec"}')
expect "prometheus: events_total{process.exec} >= $want (${got:-none})" test "${got:-0}" -ge "$want"
ts prometheus checked
stop_servers

if [ -z "$HW_SHARED_AGENT" ]; then
	# the file goes when the agent stops monitoring (SIGTERM), before it drains; the drain
	# then waits 5 s for the unreachable collector, which this test does not need to see
	kill -TERM "$AGENT_PID"
	gone=$(poll_first 5 bash -c "test -e '$PROM_FILE' || echo gone")
	expect_eq "SIGTERM removes the textfile (no stale metrics)" "$gone" gone
	kill -KILL "$AGENT_PID" 2>/dev/null
	wait "$AGENT_PID" 2>/dev/null
	AGENT_PID=
fi
