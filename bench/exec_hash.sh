#!/usr/bin/env bash
# bench/exec_hash.sh - what exec.sha256 costs the exec storm: the agent with exec_hash on (the
# default) and off, interleaved (the order alternates every round), ROUNDS rounds of N execs of
# /bin/true (build/bench/exec_storm). The agent runs pinned to CPU 0, the workload to CPU 1.
# Per run: wall µs per exec of the storm; the agent's CPU per exec (utime + stime from /proc:
# the whole agent, and its main thread alone, the event path; the rest is the hashing thread).
# Prints every run, then medians and ranges per mode, and the median of the rounds' on/off
# ratios. The agent's CPU includes the events of everything else that runs meanwhile. Run it under
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
main_ticks() { awk '{ print $14 + $15 }' "/proc/$1/task/$1/stat"; }

# one MODE: start the agent, run the storm, stop; appends
# "MODE wall_us_per_exec cpu_us_per_exec main_thread_cpu_us_per_exec exec_events"
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
	local c0 c1 m0 m1 out
	c0=$(cpu_ticks "$pid")
	m0=$(main_ticks "$pid")
	out=$(taskset -c 1 build/bench/exec_storm -n "$N")
	sleep 0.2 # the last batch (at most 10 ms late) and its hashes
	c1=$(cpu_ticks "$pid")
	m1=$(main_ticks "$pid")
	kill -TERM "$pid"
	wait "$pid"
	local wall
	wall=$(sed -n 's/.*wall_ns=\([0-9]*\).*/\1/p' <<<"$out")
	local got
	got=$(grep -c '"kind":"process.exec".*"exe":"/usr/bin/true"' "$ev")
	awk -v m="$mode" -v w="$wall" -v n="$N" -v c=$((c1 - c0)) -v mt=$((m1 - m0)) -v t="$TCK" \
		-v g="$got" 'BEGIN { printf "%s %.2f %.2f %.2f %d\n", m, w / n / 1000, c * 1e6 / t / n,
			mt * 1e6 / t / n, g }' >>"$W/runs"
}

echo "# exec storm, $N execs of /bin/true, $ROUNDS rounds; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq 1 "$ROUNDS"); do
	if [ $((r % 2)) -eq 1 ]; then one on; one off; else one off; one on; fi
	tail -n2 "$W/runs" | sed "s/^/round $r: /"
done
python3 - "$W/runs" <<'PY'
import sys, statistics as st
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
by = {m: [list(map(float, r[1:])) for r in rows if r[0] == m] for m in ("on", "off")}
print("# mode  wall us/exec median (min..max)  agent CPU us/exec  main thread CPU us/exec  exec events (min)")
for m in ("on", "off"):
    c = list(zip(*by[m]))
    print("%-4s  %.1f (%.1f..%.1f)  %.1f (%.1f..%.1f)  %.1f (%.1f..%.1f)  %d" % (m,
        st.median(c[0]), min(c[0]), max(c[0]), st.median(c[1]), min(c[1]), max(c[1]),
        st.median(c[2]), min(c[2]), max(c[2]), min(c[3])))
# rounds: the two runs of a round are adjacent, in either order
pairs, on, off = [], None, None
for r in rows:
    if r[0] == "on": on = list(map(float, r[1:]))
    else: off = list(map(float, r[1:]))
    if on and off:
        pairs.append((on[0] / off[0] - 1, on[1] - off[1], on[2] - off[2])); on = off = None
w = sorted(p[0] * 100 for p in pairs)
print("# on vs off per round: wall %+.1f%% median (%+.1f..%+.1f%%), agent CPU %+.1f us/exec, main thread %+.1f us/exec (medians of %d rounds)" % (
    st.median(w), w[0], w[-1], st.median(p[1] for p in pairs), st.median(p[2] for p in pairs), len(pairs)))
PY
echo "# load at the end $(cut -d' ' -f1-3 /proc/loadavg)"
