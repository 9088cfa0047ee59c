#!/usr/bin/env bash
# An alert's response asks the member's agent for more, and the extra probe turns itself off:
# four members of herd "web" in separate cgroups (the real BPF agent, streaming to the
# collector); m3 does something outlying -> member.outlier alert -> the collector runs
# scripts/herdwatch-respond-trace, which asks the agent (herdwatch request) for file-open
# tracing scoped to m3's cgroup for 5 s -> the agent reports the request (agent.request) and
# lists the probe -> opens in m3's cgroup are reported, opens in sibling m2's are not -> after
# 5 s the probe is gone (status and heartbeat no longer list it) and opens are not reported.
. "$(dirname "$0")/lib.sh"
AGENT=$B/herdwatch-agent
[ -x "$AGENT" ] || { echo "ok - request_e2e # skip: no agent binary (make)"; exit 0; }
[ "$(id -u)" = 0 ] || { echo "ok - request_e2e # skip: needs root"; exit 0; }
CG2=$(findmnt -n -t cgroup2 -o TARGET | head -n1)
[ -n "$CG2" ] || { echo "not ok - request_e2e: no cgroup2 mount"; exit 1; }
# the certificate's name is the agent's host_name (the collector binds the two)
make_pki "req-$$" >/dev/null 2>&1 || { echo "not ok - pki: herdwatch-ca failed"; exit 1; }
DUR=5
P=/tmp/hwreq$$ # prefix of the paths the test opens
# the response command learns the API port from a file: start_collector may pick other ports
RESP="$HW_ROOT/scripts/herdwatch-respond-trace --cli $B/herdwatch --api 127.0.0.1:\$(cat $T/http_port) --for $DUR"
start_collector --learn-s 4 --hold-ms 500 --min-herd 4 --silent-s 0 --response-cmd "$RESP" || exit 1
echo "$HTTP_PORT" >"$T/http_port"

TOP=hwreq$$
HOST=req-$$
mkdir -p "$CG2/$TOP/web"
cat >"$T/agent.yaml" <<EOC
host_name: $HOST
heartbeat_interval: 1
containers:
  - cgroup: '^/$TOP/([a-z]+)/(m[0-9]+)'
collector:
  address: 127.0.0.1:$TLS_PORT
  ca: $T/pki/ca.pem
  cert: $T/pki/$HOST.pem
  key: $T/pki/$HOST.key
  spool_dir: $T/spool-e2e
EOC
EV=$T/events.json
"$AGENT" --config "$T/agent.yaml" --control "$T/ctl.sock" --output "$EV" 2>"$T/agent.err" &
APID=$!
ctl() { "$AGENT" ctl --socket "$T/ctl.sock" "$@"; }
stop_agent() {
	[ -n "$APID" ] && kill -TERM "$APID" 2>/dev/null && wait "$APID" 2>/dev/null
	APID=
}
for _ in $(seq 300); do grep -q '"agent.heartbeat"' "$EV" 2>/dev/null && break; sleep 0.1; done
grep -q '"agent.heartbeat"' "$EV" || { echo "not ok - request_e2e_agent_start: $(cat "$T/agent.err")"; stop_agent; exit 1; }

cat >"$T/worker.sh" <<'EOW'
# a member's workload: the same on every member, plus an attack when asked
me=$1 dir=$2
while [ ! -e "$dir/stop" ]; do
	/usr/bin/true
	/bin/cat /etc/hostname >/dev/null
	if [ -e "$dir/attack-$me" ] && [ ! -e "$dir/attacked-$me" ]; then
		: >"$dir/attacked-$me"
		/bin/sh -c "cat /etc/shadow >/dev/null"
	fi
	/usr/bin/sleep 0.3
done
EOW
wpids=()
for m in m1 m2 m3 m4; do
	mkdir -p "$CG2/$TOP/web/$m"
	bash -c 'echo $$ >"$1/cgroup.procs" && exec bash "$2" "$3" "$4"' _ "$CG2/$TOP/web/$m" "$T/worker.sh" "$m" "$T" &
	wpids+=($!)
done
finish() {
	touch "$T/stop"
	wait "${wpids[@]}" 2>/dev/null
	stop_agent
	for m in m1 m2 m3 m4; do rmdir "$CG2/$TOP/web/$m" 2>/dev/null; done
	rmdir "$CG2/$TOP/web" "$CG2/$TOP" 2>/dev/null
}
trap 'finish; cleanup' EXIT
# open_in MEMBER TAG: a new process in the member's cgroup opens $P-TAG itself (a redirection)
open_in() {
	bash -c 'echo $$ >"$1/cgroup.procs" && { : <"$2"; } 2>/dev/null; exit 0' _ "$CG2/$TOP/web/$1" "$P-$2" &
	wait $!
}
NAME=resp_open_m3
custom_ev() { jq -c "select(.kind == \"custom.$NAME\") | $1" "$EV" 2>/dev/null; }
jqt() { jq -e "$1" >/dev/null; } # jqt FILTER <<<JSON: FILTER is true

