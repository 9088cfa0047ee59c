#!/usr/bin/env bash
# bench/net.sh - what the net probes cost, side by side in one run (root, after `make`).
#
# Workloads (tests/helpers/net_act):
#   storm   N loopback TCP connect+accept+close pairs (client and accept thread in one process)
#   udpc    M sends of 64 bytes on a connected UDP socket to a port that is not 53
#   udpu    M sendto()s of 64 bytes on an unconnected UDP socket (the DNS hook's slowest
#           path for ordinary traffic: it reads the destination from the caller)
# Configurations, interleaved round by round (the machine is shared and noisy):
#   none    no monitor
#   agent   herdwatch-agent with its default probes (all net probes on)
#   nodns   (udp only) the agent with net.dns off: what the DNS hook adds to ordinary sends
#   alt     udp: bpftrace with empty classic sys_enter tracepoints on write, writev, sendto,
#           sendmsg and sendmmsg: the hook a DNS capture at the syscall would need.
#           storm: bpftrace with an empty sock:inet_sock_set_state program: the hook cost alone
#           of following connections through TCP state changes instead of syscall exits
# Each workload reports wall and CPU seconds (user + system of the workload process, which
# includes the loopback softirq work done on its behalf); CPU time is the steadier figure on a
# shared machine. Prints medians and the ratios to "none", the agent's CPU per storm, and
# whether every connect and accept of the storm was captured.
# Usage: bench/net.sh [ROUNDS] [N] [M]
set -u
cd "$(dirname "$0")/.."
R=${1:-7}
N=${2:-20000}
M=${3:-200000}
NA=build/tests/helpers/net_act
AGENT=build/herdwatch-agent
W=$(mktemp -d /tmp/hwbench-net.XXXXXX)
PORT=$((30000 + $$ % 20000))
APID=
BPID=
trap '[ -n "$APID" ] && kill $APID 2>/dev/null; [ -n "$BPID" ] && kill $BPID 2>/dev/null; rm -rf "$W"' EXIT

agent_up() { # [CONFIG]
	: >"$W/ev.json"
	"$AGENT" --output "$W/ev.json" ${1:+--config "$1"} 2>"$W/agent.err" &
	APID=$!
	for _ in $(seq 1 300); do
		grep -q '"agent.heartbeat"' "$W/ev.json" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "agent did not start: $(cat "$W/agent.err")" >&2
	exit 1
}
agent_down() {
	kill -TERM $APID
	wait $APID
	APID=
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

run_storm() { # prints elapsed; leaves the storm's pid in SPID
	"$NA" storm 127.0.0.1 $PORT $N >"$W/storm.out" &
	SPID=$!
	wait $SPID
	cat "$W/storm.out"
}

printf 'probes: {net.dns: false}\n' >"$W/nodns.yaml"
have_bpftrace=0
command -v bpftrace >/dev/null && have_bpftrace=1
for r in $(seq 1 "$R"); do
	# none
	run_storm >>"$W/storm.none"
	"$NA" udpsend 127.0.0.1 $((PORT + 1)) $M connected >>"$W/udpc.none"
	"$NA" udpsend 127.0.0.1 $((PORT + 1)) $M unconnected >>"$W/udpu.none"
	# agent
	agent_up
	c0=$(cpu_ticks $APID)
	run_storm >>"$W/storm.agent"
	sleep 0.3 # let the agent drain (it polls every 10 ms)
	c1=$(cpu_ticks $APID)
	echo $((c1 - c0)) >>"$W/storm.agentcpu"
	"$NA" udpsend 127.0.0.1 $((PORT + 1)) $M connected >>"$W/udpc.agent"
	"$NA" udpsend 127.0.0.1 $((PORT + 1)) $M unconnected >>"$W/udpu.agent"
	agent_down
	nc=$(jq -c "select(.kind==\"net.connect\" and .proc.pid==$SPID and .net.dst.port==$PORT and .net.result==0)" "$W/ev.json" | wc -l)
	na=$(jq -c "select(.kind==\"net.accept\" and .proc.pid==$SPID and .net.src.port==$PORT)" "$W/ev.json" | wc -l)
	echo "$nc $na" >>"$W/storm.captured"
	agent_up "$W/nodns.yaml"
	"$NA" udpsend 127.0.0.1 $((PORT + 1)) $M connected >>"$W/udpc.nodns"
	"$NA" udpsend 127.0.0.1 $((PORT + 1)) $M unconnected >>"$W/udpu.nodns"
	agent_down
	# alternative DNS hook: classic syscall tracepoints on every send
	if [ $have_bpftrace = 1 ]; then
		bpftrace -e 'tracepoint:sock:inet_sock_set_state /pid == 0/ { @ = count(); }' >/dev/null 2>"$W/bt.err" &
		BPID=$!
		sleep 4
		run_storm >>"$W/storm.alt"
		kill -INT $BPID
		wait $BPID 2>/dev/null
		BPID=
		bpftrace -e 'tracepoint:syscalls:sys_enter_write,tracepoint:syscalls:sys_enter_writev,tracepoint:syscalls:sys_enter_sendto,tracepoint:syscalls:sys_enter_sendmsg,tracepoint:syscalls:sys_enter_sendmmsg /pid == 0/ { @ = count(); }' >/dev/null 2>"$W/bt.err" &
		BPID=$!
		for _ in $(seq 1 100); do
			grep -q sys_enter_write /sys/kernel/tracing/enabled_functions 2>/dev/null && break
			[ "$(bpftool link list 2>/dev/null | grep -c sys_enter_send)" -gt 0 ] && break
			sleep 0.1
		done
		sleep 1
		"$NA" udpsend 127.0.0.1 $((PORT + 1)) $M connected >>"$W/udpc.alt"
		"$NA" udpsend 127.0.0.1 $((PORT + 1)) $M unconnected >>"$W/udpu.alt"
		kill -INT $BPID
		wait $BPID 2>/dev/null
		BPID=
	fi
	echo "round $r/$R done" >&2
done

median() { # FILE COLUMN
	awk -v c="$2" '{print $c}' "$1" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'
}
printf '%-8s %-7s %10s %8s %10s %8s\n' workload config wall_s ratio cpu_s ratio
for w in storm udpc udpu; do
	bw=$(median "$W/$w.none" 1)
	bc_=$(median "$W/$w.none" 2)
	for c in none agent nodns alt; do
		[ -s "$W/$w.$c" ] || continue
		mw=$(median "$W/$w.$c" 1)
		mc=$(median "$W/$w.$c" 2)
		printf '%-8s %-7s %10.4f %8.4f %10.4f %8.4f\n' $w $c "$mw" "$(awk "BEGIN{print $mw / $bw}")" \
			"$mc" "$(awk "BEGIN{print $mc / $bc_}")"
	done
done
tck=$(getconf CLK_TCK)
ac=$(median "$W/storm.agentcpu" 1)
printf 'agent CPU per storm (median): %.3f s for %d connect+accept pairs = %.2f us per pair\n' \
	"$(awk "BEGIN{print $ac / $tck}")" $N "$(awk "BEGIN{print $ac / $tck / $N * 1000000}")"
echo "captured per round (connects accepts, want $N $N): $(tr '\n' ',' <"$W/storm.captured")"
