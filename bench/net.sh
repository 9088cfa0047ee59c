#!/usr/bin/env bash
# bench/net.sh - what the net probes cost, side by side in one run (root, after `make`).
#
# Workloads (tests/helpers/net_act):
#   storm   N loopback TCP connect+accept+close pairs (client and accept thread in one process;
#           the client closes with RST so that no TIME_WAIT piles up)
#   udpc    M sends of 64 bytes on a connected UDP socket to a port that is not 53
#   udpu    M sendto()s of 64 bytes on an unconnected UDP socket (the DNS hook's slowest
#           path for ordinary traffic: it reads the destination from the caller's memory)
# Each workload prints wall and CPU seconds (user + system of the workload process, which
# includes the loopback softirq work done on its behalf).
#
# Part 1, the figures that matter: one agent runs throughout; every round switches it by
# SIGHUP between
#   none    probes: {net: false}  - net programs detached (their syscall tracepoints are then
#           unregistered: the kernel is as without the agent; the storm runs no other probe)
#   agent   the default configuration: all net probes attached
#   nodns   (udp only) probes: {net.dns: false}: what the DNS hook adds to ordinary sends
# in a different order each round, so that the machine's (shared, noisy) load falls on all
# alike. Restarting the agent between runs takes seconds and made the comparison far noisier.
# Part 2, hooks not taken (no agent running), interleaved with runs without anything:
#   alt     storm: bpftrace with an empty sock:inet_sock_set_state program (following TCP state
#           changes instead of syscall exits); udp: bpftrace with empty classic sys_enter
#           tracepoints on write, writev, sendto, sendmsg, sendmmsg (DNS capture at the syscall)
# Prints medians and ratios to "none", the agent's CPU per storm connection, and whether every
# connect and accept of every storm was captured (with exact ports).
# Usage: bench/net.sh [ROUNDS] [N] [M] [ALT_ROUNDS]
set -u
cd "$(dirname "$0")/.."
R=${1:-21}
N=${2:-10000}
M=${3:-50000}
RA=${4:-5}
NA=build/tests/helpers/net_act
AGENT=build/herdwatch-agent
W=$(mktemp -d /tmp/hwbench-net.XXXXXX)
PORT=$((30000 + $$ % 20000))
APID=
BPID=
trap '[ -n "$APID" ] && kill $APID 2>/dev/null; [ -n "$BPID" ] && kill $BPID 2>/dev/null; rm -rf "$W"' EXIT

printf 'probes: {net: false}\n' >"$W/none.yaml"
printf 'probes: {net: true}\n' >"$W/agent.yaml"
printf 'probes: {net: true, net.dns: false}\n' >"$W/nodns.yaml"

