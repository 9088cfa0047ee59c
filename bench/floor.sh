#!/usr/bin/env bash
# bench/floor.sh - how much of herdwatch's slowdown is the price of the hooks themselves.
#
# Starts herdwatch-agent once (default config) to learn which hooks it attaches (bpftool perf
# show: raw tracepoints for tp_btf/raw_tp programs, classic tracepoints, uprobes), stops it,
# then runs each workload interleaved under three monitors:
#   none       nothing attached
#   floor      an empty BPF program ("return 0", build/bench/hw-floor) on every one of those
#              hooks except uprobes (they cost nothing to programs that do not call the probed
#              functions): what any monitor built on these hooks pays before doing any work
#   herdwatch  the agent itself, default config, writing JSON to a file
#   stopped    the agent, stopped by SIGSTOP once attached: its programs run and fill the ring
#              buffer, its user space does nothing (what the kernel side alone costs; it is
#              resumed after the workload and must then write every event)
# and prints the median wall time of each, its spread, and the slowdown against none.
#
# Usage: bench/floor.sh [-r REPS] [-w exec,connect,open,cap] [-m none,floor,herdwatch,stopped]
#        (root; build first; default monitors none,floor,herdwatch)
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WLB=$ROOT/build/bench
AGENT=$ROOT/build/herdwatch-agent
REPS=7
WORKLOADS=cap,open,exec,connect
MONITORS=none,floor,herdwatch
while getopts "r:w:m:" o; do
	case $o in
	r) REPS=$OPTARG ;;
	w) WORKLOADS=$OPTARG ;;
	m) MONITORS=$OPTARG ;;
	*) sed -n '2,/^set -uo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 2 ;;
	esac
done
[ "$(id -u)" = 0 ] || { echo "floor: run as root" >&2; exit 1; }
for b in "$AGENT" "$WLB/hw-floor" "$WLB/cap_storm"; do
	[ -x "$b" ] || { echo "floor: $b not built (make)" >&2; exit 1; }
done
command -v bpftool >/dev/null || { echo "floor: bpftool missing (apt-get install bpftool)" >&2; exit 1; }

TMP=$(mktemp -d /tmp/hw-floor.XXXXXX)
MON=
cleanup() {
	[ -n "$MON" ] && kill -TERM "$MON" 2>/dev/null && wait "$MON" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

# Wait until a monitor writing OUT has seen an exec of a marker (the agent is attached).
wait_agent() {
	local out=$1 tag="hw-floor-mark-$$-$RANDOM" i
	for ((i = 0; i < 1200; i++)); do
		((i % 10 == 0)) && /bin/true "$tag"
		[ -s "$out" ] && grep -qF "$tag" "$out" && return 0
		sleep 0.05
	done
	return 1
}

start() { # start MONITOR
	case $1 in
	none) MON= ;;
	floor)
		"$WLB/hw-floor" "${HOOKS[@]}" >"$TMP/floor.out" 2>"$TMP/floor.err" &
		MON=$!
		for ((i = 0; i < 200; i++)); do
			grep -q attached "$TMP/floor.out" 2>/dev/null && return 0
			kill -0 "$MON" 2>/dev/null || break
			sleep 0.05
		done
		echo "floor: hw-floor failed: $(cat "$TMP/floor.err")" >&2
		exit 1 ;;
	herdwatch | stopped)
		rm -f "$TMP/hw.json"
		"$AGENT" --output "$TMP/hw.json" --control none 2>"$TMP/hw.err" &
		MON=$!
		wait_agent "$TMP/hw.json" || { echo "floor: agent did not start: $(tail -2 "$TMP/hw.err")" >&2; exit 1; }
		[ "$1" = stopped ] && kill -STOP "$MON" ;;
	esac
}
stop() {
	if [ -n "$MON" ]; then
		kill -CONT "$MON" 2>/dev/null
		kill -TERM "$MON" 2>/dev/null
		wait "$MON" 2>/dev/null
	fi
	MON=
}

# 1. The hooks herdwatch attaches.
start herdwatch
HOOKS=()
while read -r kind name; do
	case $kind in
	raw_tracepoint) HOOKS+=("raw:$name") ;;
	tracepoint)
		d=$(ls -d /sys/kernel/tracing/events/*/"$name" 2>/dev/null | head -1)
		[ -n "$d" ] && HOOKS+=("tp:$(basename "$(dirname "$d")")/$name") ;;
	esac
done < <(bpftool perf show 2>/dev/null | awk -v p="$MON" '$2 == p {print $7, $8}' | sort -u)
stop
[ ${#HOOKS[@]} -gt 0 ] || { echo "floor: found no hooks of the agent (bpftool perf show)" >&2; exit 1; }
echo "hooks (${#HOOKS[@]}): ${HOOKS[*]}"

run_wl() { # run_wl WORKLOAD -> wall_ns on stdout
	local out
	case $1 in
	exec) out=$("$WLB/exec_storm" -n 1500) ;;
	connect) out=$("$WLB/connect_storm" -n 20000) ;;
	open) out=$("$WLB/open_storm" -n 300000) ;;
	cap) out=$("$WLB/cap_storm" -n 150000) ;;
	esac
	sed -n 's/.* wall_ns=\([0-9]*\).*/\1/p' <<<"$out"
}

median() { sort -n | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print 0}'; }

IFS=, read -r -a MONS <<<"$MONITORS"
NM=${#MONS[@]}
[[ ",$MONITORS," == *,none,* ]] || { echo "floor: -m must include none (the base)" >&2; exit 2; }
printf '\n%-8s %-10s %12s %10s %22s\n' workload monitor "median ms" "vs none" "runs min…max (ms)"
for w in ${WORKLOADS//,/ }; do
	for m in "${MONS[@]}"; do : >"$TMP/$w.$m"; done
	for ((r = 0; r < REPS; r++)); do
		# rotate the order so that no monitor always runs first or last
		for ((k = 0; k < NM; k++)); do
			m=${MONS[$(((k + r) % NM))]}
			start "$m"
			run_wl "$w" >>"$TMP/$w.$m"
			stop
		done
	done
	base=$(median <"$TMP/$w.none")
	for m in "${MONS[@]}"; do
		med=$(median <"$TMP/$w.$m")
		lo=$(sort -n "$TMP/$w.$m" | head -1)
		hi=$(sort -n "$TMP/$w.$m" | tail -1)
		awk -v w="$w" -v m="$m" -v med="$med" -v b="$base" -v lo="$lo" -v hi="$hi" 'BEGIN {
			printf "%-8s %-10s %12.1f %+9.1f%% %10.1f … %.1f\n", w, m, med / 1e6,
				(med - b) * 100 / b, lo / 1e6, hi / 1e6 }'
	done
done
