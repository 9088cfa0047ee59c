#!/usr/bin/env bash
# lane: parallel (no BPF, no agent: runs beside the probe tests)
# Herd engine, end to end through the real transport: a herd of five container members runs
# the same web workload; one member runs an attacker's sequence (shell spawned by the web
# server, nc to a public address, a read of /etc/shadow). The alert names that member and those
# tokens; no other member raises anything. A deploy (all members change together) raises one
# herd change and no member alert. A two-member herd gives a notice, not an alert. Alerts run
# the response command with the alert JSON on stdin.
# Cohorts (herd + version): herd "shop" of eight containers at version 1.0 gets a rolling
# deploy of version 2.0 (new members one after the other): the first is a canary (a notice,
# judged against the herd), the next ones make one cohort change, not an alert each; the v2
# binary on a v1 member is an alert; versions show in members/herds and survive a restart; a
# database file of the schema before cohorts is migrated in place. Event time: a spool flushed
# late is judged at its own time, its alert marked late; events beyond --max-skew-s are
# counted (clock_skew). The Public Suffix List of dns tokens: a missing file is said once at
# start (libpsl's built-in list is used).
. "$(dirname "$0")/lib.sh"
make_pki vm1 vm2 vm3 >/dev/null 2>&1 || { echo "not ok - pki: herdwatch-ca failed"; exit 1; }
# --change-window-s 20: shop's own first tokens (sent at the start) are old news by its deploy
start_collector --learn-s 3 --hold-ms 500 --min-herd 4 --silent-s 0 --change-window-s 20 \
	--response-cmd "cat >> $T/response.jsonl" || exit 1
HW="$B/herdwatch --api 127.0.0.1:$HTTP_PORT"

seq1=1
seq2=1
seq3=1
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
send vm3 baseline --herd shop --members s1,s2,s3,s4,s5,s6,s7,s8 --version 1.0 --rounds 3
shop_start=$SECONDS
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

# ---- event time: a spool flushed late is judged at its own time and its alert marked late (5 s
# here: events from before the herd had learned are not judged; unit test late_* has the hour);
# events 3 days old are beyond --max-skew-s: stored, counted, judged at arrival ----
# sent_ago AGO-S HOST MODE [gen options]: like send, the events' time AGO-S seconds ago
sent_ago() {
	local ago=$1 host=$2 mode=$3 f=$T/$2-$RANDOM.jsonl
	shift 3
	local -n sq="seq${host#vm}"
	$GEN "$mode" --host "$host" --seq-start "$sq" "$@" >"$f" 2>"$f.next" || return 1
	sq=$(cat "$f.next")
	local t
	t=$(date -u -d "-$ago seconds" +%Y-%m-%dT%H:%M:%S)
	sed -i -E "s/\"time\":\"[^\"]*\"/\"time\":\"$t.000000000Z\"/" "$f"
	replay "$host" "$host" --timeout-s 20 "$f" >/dev/null 2>&1
	grep -c . "$f"
}
before=$(grep -c . "$T/alerts.jsonl")
sent_ago 5 vm2 attack2 --herd api --member a2 >/dev/null
sleep 1
new=$(tail -n +$((before + 1)) "$T/alerts.jsonl")
late=$(jq -c 'select(.kind == "member.outlier" and .member == "vm2/a2")' <<<"$new")
age() { jq -r "(.arrival_time[0:19] + \"Z\" | fromdate) - (.event_time[0:19] + \"Z\" | fromdate)" <<<"$1"; }
expect late_flush_alert_marked "new alerts: $new" \
	test "$(jq -r .late <<<"$late")" = true -a "$(age "$late")" -ge 4 -a "$(age "$late")" -le 12
expect late_flush_explains "explanation: $(jq -r .explanation <<<"$late")" \
	grep -q '(late: events of .*, judged at their own time)' <<<"$(jq -r .explanation <<<"$late")"
skewed_before=$(api /api/stats | jq .clock_skew)
n=$(sent_ago $((3 * 86400)) vm2 baseline $api_ --rounds 1)
sleep 0.3
expect skew_counted "stats: $(api /api/stats | head -c 300)" \
	test "$(api /api/stats | jq .clock_skew)" -eq $((skewed_before + n))

