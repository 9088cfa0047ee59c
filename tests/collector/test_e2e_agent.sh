#!/usr/bin/env bash
# End to end with the real BPF agent: five members of herd "web" are processes in separate
# cgroups (the agent's container pattern names herd and member), each running the same little
# web-like worker. Then member m3 runs an attacker's sequence (a shell spawned by the worker,
# nc to a local port, a read of /etc/shadow): the alert names m3 and those tokens, the others
# raise nothing. A deploy (every member starts running a new binary) raises one herd change
# and no member alert. Transport: the agent streams to the collector itself (mutual TLS,
# agent/ship.c), as in production.
. "$(dirname "$0")/lib.sh"
AGENT=$B/herdwatch-agent
[ -x "$AGENT" ] || { echo "ok - e2e_agent # skip: no agent binary (make)"; exit 0; }
[ "$(id -u)" = 0 ] || { echo "ok - e2e_agent # skip: needs root"; exit 0; }
CG2=$(findmnt -n -t cgroup2 -o TARGET | head -n1)
[ -n "$CG2" ] || { echo "not ok - e2e_agent: no cgroup2 mount"; exit 1; }
# the certificate's name is the agent's host_name (the collector binds the two)
make_pki "e2e-$$" >/dev/null 2>&1 || { echo "not ok - pki: herdwatch-ca failed"; exit 1; }
start_collector --learn-s 6 --hold-ms 800 --min-herd 4 --silent-s 0 || exit 1

TOP=hwe2e$$
mkdir -p "$CG2/$TOP/web"
rmcg() {
	for m in m1 m2 m3 m4 m5; do rmdir "$CG2/$TOP/web/$m" 2>/dev/null; done
	rmdir "$CG2/$TOP/web" "$CG2/$TOP" 2>/dev/null
}
cat >"$T/agent.yaml" <<EOC
host_name: e2e-$$
heartbeat_interval: 2
containers:
  - cgroup: '^/$TOP/([a-z]+)/(m[0-9]+)'
collector:
  address: 127.0.0.1:$TLS_PORT
  ca: $T/pki/ca.pem
  cert: $T/pki/e2e-$$.pem
  key: $T/pki/e2e-$$.key
  spool_dir: $T/spool-e2e
EOC
"$AGENT" --config "$T/agent.yaml" --control none --output "$T/events.json" 2>"$T/agent.err" &
APID=$!
stop_agent() {
	[ -n "$APID" ] && kill -TERM "$APID" 2>/dev/null && wait "$APID" 2>/dev/null
	APID=
}
has_kind() { test "$(api "/api/events?kind=$1&limit=1" | jq '.events | length')" -gt 0; }
for _ in $(seq 300); do has_kind agent.heartbeat && break; sleep 0.1; done
has_kind agent.heartbeat || { echo "not ok - e2e_agent_start: $(cat "$T/agent.err")"; stop_agent; exit 1; }

cat >"$T/worker.sh" <<'EOW'
# a member's workload: the same on every member, plus what the phase files ask for
me=$1 dir=$2
while [ ! -e "$dir/stop" ]; do
	/usr/bin/true
	/bin/cat /etc/hostname >/dev/null
	if [ -e "$dir/attack-$me" ] && [ ! -e "$dir/attacked-$me" ]; then
		: >"$dir/attacked-$me" # a shell builtin: no exec of its own
		/bin/sh -c "nc -z -w 1 127.0.0.1 9; cat /etc/shadow >/dev/null"
	fi
	[ -e "$dir/deploy" ] && /usr/bin/env /usr/bin/true
	/usr/bin/sleep 0.3
done
EOW
wpids=()
for m in m1 m2 m3 m4 m5; do
	mkdir -p "$CG2/$TOP/web/$m"
	bash -c 'echo $$ >"$1/cgroup.procs" && exec bash "$2" "$3" "$4"' _ "$CG2/$TOP/web/$m" "$T/worker.sh" "$m" "$T" &
	wpids+=($!)
done
finish() {
	touch "$T/stop"
	wait "${wpids[@]}" 2>/dev/null
	stop_agent
	rmcg
}
trap 'finish; cleanup' EXIT

sleep 7.5 # learning (6 s) is over; normal work continues
before=$(grep -c . "$T/alerts.jsonl")
touch "$T/attack-m3"
sleep 4
new=$(tail -n +$((before + 1)) "$T/alerts.jsonl")
outl=$(jq -c 'select(.kind == "member.outlier")' <<<"$new")
expect e2e_baseline_events_stored "stats: $(api /api/stats)" test "$(stat .events_stored)" -gt 50
expect e2e_attack_one_alert "new alerts: $new" test "$(grep -c . <<<"$outl")" -eq 1
expect e2e_attack_names_member "alert: $outl" test "$(jq -r .member <<<"$outl")" = "e2e-$$/m3"
toks=$(jq -r '.tokens[].token' <<<"$outl" 2>/dev/null)
expect e2e_attack_token_shell "tokens: $toks" grep -q '^exec|/usr/bin/dash|parent=/usr/bin/bash|user=root' <<<"$toks"
expect e2e_attack_token_nc "tokens: $toks" grep -q '^exec|/usr/bin/nc.openbsd|parent=/usr/bin/dash' <<<"$toks"
expect e2e_attack_token_cat_shadow "tokens: $toks" grep -q '^exec|/usr/bin/cat|parent=/usr/bin/dash' <<<"$toks"
# the connection and the read of /etc/shadow, from the net and file probes
expect e2e_attack_token_connect "tokens: $toks" grep -q '^connect|/usr/bin/nc.openbsd|tcp/9|loopback' <<<"$toks"
expect e2e_attack_token_shadow "tokens: $toks" grep -q '^file|/usr/bin/cat|read|/etc/shadow' <<<"$toks"
expect e2e_others_silent "alerts: $(cat "$T/alerts.jsonl")" \
	test "$(jq -s '[.[] | select(.kind == "member.outlier" and .member != "e2e-'$$'/m3")] | length' "$T/alerts.jsonl")" -eq 0

before=$(grep -c . "$T/alerts.jsonl")
touch "$T/deploy"
sleep 4
new=$(tail -n +$((before + 1)) "$T/alerts.jsonl")
expect e2e_deploy_one_herd_change "new alerts: $new" \
	test "$(jq -s '[.[] | select(.kind == "herd.change" and .herd == "web")] | length' <<<"$new")" -eq 1
expect e2e_deploy_no_member_alert "new alerts: $new" \
	test "$(jq -s '[.[] | select(.kind == "member.outlier")] | length' <<<"$new")" -eq 0
