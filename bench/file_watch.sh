#!/usr/bin/env bash
# bench/file_watch.sh - what file.open costs in watch mode (fanotify marks on the watched files)
# against exact mode (the syscall exit tracepoints) and against no monitor.
#
# Workloads (bench/workloads/open_storm, pinned with taskset to one CPU):
#   unwatched  open + read 4 KiB + close of a file under /tmp, N times
#   watched    the same on /etc/shadow (a default rule: every open matches)
# Monitors, one agent switched by SIGHUP, interleaved round by round (the order rotated):
#   none       every probe family disabled: nothing attached, the agent idle
#   watch      only the file family, files.mode watch (the default here, without BPF-LSM)
#   exact      only the file family, files.mode exact
# Prints per workload and monitor the median wall time, its range, and the median of the
# per-round ratios against none (each run against the same round's none) with their range.
#
# Usage: bench/file_watch.sh [-r ROUNDS] [-n OPENS] [-m none,watch,exact] [-c CPU]
#        (root; build first; defaults: 12 rounds, 300000 opens, CPU 1)
set -uo pipefail
cd "$(dirname "$0")/.."
AGENT=$PWD/build/herdwatch-agent
STORM=$PWD/build/bench/open_storm
REPS=12 N=300000 MONITORS=none,watch,exact
CPU=$(($(nproc) > 1 ? 1 : 0))
while getopts "r:n:m:c:" o; do
	case $o in
	r) REPS=$OPTARG ;;
	n) N=$OPTARG ;;
	m) MONITORS=$OPTARG ;;
	c) CPU=$OPTARG ;;
	*) sed -n '2,/^set -uo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 2 ;;
	esac
done
[ "$(id -u)" = 0 ] || { echo "file_watch: run as root" >&2; exit 1; }
[ -x "$AGENT" ] && [ -x "$STORM" ] || { echo "file_watch: build first (make)" >&2; exit 1; }
TMP=$(mktemp -d /tmp/hw-fwbench.XXXXXX)
AP=
trap '[ -n "$AP" ] && kill -TERM "$AP" 2>/dev/null && wait "$AP" 2>/dev/null; rm -rf "$TMP"' EXIT

OFF='probes: {process: false, kernel: false, system: false, agent: false, net: false, user: false, file: false}'
FILE='probes: {process: false, kernel: false, system: false, agent: false, net: false, user: false, file: true}'
cfg() {
	case $1 in
	none) echo "$OFF" ;;
	watch) printf '%s\nfiles: {mode: watch}\n' "$FILE" ;;
	exact) printf '%s\nfiles: {mode: exact}\n' "$FILE" ;;
	esac >"$TMP/cfg.yaml"
	echo 'heartbeat_interval: 3600' >>"$TMP/cfg.yaml"
}
napplied() { grep -c '"result":"applied"' "$TMP/hw.json"; }
STATE=none
switch() {
	local n i
	[ "$STATE" = "$1" ] && return 0
	n=$(napplied)
	cfg "$1"
	kill -HUP "$AP"
	for ((i = 0; i < 1200; i++)); do
		[ "$(napplied)" -gt "$n" ] && { STATE=$1; sleep 0.3; return 0; }
		sleep 0.05
	done
	echo "file_watch: the agent did not apply a reload: $(tail -2 "$TMP/hw.err")" >&2
	exit 1
}
cfg none
"$AGENT" --config "$TMP/cfg.yaml" --output "$TMP/hw.json" --control none 2>"$TMP/hw.err" &
AP=$!
for ((i = 0; i < 6000; i++)); do
	grep -q '"agent.heartbeat"' "$TMP/hw.json" 2>/dev/null && break
	kill -0 "$AP" 2>/dev/null || { echo "file_watch: the agent died: $(tail -2 "$TMP/hw.err")" >&2; exit 1; }
	sleep 0.1
done
run_wl() {
	local out
	case $1 in
	unwatched) out=$(taskset -c "$CPU" "$STORM" -n "$N" -w unwatched) ;;
	watched) out=$(taskset -c "$CPU" "$STORM" -n "$N" -p /etc/shadow -w watched) ;;
	esac
	sed -n 's/.* wall_ns=\([0-9]*\).*/\1/p' <<<"$out"
}
median() { sort -g | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print 0}'; }
IFS=, read -r -a MONS <<<"$MONITORS"
NM=${#MONS[@]}
printf '%-10s %-7s %10s %9s %22s %9s %20s\n' workload monitor "median ms" "vs none" "runs min…max (ms)" \
	paired "paired min…max"
for w in unwatched watched; do
	for m in "${MONS[@]}"; do : >"$TMP/$w.$m"; done
	for ((r = 0; r < REPS; r++)); do
		for ((k = 0; k < NM; k++)); do
			m=${MONS[$(((k + r) % NM))]}
			switch "$m"
			run_wl "$w" >>"$TMP/$w.$m"
		done
	done
	base=$(median <"$TMP/$w.none")
	for m in "${MONS[@]}"; do
		med=$(median <"$TMP/$w.$m")
		lo=$(sort -n "$TMP/$w.$m" | head -1)
		hi=$(sort -n "$TMP/$w.$m" | tail -1)
		paste "$TMP/$w.$m" "$TMP/$w.none" | awk '$2 > 0 {printf "%.6f\n", ($1 - $2) * 100 / $2}' >"$TMP/p"
		pm=$(median <"$TMP/p")
		pl=$(sort -g "$TMP/p" | head -1)
		ph=$(sort -g "$TMP/p" | tail -1)
		awk -v w="$w" -v m="$m" -v med="$med" -v b="$base" -v lo="$lo" -v hi="$hi" -v pm="$pm" \
			-v pl="$pl" -v ph="$ph" 'BEGIN {
			printf "%-10s %-7s %10.1f %+8.1f%% %10.1f … %-9.1f %+8.1f%% %+8.1f … %+.1f%%\n",
				w, m, med / 1e6, (med - b) * 100 / b, lo / 1e6, hi / 1e6, pm, pl, ph }'
	done
done
# what the reader did in watch mode (the last heartbeat: stop the agent for it)
kill -TERM "$AP" && wait "$AP" 2>/dev/null
AP=
grep -F '"agent.heartbeat"' "$TMP/hw.json" | tail -n1 | jq -c '.agent.file_watch'
