#!/usr/bin/env bash
# Folding of repeated connects and accepts on socket hooks (docs/events-net.md, "Folding"):
# a storm of N loopback connections from one process to one listener of its own gives, per
# kind, one event at once (count 1, folded false) and summaries (folded true) whose counts sum
# with it to exactly N; a blocking connect that fails among them (the listener gone) is its own
# key: emitted at once with its error and the address asked for, its repeat counted; with
# net.fold_repeats: false (applied by SIGHUP) every connect and accept is an event. A run of the
# state-change program that the kernel skipped (a softirq's state change while the program ran
# in a task on that CPU: test_netnest.sh) is announced as agent.loss, cause recursion: a count
# short by no more than the announced loss of its kind is a loss told, not a silent one.
. "$(dirname "$0")/../lib.sh"
need_root

P=$((10000 + ($$ + 13000) % 20000)) # this run's port
if [ -z "$CG2" ]; then
	ok "folding on socket hooks # SKIP no cgroup v2 mount on this host"
	exit 0
fi
OFF='process: false, kernel: false, system: false, user: false, file: false'
printf 'net: {mode: socket, connect: {fold_window_s: 1}, accept: {fold_window_s: 1}}\nprobes: {%s}\n' \
	"$OFF" >"$T/fold.yaml"
agent_start "$T/fold.yaml" || {
	not_ok "agent starts" "$(cat "$T/agent.err")"
	exit 1
}
expect_jq "socket mode" "$(last_heartbeat)" '.agent.net_mode.mode=="socket"'

# storm N: N blocking connects to a listener of the same process (accepted, closed), then the
# listener closed and two more connects (refused). Prints the process id.
storm() {
	python3 - "$P" "$1" <<'PY'
import os, socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", port))
ls.listen(64)
for _ in range(n):
    c = socket.create_connection(("127.0.0.1", port))
    a, _ = ls.accept()
    a.close()
    c.close()
ls.close()
for _ in range(2):
    c = socket.socket()
    assert c.connect_ex(("127.0.0.1", port)) != 0
    c.close()
print(os.getpid())
PY
}
# sum KIND PID FILTER: events of KIND of PID matching FILTER, the sum of their counts
sum() { events "select(.kind==\"$1\" and .proc.pid==$2 and $3) | .net.count" | awk '{s+=$1} END {print s+0}'; }
# wait_sum KIND PID FILTER WANT: until the sum reaches WANT (windows of 1 s, swept each second)
wait_sum() {
	local s end=$((SECONDS + 8 * HW_TIME_SCALE))
	while s=$(sum "$1" "$2" "$3") && [ "$s" -lt "$4" ] && [ "$SECONDS" -lt "$end" ]; do sleep 0.2; done
	echo "$s"
}

# told KIND: the runs of the kind's program that the kernel skipped, as announced
told() { events "select(.kind==\"agent.loss\" and .loss.cause==\"recursion\" and .loss.kind==\"$1\") | .loss.count" | awk '{s+=$1} END {print s+0}'; }
# expect_counted NAME GOT WANT KIND: GOT is WANT, or short of it by no more than the skipped runs
# announced for KIND (never more than WANT)
expect_counted() {
	local t
	t=$(told "$4")
	if [ "$2" == "$3" ]; then
		ok "$1"
	elif [ "$2" -lt "$3" ] && [ $(($3 - $2)) -le "$t" ]; then
		ok "$1 # $(($3 - $2)) lost, announced (agent.loss recursion: $t)"
	else
		not_ok "$1" "got '$2', want '$3' ($t skipped runs of $4 announced)"
	fi
}

N=300
SP=$(storm $N)
OK=".net.dst.port==$P and .net.result==0"
ev=$(wait_event "select(.kind==\"net.connect\" and .proc.pid==$SP and $OK and .net.folded==false)") ||
	not_ok "first connect emitted" "pid $SP"
expect_jq "first connect: count 1, window 1 s, fields" "$ev" ".net.count==1 and .net.window_s==1 and .net.syscall==\"connect\" and .net.fd>=0 and .net.src.port>0 and .net.proto==\"tcp\""
expect_counted "connects: first + summaries = $N" "$(wait_sum net.connect "$SP" "$OK" $N)" $N net.connect
expect_eq "connects: one event unfolded" "$(events "select(.kind==\"net.connect\" and .proc.pid==$SP and $OK and .net.folded==false)" | wc -l)" 1
ev=$(wait_event "select(.kind==\"net.connect\" and .proc.pid==$SP and $OK and .net.folded==true)") ||
	not_ok "connect summary" "pid $SP"
expect_jq "connect summary: the first connect's record, folded" "$ev" ".net.count>=1 and .net.window_s==1 and .net.dst=={\"ip\":\"127.0.0.1\",\"port\":$P} and .proc.comm==\"python3\""
AC=".net.src.port==$P and .net.dst.ip==\"127.0.0.1\""
expect_counted "accepts: first + summaries = $N" "$(wait_sum net.accept "$SP" "$AC" $N)" $N net.accept
ev=$(wait_event "select(.kind==\"net.accept\" and .proc.pid==$SP and .net.folded==false)") ||
	not_ok "first accept emitted" "pid $SP"
expect_jq "first accept: listener's owner, count 1" "$ev" ".net.attribution==\"listener\" and .net.count==1 and .net.window_s==1 and .net.fd==-1 and $AC"
RF=".net.dst.port==$P and .net.result==-111"
ev=$(wait_event "select(.kind==\"net.connect\" and .proc.pid==$SP and $RF and .net.folded==false)") ||
	not_ok "refused connect among repeats emitted" "pid $SP"
expect_jq "refused connect: error, address asked for, its own window" "$ev" ".net.error==\"ECONNREFUSED\" and .net.address_from==\"caller\" and .net.dst.ip==\"127.0.0.1\" and .net.count==1 and .net.window_s==1"
expect_counted "refused: first + summary = 2" "$(wait_sum net.connect "$SP" "$RF" 2)" 2 net.connect
expect_eq "no loss announced but skipped runs" "$(events 'select(.kind=="agent.loss" and .loss.cause!="recursion")' | wc -l)" 0

# folding off by SIGHUP: every connect and accept is an event
printf 'net: {mode: socket, fold_repeats: false}\nprobes: {%s}\n' "$OFF" >"$T/fold.yaml"
n=$(events 'select(.kind=="agent.config" and .config.result=="applied")' | wc -l)
kill -HUP "$AGENT_PID"
for _ in $(seq 1 100); do
	[ "$(events 'select(.kind=="agent.config" and .config.result=="applied")' | wc -l)" -gt "$n" ] && break
	sleep 0.1
done
N=50
SP=$(storm $N)
expect_counted "fold_repeats false: $N connect events" "$(wait_sum net.connect "$SP" "$OK and .net.folded==false and .net.count==1" $N)" $N net.connect
expect_counted "fold_repeats false: $N accept events" "$(wait_sum net.accept "$SP" "$AC and .net.folded==false" $N)" $N net.accept
expect_counted "fold_repeats false: 2 refused connect events" "$(wait_sum net.connect "$SP" "$RF and .net.folded==false" 2)" 2 net.connect
expect_eq "fold_repeats false: no window, no summary" "$(events "select((.kind==\"net.connect\" or .kind==\"net.accept\") and .proc.pid==$SP and (.net.folded or .net.window_s))" | wc -l)" 0
agent_stop
expect_eq "agent exits 0" "$?" 0
