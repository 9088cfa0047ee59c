#!/usr/bin/env bash
# Inventory CPU with N live processes (issue 19: at most 2 s of CPU with 1,000 processes).
# usage: flock /tmp/hw-bench.lock bench/inventory.sh [N=1000] [ROUNDS=5]
#
#   1. N sleeping processes (each with its three standard descriptors, some of them sockets:
#      every one is a process whose /proc/PID/fd the listener section reads);
#   2. ROUNDS runs of `herdwatch-agent --inventory` (the same sections, budget and niced worker
#      thread as in the agent, without BPF): the summary's cpu_s (the worker thread's own CPU),
#      duration_ms and files (entries examined), and the whole process's CPU (user + sys from
#      bash's time) for each; the median of each;
#   3. the N processes killed (only those this script started, by pid).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000}
ROUNDS=${2:-5}
AGENT=${AGENT:-build/herdwatch-agent}
T=$(mktemp -d /tmp/hwinvb.XXXXXX)
SLEEPERS=()
cleanup() {
	[ ${#SLEEPERS[@]} -gt 0 ] && kill "${SLEEPERS[@]}" 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT
for ((i = 0; i < N; i++)); do
	sleep 600 </dev/null >/dev/null 2>&1 &
	SLEEPERS+=($!)
done
echo "processes: $(ls -d /proc/[0-9]* 2>/dev/null | wc -l) ($N started), load: $(cut -d' ' -f1-3 /proc/loadavg)"
med() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
for ((r = 1; r <= ROUNDS; r++)); do
	TIMEFORMAT='%U %S'
	{ time "$AGENT" --inventory >"$T/ev.json"; } 2>"$T/time"
	s=$(grep -F '"kind":"inventory.summary"' "$T/ev.json")
	read -r u sy <"$T/time"
	echo "$(jq -r '.inventory | "\(.cpu_s) \(.duration_ms) \(.files) \(.counts.listeners) \(.cut_short)"' <<<"$s") $(awk "BEGIN {print $u + $sy}")" >>"$T/rounds"
	echo "round $r: worker cpu_s $(cut -d' ' -f1 <<<"$(tail -1 "$T/rounds")"), duration_ms $(cut -d' ' -f2 <<<"$(tail -1 "$T/rounds")"), files $(cut -d' ' -f3 <<<"$(tail -1 "$T/rounds")"), listeners $(cut -d' ' -f4 <<<"$(tail -1 "$T/rounds")"), cut_short $(cut -d' ' -f5 <<<"$(tail -1 "$T/rounds")"), process cpu_s $(cut -d' ' -f6 <<<"$(tail -1 "$T/rounds")")"
done
echo "median: worker cpu_s $(cut -d' ' -f1 "$T/rounds" | med), duration_ms $(cut -d' ' -f2 "$T/rounds" | med), process cpu_s $(cut -d' ' -f6 "$T/rounds" | med), max worker cpu_s $(cut -d' ' -f1 "$T/rounds" | sort -n | tail -1)"