sleep 5.5 # learning (4 s) is over; normal work continues
touch "$T/attack-m3"
for _ in $(seq 100); do
	grep -q '"member.outlier"' "$T/alerts.jsonl" && grep -q '"agent.request"' "$EV" && break
	sleep 0.1
done
al=$(jq -c 'select(.kind == "member.outlier")' "$T/alerts.jsonl" | head -n1)
expect request_e2e_alert "alerts: $(cat "$T/alerts.jsonl")" \
	jqt ".member == \"$HOST/m3\" and .severity == \"alert\"" <<<"$al"
rq=$(grep '"agent.request"' "$EV" | head -n1)
expect request_e2e_agent_reports_request "event: ${rq:0:600}; collector log: $(tail -n 5 "$T/collector.log")" \
	jqt ".request.source == \"collector\" and .request.ok == true and .request.args[0] == \"add-probe\" and .request.args[1] == \"--for\" and .request.args[2] == \"$DUR\" and .request.answer.probe == \"$NAME\"" <<<"$rq"
expect request_e2e_response_logged "collector log: $(cat "$T/collector.log")" \
	grep -q "asked $HOST for open tracing (custom.$NAME) of /$TOP/web/m3 for $DUR s" "$T/collector.log"
st=$(ctl status)
expect request_e2e_status_lists_probe "status: ${st:0:300}" \
	jqt ".probes[\"custom.$NAME\"] | .state == \"attached\" and .cgroup == \"/$TOP/web/m3\" and .source == \"control\" and .target == \"syscalls:sys_enter_openat\"" <<<"$st"
for _ in $(seq 30); do
	hb=$(grep '"agent.heartbeat"' "$EV" | tail -n1)
	jqt ".agent.probes | has(\"custom.$NAME\")" <<<"$hb" >/dev/null && break
	sleep 0.1
done
expect request_e2e_heartbeat_lists_probe "heartbeat: ${hb:0:300}" \
	jqt ".agent.probes[\"custom.$NAME\"].state == \"attached\"" <<<"$hb"

open_in m3 m3-a
open_in m2 m2-a
for _ in $(seq 30); do [ -n "$(custom_ev "select(.custom.filename == \"$P-m3-a\")")" ] && break; sleep 0.1; done
ev=$(custom_ev "select(.custom.filename == \"$P-m3-a\")" | head -n1)
expect request_e2e_open_in_member_reported "event: ${ev:0:400}" \
	jqt ".proc.container.id == \"m3\" and .proc.cgroup == \"/$TOP/web/m3\" and (.custom.flags | type) == \"number\"" <<<"$ev"
expect request_e2e_open_in_sibling_not_reported "events: $(custom_ev "select(.custom.filename == \"$P-m2-a\")" | head -c 300)" \
	test -z "$(custom_ev "select(.custom.filename == \"$P-m2-a\")")"
expect request_e2e_only_member_events "other members' events: $(custom_ev 'select(.proc.container.id != "m3")' | head -c 300)" \
	test -z "$(custom_ev 'select(.proc.container.id != "m3")')"
# the probe's events reach the collector like any other
for _ in $(seq 30); do
	n=$(api "/api/events?kind=custom.$NAME&member=$HOST/m3&limit=5" | jq '.events | length')
	[ "${n:-0}" -gt 0 ] && break
	sleep 0.1
done
expect request_e2e_events_stored "stored: ${n:-none}" test "${n:-0}" -gt 0

# the time is up: the probe removes itself
for _ in $(seq 100); do
	ctl status | jq -e ".probes | has(\"custom.$NAME\") | not" >/dev/null && break
	sleep 0.1
done
t_gone=$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)
expect request_e2e_probe_gone_from_status "status: $(ctl status | head -c 300)" \
	jqt ".probes | has(\"custom.$NAME\") | not" <<<"$(ctl status)"
for _ in $(seq 40); do
	hb=$(jq -c "select(.kind == \"agent.heartbeat\" and .time > \"$t_gone\")" "$EV" | tail -n1)
	[ -n "$hb" ] && break
	sleep 0.1
done
expect request_e2e_probe_gone_from_heartbeat "heartbeat: ${hb:0:300}" \
	jqt ".agent.probes | has(\"custom.$NAME\") | not" <<<"$hb"
open_in m3 m3-b
sleep 1
expect request_e2e_no_events_after_expiry "events: $(custom_ev "select(.custom.filename == \"$P-m3-b\")" | head -c 300)" \
	test -z "$(custom_ev "select(.custom.filename == \"$P-m3-b\")")"
# nothing captured once the probe was gone (events are stamped when the kernel captured them)
late=$(custom_ev "select(.time > \"$t_gone\")" | head -c 300)
expect request_e2e_no_probe_events_after_removal "captured after $t_gone: $late" test -z "$late"
expect request_e2e_responses_for_the_member_only "collector log: $(cat "$T/collector.log")" \
	test "$(grep 'herdwatch-respond-trace: ' "$T/collector.log" | grep -vc "for $HOST/m3: asked $HOST ")" -eq 0
