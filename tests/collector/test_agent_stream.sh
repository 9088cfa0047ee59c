#!/usr/bin/env bash
# The agent streams to the collector itself (mutual TLS, batches, spool, acks): with the
# collector killed mid-stream and restarted, every seq the agent wrote arrives exactly once;
# the heartbeat reports the stream; control requests through the collector need its API token
# (refused without it, nothing reaches the agent); an agent whose credential the collector's CA did not sign
# stores nothing.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || { echo "not ok - agent_stream: needs root"; exit 1; }
AGENT=$B/herdwatch-agent
make_pki vmS >/dev/null 2>&1 || { echo "not ok - pki: herdwatch-ca failed"; exit 1; }
start_collector || exit 1

agent_yaml() { # NAME CERT_DIR
	cat <<EOC
host_name: $1
heartbeat_interval: 1
collector:
  address: 127.0.0.1:$TLS_PORT
  ca: $T/pki/ca.pem
  cert: $2/$1.pem
  key: $2/$1.key
  spool_dir: $T/spool-$1
EOC
}
agent_yaml vmS "$T/pki" >"$T/a.yaml"
"$AGENT" --config "$T/a.yaml" --control none --output "$T/ev.json" 2>"$T/agent.err" &
APID=$!
for _ in $(seq 300); do grep -q agent.heartbeat "$T/ev.json" 2>/dev/null && break; sleep 0.1; done
"$B/tests/helpers/exec_storm" 400 1 hwstream$$ >/dev/null
stop_collector -KILL
"$B/tests/helpers/exec_storm" 400 1 hwstream$$ >/dev/null # while the collector is down
sleep 1
# why it cannot connect: in the heartbeat and, once, on stderr
for _ in $(seq 40); do grep -q '"error":"cannot connect to 127.0.0.1' "$T/ev.json" && break; sleep 0.1; done
hb=$(grep '"agent.heartbeat"' "$T/ev.json" | tail -n1)
expect agent_says_why_collector_down "heartbeat: $(jq -c .agent.stats.collector <<<"$hb" 2>&1)" \
	jq -e '.agent.stats.collector.error | test("cannot connect to 127.0.0.1:[0-9]+: Connection refused")' <<<"$hb"
expect agent_logs_collector_down_once "stderr: $(grep collector: "$T/agent.err")" \
	test "$(grep -c "collector: cannot connect to 127.0.0.1:$TLS_PORT: Connection refused" "$T/agent.err")" -eq 1
start_collector || exit 1
"$B/tests/helpers/exec_storm" 400 1 hwstream$$ >/dev/null
sleep 2
expect agent_logs_collector_back "stderr: $(grep collector: "$T/agent.err")" \
	grep -q "collector: connected again" "$T/agent.err"
# a request without the collector's API token (any local process, a web page) is refused and
# reaches no agent
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST --data 'host=vmS&arg=disable&arg=process' "http://127.0.0.1:$HTTP_PORT/api/request")
expect agent_request_no_token_refused "HTTP $code" test "$code" = 401
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP_PORT/api/request?host=vmS&arg=disable&arg=process")
expect agent_request_get_refused "HTTP $code" test "$code" = 405
echo 0000 >"$T/wrong-token"
err=$("$B/herdwatch" --api "127.0.0.1:$HTTP_PORT" --token-file "$T/wrong-token" request vmS disable process 2>&1)
expect agent_request_wrong_token_refused "cli: $err" grep -q "refused the request: wrong API token" <<<"$err"
sleep 1
expect agent_request_refused_not_sent "requests_sent $(stat .requests_sent); agent: $(grep '"agent.request"' "$T/ev.json" | head -c 300)" \
	test "$(stat .requests_sent)" -eq 0 -a -z "$(grep '"agent.request"' "$T/ev.json")"
expect agent_request_token_file_private "$(ls -l "$T/c.db.api-token")" test "$(command stat -c %a "$T/c.db.api-token")" = 600
# the collector asks the agent for more visibility (as an alert's response would)
r=$("$B/herdwatch" --api "127.0.0.1:$HTTP_PORT" --token-file "$T/c.db.api-token" request vmS add-probe --for 60 "{name: asked, tracepoint: 'syscalls:sys_enter_kill', capture: [pid, sig]}")
expect agent_request_sent "answer: $r" jq -e '.ok == true and .sent_to == 1' <<<"$r"
for _ in $(seq 100); do grep -q '"agent.request"' "$T/ev.json" && break; sleep 0.1; done
rq=$(grep '"agent.request"' "$T/ev.json" | head -n1)
expect agent_request_run "event: ${rq:0:400}" jq -e '.request.source == "collector" and .request.ok == true and .request.args[0] == "add-probe" and .request.answer.now == "attached"' <<<"$rq"
bash -c 'trap "" USR2; sleep 5' &
victim=$!
sleep 0.3
kill -USR2 $victim
# other processes send signals too (the harness's kill -0 checks): the victim's is the one
for _ in $(seq 50); do
	ev=$(grep '"kind":"custom.asked"' "$T/ev.json" | jq -c "select(.custom.pid == $victim)" 2>/dev/null | head -n1)
	[ -n "$ev" ] && break
	sleep 0.1
