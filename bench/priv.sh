#!/usr/bin/env bash
# bench/priv.sh - what the priv probes cost a capability-heavy workload, side by side.
#
# Workload: build/tests/helpers/cap_bench - per iteration a chown that changes the owner (one
# CAP_CHOWN check) and a setsockopt(SO_RCVBUFFORCE) (one CAP_NET_ADMIN check), as root.
#
# The machine is shared and noisy, so runs are short and interleaved in pairs, and the result
# is the median of the per-pair ratios:
#   none   - no herdwatch-agent running (the agent is started once per round, after these runs)
#   off    - the agent running with every probe detached (SIGHUP with all families disabled)
#   on     - the agent running with its default probes
# "off" and "on" alternate through SIGHUP reloads of one agent (probes attach and detach at
# runtime; bench/switch.sh), so that one pair is a few hundred milliseconds apart. At the end
# it checks that the capability summaries counted every check of every "on" run (a monitor
# that drops is blind).
# Usage: bench/priv.sh [PAIRS] [ITERATIONS]
set -u
cd "$(dirname "$0")/.."
PAIRS=${1:-21}
ITERS=${2:-20000}
AGENT=build/herdwatch-agent
W=build/tests/helpers/cap_bench
T=$(mktemp -d /tmp/hwbench-priv.XXXXXX)
SW_DIR=$T WLB=build/bench
# shellcheck source=bench/switch.sh
. bench/switch.sh
trap 'sw_cleanup; rm -rf "$T"' EXIT
touch "$T/f"

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
work() { # prints "wall_ns cpu_ns" per iteration, records the pid under $1
	local out
	out=$("$W" "$T/f" "$ITERS")
	sed -n 's/^pid=//p' <<<"$out" >>"$T/pids.$1"
	echo "$(sed -n 's/^ns_per_iter=//p' <<<"$out") $(sed -n 's/^cpu_ns_per_iter=//p' <<<"$out")"
}
# "on": the default probes; both with a 2 s summary window (the count check at the end)
printf 'privilege:\n  summary_interval: 2\n' >"$T/on.yaml"
SW_CONFIG=$T/on.yaml SW_OFF_EXTRA=$(cat "$T/on.yaml") SW_SETTLE=${SETTLE:-0.5}
reload() { sw_switch "$1" || exit 1; }
settle() { :; } # sw_switch waits SW_SETTLE after every change (RCU, tracepoint sync)

echo "# $PAIRS pairs x $ITERS iterations (2 capability checks each); ns per iteration"
# 1. no agent at all
for _ in $(seq "$PAIRS"); do work none; done >"$T/none"
# 2. one agent, probes detached/attached alternately
sw_start on || exit 1
AP=$SW_AGENT_PID
c0=$(awk '{print $14 + $15}' "/proc/$AP/stat")
for i in $(seq "$PAIRS"); do
	if [ $((i % 2)) = 0 ]; then
		reload off; settle; off=$(work off); reload on; settle; on=$(work on)
	else
		reload on; settle; on=$(work on); reload off; settle; off=$(work off)
	fi
	echo "$off $on" >>"$T/pairs"
done
c1=$(awk '{print $14 + $15}' "/proc/$AP/stat")
sleep 2.5 # one more summary window
sw_stop

col() { awk -v c="$1" '{print $c}'; }
for m in wall cpu; do
	c=1; [ $m = cpu ] && c=2
	none=$(col $c <"$T/none" | median)
	off=$(col $c <"$T/pairs" | median)
	on=$(col $((c + 2)) <"$T/pairs" | median)
	ratio=$(awk -v c=$c '{printf "%.4f\n", $(c + 2) / $c}' "$T/pairs" | median)
	printf '%s: median ns/iter: no agent %s, probes detached %s, default probes %s; median per-pair ratio %s; ratio to no agent %s\n' \
		"$m" "$none" "$off" "$on" "$ratio" "$(awk -v a="$on" -v b="$none" 'BEGIN {printf "%.4f", a / b}')"
done
printf 'agent CPU during the pairs: %.2f s\n' "$(awk -v t=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" 'BEGIN {print t / hz}')"
missed=0
for pid in $(cat "$T/pids.on"); do
	for cap in CAP_CHOWN CAP_NET_ADMIN; do
		got=$(grep -F "\"pid\":$pid," "$SW_OUT" | jq -s "map(select(.kind==\"process.capability\" and .cap.name==\"$cap\" and (.cap.first|not)) | .cap.checks) | add // 0")
		[ "$got" = "$ITERS" ] || { echo "MISSED: pid $pid $cap counted $got of $ITERS"; missed=1; }
	done
done
[ $missed = 0 ] && echo "counting: all $((2 * ITERS)) checks of each of $(wc -l <"$T/pids.on") runs are in the summaries"
