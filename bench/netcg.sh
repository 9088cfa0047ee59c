#!/usr/bin/env bash
# bench/netcg.sh - what the net family costs a loopback connect storm, on socket hooks (net.mode
# socket) and on syscall hooks (net.mode syscall), by the method of bench/floor.sh: the storm
# (build/bench/connect_storm: connect + accept + close, one thread) pinned to one CPU with
# taskset, one agent per mode switched by SIGHUP (bench/switch.sh) between
#   off     every family disabled: nothing attached, the agent idle (the base, "no monitor")
#   net     the net family only (its default probes and settings, plus -x), writing JSON to a file
#   floor   as off, plus empty programs (build/bench/hw-floor) on the raw tracepoints the mode's
#           net programs use: inet_sock_set_state once on socket hooks (hws_state_btf, which
#           serves connect and accept), sys_exit_connect/accept4 + inet_sock_set_state on
#           syscall hooks
#           (cgroup/connect4|6 have no empty counterpart in hw-floor: left out)
#   alt     as net, with -p's probes (e.g. without the classic syscall tracepoints)
#   slow    as off, plus one empty program on a syscall tracepoint the storm never calls
#           (sys_exit_fchmodat): the syscall slow path that any classic syscall tracepoint turns
#           on for every task, alone
#   stopped as net, the agent's user space stopped (SIGSTOP) during the storm: the programs run,
#           nothing reads the ring buffer (the kernel side alone)
# in rounds whose order rotates, so that the shared machine's load falls on all alike.
# Prints, per mode, the median wall time of each run, its range, the slowdown of the medians and
# the median (and range) of the per-round paired slowdowns against the same round's off; then
# the events counted and every run's wall time. With -s, kernel.bpf_stats_enabled is on
# meanwhile and the in-kernel run time of each net program per storm connection is printed too
# (the statistics' own clock reads included). The agent's CPU time during each storm is printed too.
# Usage: bench/netcg.sh [-r ROUNDS] [-n CONNECTIONS] [-m socket,syscall] [-w off,net[,alt,floor,slow,stopped]]
#        [-x 'YAML of the net section'] [-p 'YAML of the probes section'] [-c CPU] [-s]
#        (root; build first; defaults: 12 rounds, 20000 connections, both modes, off,net, CPU 1;
#        -x e.g. 'fold_repeats: false' is added to the net section of the net runs; -p e.g.
#        'net.socket: false' to the probes section of the alt runs)
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
AGENT=${HW_AGENT:-$ROOT/build/herdwatch-agent}
WLB=$ROOT/build/bench
WL=$WLB/connect_storm
REPS=12 N=20000 MODES=socket,syscall RUNS=off,net STATS= XNET= XPROBES=
CPU=$(($(nproc) > 1 ? 1 : 0))
while getopts "r:n:m:w:x:p:c:s" o; do
	case $o in
	r) REPS=$OPTARG ;;
	n) N=$OPTARG ;;
	m) MODES=$OPTARG ;;
	w) RUNS=$OPTARG ;;
	x) XNET=$OPTARG ;;
	p) XPROBES=$OPTARG ;;
	c) CPU=$OPTARG ;;
	s) STATS=1 ;;
	*) sed -n '2,/^set -uo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 2 ;;
	esac
done
[ "$(id -u)" = 0 ] || { echo "netcg: run as root" >&2; exit 1; }
[ -x "$AGENT" ] && [ -x "$WL" ] || { echo "netcg: build first (make)" >&2; exit 1; }
case ",$RUNS," in *,off,*) ;; *) RUNS=off,$RUNS ;; esac
TMP=$(mktemp -d /tmp/hw-netcg.XXXXXX)
SW_DIR=$TMP
# shellcheck source=bench/switch.sh
. "$ROOT/bench/switch.sh"
OLDSTATS=$(cat /proc/sys/kernel/bpf_stats_enabled)
[ -n "$STATS" ] && echo 1 >/proc/sys/kernel/bpf_stats_enabled
cleanup() {
	echo "$OLDSTATS" >/proc/sys/kernel/bpf_stats_enabled
	sw_cleanup
	rm -rf "$TMP"
}
trap cleanup EXIT

OFF='process: false, kernel: false, system: false, agent: false, user: false, file: false'
run_wl() { taskset -c "$CPU" "$WL" -n "$N" | sed -n 's/.* wall_ns=\([0-9]*\).*/\1/p'; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print 0}'; }
run_one() { # run_one MODE RUN: switch, run the storm, append its wall time
	case $2 in
	off) sw_switch off || exit 1 ;;
	net | stopped) sw_switch on || exit 1 ;;
	alt) sw_switch "$TMP/alt.yaml" || exit 1 ;;
	floor) { sw_switch off && sw_floor_start "${FLOOR[@]}"; } || exit 1 ;;
	slow) { sw_switch off && sw_floor_start tp:syscalls/sys_exit_fchmodat; } || exit 1 ;;
	esac
	[ "$2" = stopped ] && kill -STOP "$SW_AGENT_PID"
	local c0 c1
	c0=$(awk '{print $14 + $15}' "/proc/$SW_AGENT_PID/stat")
	run_wl >>"$TMP/$1.$2"
	c1=$(awk '{print $14 + $15}' "/proc/$SW_AGENT_PID/stat")
	echo $((c1 - c0)) >>"$TMP/$1.$2.cpu" # the agent's CPU ticks during the storm
	if [ "$2" = stopped ]; then # resumed: it writes the events of the storm before the next run
		kill -CONT "$SW_AGENT_PID"
		sw_quiet
	fi
	case $2 in floor | slow) sw_floor_stop ;; esac
	return 0
}

