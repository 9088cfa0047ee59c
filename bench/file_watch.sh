#!/usr/bin/env bash
# bench/file_watch.sh - what file.open costs in watch mode (fanotify marks on the watched files)
# against exact mode (the syscall exit tracepoints) and against no monitor.
#
# Workloads (bench/workloads/open_storm, pinned with taskset to one CPU):
#   unwatched  open + read 4 KiB + close of a file under /tmp, N times
#   watched    the same on /etc/shadow (a default rule: every open matches)
# Monitors, one agent switched by SIGHUP (bench/switch.sh), interleaved round by round (the
# order rotated):
#   none       every probe family disabled: nothing attached, the agent idle
#   watch      only the file family, files.mode watch (the default here, without BPF-LSM)
#   exact      only the file family, files.mode exact
#   default    the agent's defaults (every family; files.mode auto: watch here)
# Prints per workload and monitor the median wall time, its range, and the median of the
# per-round ratios against none (each run against the same round's none) with their range; the
# same for the storm's own CPU time (user + system: what fanotify adds to the opening process,
# less disturbed than the wall time when other work shares the CPU); and the load average
# (/proc/loadavg) before and after each workload.
#
# Usage: bench/file_watch.sh [-r ROUNDS] [-n OPENS] [-m none,watch,exact[,default]] [-c CPU]
#        [-w unwatched,watched]
#        (root; build first; defaults: 12 rounds, 300000 opens, CPU 1; HW_AGENT=BINARY measures
#        another build of the agent)
set -uo pipefail
cd "$(dirname "$0")/.."
AGENT=${HW_AGENT:-$PWD/build/herdwatch-agent} # HW_AGENT: another build, to compare two
STORM=$PWD/build/bench/open_storm
REPS=12 N=300000 MONITORS=none,watch,exact WORKLOADS=unwatched,watched
CPU=$(($(nproc) > 1 ? 1 : 0))
while getopts "r:n:m:c:w:" o; do
	case $o in
	r) REPS=$OPTARG ;;
	n) N=$OPTARG ;;
	m) MONITORS=$OPTARG ;;
	c) CPU=$OPTARG ;;
	w) WORKLOADS=$OPTARG ;;
	*) sed -n '2,/^set -uo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 2 ;;
	esac
done
[ "$(id -u)" = 0 ] || { echo "file_watch: run as root" >&2; exit 1; }
[ -x "$AGENT" ] && [ -x "$STORM" ] || { echo "file_watch: build first (make)" >&2; exit 1; }
TMP=$(mktemp -d /tmp/hw-fwbench.XXXXXX)
# the agent switched by SIGHUP (bench/switch.sh): "none" is its all-off configuration
SW_DIR=$TMP SW_OFF_EXTRA='heartbeat_interval: 3600'
. bench/switch.sh
# shellcheck source=bench/paired.sh
. bench/paired.sh
trap 'sw_cleanup; rm -rf "$TMP"' EXIT

FILE='probes: {process: false, kernel: false, system: false, agent: false, net: false, user: false, file: true}'
for m in watch exact; do
	printf '%s\nfiles: {mode: %s}\nheartbeat_interval: 3600\n' "$FILE" "$m" >"$TMP/$m.yaml"
done
echo 'heartbeat_interval: 3600' >"$TMP/default.yaml"
switch() {
	case $1 in
	none) sw_switch off ;;
	*) sw_switch "$TMP/$1.yaml" ;;
	esac || exit 1
}
sw_start off || exit 1
# run_wl WORKLOAD: one run; prints "WALL_NS CPU_NS" (CPU: the storm's own user + system time)
run_wl() {
	local out
	case $1 in
	unwatched) out=$(taskset -c "$CPU" "$STORM" -n "$N" -w unwatched) ;;
	watched) out=$(taskset -c "$CPU" "$STORM" -n "$N" -p /etc/shadow -w watched) ;;
	esac
	sed -n 's/.* wall_ns=\([0-9]*\) cpu_ns=\([0-9]*\).*/\1 \2/p' <<<"$out"
}
# report WORKLOAD MONITOR COLUMN(1 wall, 2 cpu) LABEL: one line of the table
report() {
	local base
	cut -d' ' -f"$3" "$TMP/$1.$2" >"$TMP/v"
	cut -d' ' -f"$3" "$TMP/$1.none" >"$TMP/b"
	base=$(median <"$TMP/b")
	read -r med lo hi pm pl ph < <(paired "$TMP/v" "$TMP/b")
	awk -v w="$1" -v m="$2" -v k="$4" -v med="$med" -v b="$base" -v lo="$lo" -v hi="$hi" \
		-v pm="$pm" -v pl="$pl" -v ph="$ph" 'BEGIN {
		printf "%-10s %-7s %-4s %10.1f %+8.1f%% %10.1f … %-9.1f %+8.1f%% %+8.1f … %+.1f%%\n",
			w, m, k, med / 1e6, (med - b) * 100 / b, lo / 1e6, hi / 1e6, pm, pl, ph }'
}
IFS=, read -r -a MONS <<<"$MONITORS"
NM=${#MONS[@]}
printf '%-10s %-7s %-4s %10s %9s %22s %9s %20s\n' workload monitor time "median ms" "vs none" \
	"runs min…max (ms)" paired "paired min…max"
for w in ${WORKLOADS//,/ }; do
	echo "# $w: load average before $(cut -d' ' -f1-3 /proc/loadavg)"
	for m in "${MONS[@]}"; do : >"$TMP/$w.$m"; done
	for ((r = 0; r < REPS; r++)); do
		for ((k = 0; k < NM; k++)); do
			m=${MONS[$(((k + r) % NM))]}
			switch "$m"
			run_wl "$w" >>"$TMP/$w.$m"
		done
	done
	echo "# $w: load average after $(cut -d' ' -f1-3 /proc/loadavg)"
	for m in "${MONS[@]}"; do report "$w" "$m" 1 wall; done
	for m in "${MONS[@]}"; do report "$w" "$m" 2 cpu; done
done
# what the reader did in watch mode (the last heartbeat: stop the agent for it)
sw_stop
grep -F '"agent.heartbeat"' "$SW_OUT" | tail -n1 | jq -c '.agent.file_watch'
