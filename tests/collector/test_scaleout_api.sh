#!/usr/bin/env bash
# lane: parallel (no BPF, no agent: runs beside the probe tests)
# The query API in scale-out mode (docs/scale-out.md "Query API"): the same recorded input
# (three herds learning, then a planted outlier) is replayed into an embedded collector and into
# a cluster (3 NATS nodes, 1 ingest, 2 workers, --mode api), both with --query-max-chunks 4 so
# that answers are cut and paged. The herdwatch CLI pointed at either gives the same answers:
# events (all, one member in order, by kind, by text, the newest N), paged API answers (newest
# first and oldest first) hold every event once, alerts, herds, members. An alert delivered
# again (a second consumer of HW_ALERT into the same database) is stored once; /api/request is
# the ingest's; the response command (an alert output) runs once for the outlier. Event ids
# and the clock readings of alerts differ by design and are left out of the comparison.
. "$(dirname "$0")/lib.sh"
command -v nats-server >/dev/null || { echo "not ok - nats-server: not installed (scripts/deps.sh)"; exit 1; }
make_pki relay >/dev/null 2>&1 || { echo "not ok - pki: herdwatch-ca failed"; exit 1; }
. "$(dirname "$0")/nats_lib.sh"
P=4
HERD_OPTS=(--learn-s 2 --hold-ms 300 --min-herd 3 --silent-s 0)

cluster_and_ingest
start_worker 1
start_worker 2
start_api --query-max-chunks 4 "${HERD_OPTS[@]}" --response-cmd "cat >>$T/response.jsonl" || { notok api_up "$(tail -n 5 "$T/api.log")"; exit 1; }
start_collector --relay-cert relay --query-max-chunks 4 "${HERD_OPTS[@]}" || exit 1
ok services_up
EMB=127.0.0.1:$HTTP_PORT
CLU=127.0.0.1:$API_PORT
hw() { "$B/herdwatch" --api "$@"; }

# ---- the same input into both ----
HOSTS="w1:web:m1,m2,m3,m4,m5 w2:web:m1,m2,m3,m4,m5 a1:api:x1,x2,x3 a2:api:x1,x2,x3 d1:db:y1,y2,y3"
G=()
for hm in $HOSTS; do
	IFS=: read -r h herd members <<<"$hm"
	$GEN baseline --host "$h" --herd "$herd" --members "$members" --rounds 12 \
		>"$T/learn-$h.jsonl" 2>"$T/learn-$h.next" &
	G+=($!)
done
wait "${G[@]}"
# after learning: more of the same from every host, the attack on w1/m3 amid it, more after
for hm in $HOSTS; do
	IFS=: read -r h herd members <<<"$hm"
	$GEN baseline --host "$h" --herd "$herd" --members "$members" --rounds 2 \
		--seq-start "$(cat "$T/learn-$h.next")" >"$T/steady-$h.jsonl" 2>"$T/steady-$h.next" &
	G+=($!)
done
wait "${G[@]}"
$GEN attack --host w1 --herd web --member m3 --seq-start "$(cat "$T/steady-w1.next")" \
	>"$T/attack.jsonl" 2>"$T/attack.next"
$GEN baseline --host w1 --herd web --members m1,m2,m3,m4,m5 --rounds 1 \
	--seq-start "$(cat "$T/attack.next")" >"$T/after.jsonl" 2>/dev/null
learn=("$T"/learn-*.jsonl)
steady=("$T"/steady-*.jsonl)
total=$(cat "${learn[@]}" "${steady[@]}" "$T/attack.jsonl" "$T/after.jsonl" | wc -l)
both() { # both NAME FILE...: the same files into the embedded collector and the cluster
	local name=$1
	shift
	replay relay "e-$name" --timeout-s 20 "$@" >"$T/e-$name.out" 2>&1 &
	local r=$!
	send 1 "c-$name" --timeout-s 20 "$@" >"$T/c-$name.out" 2>&1
	wait $r
}
both learn "${learn[@]}"
sleep 2.5 # --learn-s 2: both engines are past learning
both steady "${steady[@]}"
both attack "$T/attack.jsonl"
both after "$T/after.jsonl"
acked() { cat "$T"/$1-*.out | jq -s 'map(.acked) | add'; }
echo "# t=$SECONDS s: sent"
expect both_acked "embedded $(acked e), cluster $(acked c) of $total" \
	test "$(acked e)" = "$total" -a "$(acked c)" = "$total"