printf '%-8s %-7s %12s %10s %22s %10s %18s\n' mode run "median ms" "vs off" \
	"runs min…max (ms)" paired "paired min…max"
read -ra R <<<"${RUNS//,/ }"
for mode in ${MODES//,/ }; do
	if [ "$mode" = socket ]; then
		FLOOR=(raw:inet_sock_set_state)
	else
		FLOOR=(tp:syscalls/sys_exit_connect tp:syscalls/sys_exit_accept4 raw:inet_sock_set_state)
	fi
	printf 'net: {mode: %s%s}\nprobes: {%s}\n' "$mode" "${XNET:+, $XNET}" "$OFF" >"$TMP/on.yaml"
	printf 'net: {mode: %s%s}\nprobes: {%s%s}\n' "$mode" "${XNET:+, $XNET}" "$OFF" \
		"${XPROBES:+, $XPROBES}" >"$TMP/alt.yaml"
	SW_CONFIG=$TMP/on.yaml
	SW_OFF_EXTRA="net: {mode: $mode}"
	sw_start off || exit 1
	echo "# $mode: $(grep -m1 '"agent.heartbeat"' "$SW_OUT" | jq -c .agent.net_mode)"
	for c in "${R[@]}"; do : >"$TMP/$mode.$c" && : >"$TMP/$mode.$c.cpu"; done
	for ((r = 0; r < REPS; r++)); do
		k=$((r % ${#R[@]}))
		for ((j = 0; j < ${#R[@]}; j++)); do # rotated order
			run_one "$mode" "${R[(k + j) % ${#R[@]}]}"
		done
	done
	sw_switch off
	if [ -n "$STATS" ]; then # ns per storm connection of each net program of this agent
		nr=$(printf '%s\n' "${R[@]}" | grep -cx 'net\|alt\|stopped')
		bpftool prog show -j | jq -r --argjson n $((REPS * N * nr)) '.[] | select(.name|test("^hw[ns]_")) |
			select(.run_cnt? > 0) | "# \(.name): \(.run_time_ns / $n | floor) ns per connection, \(.run_cnt / $n * 10 | floor / 10) runs"'
	fi
	conns=$(grep -c '"kind":"net.connect"' "$SW_OUT")
	accs=$(grep -c '"kind":"net.accept"' "$SW_OUT")
	sums=$(jq -c 'select((.kind=="net.connect" or .kind=="net.accept") and .net.folded) | .net.count' "$SW_OUT" 2>/dev/null | awk '{s+=$1} END {print s+0}')
	loss=$(grep -c '"kind":"agent.loss"' "$SW_OUT")
	sw_stop
	base=$(median <"$TMP/$mode.off")
	for c in "${R[@]}"; do
		med=$(median <"$TMP/$mode.$c")
		lo=$(sort -n "$TMP/$mode.$c" | head -1)
		hi=$(sort -n "$TMP/$mode.$c" | tail -1)
		paste "$TMP/$mode.$c" "$TMP/$mode.off" |
			awk '$2 > 0 {printf "%.6f\n", ($1 - $2) * 100 / $2}' >"$TMP/$mode.$c.p"
		pm=$(median <"$TMP/$mode.$c.p")
		pl=$(sort -g "$TMP/$mode.$c.p" | head -1)
		ph=$(sort -g "$TMP/$mode.$c.p" | tail -1)
		awk -v m="$mode" -v c="$c" -v med="$med" -v b="$base" -v lo="$lo" -v hi="$hi" \
			-v pm="$pm" -v pl="$pl" -v ph="$ph" 'BEGIN {
			printf "%-8s %-7s %12.1f %+9.1f%% %10.1f … %-9.1f %+9.1f%% %+8.1f … %+.1f%%\n", m, c,
				med / 1e6, (med - b) * 100 / b, lo / 1e6, hi / 1e6, pm, pl, ph }'
	done
	hz=$(getconf CLK_TCK)
	for c in "${R[@]}"; do
		echo "# $mode $c: agent CPU during the storm, median $(median <"$TMP/$mode.$c.cpu" | awk -v hz="$hz" '{printf "%.0f", $1 * 1000 / hz}') ms per run"
	done
	echo "# $mode: events net.connect=$conns net.accept=$accs (folded counts in them: $sums)" \
		"agent.loss=$loss; load average $(cut -d' ' -f1-3 /proc/loadavg)"
	for c in "${R[@]}"; do echo "raw $mode $c: $(paste -sd, "$TMP/$mode.$c")"; done >>"$TMP/raw"
done
cat "$TMP/raw"
