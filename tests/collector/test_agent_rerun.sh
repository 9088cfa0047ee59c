#!/usr/bin/env bash
# A real agent stopped and started again on the same boot: the second run's seqs start at 1
# again under a new run id, and every event of both runs is stored once, also those of the
# first run that the second resends from its spool.
. "$(dirname "$0")/lib.sh"
make_pki vmR >/dev/null 2>&1 || { echo "not ok - pki: herdwatch-ca failed"; exit 1; }
start_collector --learn-s 0 || exit 1

# A real agent, stopped and started again on the same boot: the second run's seqs start at 1
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

