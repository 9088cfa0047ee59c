#!/usr/bin/env bash
# lane: parallel (no BPF, no agent: runs beside the probe tests)
# Scale-out faults beyond test_scaleout.sh's one-at-a-time kills (docs/scale-out.md "Failure
# modes"), on a 3-node JetStream cluster of the test's own, 1 ingest, 3 workers (lease 2 s):
#  1. the NATS node leading HW_EV stopped (SIGSTOP: it neither answers nor closes its connections, as in a
#     network partition) for 3 s mid-stream, then continued: every event is stored, and the last
#     one within BOUND_S seconds of the sender's last acknowledgement;
#  2. two faults at once: one NATS node and the worker judging herd web killed (SIGKILL)
#     together mid-stream;
#  3. a herd change (every api member starts a new binary) sent, and the worker judging herd api
#     killed right after: the change is reported exactly once (HW_ALERT and the workers' output).
# Through all three: every (host, seq) sent is stored exactly once across the shards.
. "$(dirname "$0")/lib.sh"
command -v nats-server >/dev/null || { echo "not ok - nats-server: not installed (scripts/deps.sh)"; exit 1; }
make_pki relay >/dev/null 2>&1 || { echo "not ok - pki: herdwatch-ca failed"; exit 1; }
. "$(dirname "$0")/nats_lib.sh"
BOUND_S=10

cluster_and_ingest
for w in 1 2 3; do start_worker $w --lease-ms 2000; done

owner_of() { # the live worker that claimed partition $1 last
	local w best= t
	for w in 1 2 3; do
		kill -0 "${WPID[$w]}" 2>/dev/null || continue
		t=$(grep "partition $1 \(claimed\|released\|given up\)" "$T/worker$w.log" | tail -1)
		[[ $t == *claimed* ]] && best=$w
	done
	echo "$best"
}
wait_owner() { # wait_owner HERD: the worker judging it, once one holds it (up to 10 s)
	local p o
	p=$(part_of "$1")
	for _ in $(seq 100); do
		o=$(owner_of "$p")
		[ -n "$o" ] && { echo "$o"; return 0; }
		sleep 0.1
	done
	return 1
}

