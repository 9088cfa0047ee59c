#!/usr/bin/env bash
# The agent's syslog and webhook outputs (outputs.syslog, outputs.webhook) against a real
# rsyslogd and a real HTTPS receiver on loopback, beside the file output and the collector
# stream: events arrive with the right content (RFC 5424 fields, octet-counted TCP, UDP, the
# local socket; a JSON array POSTed with the configured header, certificate checked against the
# CA file); with both endpoints down the queues fill, the losses are counted and announced as
# agent.loss while the file output and the collector stream miss nothing; both recover; a
# reload switches the syslog transport; a final 4xx and an oversized message are counted
# losses; malformed values are refused with the key and the reason.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/outputs_lib.sh"
[ "$(id -u)" = 0 ] || { echo "not ok - outputs_agent: needs root"; exit 1; }
AGENT=$B/herdwatch-agent
APID=
out_cleanup() {
	[ -n "$APID" ] && kill -TERM "$APID" 2>/dev/null && wait "$APID" 2>/dev/null
	stop_rsyslog
	stop_hook
	cleanup
}
trap out_cleanup EXIT
jqe() { jq -e "$@" >/dev/null; }

# ---- malformed values: the agent refuses to start, naming the key and the reason ----
bad() { # NAME WANT-IN-MESSAGE YAML
	printf '%s\n' "$3" >"$T/bad.yaml"
	local err
	err=$("$AGENT" --config "$T/bad.yaml" --output none --control none 2>&1)
	expect "outputs_bad_$1" "got: $err" grep -qF -- "$2" <<<"$err"
}
bad syslog_address "bad.yaml:3: 'outputs.syslog.address': '127.0.0.1' is not HOST:PORT" \
	$'outputs:\n  syslog:\n    address: tcp:127.0.0.1'
bad syslog_scheme "is not a syslog address (unix:/dev/log, udp:HOST:PORT or tcp:HOST:PORT)" \
	$'outputs:\n  syslog:\n    address: 127.0.0.1:514'
bad facility "'outputs.syslog.facility' must be a syslog facility" \
	$'outputs:\n  syslog:\n    address: udp:127.0.0.1:514\n    facility: local9'
bad url "'outputs.webhook.url': 'ftp://x/' is not an http:// or https:// URL" \
	$'outputs:\n  webhook:\n    url: ftp://x/'
bad header "'outputs.webhook.headers': header 'X-A: b" \
	$'outputs:\n  webhook:\n    url: http://127.0.0.1:1/\n    headers: {X-A: "b\\nc"}'
bad buffer "'outputs.webhook.buffer_kb' must be between 64 and 1048576, not 1" \
	$'outputs:\n  webhook:\n    url: http://127.0.0.1:1/\n    buffer_kb: 1'
bad ca_http "'outputs.webhook.ca' is for an https:// URL" \
	$'outputs:\n  webhook:\n    url: http://127.0.0.1:1/\n    ca: /etc/hostname'