# ---- cohorts ----
shop="--herd shop --app /opt/shop/bin/shop-v2"
# wait until shop's first tokens are older than the change window
while [ $((SECONDS - shop_start)) -le 21 ]; do sleep 1; done
send vm3 baseline --herd shop --members s1,s2,s3,s4,s5,s6,s7,s8 --version 1.0 --rounds 1
sleep 1
# canary: the first member of version 2.0 runs the new binary
before=$(grep -c . "$T/alerts.jsonl")
send vm3 baseline --herd shop --members t1 --version 2.0 --rounds 1
send vm3 deploy $shop --members t1 --version 2.0
sleep 1.5
new=$(tail -n +$((before + 1)) "$T/alerts.jsonl")
can=$(jq -c 'select(.kind == "member.outlier" and .member == "vm3/t1")' <<<"$new")
expect canary_one_notice "new alerts: $new" \
	test "$(grep -c . <<<"$can")" -eq 1 -a "$(jq -r .severity <<<"$can")" = notice
expect canary_marked "alert: $can" test "$(jq -r '"\(.canary) \(.cohort) \(.version) \(.cohort_size)"' <<<"$can")" = "true shop@2.0 2.0 1"
expect canary_explains "explanation: $(jq -r .explanation <<<"$can")" grep -q \
	'vm3/t1 (shop@2.0) ran /opt/shop/bin/shop-v2 (parent /usr/sbin/nginx) as service; 0 of 0 peers of version 2.0, 0 of 8 in herd shop in their first 10 min or lately (decayed, half-life 24 h)' \
	<<<"$(jq -r .explanation <<<"$can")"
expect canary_says_so "explanation: $(jq -r .explanation <<<"$can")" grep -q \
	'(canary: cohort shop@2.0 has 1 member, judged against herd shop: notice only)$' <<<"$(jq -r .explanation <<<"$can")"
expect canary_judged_new_tokens_only "tokens: $(jq -c '[.tokens[].token]' <<<"$can")" \
	test "$(jq -r '[.tokens[].token | select(startswith("exec|/opt/shop/bin/shop-v2") or startswith("connect|/opt/shop/bin/shop-v2"))] | length' <<<"$can")" -eq "$(jq '.tokens | length' <<<"$can")"
# the rollout goes on: five more members of version 2.0, one after the other
before=$(grep -c . "$T/alerts.jsonl")
for m in t2 t3 t4 t5 t6; do
	send vm3 baseline --herd shop --members $m --version 2.0 --rounds 1
	send vm3 deploy $shop --members $m --version 2.0
done
sleep 1.5
new=$(tail -n +$((before + 1)) "$T/alerts.jsonl")
chg=$(jq -c 'select(.kind == "herd.change" and .herd == "shop")' <<<"$new")
expect rollout_one_cohort_change "new alerts: $new" test "$(grep -c . <<<"$chg")" -eq 1
expect rollout_change_names_cohort "change: $chg" \
	test "$(jq -r '"\(.version) \(.cohort)"' <<<"$chg")" = "2.0 shop@2.0"
expect rollout_change_names_tokens "change: $chg" \
	grep -qx 'exec|/opt/shop/bin/shop-v2|parent=/usr/sbin/nginx|user=service' <<<"$(jq -r '.tokens[].token' <<<"$chg")"
# members of the cohort so far: 2 of 2 when the hold ends before the third member arrives (a loaded
# machine may see more members first)
expect rollout_change_explains "change: $chg" grep -q \
	'^cohort shop@2.0 (version 2.0 of herd shop) changed: .*[2-6] of [2-6] ran /opt/shop/bin/shop-v2 (parent /usr/sbin/nginx) as service.* within 20 s (a deploy of this version: reported once, not per member)$' \
	<<<"$(jq -r .explanation <<<"$chg")"
expect rollout_no_member_alerts "new alerts: $new" \
	test "$(jq -s '[.[] | select(.kind == "member.outlier")] | length' <<<"$new")" -eq 0
# the v2 binary on a member of version 1.0: normal in cohort 2.0, not in cohort 1.0
before=$(grep -c . "$T/alerts.jsonl")
send vm3 deploy $shop --members s3 --version 1.0
sleep 1.5
new=$(tail -n +$((before + 1)) "$T/alerts.jsonl")
out=$(jq -c 'select(.kind == "member.outlier")' <<<"$new")
expect cohort_v1_member_alert "new alerts: $new" \
	test "$(jq -r '"\(.member) \(.severity) \(.cohort)"' <<<"$out")" = "vm3/s3 alert shop@1.0"
