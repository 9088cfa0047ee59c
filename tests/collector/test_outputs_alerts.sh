#!/usr/bin/env bash
# lane: parallel (no BPF, no agent: runs beside the probe tests)
# The collector's alert outputs (store, stdout, response command, --syslog, --webhook: one list
# behind on_alert): an alert reaches a real rsyslogd (RFC 5424 over TCP, severity alert, MSGID
# the alert kind) and a real HTTP receiver (a JSON array, with --webhook-header) with the same
# JSON as stdout and the store; with both endpoints down the next alert is still stored and
# printed and ingest is acknowledged, the outage is said and shown in /api/stats and /metrics,
# and the held alert is delivered once they are back; malformed options are refused by name.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/outputs_lib.sh"
out_cleanup() {
	stop_rsyslog
	stop_hook
	cleanup
}
trap out_cleanup EXIT
jqe() { jq -e "$@" >/dev/null; }

# ---- malformed options: refused before anything starts, naming the option ----
make_pki vm1 >/dev/null 2>&1 || { echo "not ok - pki: herdwatch-ca failed"; exit 1; }
bad() { # NAME WANT-IN-MESSAGE OPTIONS...
	local name=$1 want=$2 err rc
	shift 2
	err=$("$B/herdwatch-collector" --ca "$T/pki/ca.pem" --cert "$T/pki/collector.pem" \
		--key "$T/pki/collector.key" --db "$T/bad.db" "$@" 2>&1)
	rc=$?
	expect "alert_outputs_bad_$name" "exit $rc: $err" grep -qF -- "$want" <<<"$err"
}
bad syslog "--syslog: 'localhost' is not HOST:PORT" --syslog tcp:localhost
bad facility "--syslog-facility: 'nine' is not a syslog facility" --syslog udp:127.0.0.1:1 --syslog-facility nine
bad webhook "--webhook: 'ftp://x/' is not an http:// or https:// URL" --webhook ftp://x/
bad header "--webhook: header 'X-A' is not 'Name: value'" --webhook http://127.0.0.1:1/ --webhook-header X-A
bad header_alone "--webhook-ca and --webhook-header need --webhook URL" --webhook-header "X-A: b"
expect alert_outputs_bad_nothing_created "a database was created" test ! -e "$T/bad.db"

start_rsyslog || { echo "not ok - rsyslogd starts"; exit 1; }
start_hook a || { echo "not ok - webhook receiver starts"; exit 1; }
start_collector --learn-s 0 --hold-ms 200 --min-herd 1 --silent-s 0 \
	--syslog "tcp:127.0.0.1:$SYSLOG_PORT" --syslog-facility local4 \
	--webhook "http://127.0.0.1:$HOOK_PORT/alerts" --webhook-header "X-Token: hw-alert-token" || exit 1

$GEN baseline --host vm1 --herd web --members m1,m2,m3,m4 --rounds 3 >"$T/base.jsonl" 2>"$T/base.next"
replay vm1 vm1 --timeout-s 20 "$T/base.jsonl" >/dev/null 2>&1
sleep 0.5
$GEN attack --host vm1 --herd web --member m3 --seq-start "$(cat "$T/base.next")" >"$T/attack.jsonl" 2>"$T/attack.next"
replay vm1 vm1 --timeout-s 20 "$T/attack.jsonl" >/dev/null 2>&1
poll 5 grep -q '"kind":"member.outlier"' "$T/alerts.jsonl"
alert=$(grep '"kind":"member.outlier"' "$T/alerts.jsonl" | head -n1)
expect alert_outputs_stdout "no member.outlier on stdout" test -n "$alert"
poll 5 grep -q '|member.outlier|' "$T/syslog.out"
line=$(grep '|member.outlier|' "$T/syslog.out" | head -n1)
IFS='|' read -r input pri _ host app _ msgid msg <<<"$line"
expect alert_outputs_syslog_header "line: ${line:0:300}" \
	test "$input" = imtcp -a "$pri" = 161 -a "$host" = "$(hostname)" -a "$app" = herdwatch-collector -a "$msgid" = member.outlier
