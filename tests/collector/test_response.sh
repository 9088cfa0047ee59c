#!/usr/bin/env bash
# lane: parallel (no BPF, no agent: runs beside the probe tests)
# The response command (--response-cmd): an alert larger than a pipe buffer, given to a command
# that never reads its stdin and hangs, stalls nothing (ingest goes on and is acknowledged); the
# command holds no descriptor of the collector (listening socket, agent connections, database);
# after --response-timeout-s its process group is killed and counted.
. "$(dirname "$0")/lib.sh"
make_pki vm1 vm2 >/dev/null 2>&1 || { echo "not ok - pki: herdwatch-ca failed"; exit 1; }
start_collector --learn-s 0 --hold-ms 300 --min-herd 1 --silent-s 0 --response-timeout-s 10 \
	--response-cmd "sleep 30; echo never" || exit 1

$GEN baseline --host vm1 --herd web --members m1,m2 --rounds 3 >"$T/base.jsonl" 2>/dev/null
replay vm1 vm1 "$T/base.jsonl" >/dev/null 2>&1
# member m3 runs 300 programs no peer runs, with long paths: one alert of as many tokens as
# the engine judges at once (64), each near the longest token and with 4 events behind it
$GEN attack --host vm1 --herd web --member m3 2>/dev/null | head -1 | python3 -c '
import json, sys
ev = json.loads(sys.stdin.readline())
seq = 100000
for i in range(300):
    for _ in range(4):  # each program 4 times: 4 events behind each token
        ev["seq"] = seq
        seq += 1
        ev["proc"]["exe"] = "/opt/unusual/" + "x" * 440 + "/tool-%d" % i
        print(json.dumps(ev, separators=(",", ":")))
' >"$T/outlier.jsonl"
replay vm1 vm1 "$T/outlier.jsonl" >/dev/null 2>&1
for _ in $(seq 100); do grep -q '"kind":"member.outlier"' "$T/alerts.jsonl" && break; sleep 0.1; done
big=$(jq -c 'select(.kind == "member.outlier")' "$T/alerts.jsonl" | awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }')
expect response_alert_exceeds_pipe "largest alert $big bytes" test "$big" -gt 65536

# ingest goes on while the command sleeps with its stdin unread
$GEN baseline --host vm2 --herd db --members m1 --rounds 50 >"$T/more.jsonl" 2>/dev/null
replay vm2 vm2 --timeout-s 5 "$T/more.jsonl" >"$T/more.out" 2>&1
expect response_does_not_stall_ingest "replay: $(cat "$T/more.out")" test "$(jq .acked "$T/more.out")" -eq "$(wc -l <"$T/more.jsonl")"
expect response_api_answers "stats: $(api /api/stats | head -c 200)" test "$(stat .responses_running)" -ge 1

# the command's processes hold stdin, stdout, stderr only: no socket, no database
fds=
for p in $(pgrep -P "$COLL_PID") $(pgrep -g "$(pgrep -P "$COLL_PID" | head -1)" 2>/dev/null); do
	fds+=$(ls -l /proc/"$p"/fd 2>/dev/null | awk -v p="$p" 'NR > 1 && $9 > 2 { print " " p ":" $9 "->" $11 }')
	fds+=$(ls -l /proc/"$p"/fd 2>/dev/null | awk -v p="$p" '/socket:|\.db/ { print " " p ":" $9 "->" $11 }')
done
expect response_child_found "no child of the collector" test -n "$(pgrep -P "$COLL_PID")"
expect response_no_inherited_fds "inherited:$fds" test -z "$fds"

# the timeout kills the hung commands (their whole process groups)
kids=$(pgrep -P "$COLL_PID" | tr '\n' ' ')
for _ in $(seq 200); do [ "$(stat .responses_running)" -eq 0 ] && break; sleep 0.1; done
sleep 0.3
expect response_timeout_counted "stats: $(api /api/stats)" test "$(stat .response_timeouts)" -ge 1
left=
for p in $kids; do [ -d /proc/$p ] && left+=" $p"; done
expect response_timeout_killed "still running:$left; children: $(pgrep -a -P "$COLL_PID")" \
	test -z "$left" -a -z "$(pgrep -P "$COLL_PID")"
