#!/usr/bin/env bash
# An agent streaming to the collector killed with SIGKILL mid-stream: every event it had
# queued reaches the collector after the restart (the open batch was in the spool's journal),
# and the next run announces the crash: agent.loss cause previous_run_crash with the previous
# run id and its last durable seq, every seq up to which the collector holds. A clean stop is
# not announced.
. "$(dirname "$0")/lib.sh"
AGENT=$B/herdwatch-agent
if [ "$(id -u)" != 0 ] || [ ! -x "$AGENT" ]; then
	echo "ok - agent_crash # skip: needs root and the agent binary"
	exit 0
fi
make_pki vmK >/dev/null 2>&1 || { echo "not ok - pki: herdwatch-ca failed"; exit 1; }
start_collector --learn-s 0 || exit 1
cat >"$T/k.yaml" <<EOC
host_name: vmK
heartbeat_interval: 1
collector:
  address: 127.0.0.1:$TLS_PORT
  ca: $T/pki/ca.pem
  cert: $T/pki/vmK.pem
  key: $T/pki/vmK.key
  spool_dir: $T/spool-vmK
EOC
run_agent() {
	"$AGENT" --config "$T/k.yaml" --control none --output "$T/run-$1.json" 2>"$T/run-$1.err" &
	APID=$!
	for _ in $(seq 300); do grep -q agent.heartbeat "$T/run-$1.json" 2>/dev/null && break; sleep 0.1; done
}
# runseq RUN: the seqs of run RUN stored for vmK, sorted. A page shorter than the limit is the
# end of what is stored (waiting for an empty page chased the running agent's own stream:
# every page's curl and jq are events too).
runseq() {
	local after=0 out n
	while :; do
		out=$(api "/api/events?member=vmK&after=$after&limit=10000") || return 1
		n=$(jq '.events | length' <<<"$out")
		jq -r --arg r "$1" '.events[].event | select(.host.run == $r) | .seq' <<<"$out"
		[ "$n" -lt 10000 ] && break
		after=$(jq -r .last_id <<<"$out")
	done | sort -n | uniq
}

run_agent 1
r1=$(head -n1 "$T/run-1.json" | jq -r .host.run)
"$B/tests/helpers/exec_storm" 3000 2 hwcrash$$ >/dev/null &
storm=$!
sleep 1.5
kill -KILL "$APID"
wait "$APID" 2>/dev/null
wait "$storm"
expect crash_state_unclean "$(cat "$T/spool-vmK/state")" grep -q "run=$r1 .*clean=0" "$T/spool-vmK/state"
in_file=$(jq -s 'map(.seq) | max' "$T/run-1.json")

run_agent 2
ev=$(jq -c 'select(.kind=="agent.loss" and .loss.cause=="previous_run_crash")' "$T/run-2.json" | head -n1)
expect crash_announced "no previous_run_crash in run 2: $(head -c 600 "$T/run-2.json")" test -n "$ev"
prev=$(jq -r .loss.previous_run <<<"$ev")
durable=$(jq -r .loss.durable_seq <<<"$ev")
expect crash_names_previous_run "previous_run '$prev', run 1 was '$r1'" test "$prev" = "$r1"
expect crash_durable_seq "durable_seq '$durable', run 1 wrote $in_file to its file" \
	test "$durable" -ge "$in_file"
expect crash_count_unknown "$ev" test "$(jq -r '.loss.count' <<<"$ev")" = null
# every seq of run 1 up to the durable one reaches the collector
# (a deadline, not a number of rounds: one round pages through every stored event)
end=$((SECONDS + 60))
while [ $SECONDS -lt $end ]; do
	[ "$(runseq "$r1" | awk -v d="$durable" '$1 <= d' | wc -l)" -ge "$durable" ] && break
	sleep 0.5
done
got=$(runseq "$r1" | awk -v d="$durable" '$1 >= 1 && $1 <= d' | wc -l)
expect crash_collector_has_all_durable "run 1: $got of 1..$durable stored" test "$got" -eq "$durable"
kill -TERM "$APID"
wait "$APID"
expect crash_second_exit0 "$(tail -3 "$T/run-2.err")" test $? -eq 0
expect crash_state_clean "$(cat "$T/spool-vmK/state")" grep -q "clean=1" "$T/spool-vmK/state"

run_agent 3
sleep 0.5
kill -TERM "$APID"
wait "$APID"
expect crash_clean_stop_not_announced "$(grep previous_run_crash "$T/run-3.json")" \
	bash -c "! grep -q previous_run_crash '$T/run-3.json'"
