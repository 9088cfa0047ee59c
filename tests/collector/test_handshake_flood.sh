#!/usr/bin/env bash
# lane: parallel (no BPF, no agent: runs beside the probe tests)
# Pre-handshake exhaustion of the agents' TLS port (issue 15). The collector runs with 128
# descriptors; 480 slow clients from 8 addresses dribble one byte of a ClientHello every 0.5 s
# and reconnect when closed. Meanwhile an agent connected before keeps streaming and the query
# API answers; each slow connection is closed at the absolute handshake deadline (before, the
# timeout started again with every byte); the log stays short and the collector's CPU low
# (before, at the descriptor limit it spun on accept() logging every failure).
. "$(dirname "$0")/lib.sh"
SLOW="python3 $HW_ROOT/tests/collector/slow_clients.py"

make_pki vm1 >/dev/null 2>&1 || { echo "not ok - pki: herdwatch-ca failed"; exit 1; }
start_collector --learn-s 0 --handshake-timeout-s 2 || { echo "not ok - collector start"; exit 1; }
prlimit --pid "$COLL_PID" --nofile=128:128 || { echo "not ok - prlimit"; exit 1; }

$GEN baseline --host vm1 --members m1 --rounds 1000 >"$T/vm1.jsonl" 2>/dev/null
n=$(wc -l <"$T/vm1.jsonl")
replay vm1 vm1 --rate 700 --timeout-s 60 "$T/vm1.jsonl" >"$T/vm1.out" 2>&1 &
rp=$!
for _ in $(seq 50); do [ "$(stat .connections_open)" -ge 1 ] && break; sleep 0.1; done
expect flood_agent_connected "connections_open $(stat .connections_open)" test "$(stat .connections_open)" -ge 1

# the deadline is absolute: 5 clients each sending a byte every 0.5 s are closed after 2 s
# (before: the handshake timeout started again with every byte; they were held all 6 s)
slow=$($SLOW "$TLS_PORT" 6 5 1 0.5)
expect flood_deadline_absolute "slow clients held up to $(jq .max_held_s <<<"$slow") s (deadline 2 s): $slow" \
	awk -v h="$(jq .max_held_s <<<"$slow")" 'BEGIN { exit !(h < 3.5) }'

lines0=$(wc -l <"$T/collector.log")
cpu0=$(awk '{print $14 + $15}' /proc/$COLL_PID/stat)
t0=$(date +%s.%N)
$SLOW "$TLS_PORT" 10 480 8 0.5 >"$T/slow.json" &
sp=$!
sleep 3
api_ok=0
for _ in 1 2 3 4 5; do
	curl -sf -m 2 "http://127.0.0.1:$HTTP_PORT/api/stats" >"$T/stats.json" && api_ok=$((api_ok + 1))
	sleep 1
done
pending=$(jq .handshakes_pending "$T/stats.json")
wait $sp
t1=$(date +%s.%N)
cpu1=$(awk '{print $14 + $15}' /proc/$COLL_PID/stat)
lines=$(($(wc -l <"$T/collector.log") - lines0))
cpu=$(awk -v a="$cpu0" -v b="$cpu1" -v t0="$t0" -v t1="$t1" -v hz="$(getconf CLK_TCK)" \
	'BEGIN { printf "%.2f", (b - a) / hz / (t1 - t0) }')
slow=$(cat "$T/slow.json")
echo "# slow clients: $slow; collector CPU $cpu of a core, $lines log lines, pending at the peak $pending"

expect flood_api_answers "$api_ok of 5 API calls answered" test "$api_ok" -eq 5
expect flood_clients_closed "$slow" test "$(jq .closed_by_collector <<<"$slow")" -gt 100
expect flood_log_bounded "$lines log lines during the flood: $(tail -n 3 "$T/collector.log")" test "$lines" -lt 200
expect flood_cpu_low "collector used $cpu of a core" awk -v c="$cpu" 'BEGIN { exit !(c < 0.5) }'
expect flood_counted "$(api /api/stats | jq -c '{handshake_timeouts, handshakes_refused, accept_errors}')" \
	test "$(stat .handshake_timeouts)" -gt 0 -a "$(stat .handshakes_refused)" -gt 0
expect flood_pending_capped "pending $pending (cap 64 per address, 8 addresses)" test "$pending" -le 512
wait $rp
rc=$?
expect flood_agent_served "replay rc $rc: $(cat "$T/vm1.out")" test "$rc" -eq 0
got=$(stored_seqs vm1 | sort -n | uniq | wc -l)
expect flood_agent_all_stored "stored $got of $n" test "$got" -eq "$n"
# a new agent connects once the flood is over
$GEN baseline --host vm1 --members m1 --rounds 2 >"$T/vm1b.jsonl" 2>/dev/null
replay vm1 vm1b --timeout-s 10 "$T/vm1b.jsonl" >"$T/vm1b.out" 2>&1
expect flood_new_agent_after "replay: $(cat "$T/vm1b.out")" test $? -eq 0

# at the descriptor limit itself (no reserve, no caps): accept() fails with EMFILE; the
# listener rests and the failures are logged rate-limited (before: millions of lines)
stop_collector
start_collector --learn-s 0 --handshake-timeout-s 3 --fd-reserve 0 --max-handshakes 10000 \
	--max-handshakes-per-addr 10000 || notok emfile_collector_start "$(tail -3 "$T/collector.log")"
prlimit --pid "$COLL_PID" --nofile=64:64
lines0=$(wc -l <"$T/collector.log")
cpu0=$(awk '{print $14 + $15}' /proc/$COLL_PID/stat)
t0=$(date +%s.%N)
$SLOW "$TLS_PORT" 6 200 4 0.5 >"$T/slow2.json"
t1=$(date +%s.%N)
cpu1=$(awk '{print $14 + $15}' /proc/$COLL_PID/stat)
lines=$(($(wc -l <"$T/collector.log") - lines0))
cpu=$(awk -v a="$cpu0" -v b="$cpu1" -v t0="$t0" -v t1="$t1" -v hz="$(getconf CLK_TCK)" \
	'BEGIN { printf "%.2f", (b - a) / hz / (t1 - t0) }')
echo "# at EMFILE: $(cat "$T/slow2.json"); collector CPU $cpu of a core, $lines log lines"
expect emfile_accept_errors_counted "accept_errors $(stat .accept_errors)" test "$(stat .accept_errors)" -gt 0
expect emfile_log_bounded "$lines log lines: $(tail -n 3 "$T/collector.log")" test "$lines" -lt 150
expect emfile_cpu_low "collector used $cpu of a core" awk -v c="$cpu" 'BEGIN { exit !(c < 0.5) }'
expect emfile_collector_alive "collector exited" kill -0 "$COLL_PID"
