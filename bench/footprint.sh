#!/usr/bin/env bash
# Agent footprint: RSS with N live processes in the process table, and CPU while idle.
# usage: bench/footprint.sh [N=10000] [IDLE_SECONDS=60]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10000}
IDLE=${2:-60}
T=$(mktemp -d /tmp/hwfoot.XXXXXX)
AGENT=build/herdwatch-agent
cleanup() {
	pkill -f "hwfoot-sleeper-$$" 2>/dev/null || true
	[ -n "${APID:-}" ] && kill -TERM "$APID" 2>/dev/null && wait "$APID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

ulimit -u unlimited 2>/dev/null || true
$AGENT --output "$T/ev.json" 2>"$T/err" &
APID=$!
until grep -q heartbeat "$T/ev.json" 2>/dev/null; do sleep 0.2; done
echo "agent RSS at start: $(rss_kb $APID) KiB"

# idle: nothing started by us; other activity on the machine still produces events
t0=$(cpu_ticks $APID)
e0=$(wc -l <"$T/ev.json")
sleep "$IDLE"
t1=$(cpu_ticks $APID)
e1=$(wc -l <"$T/ev.json")
hz=$(getconf CLK_TCK)
echo "idle: $(awk -v a=$t0 -v b=$t1 -v hz=$hz -v s=$IDLE 'BEGIN{printf "%.3f", 100*(b-a)/hz/s}')% of a core over ${IDLE}s ($((e1 - e0)) events from other activity)"

# N live processes, each exec'd (exe, argv, cwd in the table)
for i in $(seq 1 "$N"); do
	exec -a "hwfoot-sleeper-$$" sleep 600 &
done 2>/dev/null
sleep 5
live=$(pgrep -fc "hwfoot-sleeper-$$" || true)
echo "live sleepers: $live"
echo "agent RSS with $live extra live processes: $(rss_kb $APID) KiB"
grep -c '"process.exec"' "$T/ev.json" | sed 's/^/exec events so far: /'