wait_stored "$total" 30
for _ in $(seq 100); do
	[ "$(hw "$EMB" --json alerts | wc -l)" -ge 1 ] && [ "$(hw "$CLU" --json alerts | wc -l)" -ge 1 ] && break
	sleep 0.1
done
sleep 1 # an alert raised late (a held candidate) would come now
# the API reads the shards as they commit: until every event is there
for _ in $(seq 50); do
	[ "$(hw "$CLU" --json events --limit 100000 | wc -l)" -ge "$total" ] && break
	sleep 0.1
done

echo "# t=$SECONDS s: stored, alerted"

# ---- the CLI against both: events ----
noid() { cut -c10-; } # the table without its ID column (8 wide and a space)
same() { # same NAME CLI-ARGS...: the CLI's table from both, ids left out, in order
	local name=$1
	shift
	hw "$EMB" "$@" >"$T/$name.emb" 2>&1
	hw "$CLU" "$@" >"$T/$name.clu" 2>&1
	expect "$name" "$(diff <(noid <"$T/$name.emb") <(noid <"$T/$name.clu") | head -5) ($(wc -l <"$T/$name.emb") vs $(wc -l <"$T/$name.clu") lines)" \
		cmp -s <(noid <"$T/$name.emb") <(noid <"$T/$name.clu")
}
same_sorted() { # the same, as sets (hosts interleave in either's arrival order)
	local name=$1
	shift
	hw "$EMB" "$@" | noid | sort >"$T/$name.emb"
	hw "$CLU" "$@" | noid | sort >"$T/$name.clu"
	expect "$name" "$(diff "$T/$name.emb" "$T/$name.clu" | head -5) ($(wc -l <"$T/$name.emb") vs $(wc -l <"$T/$name.clu") lines)" \
		cmp -s "$T/$name.emb" "$T/$name.clu"
}
same_sorted cli_events_all events --limit 100000
n=$(($(wc -l <"$T/cli_events_all.clu") - 1))
expect cli_events_all_count "the CLI listed $n of $total events" test "$n" = "$total"
# one member's events are in one partition: the same order in both (a host's own events and
# its containers' may be in different partitions, whose messages JetStream orders as it takes
# them)
same cli_events_member_in_order events --member w1/m3 --limit 100000
same cli_events_member_newest events --member a2/x1 --limit 57
same_sorted cli_events_kind events --kind process.exec --limit 100000
same_sorted cli_events_grep events --grep m3 --limit 100000
hw "$EMB" --json events --limit 100000 --member d1 | sed 's/^{"id":[0-9]*,//' | sort >"$T/json.emb"
hw "$CLU" --json events --limit 100000 --member d1 | sed 's/^{"id":[0-9]*,//' | sort >"$T/json.clu"
expect cli_events_json "$(diff "$T/json.emb" "$T/json.clu" | head -c 600)" \
	test "$(wc -l <"$T/json.clu")" -gt 100 -a "$(cat "$T/json.emb")" = "$(cat "$T/json.clu")"
k=$(wc -l <"$T/cli_events_kind.clu")
expect cli_events_filters_select "kind: $k lines, grep: $(wc -l <"$T/cli_events_grep.clu"), of $total" \
	test "$k" -gt 10 -a "$k" -lt "$total" -a "$(wc -l <"$T/cli_events_grep.clu")" -gt 10

# ---- the API's paging: every event once, newest first and oldest first ----
page_all() { # page_all HOST:PORT before|after: the events' "host seq" lines, paged by 300
	local a=$1 dir=$2 cur=-1 q out n tr
	for _ in $(seq 2000); do
		q="limit=300"
		[ "$dir" = before ] && [ "$cur" -ge 0 ] && q+="&before=$cur"
		[ "$dir" = after ] && q+="&after=$((cur < 0 ? 0 : cur))"
		curl -sf "http://$a/api/events?$q" >"$T/page.json" || return 1
		jq -r '.events[] | "\(.event.host.name) \(.event.seq)"' "$T/page.json"
		read -r n tr nb last < <(jq -r '"\(.events | length) \(.truncated) \(.next_before) \(.last_id)"' "$T/page.json")
		if [ "$dir" = before ]; then
			cur=$nb
			[ "$cur" -lt 0 ] && return 0
		else
			[ "$n" = 0 ] && [ "$tr" != true ] && return 0
			cur=$last
		fi
	done
	return 1
}
echo "# t=$SECONDS s: CLI events compared"
for dir in before after; do
	page_all "$EMB" $dir >"$T/page-$dir.emb"
	page_all "$CLU" $dir >"$T/page-$dir.clu"
	expect "api_paged_${dir}_every_event_once" \
		"embedded $(wc -l <"$T/page-$dir.emb") ($(sort "$T/page-$dir.emb" | uniq -d | wc -l) twice), cluster $(wc -l <"$T/page-$dir.clu") ($(sort "$T/page-$dir.clu" | uniq -d | wc -l) twice) of $total" \
		test "$(sort -u "$T/page-$dir.clu" | wc -l)" = "$total" -a "$(wc -l <"$T/page-$dir.clu")" = "$total" \
		-a "$(sort "$T/page-$dir.emb")" = "$(sort "$T/page-$dir.clu")"