# ---- the real thing ----
make_pki vmO >/dev/null 2>&1 || { echo "not ok - pki: herdwatch-ca failed"; exit 1; }
make_web_cert || { echo "not ok - web certificate: openssl failed"; exit 1; }
start_collector || exit 1
start_rsyslog || { echo "not ok - rsyslogd starts"; exit 1; }
start_hook a tls || { echo "not ok - webhook receiver starts"; exit 1; }
# the queues: ${BUF}KiB (small while the endpoints are down, so that they fill)
BUF=2048
agent_yaml() { # SYSLOG-ADDRESS [extra syslog line]
	cat <<EOC
host_name: vmO
filters: # the test's own polling is not what it measures
  ignore_exe: [/usr/bin/jq, /usr/bin/grep, /usr/bin/sleep, /usr/bin/seq, /usr/bin/cut, /usr/bin/sort, /usr/bin/cp, /usr/bin/tail, /usr/bin/head, /usr/bin/wc, /usr/bin/cat]
heartbeat_interval: 1
args_max_bytes: 8191
collector:
  address: 127.0.0.1:$TLS_PORT
  ca: $T/pki/ca.pem
  cert: $T/pki/vmO.pem
  key: $T/pki/vmO.key
  spool_dir: $T/spool
outputs:
  syslog:
    address: $1
    facility: local3
    buffer_kb: $BUF
${2:+    $2}
  webhook:
    url: https://127.0.0.1:$HOOK_PORT/hw/events
    ca: $T/web/ca.pem
    headers: {Authorization: "Bearer hw-test-token"}
    flush_ms: 100
    buffer_kb: $BUF
    timeout_ms: 1000
EOC
}
agent_yaml "tcp:127.0.0.1:$SYSLOG_PORT" >"$T/a.yaml"
"$AGENT" --config "$T/a.yaml" --control none --output "$T/ev.json" 2>"$T/agent.err" &
APID=$!
for _ in $(seq 600); do grep -q agent.heartbeat "$T/ev.json" 2>/dev/null && break; sleep 0.1; done
echo "# agent ready after ${SECONDS}s"
SECONDS=0

/bin/true "hwout$$-a"
syslog_line() { grep -F "\"/bin/true\",\"hwout$$-$1\"]" "$T/syslog.out" | grep "^$2|" | grep -F '|process.exec|' | head -n1; }
hook_item() { # NAME MARKER: the first posted event with MARKER in argv
	grep -F "\"hwout$$-$2\"" "$T/hook-$1.jsonl" 2>/dev/null |
		jq -c --arg m "hwout$$-$2" '.items[]? | select(.kind == "process.exec" and .proc.args == ["/bin/true", $m])' | head -n1
}
pollx 5 'test -n "$(syslog_line a imtcp)"'
line=$(syslog_line a imtcp)
IFS='|' read -r _ pri _ host app procid msgid msg <<<"$line"
expect outputs_syslog_tcp_header "line: ${line:0:300}" \
	test "$pri" = 158 -a "$host" = vmO -a "$app" = herdwatch-agent -a "$procid" = "$APID" -a "$msgid" = process.exec
fileev=$(grep -F "hwout$$-a" "$T/ev.json" | jq -c --arg m "hwout$$-a" 'select(.kind == "process.exec" and .proc.args == ["/bin/true", $m])' | head -n1)
expect outputs_syslog_body_is_the_event "msg: ${msg:0:300}" \
	jqe --argjson f "$fileev" '. == $f' <<<"$msg"
pollx 5 'test -n "$(hook_item a a)"'
item=$(hook_item a a)
expect outputs_webhook_https_event "item: ${item:0:300}" jqe --argjson f "$fileev" '. == $f' <<<"$item"
post=$(head -n1 "$T/hook-a.jsonl")
expect outputs_webhook_request "post: ${post:0:400}" jqe '.path == "/hw/events" and .headers.Authorization == "Bearer hw-test-token" and .headers["Content-Type"] == "application/json" and (.items | type == "array")' <<<"$post"

reload() { # YAML-FILE: SIGHUP and wait for the next agent.config (read from the file's new end)
	local off
	off=$(command stat -c %s "$T/ev.json")
	cp "$1" "$T/a.yaml"
	kill -HUP "$APID"
	pollx 5 'tail -c +$((off + 1)) "$T/ev.json" | grep -qF "\"agent.config\""'
	tail -c +$((off + 1)) "$T/ev.json" | grep -F '"agent.config"' | tail -n1
}

