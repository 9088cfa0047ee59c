#!/usr/bin/env bash
# bench/fanmode.sh - the kernel's side of watch mode: what a bare fanotify reader
# (build/bench/hw-fanmode) costs a storm of opens of the file it watches, by how the events
# are reported and how often the queue is read. The floor under herdwatch's watched-file row:
# herdwatch's reader does more work per event, but in its own process; the storm pays the
# kernel's part (making the event, merging it with a queued one, queueing it).
#
# Configurations (one reader at a time, started before the run, stopped after):
#   none     no reader
#   fd       descriptors in the events (herdwatch's file.open group), inode mark, read every 10 ms
#   fd1      the same, read every 1 ms
#   fid      FAN_REPORT_FID (file handles, no descriptor), inode mark, read every 10 ms
#   dir      FAN_REPORT_DFID_NAME, a mark on the file's directory with FAN_EVENT_ON_CHILD (a
#            watched directory), read every 10 ms
# Workload: build/bench/open_storm -p FILE (open + read 4 KiB + close), pinned with taskset,
# FILE a 4 KiB file in a directory of its own under /var/tmp, or the file given with -f (e.g.
# /etc/shadow, the watched row of bench/run). Rounds interleaved, order
# rotated; prints per configuration the median wall time, its range and the median (and range)
# of the per-round slowdowns against none, and the events each reader read.
# Usage: bench/fanmode.sh [-r ROUNDS] [-n OPENS] [-m none,fd,fd1,fid,dir] [-c CPU] [-f FILE]
#        (root; build first; defaults: 12 rounds, 200000 opens, all, CPU 1)
set -uo pipefail
cd "$(dirname "$0")/.."
WLB=$PWD/build/bench
REPS=12 N=200000 CONFS=none,fd,fd1,fid,dir FILE=
CPU=$(($(nproc) > 1 ? 1 : 0))
while getopts "r:n:m:c:f:" o; do
	case $o in
	r) REPS=$OPTARG ;;
	n) N=$OPTARG ;;
	m) CONFS=$OPTARG ;;
	c) CPU=$OPTARG ;;
	f) FILE=$OPTARG ;;
	*) sed -n '2,/^set -uo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 2 ;;
	esac
done
[ "$(id -u)" = 0 ] || { echo "fanmode: run as root" >&2; exit 1; }
for b in hw-fanmode open_storm; do
	[ -x "$WLB/$b" ] || { echo "fanmode: build first (make): $WLB/$b" >&2; exit 1; }
done
TMP=$(mktemp -d /tmp/hw-fanmode.XXXXXX)
DIR=$(mktemp -d /var/tmp/hw-fanmode.XXXXXX)
if [ -z "$FILE" ]; then
	FILE=$DIR/secret
	head -c 4096 /dev/urandom >"$FILE"
fi
RPID=
stop_reader() {
	if [ -n "$RPID" ]; then
		kill "$RPID" 2>/dev/null && wait "$RPID" 2>/dev/null
		sed -n 's/^events=\([0-9]*\).*/\1/p' "$TMP/reader.out" >>"$TMP/$1.events"
	fi
	RPID=
}
trap 'stop_reader x; rm -rf "$TMP" "$DIR"' EXIT
# shellcheck source=bench/paired.sh
. bench/paired.sh

start_reader() { # start_reader CONF
	local i mode ms=10
	case $1 in
	none) return 0 ;;
	fd | fid | dir) mode=$1 ;;
	fd1) mode=fd ms=1 ;;
	*) echo "fanmode: unknown configuration '$1'" >&2; exit 2 ;;
	esac
	"$WLB/hw-fanmode" "$mode" "$ms" "$FILE" >"$TMP/reader.out" 2>"$TMP/reader.err" &
	RPID=$!
	for ((i = 0; i < 200; i++)); do
		grep -q ready "$TMP/reader.out" && { sleep 0.2; return 0; }
		kill -0 "$RPID" 2>/dev/null || break
		sleep 0.05
	done
	echo "fanmode: the reader did not start: $(cat "$TMP/reader.err")" >&2
	exit 1
}
IFS=, read -r -a CS <<<"$CONFS"
NC=${#CS[@]}
for c in "${CS[@]}"; do : >"$TMP/$c" && : >"$TMP/$c.events"; done
for ((r = 0; r < REPS; r++)); do
	for ((k = 0; k < NC; k++)); do
		c=${CS[$(((k + r) % NC))]}
		start_reader "$c"
		taskset -c "$CPU" "$WLB/open_storm" -n "$N" -p "$FILE" -w watched |
			sed -n 's/.* wall_ns=\([0-9]*\).*/\1/p' >>"$TMP/$c"
		stop_reader "$c"
	done
done
printf '%-5s %10s %22s %9s %20s %s\n' conf "median ms" "runs min…max (ms)" paired "paired min…max" \
	"events read (median per run)"
for c in "${CS[@]}"; do
	read -r med lo hi pm pl ph < <(paired "$TMP/$c" "$TMP/none")
	ev=$(median <"$TMP/$c.events")
	awk -v c="$c" -v med="$med" -v lo="$lo" -v hi="$hi" -v pm="$pm" -v pl="$pl" -v ph="$ph" \
		-v ev="$ev" 'BEGIN { printf "%-5s %10.1f %10.1f … %-9.1f %+8.1f%% %+8.1f … %+.1f%%  %s\n",
		c, med / 1e6, lo / 1e6, hi / 1e6, pm, pl, ph, ev }'
done
echo "# load average $(cut -d' ' -f1-3 /proc/loadavg)"