agent_use() { # CONFIG: switch the running agent and wait until it applied the config
	local n
	cp "$W/$1.yaml" "$W/cfg.yaml"
	n=$(grep -c '"agent.config"' "$W/ev.json")
	kill -HUP $APID
	for _ in $(seq 1 200); do
		[ "$(grep -c '"agent.config"' "$W/ev.json")" -gt "$n" ] && return 0
		sleep 0.05
	done
	echo "agent did not apply $1" >&2
	exit 1
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
run_storm() { # OUTFILE; leaves the storm's pid in SPID
	"$NA" storm 127.0.0.1 $PORT $N >>"$1" &
	SPID=$!
	wait $SPID
}
shuffle() { printf '%s\n' "$@" | shuf; }

cp "$W/none.yaml" "$W/cfg.yaml"
: >"$W/ev.json"
"$AGENT" --output "$W/ev.json" --config "$W/cfg.yaml" 2>"$W/agent.err" &
APID=$!
for _ in $(seq 1 300); do
	grep -q '"agent.heartbeat"' "$W/ev.json" 2>/dev/null && break
	sleep 0.1
done
grep -q '"agent.heartbeat"' "$W/ev.json" || { echo "agent did not start: $(cat "$W/agent.err")" >&2; exit 1; }

drops=0
: >"$W/storm.captured"
for r in $(seq 1 "$R"); do
	for c in $(shuffle none agent); do
		agent_use $c
		c0=$(cpu_ticks $APID)
		run_storm "$W/storm.$c"
		if [ $c = agent ]; then
			sleep 0.5 # the agent drains every 10 ms; let it finish
			echo $(($(cpu_ticks $APID) - c0)) >>"$W/storm.agentcpu"
			nc=$(jq -c "select(.kind==\"net.connect\" and .proc.pid==$SPID and .net.dst.port==$PORT and .net.result==0)" "$W/ev.json" | wc -l)
			na=$(jq -c "select(.kind==\"net.accept\" and .proc.pid==$SPID and .net.src.port==$PORT)" "$W/ev.json" | wc -l)
			echo "$nc $na" >>"$W/storm.captured"
			drops=$((drops + $(grep -c '"agent.loss"' "$W/ev.json")))
			: >"$W/ev.json" # the agent appends (O_APPEND): keep the file small
		fi
	done
	for c in $(shuffle none agent nodns); do
		agent_use $c
		"$NA" udpsend 127.0.0.1 $((PORT + 1)) $M connected >>"$W/udpc.$c"
		"$NA" udpsend 127.0.0.1 $((PORT + 1)) $M unconnected >>"$W/udpu.$c"
	done
	echo "round $r/$R done" >&2
done
kill -TERM $APID
wait $APID
APID=
drops=$((drops + $(grep -c '"agent.loss"' "$W/ev.json")))

# Part 2: hooks not taken, as bpftrace programs that do nothing
if command -v bpftrace >/dev/null; then
	bt() { # PROGRAM: start bpftrace and wait until it attached
		bpftrace -e "$1" >/dev/null 2>"$W/bt.err" &
		BPID=$!
		sleep 5
	}
	bt_stop() {
		kill -INT $BPID
		wait $BPID 2>/dev/null
		BPID=
	}
	for r in $(seq 1 "$RA"); do
		run_storm "$W/storm.none2"
		bt 'tracepoint:sock:inet_sock_set_state /pid == 0/ { @ = count(); }'
		run_storm "$W/storm.alt"
		bt_stop
		"$NA" udpsend 127.0.0.1 $((PORT + 1)) $M connected >>"$W/udpc.none2"
		"$NA" udpsend 127.0.0.1 $((PORT + 1)) $M unconnected >>"$W/udpu.none2"
		bt 'tracepoint:syscalls:sys_enter_write,tracepoint:syscalls:sys_enter_writev,tracepoint:syscalls:sys_enter_sendto,tracepoint:syscalls:sys_enter_sendmsg,tracepoint:syscalls:sys_enter_sendmmsg /pid == 0/ { @ = count(); }'
		"$NA" udpsend 127.0.0.1 $((PORT + 1)) $M connected >>"$W/udpc.alt"
		"$NA" udpsend 127.0.0.1 $((PORT + 1)) $M unconnected >>"$W/udpu.alt"
		bt_stop
		echo "alt round $r/$RA done" >&2
	done
fi

median() { # FILE COLUMN
	awk -v c="$2" '{print $c}' "$1" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'
}
row() { # WORKLOAD CONFIG BASELINE
	local mw mc bw bc
	bw=$(median "$W/$1.$3" 1)
	bc=$(median "$W/$1.$3" 2)
	mw=$(median "$W/$1.$2" 1)
	mc=$(median "$W/$1.$2" 2)
	printf '%-8s %-7s %-6s %10.4f %8.4f %10.4f %8.4f\n' $1 $2 $3 "$mw" "$(awk "BEGIN{print $mw / $bw}")" \
		"$mc" "$(awk "BEGIN{print $mc / $bc}")"
}
echo "rounds: $R (storm N=$N, udp M=$M), alt rounds: $RA"
printf '%-8s %-7s %-6s %10s %8s %10s %8s\n' workload config vs wall_s ratio cpu_s ratio
for w in storm udpc udpu; do
	for c in none agent nodns; do
		[ -s "$W/$w.$c" ] && row $w $c none
	done
	[ -s "$W/$w.alt" ] && row $w none2 none2 && row $w alt none2
done
tck=$(getconf CLK_TCK)
ac=$(median "$W/storm.agentcpu" 1)
printf 'agent CPU per storm (median): %.3f s for %d connect+accept pairs = %.2f us per pair\n' \
	"$(awk "BEGIN{print $ac / $tck}")" $N "$(awk "BEGIN{print $ac / $tck / $N * 1000000}")"
echo "captured per storm (connects accepts, want $N $N): $(sort "$W/storm.captured" | uniq -c | tr '\n' ';')"
echo "agent.loss events: $drops"
