#!/usr/bin/env bash
# Loss-free transport: every seq of every agent is stored exactly once when the collector is
# killed mid-stream and restarted, when the agent is killed and restarted on its spool, and
# when the collector is down at the start; a full spool drops the oldest and counts them.
# A real agent stopped and started again on the same boot (seqs start at 1 again, a new run
# id) has every event of both runs stored once, also those of the first run it resends from
# its spool.
. "$(dirname "$0")/lib.sh"
make_pki vmA vmB vmC vmD vmE vmF vmG vmR >/dev/null 2>&1 || { echo "not ok - pki: herdwatch-ca failed"; exit 1; }

# exactly_once NAME HOST N: seqs 1..N each stored once
exactly_once() {
	local seqs total uniq
	seqs=$(stored_seqs "$2" | sort -n)
	total=$(grep -c . <<<"$seqs")
	uniq=$(uniq <<<"$seqs" | grep -c .)
	if [ "$total" -eq "$3" ] && [ "$uniq" -eq "$3" ] && [ "$(head -1 <<<"$seqs")" = 1 ] &&
		[ "$(tail -1 <<<"$seqs")" = "$3" ]; then
		ok "$1"
	else
		notok "$1" "$2: $total stored, $uniq distinct, expected 1..$3"
	fi
}

for h in vmA vmB vmC; do
	$GEN baseline --host $h --members m1,m2,m3 --rounds 1000 >"$T/$h.jsonl" 2>/dev/null
done
N=$(wc -l <"$T/vmA.jsonl")

# 1. collector killed (SIGKILL: no clean commit) mid-stream, restarted 1.5 s later
start_collector --learn-s 0 || exit 1
pids=()
for h in vmA vmB vmC; do
	replay $h $h --rate 6000 --timeout-s 90 "$T/$h.jsonl" >"$T/$h.out" 2>&1 &
	pids+=($!)
done
# kill once the stream is well under way (not at a fixed time: slow machines start late)
for _ in $(seq 200); do [ "$(stat .events_stored)" -ge 3000 ] && break; sleep 0.05; done
mid=$(stat .events_stored)
stop_collector -KILL
sleep 1.5
start_collector --learn-s 0 || exit 1
rcs=0
for p in "${pids[@]}"; do wait "$p" || rcs=$((rcs + 1)); done
expect kill_restart_agents_finished "$rcs replays failed: $(cat "$T"/vm?.out)" test "$rcs" -eq 0
expect kill_restart_was_mid_stream "stored $mid of $((3 * N)) at the kill" \
	test "$mid" -gt 0 -a "$mid" -lt $((3 * N))
expect kill_restart_reconnected "$(cat "$T/vmA.out")" test "$(jq .reconnects "$T/vmA.out")" -ge 1
for h in vmA vmB vmC; do exactly_once "kill_restart_exactly_once_$h" $h "$N"; done

# 2. the agent killed mid-stream, restarted on the same spool; it sends everything again
$GEN baseline --host vmD --members m1 --rounds 3000 >"$T/vmD.jsonl" 2>/dev/null
ND=$(wc -l <"$T/vmD.jsonl")
EXEC=1 replay vmD vmD --rate 10000 --timeout-s 60 "$T/vmD.jsonl" >/dev/null 2>&1 &
rp=$!
for _ in $(seq 200); do [ "$(find "$T/spool-vmD" -name '*.hwb' 2>/dev/null | wc -l)" -gt 0 ] && break; sleep 0.05; done
sleep 0.3
kill -STOP "$COLL_PID" # acks stop: batches pile up unacknowledged in the spool
sleep 0.7
kill -KILL $rp
wait $rp 2>/dev/null
kill -CONT "$COLL_PID"
left=$(find "$T/spool-vmD" -name '*.hwb' | wc -l)
replay vmD vmD --timeout-s 60 "$T/vmD.jsonl" >"$T/vmD.out" 2>&1
expect agent_restart_finished "$(cat "$T/vmD.out")" test $? -eq 0
expect agent_restart_spool_drained "$(find "$T/spool-vmD" -name '*.hwb' | wc -l) files left (had $left)" \
	test "$(find "$T/spool-vmD" -name '*.hwb' | wc -l)" -eq 0 -a "$left" -gt 0
exactly_once agent_restart_exactly_once vmD "$ND"

