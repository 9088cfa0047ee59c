#!/usr/bin/env bash
# A real herdwatch-agent (root, BPF: serial lane, run under flock /tmp/hw-bpf.lock) as the sender
# of a scale-out deployment (docs/scale-out.md): it ships over mutual TLS to an ingest of a
# 3-node JetStream cluster of the test's own, 2 workers store its events, --mode api serves
# them. The ingest is killed (SIGKILL) mid-stream and started again on its port: the agent
# reconnects and resends what was not acknowledged from its spool. Every event the agent wrote
# (its --output file: run id and seq) is stored exactly once across the shards, and the query
# API and the CLI list them.
. "$(dirname "$0")/lib.sh"
command -v nats-server >/dev/null || { echo "not ok - nats-server: not installed (scripts/deps.sh)"; exit 1; }
AGENT=$B/herdwatch-agent
if [ "$(id -u)" != 0 ] || [ ! -x "$AGENT" ]; then
	echo "ok - scaleout_agent # skip: needs root and the agent binary"
	exit 0
fi
make_pki vmS relay >/dev/null 2>&1 || { echo "not ok - pki: herdwatch-ca failed"; exit 1; }
. "$(dirname "$0")/nats_lib.sh"

cluster_and_ingest
start_worker 1
start_worker 2
start_api || { notok api_up "$(tail -n 3 "$T/api.log")"; exit 1; }
ok cluster_ingest_workers_api_up

cat >"$T/a.yaml" <<EOC
host_name: vmS
heartbeat_interval: 1
collector:
  address: 127.0.0.1:$((base + 31))
  ca: $T/pki/ca.pem
  cert: $T/pki/vmS.pem
  key: $T/pki/vmS.key
  spool_dir: $T/spool-vmS
EOC
"$AGENT" --config "$T/a.yaml" --control none --output "$T/agent.json" 2>"$T/agent.err" &
AG=$!
for _ in $(seq 300); do grep -q agent.heartbeat "$T/agent.json" 2>/dev/null && break; sleep 0.1; done
expect agent_started "$(tail -n 3 "$T/agent.err")" grep -q agent.heartbeat "$T/agent.json"
"$B/tests/helpers/exec_storm" 300 1 hwscale$$ >/dev/null
sleep 0.5
kill -9 "${IPID[1]}" # the ingest dies mid-stream; the agent spools, reconnects, resends
wait "${IPID[1]}" 2>/dev/null
"$B/tests/helpers/exec_storm" 300 1 hwscale$$ >/dev/null
start_ingest 1
expect ingest_restarted "$(tail -n 3 "$T/ingest1.log")" kill -0 "${IPID[1]}"
"$B/tests/helpers/exec_storm" 300 1 hwscale$$ >/dev/null
sleep 1.5
# what the restarted ingest took: the agent's reconnection and its batches (spooled ones too)
st=$(curl -sf "http://127.0.0.1:$((base + 41))/api/stats")
kill -TERM "$AG"
wait "$AG"
expect agent_exit0 "$(tail -n 3 "$T/agent.err")" test $? -eq 0

# every event the agent wrote, stored exactly once across the shards
jq -r '"\(.host.run) \(.seq)"' "$T/agent.json" | sort >"$T/written"
shards() { "$C" --mode events --shard-dir "$T/shards" | jq -r 'select(.host.name == "vmS") | "\(.host.run) \(.seq)"' | sort; }
for _ in $(seq 150); do
	[ "$(shards | sort -u | comm -23 "$T/written" - | wc -l)" = 0 ] && break
	sleep 0.2
done
shards >"$T/stored"
missing=$(comm -23 "$T/written" <(sort -u "$T/stored") | wc -l)
dups=$(uniq -d "$T/stored" | wc -l)
storms=$(grep -c hwscale "$T/agent.json")
expect agent_events_stored_exactly_once \
	"written $(wc -l <"$T/written") ($storms of the exec storms), stored $(wc -l <"$T/stored"): $missing missing, $dups twice" \
	test "$missing" = 0 -a "$dups" = 0 -a "$storms" -ge 600
expect agent_reconnected_to_restarted_ingest "restarted ingest: $(jq -c '{connections_total, batches}' <<<"$st")" \
	test "$(jq .connections_total <<<"$st")" -ge 1 -a "$(jq .batches <<<"$st")" -ge 1
# the query API and the CLI list the same events
n=$("$B/herdwatch" --api "127.0.0.1:$API_PORT" --json events --member vmS --limit 100000 | wc -l)
expect cli_lists_agent_events "the CLI listed $n of $(wc -l <"$T/written")" test "$n" = "$(wc -l <"$T/written")"
for w in 1 2; do kill "${WPID[$w]}" 2>/dev/null; done
kill "$APID" 2>/dev/null
echo "# $SECONDS s"
[ "$FAILED" = 0 ]