done
expect agent_request_probe_reports "event: ${ev:0:300}" jq -e '.custom.sig == 12' <<<"$ev"
kill $victim 2>/dev/null
# the agent's allow-list: by default the collector may only turn probes on, for a bounded time
req_event() { # ARGS...: send a request, print the agent.request event it produced
	local n
	n=$(grep -c '"agent.request"' "$T/ev.json")
	"$B/herdwatch" --api "127.0.0.1:$HTTP_PORT" --token-file "$T/c.db.api-token" request vmS "$@" >/dev/null
	for _ in $(seq 100); do
		[ "$(grep -c '"agent.request"' "$T/ev.json")" -gt "$n" ] && break
		sleep 0.1
	done
	grep '"agent.request"' "$T/ev.json" | tail -n1
}
rq=$(req_event disable process)
expect agent_request_disable_refused "event: ${rq:0:400}" jq -e '.request.ok == false and (.request.refused | test("not allowed from the collector"))' <<<"$rq"
rq=$(req_event enable net)
expect agent_request_unbounded_refused "event: ${rq:0:400}" jq -e '.request.ok == false and (.request.refused | test("needs --for"))' <<<"$rq"
rq=$(req_event enable net --for 7200)
expect agent_request_too_long_refused "event: ${rq:0:400}" jq -e '.request.ok == false and (.request.refused | test("1..3600"))' <<<"$rq"
rq=$(req_event enable net --for 60)
expect agent_request_timed_enable_runs "event: ${rq:0:400}" jq -e '.request.ok == true and .request.refused == null' <<<"$rq"
ctl_ev=$(grep '"agent.control"' "$T/ev.json" | tail -n1)
expect agent_request_control_event "event: ${ctl_ev:0:400}" jq -e '.control.source == "collector" and .control.command == "enable" and .control.for_s == 60' <<<"$ctl_ev"
r=$("$B/herdwatch" --api "127.0.0.1:$HTTP_PORT" --token-file "$T/c.db.api-token" request no-such-host status)
expect agent_request_unknown_host "answer: $r" jq -e '.ok == false and .sent_to == 0' <<<"$r"
kill -TERM $APID
wait $APID
expect agent_stream_exit0 "agent exit status $?" test $? -eq 0
N=$(tail -n1 "$T/ev.json" | jq .seq)
hb=$(grep '"agent.heartbeat"' "$T/ev.json" | tail -n1)
expect agent_stream_heartbeat "heartbeat: ${hb:0:300}" jq -e '.agent.stats.collector.reconnects >= 1 and .agent.stats.collector.dropped == 0' <<<"$hb"
# wait until everything the agent wrote is stored (the final batches are flushed at exit)
for _ in $(seq 100); do
	[ "$(stored_seqs vmS | sort -n | uniq | grep -c .)" -ge "$N" ] && break
	sleep 0.2
done
seqs=$(stored_seqs vmS | sort -n)
total=$(grep -c . <<<"$seqs")
uniq=$(uniq <<<"$seqs" | grep -c .)
if [ "$total" -eq "$N" ] && [ "$uniq" -eq "$N" ] && [ "$(tail -1 <<<"$seqs")" = "$N" ]; then
	ok "agent_stream_exactly_once_across_collector_kill ($N events)"
else
	notok agent_stream_exactly_once_across_collector_kill "$total stored, $uniq distinct, agent wrote 1..$N"
fi
n_exec=$(api "/api/events?member=vmS&kind=process.exec&limit=10000" | jq "[.events[].event | select(.proc.args[1]==\"hwstream$$\")] | length")
expect agent_stream_every_exec "stored $n_exec of 1200 execs" test "$n_exec" -eq 1200

# an agent with a certificate from another CA is refused: nothing it sends is stored
agent_yaml rogue "$T/rogue" >"$T/r.yaml"
"$AGENT" --config "$T/r.yaml" --control none --output "$T/rogue.json" 2>"$T/rogue.err" &
RP=$!
sleep 4
kill -TERM $RP
wait $RP
expect agent_stream_rogue_refused "rogue events stored" test "$(api "/api/events?member=rogue&limit=10" | jq '.events | length')" -eq 0
stop_collector
