#!/usr/bin/env bash
# Herd engine, end to end through the real transport: a herd of five container members runs
# the same web workload; one member runs an attacker's sequence (shell spawned by the web
# server, nc to a public address, a read of /etc/shadow). The alert names that member and those
# tokens; no other member raises anything. A deploy (all members change together) raises one
# herd change and no member alert. A two-member herd gives a notice, not an alert. Alerts run
# the response command with the alert JSON on stdin.
. "$(dirname "$0")/lib.sh"
make_pki vm1 vm2 >/dev/null 2>&1 || { echo "not ok - pki: herdwatch-ca failed"; exit 1; }
start_collector --learn-s 3 --hold-ms 500 --min-herd 4 --silent-s 0 \
	--response-cmd "cat >> $T/response.jsonl" || exit 1

seq1=1
seq2=1
# send HOST MODE [gen options]: generate the next events of HOST and ship them
send() {
	local host=$1 mode=$2 f=$T/$1-$RANDOM.jsonl next
	shift 2
	local -n sq="seq${host#vm}"
	$GEN "$mode" --host "$host" --seq-start "$sq" "$@" >"$f" 2>"$f.next" || return 1
	sq=$(cat "$f.next")
	replay "$host" "$host" --timeout-s 20 "$f" >/dev/null 2>&1
}
web="--herd web --members m1,m2,m3,m4,m5"
api_="--herd api --members a1,a2"

# learning: the herds' normal behaviour
send vm1 baseline $web --rounds 5
send vm2 baseline $api_ --rounds 5
sleep 3.5
# steady state: more of the same raises nothing
send vm1 baseline $web --rounds 3
send vm2 baseline $api_ --rounds 3
sleep 1.2
expect steady_state_no_alert "alerts: $(cat "$T/alerts.jsonl")" \
	test "$(jq -s '[.[] | select(.kind == "member.outlier")] | length' "$T/alerts.jsonl")" -eq 0

# the attack on web member m3, while the others keep working normally
send vm1 baseline $web --rounds 1
send vm1 attack --herd web --member m3
send vm1 baseline $web --rounds 1
sleep 1.5
outl=$(jq -c 'select(.kind == "member.outlier")' "$T/alerts.jsonl")
expect attack_one_alert "outlier alerts: $outl" test "$(grep -c . <<<"$outl")" -eq 1
expect attack_names_member "alert: $outl" test "$(jq -r .member <<<"$outl")" = vm1/m3
expect attack_is_alert_severity "alert: $outl" test "$(jq -r .severity <<<"$outl")" = alert
toks=$(jq -r '.tokens[].token' <<<"$outl")
expect attack_token_shell "tokens: $toks" grep -qx 'exec|/usr/bin/dash|parent=/usr/sbin/nginx|user=service' <<<"$toks"
expect attack_token_nc_connect "tokens: $toks" grep -qx 'connect|/usr/bin/nc.openbsd|tcp/4444|public' <<<"$toks"
expect attack_token_shadow "tokens: $toks" grep -qx 'file|/usr/bin/cat|open|/etc/shadow' <<<"$toks"
expect attack_explains_peers "explanation: $(jq -r .explanation <<<"$outl")" \
	grep -q "0 of 4 peers" <<<"$(jq -r .explanation <<<"$outl")"
expect attack_names_events "events: $(jq -c '[.tokens[].events]' <<<"$outl")" \
	test "$(jq '[.tokens[].events | length] | min' <<<"$outl")" -ge 1
expect attack_others_silent "alerts: $outl" \
	test "$(jq -s '[.[] | select(.kind == "member.outlier" and .member != "vm1/m3")] | length' "$T/alerts.jsonl")" -eq 0
expect attack_alert_stored "api: $(api '/api/alerts?member=vm1/m3')" \
	test "$(api '/api/alerts?member=vm1/m3&kind=member.outlier' | jq '.alerts | length')" -eq 1
expect response_command_ran "response file: $(cat "$T/response.jsonl" 2>&1)" \
	grep -q '"member":"vm1/m3"' "$T/response.jsonl"
score=$(api /api/members | jq '[.[] | select(.member == "vm1/m3")][0].score')
expect member_score_raised "vm1/m3 score $score" awk "BEGIN { exit !($score >= 3) }"

# deploy: every web member starts a new binary with a new connection at the same time
before=$(grep -c . "$T/alerts.jsonl")
send vm1 deploy $web
sleep 1.5
new=$(tail -n +$((before + 1)) "$T/alerts.jsonl")
expect deploy_one_herd_change "new alerts: $new" \
	test "$(jq -s '[.[] | select(.kind == "herd.change" and .herd == "web")] | length' <<<"$new")" -eq 1
expect deploy_no_member_alert "new alerts: $new" \
	test "$(jq -s '[.[] | select(.kind == "member.outlier")] | length' <<<"$new")" -eq 0
expect deploy_change_names_tokens "new alerts: $new" \
	grep -q 'exec|/opt/app/bin/app-v2' <<<"$(jq -r 'select(.kind == "herd.change") | .tokens[].token' <<<"$new")"

# a herd of two: evidence is thin, so an outlier is a notice
send vm2 attack --herd api --member a1
sleep 1.5
small=$(jq -c 'select(.kind == "member.outlier" and .herd == "api")' "$T/alerts.jsonl")
expect small_herd_notice "alerts: $small" test "$(jq -r .severity <<<"$small")" = notice

# a restarted collector keeps what it learned: the herd (older than --learn-s 10 by now) does
# not learn again, so m2 is judged at once
stop_collector
start_collector --learn-s 10 --hold-ms 500 --min-herd 4 --silent-s 0 \
	--response-cmd "cat >> $T/response.jsonl" || exit 1
expect restart_state_restored "log: $(tail -3 "$T/collector.log")" grep -q "herd state restored" "$T/collector.log"
before=$(grep -c . "$T/alerts.jsonl")
send vm1 baseline $web --rounds 1
send vm1 attack2 --herd web --member m2
sleep 1.5
new=$(tail -n +$((before + 1)) "$T/alerts.jsonl")
expect restart_judges_without_relearning "new alerts: $new" \
	test "$(jq -r 'select(.kind == "member.outlier") | .member' <<<"$new")" = vm1/m2