expect cohort_v1_member_explains "explanation: $(jq -r .explanation <<<"$out")" grep -q \
	'vm3/s3 (shop@1.0) ran /opt/shop/bin/shop-v2 (parent /usr/sbin/nginx) as service; 0 of 7 peers of version 1.0, 6 of 13 in herd shop' \
	<<<"$(jq -r .explanation <<<"$out")"
expect cohort_v1_no_herd_change "new alerts: $new" \
	test "$(jq -s '[.[] | select(.kind == "herd.change")] | length' <<<"$new")" -eq 0
# members and herds show versions and cohorts (JSON and table)
mj=$($HW members --json)
expect members_json_version "members: $mj" test "$(jq -r '.[] | select(.member == "vm3/t4") | "\(.version) \(.cohort)"' <<<"$mj")" = "2.0 shop@2.0"
expect members_json_unversioned "members: $mj" test "$(jq -r '.[] | select(.member == "vm1/m1") | "\(.version) \(.cohort)"' <<<"$mj")" = "null web"
mt=$($HW members)
expect members_table_version "members: $mt" grep -Eq '^vm3/s2 +shop +1\.0 +container ' <<<"$mt"
expect members_table_header "members: $mt" grep -Eq '^MEMBER +HERD +VERSION +TYPE ' <<<"$mt"
hj=$($HW herds --json)
expect herds_json_cohorts "herds: $hj" test "$(jq -c '.[] | select(.herd == "shop") | [.cohorts[] | [.version, .cohort, .members]]' <<<"$hj")" = '[["1.0","shop@1.0",8],["2.0","shop@2.0",6]]'
ht=$($HW herds)
expect herds_table_cohorts "herds: $ht" grep -Eq '^shop +14 +14 .* 1\.0:8 2\.0:6$' <<<"$ht"
expect herds_table_unversioned "herds: $ht" grep -Eq '^web +5 .* -$' <<<"$ht"
change_at=$SECONDS

# a restarted collector keeps what it learned: the herd (older than --learn-s 10 by now) does
# not learn again, so m2 is judged at once
stop_collector
start_collector --learn-s 10 --hold-ms 500 --min-herd 4 --silent-s 0 --change-window-s 20 \
	--response-cmd "cat >> $T/response.jsonl" || exit 1
expect restart_state_restored "log: $(tail -3 "$T/collector.log")" grep -q "herd state restored" "$T/collector.log"
before=$(grep -c . "$T/alerts.jsonl")
send vm1 baseline $web --rounds 1
send vm1 attack2 --herd web --member m2
sleep 1.5
new=$(tail -n +$((before + 1)) "$T/alerts.jsonl")
expect restart_judges_without_relearning "new alerts: $new" \
	test "$(jq -r 'select(.kind == "member.outlier") | .member' <<<"$new")" = vm1/m2
mj=$($HW members --json)
expect restart_keeps_versions "members: $mj" \
	test "$(jq -r '[.[] | select(.herd == "shop") | .cohort] | sort | unique | join(" ")' <<<"$mj")" = "shop@1.0 shop@2.0"

# after the change window: a new member of version 2.0 doing what its version does is judged,
# in its cohort (6 of 6 peers of version 2.0), and raises nothing
while [ $((SECONDS - change_at)) -le 21 ]; do sleep 1; done
before=$(grep -c . "$T/alerts.jsonl")
send vm3 baseline --herd shop --members t7 --version 2.0 --rounds 1
send vm3 deploy $shop --members t7 --version 2.0
# ... while what its version does not do is an alert (the cohort is big enough to judge)
send vm3 attack2 --herd shop --member t8 --version 2.0
sleep 1.5
new=$(tail -n +$((before + 1)) "$T/alerts.jsonl")
expect cohort_v2_member_normal "new alerts: $new" \
	test "$(jq -s '[.[] | select(.member == "vm3/t7" or .kind == "herd.change")] | length' <<<"$new")" -eq 0
out=$(jq -c 'select(.kind == "member.outlier")' <<<"$new")
expect cohort_v2_outlier_alert "new alerts: $new" \
	test "$(jq -r '"\(.member) \(.severity) \(.canary)"' <<<"$out")" = "vm3/t8 alert false"
