#!/usr/bin/env bash
# bench/slowpath.sh - what the syscall slow path costs the hot storms by itself: the price every
# task pays for each syscall once any classic syscall tracepoint has a program, whatever that
# program is and whichever syscall it watches. On kernels without kprobes, fentry and BPF-LSM
# (this machine's), herdwatch's default probes for credentials, ptrace, mounts, namespaces,
# bpf(), memfd, W+X mappings and file changes have no other hook, so the default configuration
# turns it on; on kernels that offer them (Debian 12's 6.1, 6.12) it attaches none.
#
# Empty programs (build/bench/hw-floor) on a syscall the storms never make (pivot_root):
#   none   nothing attached
#   exit   sys_exit_pivot_root: the exit side only (perf_syscall_exit on every syscall's exit)
#   enter  sys_enter_pivot_root: the entry side only
#   both   both of them (what a probe with an entry and an exit program turns on)
# Workloads (pinned with taskset): open (open + read 4 KiB + close of an unwatched file:
# 3 syscalls per operation), connect (loopback connect + accept + close: 6 syscalls).
# Rounds interleaved, order rotated; prints per workload and configuration the median wall
# time, the range and the median (and range) of the per-round slowdowns against none.
# Usage: bench/slowpath.sh [-r ROUNDS] [-m none,exit,enter,both] [-w open,connect] [-c CPU]
#        (root; build first; defaults: 12 rounds, all, CPU 1)
set -uo pipefail
cd "$(dirname "$0")/.."
WLB=$PWD/build/bench
REPS=12 CONFS=none,exit,enter,both WORKLOADS=open,connect
CPU=$(($(nproc) > 1 ? 1 : 0))
while getopts "r:m:w:c:" o; do
	case $o in
	r) REPS=$OPTARG ;;
	m) CONFS=$OPTARG ;;
	w) WORKLOADS=$OPTARG ;;
	c) CPU=$OPTARG ;;
	*) sed -n '2,/^set -uo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 2 ;;
	esac
done
[ "$(id -u)" = 0 ] || { echo "slowpath: run as root" >&2; exit 1; }
for b in hw-floor open_storm connect_storm; do
	[ -x "$WLB/$b" ] || { echo "slowpath: build first (make): $WLB/$b" >&2; exit 1; }
done
TMP=$(mktemp -d /tmp/hw-slowpath.XXXXXX)
FPID=
stop_floor() {
	[ -n "$FPID" ] && kill "$FPID" 2>/dev/null && wait "$FPID" 2>/dev/null
	FPID=
}
trap 'stop_floor; rm -rf "$TMP"' EXIT
# shellcheck source=bench/paired.sh
. bench/paired.sh

start_floor() { # start_floor CONF: the empty programs of CONF, until stop_floor
	local hooks=() i
	case $1 in
	none) return 0 ;;
	exit) hooks=(tp:syscalls/sys_exit_pivot_root) ;;
	enter) hooks=(tp:syscalls/sys_enter_pivot_root) ;;
	both) hooks=(tp:syscalls/sys_enter_pivot_root tp:syscalls/sys_exit_pivot_root) ;;
	*) echo "slowpath: unknown configuration '$1'" >&2; exit 2 ;;
	esac
	"$WLB/hw-floor" "${hooks[@]}" >"$TMP/floor.out" 2>"$TMP/floor.err" &
	FPID=$!
	for ((i = 0; i < 200; i++)); do
		grep -q attached "$TMP/floor.out" && { sleep 0.3; return 0; }
		kill -0 "$FPID" 2>/dev/null || break
		sleep 0.05
	done
	echo "slowpath: hw-floor did not attach: $(cat "$TMP/floor.err")" >&2
	exit 1
}
run_wl() { # run_wl WORKLOAD: one run, its wall time in ns
	case $1 in
	open) taskset -c "$CPU" "$WLB/open_storm" -n 400000 -w unwatched ;;
	connect) taskset -c "$CPU" "$WLB/connect_storm" -n 20000 ;;
	esac | sed -n 's/.* wall_ns=\([0-9]*\).*/\1/p'
}
IFS=, read -r -a CS <<<"$CONFS"
NC=${#CS[@]}
printf '%-8s %-6s %10s %22s %9s %20s\n' workload conf "median ms" "runs min…max (ms)" paired \
	"paired min…max"
for w in ${WORKLOADS//,/ }; do
	for c in "${CS[@]}"; do : >"$TMP/$w.$c"; done
	for ((r = 0; r < REPS; r++)); do
		for ((k = 0; k < NC; k++)); do
			c=${CS[$(((k + r) % NC))]}
			start_floor "$c"
			run_wl "$w" >>"$TMP/$w.$c"
			stop_floor
		done
	done
	for c in "${CS[@]}"; do
		read -r med lo hi pm pl ph < <(paired "$TMP/$w.$c" "$TMP/$w.none")
		awk -v w="$w" -v c="$c" -v med="$med" -v lo="$lo" -v hi="$hi" -v pm="$pm" -v pl="$pl" \
			-v ph="$ph" 'BEGIN { printf "%-8s %-6s %10.1f %10.1f … %-9.1f %+8.1f%% %+8.1f … %+.1f%%\n",
			w, c, med / 1e6, lo / 1e6, hi / 1e6, pm, pl, ph }'
	done
	echo "# $w: load average $(cut -d' ' -f1-3 /proc/loadavg)"
done
