#!/usr/bin/env bash
# bench/cap.sh - what herdwatch costs a capability-heavy loop, split by family, against the
# floor of any capability monitor.
#
# Workload: build/bench/cap_storm, pinned with taskset to one CPU: per iteration an fchown of a
# file owned by nobody (one CAP_CHOWN check, and one fchown syscall for the file family's
# file.chown) and a setsockopt(SO_RCVBUFFORCE) (one CAP_NET_ADMIN check).
# Monitors, one agent switched by SIGHUP (bench/switch.sh), interleaved round by round (the
# order rotated):
#   none     every probe family disabled: nothing attached, the agent idle
#   default  the agent's default configuration (on a kernel without BPF-LSM, as here, file.chown
#            comes from fanotify's FAN_ATTRIB on the watched files: an unwatched fchown runs
#            no herdwatch code)
#   exact    the defaults with files.mode exact: file.open and file.chown on their syscall
#            hooks (the default before file.chown followed watch mode)
#   nochown  the defaults without file.chown (what the priv family and the syscall-tracepoint
#            flag cost without the file family's fchown program)
#   cap      only process.capability
#   chown    only file.chown (file.open off, so on its syscall hooks)
#   empty    the idle agent and an empty program on the cap_capable raw tracepoint
#            (build/bench/hw-floor): the floor of any capability monitor
#   tpchown  the idle agent and an empty program on the sys_exit_fchown tracepoint: the floor
#            of file.chown on a kernel without fexit
# Prints per monitor the median wall time, its range, and the median of the per-round ratios
# against none with their range; the same for the loop's own CPU time; the load average before
# and after.
#
# Usage: bench/cap.sh [-r ROUNDS] [-n ITERATIONS]
#        [-m none,default,exact,nochown,cap,chown,empty,tpchown]
#        [-c CPU]
#        (root; build first; defaults: 12 rounds, 200000 iterations, CPU 1; HW_AGENT=BINARY
#        measures another build of the agent)
set -uo pipefail
cd "$(dirname "$0")/.."
AGENT=${HW_AGENT:-$PWD/build/herdwatch-agent}
WLB=$PWD/build/bench
STORM=$WLB/cap_storm
REPS=12 N=200000 MONITORS=none,default,nochown,cap,empty
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
[ "$(id -u)" = 0 ] || { echo "cap: run as root" >&2; exit 1; }
[ -x "$AGENT" ] && [ -x "$STORM" ] || { echo "cap: build first (make)" >&2; exit 1; }
TMP=$(mktemp -d /tmp/hw-capbench.XXXXXX)
SW_DIR=$TMP SW_OFF_EXTRA='heartbeat_interval: 3600'
. bench/switch.sh
# shellcheck source=bench/paired.sh
. bench/paired.sh
trap 'sw_cleanup; rm -rf "$TMP"' EXIT

printf 'heartbeat_interval: 3600\n' >"$TMP/default.yaml"
printf 'probes: {file.chown: false}\nheartbeat_interval: 3600\n' >"$TMP/nochown.yaml"
printf 'files: {mode: exact}\nheartbeat_interval: 3600\n' >"$TMP/exact.yaml"
printf '%s\n%s\n' 'probes: {process: false, kernel: false, system: false, agent: false, net: false, user: false, file: false, process.capability: true}' \
	'heartbeat_interval: 3600' >"$TMP/cap.yaml"
printf '%s\n%s\n' 'probes: {process: false, kernel: false, system: false, agent: false, net: false, user: false, file: false, file.chown: true}' \
	'heartbeat_interval: 3600' >"$TMP/chown.yaml"
switch() {
	[ "$1" = "${FLOOR_OF:-}" ] || { sw_floor_stop; FLOOR_OF=; }
	case $1 in
	none) sw_switch off ;;
	empty | tpchown)
		sw_switch off || exit 1
		[ -n "$FLOOR_OF" ] && return 0
		FLOOR_OF=$1
		if [ "$1" = empty ]; then sw_floor_start raw:cap_capable; else sw_floor_start tp:syscalls/sys_exit_fchown; fi
		;;
	*) sw_switch "$TMP/$1.yaml" ;;
	esac || exit 1
}
sw_start off || exit 1
# run_wl: one run; prints "WALL_NS CPU_NS" (CPU: the loop's own user + system time)
run_wl() {
	taskset -c "$CPU" "$STORM" -n "$N" | sed -n 's/.* wall_ns=\([0-9]*\) cpu_ns=\([0-9]*\).*/\1 \2/p'
}
# report MONITOR COLUMN(1 wall, 2 cpu) LABEL: one line of the table
report() {
	cut -d' ' -f"$2" "$TMP/$1" >"$TMP/v"
	cut -d' ' -f"$2" "$TMP/none" >"$TMP/b"
	read -r med lo hi pm pl ph < <(paired "$TMP/v" "$TMP/b")
	awk -v m="$1" -v k="$3" -v med="$med" -v lo="$lo" -v hi="$hi" -v n="$N" \
		-v pm="$pm" -v pl="$pl" -v ph="$ph" 'BEGIN {
		printf "%-8s %-4s %8.1f %8.1f … %-8.1f %+8.1f%% %+8.1f … %+.1f%%\n",
			m, k, med / n, lo / n, hi / n, pm, pl, ph }'
}
IFS=, read -r -a MONS <<<"$MONITORS"
NM=${#MONS[@]}
echo "# $REPS rounds x $N iterations on CPU $CPU; agent $("$AGENT" --version 2>/dev/null)"
echo "# load average before $(cut -d' ' -f1-3 /proc/loadavg)"
for m in "${MONS[@]}"; do : >"$TMP/$m"; done
for ((r = 0; r < REPS; r++)); do
	for ((k = 0; k < NM; k++)); do
		m=${MONS[$(((k + r) % NM))]}
		switch "$m"
		run_wl >>"$TMP/$m"
	done
done
echo "# load average after $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-8s %-4s %8s %20s %9s %20s\n' monitor time "ns/iter" "runs min…max" paired "paired min…max"
for m in "${MONS[@]}"; do report "$m" 1 wall; done
for m in "${MONS[@]}"; do report "$m" 2 cpu; done