expect cohort_v2_outlier_explains "explanation: $(jq -r .explanation <<<"$out")" grep -q \
	'vm3/t8 (shop@2.0) ran /usr/bin/python<v> (parent /usr/sbin/nginx) as service; 0 of 7 peers of version 2.0, 0 of 15 in herd shop' \
	<<<"$(jq -r .explanation <<<"$out")"

# ---- a database file of the schema before cohorts (tests/collector/store-v0.sql) ----
stop_collector
python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.executescript(open(sys.argv[2]).read()); c.close()' \
	"$T/old.db" "$HW_ROOT/tests/collector/store-v0.sql"
: >"$T/collector.log"
start_collector --db "$T/old.db" --retain-days 0 --learn-s 3 --hold-ms 500 --min-herd 4 --silent-s 0 || exit 1
col() { python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); print(*[r[0] for r in c.execute(sys.argv[2])])' "$T/old.db" "$1"; }
expect migrate_said "log: $(cat "$T/collector.log")" grep -q "database schema 0 migrated to 2" "$T/collector.log"
expect migrate_column_added "columns: $(col 'SELECT name FROM pragma_table_info("names")')" \
	grep -qw version <<<"$(col 'SELECT name FROM pragma_table_info("names")')"
expect migrate_user_version "user_version: $(col 'PRAGMA user_version')" test "$(col 'PRAGMA user_version')" = 2
# streams are keyed by (certificate name, host id, boot id, run id) since schema 2; the old
# stream's stored seqs are kept (name '', run 0: agents without run ids continue them)
expect migrate_streams_kept "streams: $(col "SELECT name || '|' || host_id || '|' || run || '|' || ranges FROM streams")" \
	test "$(col "SELECT ranges FROM streams WHERE name = '' AND run = 0 AND host_id = 'f6b31db484d5d30b2d6e8a8fca6e7878'")" = 1-21
expect migrate_streams_columns "columns: $(col 'SELECT name FROM pragma_table_info("streams")')" \
	grep -q "host last_chunk" <<<"$(col 'SELECT name FROM pragma_table_info("streams")')"
expect migrate_old_events_kept "events: $(api '/api/events?member=vm9/o1&limit=100' | head -c 300)" \
	test "$(api '/api/events?member=vm9/o1&limit=100' | jq '.events | length')" -eq 10
expect migrate_old_state_restored "log: $(cat "$T/collector.log")" grep -q "herd state restored (3 members)" "$T/collector.log"
mj=$($HW members --json)
expect migrate_old_members_unversioned "members: $mj" \
	test "$(jq -r '.[] | select(.member == "vm9/o2") | "\(.herd) \(.version) \(.cohort)"' <<<"$mj")" = "old null old"
send vm3 baseline --herd shop --members u1 --version 3.1 --rounds 1
sleep 0.5
expect migrate_new_member_version_stored "names: $(col "SELECT name || '=' || ifnull(version, '-') FROM names WHERE type = 1")" \
	test "$(col "SELECT version FROM names WHERE name = 'vm3/u1'")" = 3.1
# an in-place upgrade updates the stored version
send vm3 baseline --herd shop --members u1 --version 3.2 --rounds 1
sleep 0.5
expect stored_version_follows_upgrade "names: $(col "SELECT name || '=' || ifnull(version, '-') FROM names WHERE type = 1")" \
	test "$(col "SELECT version FROM names WHERE name = 'vm3/u1'")" = 3.2
stop_collector
start_collector --db "$T/old.db" --retain-days 0 --learn-s 3 --hold-ms 500 --min-herd 4 --silent-s 0 || exit 1
expect migrate_once "log: $(cat "$T/collector.log")" test "$(grep -c "migrated" "$T/collector.log")" -eq 1

# ---- the Public Suffix List of dns tokens: the distribution's list is loaded without a word; a
# missing one falls back to libpsl's built-in list, said once at start ----
expect psl_default_silent "log: $(cat "$T/collector.log")" \
	test "$(grep -c 'public suffix list' "$T/collector.log")" -eq 0
stop_collector
: >"$T/collector.log"
start_collector --db "$T/old.db" --psl-file "$T/no-such-psl.dat" --learn-s 3 || exit 1
expect psl_missing_falls_back "log: $(cat "$T/collector.log")" test "$(grep -c \
	"public suffix list $T/no-such-psl.dat: No such file or directory; dns tokens use libpsl's built-in list" \
	"$T/collector.log")" -eq 1
