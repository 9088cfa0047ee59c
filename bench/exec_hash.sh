#!/usr/bin/env bash
# bench/exec_hash.sh - what exec.sha256 costs the exec storm: the agent with exec_hash on (the
# default) and off, interleaved (the order alternates every round), ROUNDS rounds of N execs of
# /bin/true (build/bench/exec_storm). The agent runs pinned to CPU 0, the workload to CPU 1.
# Per run: wall µs per exec of the storm, and the agent's CPU (utime + stime from /proc) per
# exec. Prints every run, then medians and ranges per mode. Run it under
# `flock /tmp/hw-bench.lock` as root.
# Usage: bench/exec_hash.sh [ROUNDS] [N]
set -u
cd "$(dirname "$0")/.."
ROUNDS=${1:-12}
N=${2:-2000}
W=$(mktemp -d /tmp/hw-exec-hash.XXXXXX)
trap 'rm -rf "$W"' EXIT
TCK=$(getconf CLK_TCK)
printf 'exec_hash:\n  enabled: true\n' >"$W/on.yaml"
printf 'exec_hash:\n  enabled: false\n' >"$W/off.yaml"

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# one MODE: start the agent, run the storm, stop; appends "MODE wall_us_per_exec cpu_us_per_exec"
one() {
	local mode=$1 ev=$W/ev-$1.json
	: >"$ev"
	taskset -c 0 "${AGENT:-build/herdwatch-agent}" --config "$W/$mode.yaml" --output "$ev" --control none \
		2>"$W/agent.err" &
	local pid=$!
	for _ in $(seq 1 1200); do
		grep -q '"kind":"agent.heartbeat"' "$ev" 2>/dev/null && break
		sleep 0.1
	done
	sleep 0.5 # start-up work (seeding, first heartbeat) done
	local c0 c1 out
	c0=$(cpu_ticks "$pid")
	out=$(taskset -c 1 build/bench/exec_storm -n "$N")
	sleep 0.2 # the last batch (at most 10 ms late) and its hashes
	c1=$(cpu_ticks "$pid")
	kill -TERM "$pid"
	wait "$pid"
	local wall
	wall=$(sed -n 's/.*wall_ns=\([0-9]*\).*/\1/p' <<<"$out")
	local got
	got=$(grep -c '"kind":"process.exec".*"exe":"/usr/bin/true"' "$ev")
	awk -v m="$mode" -v w="$wall" -v n="$N" -v c=$((c1 - c0)) -v t="$TCK" -v g="$got" \
		'BEGIN { printf "%s %.2f %.2f %d\n", m, w / n / 1000, c * 1e6 / t / n, g }' >>"$W/runs"
}

echo "# exec storm, $N execs of /bin/true, $ROUNDS rounds; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq 1 "$ROUNDS"); do
	if [ $((r % 2)) -eq 1 ]; then one on; one off; else one off; one on; fi
	tail -n2 "$W/runs" | sed "s/^/round $r: /"
done
echo "# mode  wall µs/exec median (min … max)  agent CPU µs/exec median (min … max)  exec events"
for m in on off; do
	awk -v m="$m" '$1 == m { print $2, $3, $4 }' "$W/runs" | python3 -c '
import sys, statistics as st
rows = [list(map(float, l.split())) for l in sys.stdin if l.strip()]
w = [r[0] for r in rows]; c = [r[1] for r in rows]; e = [r[2] for r in rows]
print("%-4s  %.1f (%.1f … %.1f)  %.2f (%.2f … %.2f)  min %d" % (sys.argv[1], st.median(w), min(w), max(w), st.median(c), min(c), max(c), min(e)))
' "$m"
done
echo "# load at the end $(cut -d' ' -f1-3 /proc/loadavg)"