# 3. collector down when the agent starts: the spool holds everything until it is back
stop_collector
$GEN baseline --host vmE --members m1,m2 --rounds 1000 >"$T/vmE.jsonl" 2>/dev/null
NE=$(wc -l <"$T/vmE.jsonl")
replay vmE vmE --timeout-s 60 "$T/vmE.jsonl" >"$T/vmE.out" 2>&1 &
rp=$!
sleep 2
spooled=$(find "$T/spool-vmE" -name '*.hwb' | wc -l)
start_collector --learn-s 0 || exit 1
wait $rp
expect collector_down_spooled "spool had $spooled batches" test "$spooled" -gt 0
exactly_once collector_down_exactly_once vmE "$NE"

# 4. a full spool drops the oldest batches and counts them; nothing else is lost
stop_collector
$GEN baseline --host vmF --members m1,m2,m3 --rounds 2000 >"$T/vmF.jsonl" 2>/dev/null
NF=$(wc -l <"$T/vmF.jsonl")
replay vmF vmF --spool-max-kb 256 --timeout-s 60 "$T/vmF.jsonl" >"$T/vmF.out" 2>&1 &
rp=$!
sleep 3
start_collector --learn-s 0 || exit 1
wait $rp
dropped=$(jq .dropped "$T/vmF.out")
stored=$(stored_seqs vmF | sort -n | uniq | wc -l)
expect spool_full_drops_counted "$(cat "$T/vmF.out")" test "$dropped" -gt 0
expect spool_full_drops_labelled "$(cat "$T/vmF.out")" test "$(jq .dropped_by.spool_full "$T/vmF.out")" -eq "$dropped"
expect spool_full_rest_stored "stored $stored + dropped $dropped != $NF" test $((stored + dropped)) -eq "$NF"
newest=$(stored_seqs vmF | sort -n | tail -1)
expect spool_full_drops_oldest "newest stored seq $newest, expected $NF" test "$newest" = "$NF"

# 5. a real agent, stopped and started again on the same boot: the second run's seqs start at 1
# again under a new run id. The first run ends while the collector is frozen, so its last
# batches stay in the spool and the second run sends them, still with the first run's id.
AGENT=$B/herdwatch-agent
if [ "$(id -u)" != 0 ] || [ ! -x "$AGENT" ]; then
	echo "ok - agent_rerun # skip: needs root and the agent binary"
	exit 0
fi
cat >"$T/r.yaml" <<EOC
host_name: vmR
heartbeat_interval: 1
collector:
  address: 127.0.0.1:$TLS_PORT
  ca: $T/pki/ca.pem
  cert: $T/pki/vmR.pem
  key: $T/pki/vmR.key
  spool_dir: $T/spool-vmR
EOC
# run_agent N: start run N (its events in $T/run-N.json), wait until it ships
run_agent() {
	"$AGENT" --config "$T/r.yaml" --control none --output "$T/run-$1.json" 2>"$T/run-$1.err" &
	APID=$!
	for _ in $(seq 300); do grep -q agent.heartbeat "$T/run-$1.json" 2>/dev/null && break; sleep 0.1; done
}
stop_agent() { kill -TERM "$APID"; wait "$APID"; }
run_agent 1
"$B/tests/helpers/exec_storm" 300 1 hwrerun$$ >/dev/null
sleep 1
kill -STOP "$COLL_PID" # no more acks: what run 1 sends from now on stays in its spool
"$B/tests/helpers/exec_storm" 300 1 hwrerun$$ >/dev/null
stop_agent
expect agent_rerun_first_exit0 "$(tail -3 "$T/run-1.err")" test $? -eq 0
left=$(find "$T/spool-vmR" -name '*.hwb' | wc -l)
kill -CONT "$COLL_PID"
run_agent 2
"$B/tests/helpers/exec_storm" 300 1 hwrerun$$ >/dev/null
sleep 1
stop_agent
expect agent_rerun_second_exit0 "$(tail -3 "$T/run-2.err")" test $? -eq 0
r1=$(head -n1 "$T/run-1.json" | jq -r .host.run)
r2=$(head -n1 "$T/run-2.json" | jq -r .host.run)
n1=$(tail -n1 "$T/run-1.json" | jq .seq)
n2=$(tail -n1 "$T/run-2.json" | jq .seq)
expect agent_rerun_new_run_id "runs '$r1' '$r2'" test "${#r1}" = 16 -a "${#r2}" = 16 -a "$r1" != "$r2"
expect agent_rerun_seq_restarts "first seqs $(head -n1 "$T/run-1.json" | jq .seq) $(head -n1 "$T/run-2.json" | jq .seq)" \
	test "$(head -n1 "$T/run-1.json" | jq .seq)" = 1 -a "$(head -n1 "$T/run-2.json" | jq .seq)" = 1