# ---- both endpoints down: the queues (64 KiB) fill, losses are counted and announced ----
BUF=64
agent_yaml "tcp:127.0.0.1:$SYSLOG_PORT" >"$T/small.yaml"
reload "$T/small.yaml" >/dev/null
stop_rsyslog
stop_hook
"$B/tests/helpers/exec_storm" 150 1 "hwout$$-down" >/dev/null
echo "# ${SECONDS}s: storm done"
poll 5 grep -q '"cause":"webhook_full"' "$T/ev.json"
poll 3 grep -q '"cause":"syslog_full"' "$T/ev.json"
loss() { grep '"agent.loss"' "$T/ev.json" | jq -s --arg c "$1" '[.[] | select(.loss.cause == $c and .loss.kind == "process.exec") | .loss.count] | add // 0'; }
lost_s=$(loss syslog_full)
lost_w=$(loss webhook_full)
expect outputs_down_losses_announced "syslog_full $lost_s, webhook_full $lost_w" test "$lost_s" -gt 0 -a "$lost_w" -gt 0
expect outputs_down_told "stderr: $(cat "$T/agent.err")" \
	grep -q "syslog output to tcp:127.0.0.1:$SYSLOG_PORT is down: " "$T/agent.err"
expect outputs_down_webhook_told "stderr: $(cat "$T/agent.err")" \
	grep -q "webhook output to https://127.0.0.1:$HOOK_PORT/hw/events is down: " "$T/agent.err"
# execs of the storm (argv[1] the marker), by seq, in a file
storm() { jq -r --arg m "hwout$$-down" 'select(.kind == "process.exec" and .proc.args[1] == $m) | .seq' "$@" 2>/dev/null | sort -nu | grep -c .; }
n_file=$(grep -F "hwout$$-down" "$T/ev.json" | storm)
expect outputs_down_file_unaffected "file output has $n_file of 150 execs" test "$n_file" -eq 150
hb=$(grep '"agent.heartbeat"' "$T/ev.json" | tail -n1)
expect outputs_down_heartbeat "stats: $(jq -c .agent.stats <<<"$hb" | head -c 400)" \
	jqe '.agent.stats.syslog.up == false and .agent.stats.webhook.up == false and .agent.stats.syslog.queued > 0 and .agent.stats.webhook.queued > 0' <<<"$hb"

# the newest event written while both were down: what the queues held is at or below it
down_seq=$(tail -n 200 "$T/ev.json" | jq -s 'map(.seq // 0) | max')
echo "# ${SECONDS}s: down phase checked (last seq $down_seq)"
# ---- recovery: both come back on the same ports ----
start_rsyslog || echo "# rsyslogd did not restart"
start_hook b tls || echo "# receiver did not restart"
poll 10 grep -q "syslog output to tcp:127.0.0.1:$SYSLOG_PORT works again" "$T/agent.err"
poll 5 grep -q "webhook output to https://127.0.0.1:$HOOK_PORT/hw/events works again" "$T/agent.err"
expect outputs_recovery_told "stderr: $(tail -n5 "$T/agent.err")" \
	grep -q "webhook output to .* works again" "$T/agent.err"
# the held events go out over the connections that came back (TCP syslog: the agent.loss
# announcements too); every storm exec was delivered or counted lost
pollx 5 'grep -q "^imtcp|156|.*|agent.loss|" "$T/syslog.out"'
# events held in the queues while the endpoints were down (the storm's, or other processes' when
# the host's own execs filled the queue first) went out once they came back
held() { jq -r --argjson d "$down_seq" 'select((.seq // 1e18) <= $d) | .seq' 2>/dev/null | grep -c .; }
held_s() { grep '^imtcp|' "$T/syslog.out" | cut -d'|' -f8- | held; }
held_w() { jq -c '.items[]?' "$T/hook-b.jsonl" 2>/dev/null | held; }
pollx 10 'test "$(held_s)" -gt 0 -a "$(held_w)" -gt 0'
got_s=$(grep -F "hwout$$-down" "$T/syslog.out" | grep '^imtcp|' | grep -F '|process.exec|' | cut -d'|' -f8- | storm)
got_w=$(jq -c '.items[]?' "$T/hook-b.jsonl" | storm)
lost_s=$(loss syslog_full)
lost_w=$(loss webhook_full)
hs=$(held_s)
hw=$(held_w)
expect outputs_held_delivered_or_counted "syslog: $got_s delivered + $lost_s lost, $hs held sent; webhook: $got_w + $lost_w, $hw held sent; of 150" \
	test "$hs" -gt 0 -a "$hw" -gt 0 -a $((got_s + lost_s)) -ge 150 -a $((got_w + lost_w)) -ge 150
