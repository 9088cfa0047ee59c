#!/usr/bin/env bash
# lane: parallel (no BPF, no agent: runs beside the probe tests)
# The herdwatch CLI against a live collector: events filtered by member, kind, time and text
# (table and JSON), --follow, alerts, herds, members; silent-member detection (a resent
# duplicate counts as a sign of life); paging: more events than one answer holds, a text search
# that must reach data older than one answer examines, --follow through a burst.
. "$(dirname "$0")/lib.sh"
make_pki vm1 vm9 vm2 vmold >/dev/null 2>&1 || { echo "not ok - pki: herdwatch-ca failed"; exit 1; }
# --query-max-chunks 10: an events answer examines at most 10 chunks, the CLI pages on
start_collector --learn-s 0 --hold-ms 300 --silent-s 4 --query-max-chunks 10 || exit 1
HW="$B/herdwatch --api 127.0.0.1:$HTTP_PORT"

$GEN baseline --host vm1 --herd web --members m1,m2 --rounds 4 >"$T/a.jsonl" 2>/dev/null
replay vm1 vm1 "$T/a.jsonl" >/dev/null 2>&1

out=$($HW events --member vm1/m2 --kind net.connect --json)
n=$(grep -c . <<<"$out")
expect cli_events_member_kind "got $n lines: $out" test "$n" -eq 4
expect cli_events_member_kind_exact "got: $out" \
	test "$(jq -r '.member + " " + .event.kind' <<<"$out" | sort -u)" = "vm1/m2 net.connect"
# a plain substring of the stored JSON: "5432" alone also matches random digits (time, ids)
out=$($HW events --member vm1 --grep '"port":5432}' --json)
expect cli_events_text "got: $(head -c 300 <<<"$out")" \
	test "$(grep -c . <<<"$out")" -eq 8 -a "$(jq -r .event.net.dst.port <<<"$out" | sort -u)" = 5432
out=$($HW events --kind process.exec --since 10m)
expect cli_events_table "got: $out" \
	bash -c "head -1 <<<'$out' | grep -q '^ID .*MEMBER .*KIND' && test \$(grep -c process.exec <<<'$out') -eq 16"
out=$($HW events --since 2026-01-01T00:00:00Z --until 2026-01-02T00:00:00Z --json)
expect cli_events_time_window "old window returned: $out" test -z "$out"
out=$($HW events --limit 5 --json)
expect cli_events_limit "got $(grep -c . <<<"$out")" test "$(grep -c . <<<"$out")" -eq 5

# --follow prints events that arrive later
$HW events --follow --kind file.open --json >"$T/follow.out" 2>&1 &
fp=$!
sleep 0.7
$GEN baseline --host vm1 --herd web --members m1,m2 --rounds 1 --seq-start 100 >"$T/b.jsonl" 2>/dev/null
replay vm1 vm1 "$T/b.jsonl" >/dev/null 2>&1
sleep 1.2
kill $fp
wait $fp 2>/dev/null
expect cli_follow "follow output: $(cat "$T/follow.out")" \
	test "$(jq -r .event.seq "$T/follow.out" | sort -n | tail -2 | tr '\n' ' ')" = "103 108 "

# silence: vm9 reports once, then stops; vm1 keeps reporting (every ~0.5 s). vm1's heartbeats
# are written beforehand: one Python start takes 0.5-1.5 s on a loaded machine, and a few in a
# row made vm1 itself silent for the 4 s of --silent-s.
for i in $(seq 12); do
	$GEN heartbeat --host vm1 --members '' --seq-start $((200 + i)) >"$T/h1-$i.jsonl" 2>/dev/null
done
$GEN heartbeat --host vm9 --members '' >"$T/h9.jsonl" 2>/dev/null
replay vm1 vm1 "$T/h1-1.jsonl" >/dev/null 2>&1 # vm1 fresh (it was quiet while they were written)
n0=$(grep -c . "$T/alerts.jsonl")
replay vm9 vm9 "$T/h9.jsonl" >/dev/null 2>&1
for i in $(seq 2 12); do
	replay vm1 vm1 "$T/h1-$i.jsonl" >/dev/null 2>&1
	sleep 0.5