expect agent_rerun_spool_left_by_first "$left batch files in the spool when run 1 stopped" test "$left" -gt 0
# every (run, seq) of both runs stored exactly once
want=$((n1 + n2))
for _ in $(seq 100); do
	[ "$(stored_seqs vmR | wc -l)" -ge "$want" ] && break
	sleep 0.2
done
runseq() { # all stored "run seq" of vmR (paged)
	local after=0 out
	while :; do
		out=$(api "/api/events?member=vmR&after=$after&limit=10000") || return 1
		[ "$(jq '.events | length' <<<"$out")" -eq 0 ] && break
		jq -r '.events[].event | "\(.host.run) \(.seq)"' <<<"$out"
		after=$(jq -r .last_id <<<"$out")
	done
}
rs=$(runseq | sort)
total=$(grep -c . <<<"$rs")
distinct=$(uniq <<<"$rs" | grep -c .)
per1=$(grep -c "^$r1 " <<<"$rs")
per2=$(grep -c "^$r2 " <<<"$rs")
expect agent_rerun_both_runs_exactly_once \
	"stored $total ($distinct distinct): run 1 $per1 of $n1, run 2 $per2 of $n2" \
	test "$total" -eq "$want" -a "$distinct" -eq "$want" -a "$per1" -eq "$n1" -a "$per2" -eq "$n2"
expect agent_rerun_run1_complete "run 1 seqs stored: $(grep "^$r1 " <<<"$rs" | awk '{print $2}' | sort -n | sed -n '1p;$p' | tr '\n' ' ')" \
	test "$(grep "^$r1 " <<<"$rs" | awk '{print $2}' | sort -n | uniq | awk -v n="$n1" '$1 >= 1 && $1 <= n' | wc -l)" -eq "$n1"
expect agent_rerun_run2_complete "run 2 seqs stored: $(grep "^$r2 " <<<"$rs" | awk '{print $2}' | sort -n | sed -n '1p;$p' | tr '\n' ' ')" \
	test "$(grep "^$r2 " <<<"$rs" | awk '{print $2}' | sort -n | uniq | awk -v n="$n2" '$1 >= 1 && $1 <= n' | wc -l)" -eq "$n2"
expect agent_rerun_spool_drained "$(find "$T/spool-vmR" -name '*.hwb' | wc -l) files left" \
	test "$(find "$T/spool-vmR" -name '*.hwb' | wc -l)" -eq 0

# 6. storage fails (the database at its size limit, as on a full disk): the batches of the
# failed transaction are rolled back and not acknowledged (the agent keeps them); once there is
# space again every seq is stored exactly once (none was marked stored without its data)
stop_collector
rm -f "$T"/c.db*
$GEN baseline --host vmG --members m1,m2,m3 --rounds 2000 >"$T/vmG.jsonl" 2>/dev/null
NG=$(wc -l <"$T/vmG.jsonl")
start_collector --learn-s 0 --max-db-mb 1 || exit 1
replay vmG vmG --rate 20000 --timeout-s 5 "$T/vmG.jsonl" >"$T/vmG.out" 2>&1
rc=$?
acked=$(jq .acked "$T/vmG.out")
errs=$(stat .storage_errors)
in_db=$(stored_seqs vmG | sort -n | uniq | wc -l)
expect storage_full_not_acked "replay exit $rc: $(cat "$T/vmG.out")" test "$rc" -ne 0 -a "$acked" -lt "$NG"
expect storage_full_counted "storage_errors $errs" test "$errs" -gt 0
expect storage_full_acked_are_stored "acked $acked, stored $in_db" test "$in_db" -ge "$acked"
expect storage_full_counter_true "events_stored $(stat .events_stored), in the database $in_db" \
	test "$(stat .events_stored)" -eq "$in_db"
stop_collector
start_collector --learn-s 0 || exit 1 # the limit lifted
replay vmG vmG --timeout-s 60 "$T/vmG.jsonl" >"$T/vmG2.out" 2>&1
exactly_once storage_full_then_exactly_once vmG "$NG"
