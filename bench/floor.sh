#!/usr/bin/env bash
# bench/floor.sh - how much of herdwatch's slowdown is the price of the hooks themselves.
#
# Asks herdwatch-agent (--probe, default config) which hooks it attaches on this kernel (raw
# tracepoints for tp_btf/raw_tp programs, classic tracepoints, fentry/fexit, LSM hooks), then
# runs each workload, pinned to one CPU, interleaved round by round (the order rotated) under:
#   none       one herdwatch-agent running with every probe detached (SIGHUP with every family
#              disabled): nothing attached, the agent idle
#   floor      as none, plus an empty BPF program ("return 0", build/bench/hw-floor) on every
#              one of those hooks except uprobes (they cost nothing to programs that do not
#              call the probed functions): what any monitor built on these hooks pays before
#              doing any work
#   dispatch   as none, plus empty programs on raw_syscalls sys_enter and sys_exit: the floor of
#              the peers' architecture (one dispatcher program on every syscall, as in Falco's
#              modern probe and Tracee), whatever their programs then do
#   herdwatch  the same agent switched by SIGHUP to its default probes, writing JSON to a file
#   stopped    as herdwatch, its user space stopped by SIGSTOP during the workload: its
#              programs run and fill the ring buffer, nothing reads it (what the kernel side
#              alone costs; resumed after the workload, it must then write every event)
# One agent for the whole run: its start (verification) is paid once, which matters under
# emulation (the kernel matrix's hw.bench=1 runs this inside each VM).
# Prints the median wall time of each, its spread, and the slowdown against none.
#
# Usage: bench/floor.sh [-r ROUNDS] [-w exec,connect,open,cap] [-m none,floor,dispatch,herdwatch,stopped]
#        [-d DIVISOR] [-c CPU]
#        (root; build first; default: 12 rounds, monitors none,floor,herdwatch; -d divides the
#        workloads' sizes, for slow machines; -c the CPU the workload is pinned to, default 1
#        or 0 on a one-CPU machine)
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WLB=$ROOT/build/bench
AGENT=$ROOT/build/herdwatch-agent
REPS=12
WORKLOADS=cap,open,exec,connect
MONITORS=none,floor,herdwatch
DIV=1
CPU=$(($(nproc) > 1 ? 1 : 0))
while getopts "r:w:m:d:c:" o; do
	case $o in
	r) REPS=$OPTARG ;;
	w) WORKLOADS=$OPTARG ;;
	m) MONITORS=$OPTARG ;;
	d) DIV=$OPTARG ;;
	c) CPU=$OPTARG ;;
	*) sed -n '2,/^set -uo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 2 ;;
	esac
done
[ "$(id -u)" = 0 ] || { echo "floor: run as root" >&2; exit 1; }
for b in "$AGENT" "$WLB/hw-floor" "$WLB/cap_storm"; do
	[ -x "$b" ] || { echo "floor: $b not built (make)" >&2; exit 1; }
done
command -v jq >/dev/null || { echo "floor: jq missing (apt-get install jq)" >&2; exit 1; }

TMP=$(mktemp -d /tmp/hw-floor.XXXXXX)
SW_DIR=$TMP
# shellcheck source=bench/switch.sh
. "$ROOT/bench/switch.sh"
# shellcheck source=bench/paired.sh
. "$ROOT/bench/paired.sh"
cleanup() {
	sw_cleanup
	rm -rf "$TMP"
}
trap cleanup EXIT

start() { # start MONITOR
	case $1 in
	none) sw_switch off || exit 1 ;;
	floor) sw_switch off && sw_floor_start "${HOOKS[@]}" || exit 1 ;;
	dispatch) sw_switch off && sw_floor_start raw:sys_enter raw:sys_exit || exit 1 ;;
	herdwatch | stopped)
		sw_switch on || exit 1
		[ "$1" = stopped ] && kill -STOP "$SW_AGENT_PID" ;;
	esac
}
stop() {
	kill -CONT "$SW_AGENT_PID" 2>/dev/null
	sw_floor_stop
}

# 1. The hooks herdwatch attaches: the "attach" lists of its manifest (herdwatch-agent --probe),
# one empty program per hook (uprobes left out).
mapfile -t HOOKS < <(sw_hooks)
[ ${#HOOKS[@]} -gt 0 ] || { echo "floor: found no hooks of the agent (herdwatch-agent --probe)" >&2; exit 1; }
echo "hooks (${#HOOKS[@]}): ${HOOKS[*]}"
sw_start off || exit 1

run_wl() { # run_wl WORKLOAD -> wall_ns on stdout
	local out
	case $1 in
	exec) out=$(taskset -c "$CPU" "$WLB/exec_storm" -n $((1500 / DIV))) ;;
	connect) out=$(taskset -c "$CPU" "$WLB/connect_storm" -n $((20000 / DIV))) ;;
	open) out=$(taskset -c "$CPU" "$WLB/open_storm" -n $((300000 / DIV))) ;;
	cap) out=$(taskset -c "$CPU" "$WLB/cap_storm" -n $((150000 / DIV))) ;;
	esac
	sed -n 's/.* wall_ns=\([0-9]*\).*/\1/p' <<<"$out"
}

IFS=, read -r -a MONS <<<"$MONITORS"
NM=${#MONS[@]}
[[ ",$MONITORS," == *,none,* ]] || { echo "floor: -m must include none (the base)" >&2; exit 2; }
printf '\n%-8s %-10s %12s %10s %22s %10s %18s\n' workload monitor "median ms" "vs none" "runs min…max (ms)" \
	"paired" "paired min…max"
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
		read -r med lo hi pmed plo phi < <(paired "$TMP/$w.$m" "$TMP/$w.none")
		awk -v w="$w" -v m="$m" -v med="$med" -v b="$base" -v lo="$lo" -v hi="$hi" \
			-v pm="$pmed" -v pl="$plo" -v ph="$phi" 'BEGIN {
			printf "%-8s %-10s %12.1f %+9.1f%% %10.1f … %-9.1f %+9.1f%% %+8.1f … %+.1f%%\n", w, m,
				med / 1e6, (med - b) * 100 / b, lo / 1e6, hi / 1e6, pm, pl, ph }'
	done
	echo "raw $w: $(for m in "${MONS[@]}"; do printf '%s=%s ' "$m" "$(paste -sd, "$TMP/$w.$m")"; done)" >>"$TMP/raw"
done
# every run's wall time in ns, round by round, for other statistics
cat "$TMP/raw"
