#!/usr/bin/env bash
# Skipped runs of the socket hooks' state-change program (docs/events-net.md, "Skipped runs"):
# the kernel does not run hws_state_btf for a TCP state change made in a softirq that interrupted
# the same program on that CPU (a task in connect() or close()); the skipped run's event is never
# made. Provoked here: in a network namespace whose loopback steers received packets to every
# CPU (RPS), the ends of handshakes (a refused connect's reset, an accepted connection) come in
# the softirq of an inter-processor interrupt, while one loop per CPU changes TCP states in its
# task. Each skipped run is announced as agent.loss (cause recursion, program hws_state_btf, for
# net.connect and for net.accept) with the count the kernel keeps (bpftool: recursion_misses),
# and every refused connect is an event or within what was announced.
. "$(dirname "$0")/../lib.sh"
need_root

if [ -z "$CG2" ]; then
	ok "skipped runs # SKIP no cgroup v2 mount on this host"
	exit 0
fi
NCPU=$(nproc)
if [ "$NCPU" -lt 2 ] || [ "$NCPU" -gt 30 ]; then
	ok "skipped runs # SKIP needs 2 to 30 CPUs for the RPS mask (here $NCPU)"
	exit 0
fi
NS=hwnest$$
nest_cleanup() {
	[ -n "${CHURN:-}" ] && kill $CHURN 2>/dev/null
	hw_cleanup
	ip netns del "$NS" 2>/dev/null
}
trap nest_cleanup EXIT
ip netns add "$NS" && ip netns exec "$NS" ip link set lo up &&
	ip netns exec "$NS" sh -c "printf %x $(((1 << NCPU) - 1)) >/sys/class/net/lo/queues/rx-0/rps_cpus" || {
	not_ok "namespace with RPS on its loopback" "ip netns failed"
	exit 1
}

OFF='process: false, kernel: false, system: false, user: false, file: false'
printf 'net: {mode: socket, connect: {fold_window_s: 1}, accept: {fold_window_s: 1}}\nprobes: {%s}\n' \
	"$OFF" >"$T/nest.yaml"
agent_start "$T/nest.yaml" || {
	not_ok "agent starts" "$(cat "$T/agent.err")"
	exit 1
}
expect_jq "socket mode" "$(last_heartbeat)" '.agent.net_mode.mode=="socket"'

# churn PORT SECONDS: connect, accept, close in a loop (state changes in the task)
cat >"$T/churn.py" <<'PY'
import socket, sys, time
port, end = int(sys.argv[1]), time.time() + float(sys.argv[2])
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", port))
ls.listen(512)
while time.time() < end:
    c = socket.create_connection(("127.0.0.1", port))
    a, _ = ls.accept()
    c.close()
    a.close()
PY
# refused PORT N: N blocking connects to a port nobody listens on; prints the process id
cat >"$T/refused.py" <<'PY'
import os, socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
for _ in range(n):
    c = socket.socket()
    assert c.connect_ex(("127.0.0.1", port)) != 0
    c.close()
print(os.getpid())
PY
P=$((10000 + ($$ + 17000) % 20000))
CHURN=
for c in $(seq 0 $((NCPU - 1))); do
	ip netns exec "$NS" taskset -c "$c" python3 "$T/churn.py" $((P + 1 + c)) 120 &
	CHURN="$CHURN $!"
done
N=50 ROUNDS=10
for _ in $(seq 1 $ROUNDS); do ip netns exec "$NS" python3 "$T/refused.py" "$P" $N >>"$T/pids"; done
kill $CHURN 2>/dev/null
wait $CHURN 2>/dev/null
CHURN=

# the kernel's count of skipped runs of hws_state_btf (bpftool omits it while 0)
misses() { bpftool -j prog show name hws_state_btf 2>/dev/null | jq -s '[.[] | .recursion_misses // 0] | add // 0'; }
# told KIND: the skipped runs announced for KIND
told() { events "select(.kind==\"agent.loss\" and .loss.cause==\"recursion\" and .loss.kind==\"$1\") | .loss.count" | awk '{s+=$1} END {print s+0}'; }
if ! command -v bpftool >/dev/null; then
	sleep 2
	m=$(told net.connect)
	ok "announced = the kernel's count # SKIP no bpftool"
else
	# announced once a second: until the announcements reach the kernel's count
	end=$((SECONDS + 10 * HW_TIME_SCALE))
	while m=$(misses) && [ "$(told net.connect)" != "$m" ] && [ "$SECONDS" -lt "$end" ]; do sleep 0.2; done
	expect_eq "net.connect: skipped runs announced = the kernel's count" "$(told net.connect)" "$m"
	expect_eq "net.accept: skipped runs announced = the kernel's count" "$(told net.accept)" "$m"
fi
if [ "$m" = 0 ]; then
	ok "skipped runs provoked # SKIP the kernel skipped no run here"
else
	ok "skipped runs provoked ($m)"
	expect_jq "announcement: kind, cause, program" \
		"$(events 'select(.kind=="agent.loss" and .loss.cause=="recursion")' | head -n1)" \
		'.loss.kind=="net.connect" and .loss.count>=1 and .loss.program=="hws_state_btf"'
fi

# every refused connect is an event (count: folded repeats), or was announced lost
sleep 2 # the last windows' summaries (1 s windows, swept each second)
got=0
for pid in $(cat "$T/pids"); do
	n=$(events "select(.kind==\"net.connect\" and .proc.pid==$pid and .net.result==-111) | .net.count" | awk '{s+=$1} END {print s+0}')
	[ "$n" -gt $N ] && not_ok "refused connects of $pid" "$n counted, $N made"
	got=$((got + n))
done
lost=$((N * ROUNDS - got))
echo "# refused connects: $got of $((N * ROUNDS)) reported; skipped runs: $m (kernel), $(told net.connect) announced"
if [ "$lost" -le "$(told net.connect)" ]; then
	ok "refused connects: each an event or within the announced loss ($lost missing)"
else
	not_ok "refused connects: each an event or within the announced loss" "$lost missing, $(told net.connect) announced"
fi
agent_stop
expect_eq "agent exits 0" "$?" 0
