#!/usr/bin/env bash
# bench/netcg.sh - what the net family costs a loopback connect storm, on socket hooks (net.mode
# socket, the default) and on syscall hooks (net.mode syscall), by the method of bench/floor.sh:
# the storm (build/bench/connect_storm: connect + accept + close, one thread) pinned to one CPU
# with taskset, one agent per mode switched by SIGHUP between
#   off   every family disabled: nothing attached, the agent idle (the base, "no monitor")
#   net   the net family only (its default probes), writing JSON to a file
# in rounds whose order alternates, so that the shared machine's load falls on both alike.
# Prints, per mode, the median wall time of each, its range, the slowdown of the medians and
# the median (and range) of the per-round paired slowdowns; then every run's wall time.
# With -s, kernel.bpf_stats_enabled is on meanwhile and the in-kernel run time of each net
# program per storm connection is printed too (the statistics' own clock reads included).
# Usage: bench/netcg.sh [-r ROUNDS] [-n CONNECTIONS] [-m socket,syscall] [-c CPU] [-s]
#        (root; build first; defaults: 12 rounds, 20000 connections, both modes, CPU 1)
set -uo pipefail
cd "$(dirname "$0")/.."
AGENT=$PWD/build/herdwatch-agent
WL=$PWD/build/bench/connect_storm
REPS=12 N=20000 MODES=socket,syscall STATS=
CPU=$(($(nproc) > 1 ? 1 : 0))
while getopts "r:n:m:c:s" o; do
	case $o in
	r) REPS=$OPTARG ;;
	n) N=$OPTARG ;;
	m) MODES=$OPTARG ;;
	c) CPU=$OPTARG ;;
	s) STATS=1 ;;
	*) sed -n '2,/^set -uo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 2 ;;
	esac
done
[ "$(id -u)" = 0 ] || { echo "netcg: run as root" >&2; exit 1; }
[ -x "$AGENT" ] && [ -x "$WL" ] || { echo "netcg: build first (make)" >&2; exit 1; }
TMP=$(mktemp -d /tmp/hw-netcg.XXXXXX)
AP=
OLDSTATS=$(cat /proc/sys/kernel/bpf_stats_enabled)
[ -n "$STATS" ] && echo 1 >/proc/sys/kernel/bpf_stats_enabled
cleanup() {
	echo "$OLDSTATS" >/proc/sys/kernel/bpf_stats_enabled
	[ -n "$AP" ] && kill -TERM "$AP" 2>/dev/null && wait "$AP" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

OFF='process: false, kernel: false, system: false, agent: false, user: false, file: false'
cfg() { # cfg MODE off|net
	if [ "$2" = off ]; then
		printf 'net: {mode: %s}\nprobes: {%s, net: false}\n' "$1" "$OFF" >"$TMP/cfg.yaml"
	else
		printf 'net: {mode: %s}\nprobes: {%s}\n' "$1" "$OFF" >"$TMP/cfg.yaml"
	fi
}
napplied() { grep -c '"result":"applied"' "$TMP/hw.json"; }
reload() { # reload MODE off|net: rewrite the config, SIGHUP, wait until applied
	local n i
	n=$(napplied)
	cfg "$1" "$2"
	kill -HUP "$AP"
	for ((i = 0; i < 1200; i++)); do
		[ "$(napplied)" -gt "$n" ] && { sleep 0.3; return 0; }
		sleep 0.05
	done
	echo "netcg: the agent did not apply a reload: $(tail -2 "$TMP/hw.err")" >&2
	exit 1
}
run_wl() { taskset -c "$CPU" "$WL" -n "$N" | sed -n 's/.* wall_ns=\([0-9]*\).*/\1/p'; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print 0}'; }

printf '%-8s %-4s %12s %10s %22s %10s %18s\n' mode run "median ms" "vs off" "runs min…max (ms)" \
	paired "paired min…max"
for mode in ${MODES//,/ }; do
	cfg "$mode" off
	: >"$TMP/hw.json"
	"$AGENT" --config "$TMP/cfg.yaml" --output "$TMP/hw.json" --control none 2>"$TMP/hw.err" &
	AP=$!
	for ((i = 0; i < 6000; i++)); do
		grep -q '"agent.heartbeat"' "$TMP/hw.json" 2>/dev/null && break
		kill -0 "$AP" 2>/dev/null || { echo "netcg: the agent died: $(tail -2 "$TMP/hw.err")" >&2; exit 1; }
		sleep 0.1
	done
	echo "# $mode: $(grep -m1 '"agent.heartbeat"' "$TMP/hw.json" | jq -c .agent.net_mode)"
	: >"$TMP/$mode.off"
	: >"$TMP/$mode.net"
	for ((r = 0; r < REPS; r++)); do
		if ((r % 2)); then order="net off"; else order="off net"; fi
		for c in $order; do
			reload "$mode" "$c"
			run_wl >>"$TMP/$mode.$c"
		done
	done
	if [ -n "$STATS" ]; then # ns per storm connection of each net program of this agent
		bpftool prog show -j | jq -r --argjson n $((REPS * N)) '.[] | select(.name|test("^hw[ns]_")) |
			select(.run_cnt? > 0) | "# \(.name): \(.run_time_ns / $n | floor) ns per connection, \(.run_cnt / $n * 10 | floor / 10) runs"'
	fi
	conns=$(grep -c '"kind":"net.connect"' "$TMP/hw.json")
	accs=$(grep -c '"kind":"net.accept"' "$TMP/hw.json")
	loss=$(grep -c '"kind":"agent.loss"' "$TMP/hw.json")
	kill -TERM "$AP" && wait "$AP"
	AP=
	base=$(median <"$TMP/$mode.off")
	for c in off net; do
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
			printf "%-8s %-4s %12.1f %+9.1f%% %10.1f … %-9.1f %+9.1f%% %+8.1f … %+.1f%%\n", m, c,
				med / 1e6, (med - b) * 100 / b, lo / 1e6, hi / 1e6, pm, pl, ph }'
	done
	echo "# $mode: events net.connect=$conns net.accept=$accs agent.loss=$loss ($((REPS * N)) connections in the net runs)"
	echo "raw $mode: off=$(paste -sd, "$TMP/$mode.off") net=$(paste -sd, "$TMP/$mode.net")" >>"$TMP/raw"
done
cat "$TMP/raw"