done
tr=$(curl -sf "http://$CLU/api/events?limit=10000" | jq .truncated)
expect api_cut_by_max_chunks "a whole listing with --query-max-chunks 4: truncated=$tr" test "$tr" = true

echo "# t=$SECONDS s: events compared"

# ---- alerts, herds ----
noid_time() { cut -c38-; } # without ID (6) and TIME (30)
# an explanation cites when the events arrived and the herd's age when judged: each
# collector's own clock
unclock() { sed 's/arrived [^,]*,/arrived,/; s/this herd in [0-9]* s/this herd in N s/g'; }
hw "$EMB" alerts | unclock >"$T/alerts.emb"
hw "$CLU" alerts | unclock >"$T/alerts.clu"
expect cli_alerts "$(diff <(noid_time <"$T/alerts.emb") <(noid_time <"$T/alerts.clu"))" \
	cmp -s <(noid_time <"$T/alerts.emb") <(noid_time <"$T/alerts.clu")
expect cli_alerts_outlier "$(cat "$T/alerts.clu")" grep -q "member.outlier.*w1/m3" "$T/alerts.clu"
n=$(hw "$CLU" alerts --member w1/m3 | grep -c member.outlier)
expect cli_alerts_member "w1/m3: $n outlier alerts" test "$n" = 1
# herds: the same herds, members, changes and learning state (the workers' checkpoints)
hw "$EMB" herds | sort >"$T/herds.emb"
hw "$CLU" herds | sort >"$T/herds.clu"
expect cli_herds "$(diff "$T/herds.emb" "$T/herds.clu")" \
	test "$(wc -l <"$T/herds.clu")" = 4 -a "$(cat "$T/herds.emb")" = "$(cat "$T/herds.clu")"
m=$(hw "$CLU" members | tail -n +2 | awk '{print $1, $2}' | sort)
expect cli_members "$m" test "$m" = "$(hw "$EMB" members | tail -n +2 | awk '{print $1, $2}' | sort)"
expect cli_stats "$(hw "$CLU" stats)" test "$(hw "$CLU" stats | jq .alerts)" -ge 1
# the alert outputs of embedded mode, fed from HW_ALERT: the response command ran once
for _ in $(seq 50); do [ -s "$T/response.jsonl" ] && break; sleep 0.1; done
r=$(jq -r 'select(.kind == "member.outlier") | .member' "$T/response.jsonl" 2>/dev/null)
expect alert_output_response_cmd "response command input: $(head -c 300 "$T/response.jsonl" 2>&1)" test "$r" = w1/m3
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://$CLU/api/request?host=w1&arg=status")
expect api_request_not_here "HTTP $code" test "$code" = 501

# ---- an alert delivered again is stored once ----
na=$(curl -sf "http://$CLU/api/alerts" | jq '.alerts | length')
kill "$APID"
wait "$APID"
start_api --api-id again || notok api_restarted "$(tail -n 3 "$T/api.log")"
for _ in $(seq 50); do grep -q "consumer api-again" "$T/api.log" && break; sleep 0.1; done
sleep 1
nb=$(curl -sf "http://$CLU/api/alerts" | jq '.alerts | length')
kill "$APID"
wait "$APID"
d=$(grep -o "[0-9]* duplicates dropped" "$T/api.log" | tail -1)
expect alerts_redelivered_stored_once "alerts $na before, $nb after a second consumer read HW_ALERT again; $d" \
	test "$na" = "$nb" -a "$na" -ge 1 -a "${d%% *}" = "$na"
for w in 1 2; do kill "${WPID[$w]}" 2>/dev/null; done
[ "$FAILED" = 0 ]