expect outputs_loss_reaches_syslog "no agent.loss line in syslog" \
	grep -q '^imtcp|156|.*|agent.loss|' "$T/syslog.out"

echo "# ${SECONDS}s: recovery checked"
# ---- reload: UDP (and the queues large again), then the local socket; a bad value is refused ----
BUF=2048
agent_yaml "udp:127.0.0.1:$SYSLOG_PORT" >"$T/udp.yaml"
r=$(reload "$T/udp.yaml")
/bin/true "hwout$$-u"
pollx 5 'test -n "$(syslog_line u imudp)"'
pollx 5 'test -n "$(hook_item b u)"'
expect outputs_reload_udp "config: ${r:0:200}; line: $(syslog_line u imudp | head -c 200)" test -n "$(syslog_line u imudp)"
expect outputs_webhook_after_recovery "no post of hwout$$-u" test -n "$(hook_item b u)"
agent_yaml "unix:$T/log.sock" >"$T/unix.yaml"
r=$(reload "$T/unix.yaml")
/bin/true "hwout$$-x"
pollx 5 'test -n "$(syslog_line x imuxsock)"'
echo "# ${SECONDS}s: unix socket"
expect outputs_reload_unix_socket "config: ${r:0:200}; line: $(syslog_line x imuxsock | head -c 200)" test -n "$(syslog_line x imuxsock)"
/bin/true "hwout$$-big" "$(head -c 8000 /dev/zero | tr '\0' x)"
poll 5 grep -q '"cause":"syslog_oversize"' "$T/ev.json"
big=$(grep '"agent.loss"' "$T/ev.json" | jq -c 'select(.loss.cause == "syslog_oversize")' | head -n1)
expect outputs_oversize_counted "loss: $big" jqe '.loss.kind == "process.exec" and .loss.count >= 1' <<<"$big"
agent_yaml "unix:$T/log.sock" "timeout_ms: 10" >"$T/badf.yaml"
r=$(reload "$T/badf.yaml")
expect outputs_reload_bad_value_refused "config: ${r:0:300}" \
	jqe '.config.result == "rejected" and (.config.error | test("a.yaml:[0-9]+: .outputs.syslog.timeout_ms. must be between 100 and 60000, not 10"))' <<<"$r"
/bin/true "hwout$$-y"
pollx 5 'test -n "$(syslog_line y imuxsock)"'
expect outputs_reload_bad_keeps_running "no line of hwout$$-y" test -n "$(syslog_line y imuxsock)"

echo "# ${SECONDS}s: reloads checked"
# ---- a final 4xx: the batch is dropped, counted as webhook_rejected ----
echo 400 >"$T/hook-status"
/bin/true "hwout$$-r"
poll 5 grep -q '"cause":"webhook_rejected"' "$T/ev.json"
expect outputs_webhook_rejected_counted "no webhook_rejected loss" grep -q '"cause":"webhook_rejected"' "$T/ev.json"
rm -f "$T/hook-status"

echo "# ${SECONDS}s: rejection checked"
# ---- the collector stream missed nothing ----
kill -TERM "$APID"
wait "$APID"
rc=$?
APID=
N=$(tail -n1 "$T/ev.json" | jq .seq)
for _ in $(seq 50); do
	[ "$(stored_seqs vmO | sort -nu | grep -c .)" -ge "$N" ] && break
	sleep 0.2
done
n_st=$(stored_seqs vmO | sort -nu | grep -c .)
expect outputs_collector_unaffected "stored $n_st of $N seqs (agent exit $rc)" test "$n_st" -eq "$N"
echo "# outputs_agent: ${SECONDS}s after the agent started"
exit $FAILED