expect alert_outputs_syslog_body "msg: ${msg:0:300}" jqe --argjson a "$alert" '. == $a' <<<"$msg"
poll 5 grep -q member.outlier "$T/hook-a.jsonl"
post=$(grep member.outlier "$T/hook-a.jsonl" | head -n1)
expect alert_outputs_webhook "post: ${post:0:400}" jqe --argjson a "$alert" \
	'.path == "/alerts" and .headers["X-Token"] == "hw-alert-token" and (.items | index($a))' <<<"$post"
stored=$(api "/api/alerts?limit=100" | jq -c '[.alerts[].alert | select(.kind == "member.outlier")] | length')
expect alert_outputs_store "stored member.outlier alerts: $stored" test "${stored:-0}" -ge 1

# ---- both endpoints down: the next alerts are stored and printed, ingest acknowledged ----
stop_rsyslog
stop_hook
n0=$(grep -c . "$T/alerts.jsonl")
s0=$(api "/api/alerts?limit=1000" | jq '.alerts | length')
# the same attack on another member: the herd's alerts about it (a herd change, a fold)
$GEN attack --host vm1 --herd web --member m4 --seq-start "$(cat "$T/attack.next")" >"$T/attack2.jsonl" 2>/dev/null
A=$(wc -l <"$T/attack2.jsonl")
acked=$(replay vm1 vm1 --timeout-s 20 "$T/attack2.jsonl" 2>/dev/null | jq .acked)
expect alert_outputs_down_ingest_acked "acked $acked of $A" test "${acked:-0}" -eq "$A"
pollx 5 'test "$(grep -c . "$T/alerts.jsonl")" -gt "$n0"'
sleep 0.3
held=$(tail -n +$((n0 + 1)) "$T/alerts.jsonl" | jq -c .)
nh=$(grep -c . <<<"$held")
s1=$(api "/api/alerts?limit=1000" | jq '.alerts | length')
expect alert_outputs_down_stdout_and_store "printed $nh, stored $((s1 - s0)) new alerts" \
	test "$nh" -ge 1 -a $((s1 - s0)) -eq "$nh"
poll 5 grep -q "webhook alert output to http://127.0.0.1:$HOOK_PORT/alerts is down" "$T/collector.log"
poll 3 grep -q "syslog alert output to tcp:127.0.0.1:$SYSLOG_PORT is down" "$T/collector.log"
expect alert_outputs_down_told "log: $(tail -n3 "$T/collector.log")" \
	grep -q "syslog alert output to tcp:127.0.0.1:$SYSLOG_PORT is down: cannot connect" "$T/collector.log"
st=$(api /api/stats | jq -c .alert_outputs)
expect alert_outputs_down_stats "stats: $st" jqe '.syslog.up == false and .webhook.up == false and .syslog.queued >= 1 and .webhook.queued >= 1' <<<"$st"
m=$(curl -sf "http://127.0.0.1:$HTTP_PORT/metrics" | grep '^herdwatch_collector_alert_output_up')
expect alert_outputs_down_metrics "metrics: $m" grep -q 'herdwatch_collector_alert_output_up{output="webhook"} 0' <<<"$m"

# ---- back: the held alert goes out ----
start_rsyslog || echo "# rsyslogd did not restart"
start_hook b || echo "# receiver did not restart"
pollx 10 'test "$(jq -c ".items[]" "$T/hook-b.jsonl" | grep -cxF "$held")" -ge "$nh"'
pollx 3 'test "$(grep -F "|herdwatch-collector|" "$T/syslog.out" | cut -d"|" -f8- | jq -c . | grep -cxF "$held")" -ge "$nh"'
got=$(jq -c '.items[]' "$T/hook-b.jsonl" | grep -cxF "$held")
expect alert_outputs_held_webhook "$got of the $nh held alerts posted" test "$got" -ge "$nh"
got=$(grep -F "|herdwatch-collector|" "$T/syslog.out" | cut -d'|' -f8- | jq -c . | grep -cxF "$held")
expect alert_outputs_held_syslog "$got of the $nh held alerts in syslog" test "$got" -ge "$nh"
poll 3 grep -q "webhook alert output to http://127.0.0.1:$HOOK_PORT/alerts works again" "$T/collector.log"
expect alert_outputs_recovery_told "log: $(tail -n3 "$T/collector.log")" \
	grep -q "syslog alert output to tcp:127.0.0.1:$SYSLOG_PORT works again" "$T/collector.log"
exit $FAILED