HOSTS="w1:web:m1,m2,m3,m4 w2:web:m1,m2,m3,m4 a1:api:x1,x2 a2:api:x1,x2 d1:db:y1,y2,y3"
declare -A NEXT
G=()
# gen_all NAME ROUNDS: the next events of every host into $T/NAME-HOST.jsonl
gen_all() {
	local name=$1 rounds=$2 h herd members
	G=()
	for hm in $HOSTS; do
		IFS=: read -r h herd members <<<"$hm"
		$GEN baseline --host "$h" --herd "$herd" --members "$members" --rounds "$rounds" \
			--seq-start "${NEXT[$h]:-1}" >"$T/$name-$h.jsonl" 2>"$T/$name-$h.next" &
		G+=($!)
	done
	wait "${G[@]}"
	for hm in $HOSTS; do
		h=${hm%%:*}
		NEXT[$h]=$(cat "$T/$name-$h.next")
	done
}
acked_all() { test "$(jq .acked "$T/$1.out")" = "$(jq .events "$T/$1.out")" -a "$(jq .acked "$T/$1.out")" -gt 0; }
sent_count() { cat "$T"/*-*.jsonl | wc -l; }

echo "# t=$SECONDS s: cluster, ingest, workers up"
gen_all learn 4
send 1 learn --timeout-s 20 "$T"/learn-*.jsonl >"$T/learn.out" 2>&1
expect learning_acked "$(cat "$T/learn.out")" acked_all learn
sleep 2 # --learn-s 2

# ---- 1. a NATS node stopped for 3 s mid-stream ----
# the node leading HW_EV (its replicas elect another leader meanwhile)
leader=$(stream_of 1 HW_EV | jq -r '.cluster.leader // "n2"')
stopped=${leader#n}
gen_all stop 8
send 1 stop --rate 500 --timeout-s 40 "$T"/stop-*.jsonl >"$T/stop.out" 2>&1 &
S=$!
sleep 1
kill -STOP "${NPID[$stopped]}"
sleep 3
kill -CONT "${NPID[$stopped]}"
wait $S
acked_at=$(date +%s.%N)
expect stopped_node_stream_acked "$(cat "$T/stop.out")" acked_all stop
stored_ok=1
wait_stored "$(sent_count)" "$BOUND_S" || stored_ok=
delay=$(awk -v a="$acked_at" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
expect stopped_node_delay_bounded "stored $("$C" --mode events --shard-dir "$T/shards" | wc -l) of $(sent_count), $delay s after the last ack (bound $BOUND_S s)" \
	test -n "$stored_ok"
echo "# SIGSTOP of $leader (the HW_EV leader) for 3 s: every event stored $delay s after the sender's last ack"

echo "# t=$SECONDS s: stop phase done"
# ---- 2. a NATS node and a worker killed together ----
gen_all two 8
victim=$(wait_owner web)
send 1 two --rate 300 --timeout-s 40 "$T"/two-*.jsonl >"$T/two.out" 2>&1 &
S=$!
sleep 0.7
dead=$((stopped % 3 + 1)) # another node than the one stopped
kill -9 "${NPID[$dead]}" "${WPID[$victim]}"
wait $S
expect two_faults_stream_acked "$(cat "$T/two.out")" acked_all two
wait_stored "$(sent_count)" 30
moved=
for _ in $(seq 100); do
	o=$(owner_of "$(part_of web)")
	[ -n "$o" ] && [ "$o" != "$victim" ] && moved=1 && break
	sleep 0.1
done
expect two_faults_partition_taken_over "web's partition: owner $o, killed $victim" test -n "$moved"

echo "# t=$SECONDS s: two-faults phase done"
# ---- 3. a herd change while the worker judging it dies ----
apiw=$(wait_owner api)
for h in a1 a2; do
	$GEN deploy --host "$h" --herd api --members x1,x2 --seq-start "${NEXT[$h]}" \
		>"$T/deploy-$h.jsonl" 2>"$T/deploy-$h.next"
	NEXT[$h]=$(cat "$T/deploy-$h.next")
done
send 1 deploy --timeout-s 20 "$T"/deploy-*.jsonl >"$T/deploy.out" 2>&1
sleep 0.1
expect herd_change_owner_alive "api's owner: $apiw" kill -0 "${WPID[$apiw]}"
kill -9 "${WPID[$apiw]}"
expect herd_change_acked "$(cat "$T/deploy.out")" acked_all deploy
changes() { cat "$T"/worker*.alerts | jq -c 'select(.kind == "herd.change" and .herd == "api")'; }
# the last worker takes api's partition after the lease (2 s) and judges from the checkpoint
for _ in $(seq 100); do [ -n "$(changes)" ] && break; sleep 0.1; done
sleep 1.5 # a second report (judged again after the takeover) would come now
c=$(changes)
expect herd_change_reported_once "herd.change alerts of api: $c" test "$(grep -c . <<<"$c")" = 1
# asked of a node alive since (node $dead was killed above); a replica may lag a moment
live=$((dead % 3 + 1))
all=$(cat "$T"/worker*.alerts | grep -c .)
for _ in $(seq 50); do
	n=$(stream_of $live HW_ALERT | jq '[.state.messages] | add')
	[ "$n" = "$all" ] && break
	sleep 0.1
done
expect alert_stream_matches_outputs "HW_ALERT holds $n, the workers printed $all" test "$n" = "$all"

echo "# t=$SECONDS s: herd-change phase done"
# ---- every (host, seq) exactly once ----
expect_exactly_once stored_exactly_once 1500 "$T"/*-*.jsonl
for w in 1 2 3; do kill "${WPID[$w]}" 2>/dev/null; done
echo "# $SECONDS s"
[ "$FAILED" = 0 ]