done
al=$(tail -n +$((n0 + 1)) "$T/alerts.jsonl" | jq -c 'select(.kind == "member.silent")')
expect silent_member_alert "alerts: $al" grep -q '"member":"vm9"' <<<"$al"
expect silent_only_the_silent "alerts: $al" test "$(jq -r .member <<<"$al" | sort -u)" = vm9
expect cli_alerts_silent "cli: $($HW alerts --kind member.silent --json)" \
	grep -q '"member":"vm9"' <<<"$($HW alerts --kind member.silent --json)"
out=$($HW members)
expect cli_members_table "members: $out" bash -c "grep -q '^vm9 .* yes ' <<<'$out' && grep -q '^vm1/m1 .*web' <<<'$out'"
out=$($HW herds --json)
expect cli_herds_json "herds: $out" test "$(jq -r '.[] | select(.herd == "web") | .members' <<<"$out")" -eq 2
d0=$(stat .duplicates)
replay vm9 vm9b "$T/h9.jsonl" >/dev/null 2>&1 # the same seq again: a duplicate, still a sign of life
sleep 0.3
expect silent_duplicate_is_duplicate "duplicates $d0 -> $(stat .duplicates)" test "$(stat .duplicates)" -eq $((d0 + 1))
expect silent_member_back_on_duplicate "alerts: $($HW alerts --json)" \
	grep -qx vm9 <<<"$($HW alerts --kind member.back --json | jq -r .member)"
out=$($HW alerts)
expect cli_alerts_table "alerts: $out" grep -q 'member.silent .*vm9 .*no event or heartbeat' <<<"$out"

# paging. An old event to search for, then a burst of 12,000 events in ~60 chunks (more than one
# answer examines, more than one page holds) while --follow runs.
$GEN heartbeat --host vmold --members '' >"$T/old.jsonl" 2>/dev/null
sed -i 's/"kind":"agent.heartbeat"/"kind":"agent.heartbeat","note":"needle-7q3x"/' "$T/old.jsonl"
replay vmold vmold "$T/old.jsonl" >/dev/null 2>&1
$GEN baseline --host vm2 --herd db --members m1,m2 --rounds 1200 >"$T/burst.jsonl" 2>/dev/null
NB=$(wc -l <"$T/burst.jsonl")
$HW events --follow --member vm2 --json >"$T/follow2.out" 2>&1 &
fp=$!
sleep 0.7
replay vm2 vm2 --rate 6000 "$T/burst.jsonl" >/dev/null 2>&1
sleep 1.5
kill $fp
wait $fp 2>/dev/null
chunks=$(sqlite3 "$T/c.db" "SELECT count(*) FROM chunks")
expect cli_paging_many_chunks "only $chunks chunks" test "$chunks" -gt 30
n=$(jq -r .event.seq "$T/follow2.out" | sort -un | grep -c .)
expect cli_follow_burst "follow printed $n distinct of $NB burst events ($(grep -c . "$T/follow2.out") lines)" \
	test "$n" -eq "$NB" -a "$(grep -c . "$T/follow2.out")" -eq "$NB"
out=$($HW events --member vm2 --limit 12000 --json)
expect cli_events_10000_plus "got $(grep -c . <<<"$out") lines, $(jq -r .event.seq <<<"$out" | sort -un | grep -c .) distinct; $(head -c 200 <<<"$out")" \
	test "$NB" -ge 12000 -a "$(grep -c . <<<"$out")" -eq 12000 -a "$(jq -r .event.seq <<<"$out" | sort -un | grep -c .)" -eq 12000
out=$($HW events --limit 100000 --json | grep -c .)
expect cli_events_all "listed $out of $(stat .events_stored)" test "$out" -eq "$(stat .events_stored)"
out=$($HW events --grep needle-7q3x --json)
expect cli_grep_reaches_old_data "got: $(head -c 300 <<<"$out")" \
	test "$(jq -r .member <<<"$out")" = vmold
out=$($HW events --limit 3 --json)
expect cli_events_newest_first_page "got: $(jq -r .event.seq <<<"$out" | tr '\n' ' ')" \
	test "$(jq -r .event.seq <<<"$out" | tr '\n' ' ')" = "$((NB - 2)) $((NB - 1)) $NB "
