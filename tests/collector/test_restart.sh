#!/usr/bin/env bash
# Loss-free transport: every seq of every agent is stored exactly once when the collector is
# killed mid-stream and restarted, when the agent is killed and restarted on its spool, and
# when the collector is down at the start; a full spool drops the oldest and counts them; a
# database at its size limit acknowledges nothing it did not store. The agents are the replay
# tool (no BPF), so this runs beside the BPF tests; a real agent's restart is
# test_agent_rerun.sh.
# lane: parallel
. "$(dirname "$0")/lib.sh"
make_pki vmA vmB vmC vmD vmE vmF vmG >/dev/null 2>&1 || { echo "not ok - pki: herdwatch-ca failed"; exit 1; }

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

# 5. storage fails (the database at its size limit, as on a full disk): the batches of the
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
