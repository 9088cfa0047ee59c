#!/usr/bin/env bash
# bench/hotspots.sh - where herdwatch's time goes in a storm, per operation, from CPU samples:
# the storm runs pinned to one CPU under `perf record -C CPU` while one agent runs, and every
# sample is put on the herdwatch BPF program it fell in (the programs' addresses are read from
# /proc/kallsyms while the agent runs) or on the kernel function it fell in. Printed per
# configuration: nanoseconds per operation (samples x sampling period / operations) of each
# herdwatch program and of the kernel's BPF machinery around them (tracepoint dispatch, cgroup
# hook wrappers, map lookups), the median over the rounds and its range.
#
# Why besides the wall-time benches: on this shared machine a storm's wall time varies by
# 20-60% between runs, which buries a change of 50 ns in a 30 us connection; the samples that
# land in a given function move by a few percent only. With -a, two agent builds are measured
# in interleaved rounds (a change's effect on its own program, e.g. hws_state_btf).
#
# Workloads (build/bench/, pinned with taskset):
#   connect  connect_storm: connect + accept + close on loopback
#   open     open_storm on a file under /tmp (unwatched)
#   watched  open_storm on /etc/shadow (watched)
#   cap      cap_storm
#   exec     exec_storm
# Configurations: the agent's defaults, or -c FILE (a YAML configuration, e.g. one family).
# Usage: bench/hotspots.sh [-w WORKLOAD] [-n OPS] [-r ROUNDS] [-c CONFIG] [-a OTHER_AGENT]
#        [-C CPU] [-F HZ] [-f 'FUNC ...']
#        (root; build first; needs perf (Debian: linux-perf); defaults: connect, 200000 ops
#        (exec 20000), 4 rounds, CPU 1, 9999 Hz; -f adds kernel functions to the table)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
WLB=$ROOT/build/bench
WL=connect N="" REPS=4 CFG="" OTHER="" HZ=9999 XFUNCS=""
CPU=$(($(nproc) > 1 ? 1 : 0))
while getopts "w:n:r:c:a:C:F:f:" o; do
	case $o in
	w) WL=$OPTARG ;;
	n) N=$OPTARG ;;
	r) REPS=$OPTARG ;;
	c) CFG=$OPTARG ;;
	a) OTHER=$OPTARG ;;
	C) CPU=$OPTARG ;;
	F) HZ=$OPTARG ;;
	f) XFUNCS=$OPTARG ;;
	*) sed -n '2,/^set -uo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 2 ;;
	esac
done
[ "$(id -u)" = 0 ] || { echo "hotspots: run as root" >&2; exit 1; }
command -v perf >/dev/null || { echo "hotspots: perf is missing (Debian: apt-get install linux-perf)" >&2; exit 1; }
[ -x "$ROOT/build/herdwatch-agent" ] || { echo "hotspots: build first (make)" >&2; exit 1; }
[ -z "$OTHER" ] || [ -x "$OTHER" ] || { echo "hotspots: -a $OTHER: not an executable" >&2; exit 1; }
[ -z "$CFG" ] || [ -r "$CFG" ] || { echo "hotspots: -c $CFG: not readable" >&2; exit 1; }
TMP=$(mktemp -d /tmp/hw-hotspots.XXXXXX)
APID=
stop_agent() {
	[ -n "$APID" ] && kill "$APID" 2>/dev/null && wait "$APID" 2>/dev/null
	APID=
}
trap 'stop_agent; rm -rf "$TMP"' EXIT
case $WL in
connect) N=${N:-200000} CMD=("$WLB/connect_storm" -n "$N") ;;
open)
	head -c 4096 /dev/urandom >"$TMP/plain"
	N=${N:-200000} CMD=("$WLB/open_storm" -n "$N" -p "$TMP/plain")
	;;
watched) N=${N:-200000} CMD=("$WLB/open_storm" -n "$N" -p /etc/shadow) ;;
cap) N=${N:-200000} CMD=("$WLB/cap_storm" -n "$N") ;;
exec) N=${N:-20000} CMD=("$WLB/exec_storm" -n "$N") ;;
*) echo "hotspots: unknown workload $WL (connect, open, watched, cap, exec)" >&2; exit 2 ;;
esac
[ -x "${CMD[0]}" ] || { echo "hotspots: build first (make): ${CMD[0]}" >&2; exit 1; }
if [ -z "$CFG" ]; then
	CFG=$TMP/default.yaml
	: >"$CFG"
fi

# one_round TAG AGENT: start the agent, warm up, record the storm, attribute the samples
one_round() {
	local i out=$TMP/out.json
	: >"$out"
	"$2" --config "$CFG" --output "$out" --control none 2>"$TMP/agent.err" &
	APID=$!
	for ((i = 0; i < 1200; i++)); do
		grep -q '"agent.heartbeat"' "$out" 2>/dev/null && break
		kill -0 "$APID" 2>/dev/null || { echo "hotspots: the agent died: $(tail -2 "$TMP/agent.err")" >&2; exit 1; }
		sleep 0.1
	done
	taskset -c "$CPU" "${CMD[@]}" -n $((N / 10)) >/dev/null 2>&1
	perf record -q -C "$CPU" -F "$HZ" -o "$TMP/perf.data" -- taskset -c "$CPU" "${CMD[@]}" \
		>"$TMP/wl.out" 2>/dev/null
	grep ' bpf_prog_' /proc/kallsyms >"$TMP/ksyms"
	perf script -i "$TMP/perf.data" -F ip,sym 2>/dev/null >"$TMP/script"
	stop_agent
	python3 - "$1" "$N" "$HZ" "$TMP/ksyms" "$TMP/script" "$TMP/wl.out" >>"$TMP/rows" <<'PY'
import bisect, re, sys
tag, n, hz, ksyms, script, wl = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), *sys.argv[4:]
syms = sorted((int(l.split()[0], 16), l.split()[2]) for l in open(ksyms))
addrs = [a for a, _ in syms]
per = 1e9 / hz / n  # ns per operation that one sample stands for
count = {}
total = 0
for line in open(script):
    p = line.split()
    if not p:
        continue
    total += 1
    ip = int(p[0], 16)
    name = p[1] if len(p) > 1 else "?"
    i = bisect.bisect_right(addrs, ip) - 1
    if (name.startswith("[unknown]") or "bpf_prog_" in name) and i >= 0 and ip - syms[i][0] < 1 << 20:
        name = syms[i][1].split("_", 3)[-1]  # bpf_prog_<tag>_<name>
    count[name] = count.get(name, 0) + 1
m = re.search(r"wall_ns=(\d+)", open(wl).read())
print(tag, "op", int(m.group(1)) / n if m else 0)
print(tag, "samples", total)
for k, v in count.items():
    print(tag, k, v * per)
PY
}

TAGS=(this)
[ -n "$OTHER" ] && TAGS=(this other)
for ((r = 0; r < REPS; r++)); do
	for ((j = 0; j < ${#TAGS[@]}; j++)); do # rotated order
		t=${TAGS[(r + j) % ${#TAGS[@]}]}
		a=$ROOT/build/herdwatch-agent
		[ "$t" = other ] && a=$OTHER
		one_round "$t" "$a"
	done
done
# herdwatch's programs (names hw?_*) and the kernel's BPF machinery, per configuration
python3 - "$TMP/rows" "$XFUNCS" "${TAGS[@]}" <<'PY'
import re, statistics, sys
rows, xf, tags = sys.argv[1], sys.argv[2].split(), sys.argv[3:]
kernel = ["bpf_trace_run1", "bpf_trace_run2", "bpf_trace_run3", "bpf_trace_run4", "bpf_trace_run5", "trace_call_bpf",
          "perf_trace_buf_alloc", "__cgroup_bpf_run_filter_sock_addr", "__cgroup_bpf_run_filter_sk",
          "__cgroup_bpf_run_filter_sock_ops", "lookup_nulls_elem_raw", "htab_map_hash",
          "__htab_map_lookup_elem", "htab_lru_map_lookup_elem", "bpf_ringbuf_reserve",
          "bpf_ringbuf_submit", "__bpf_prog_enter_recur", "fsnotify", "fanotify_handle_event",
          "fanotify_merge", "send_to_group"] + xf
val = {}
for line in open(rows):
    t, k, v = line.split()
    val.setdefault(t, {}).setdefault(k, []).append(float(v))
names = sorted({k for t in val for k in val[t] if re.match(r"hw[a-z]?_", k)},
               key=lambda k: -statistics.median(val[tags[0]].get(k, [0])))
names += [k for k in kernel if any(k in val[t] for t in val)]
def cell(t, k):
    v = val.get(t, {}).get(k, [])
    v += [0.0] * (len(val[t]["op"]) - len(v))  # a round without a sample of it: 0
    return "%8.0f (%5.0f … %-5.0f)" % (statistics.median(v), min(v), max(v))
print("%-36s" % "ns per operation: median (range)" + "".join("%-26s" % t for t in tags))
print("%-36s" % "operation (wall, us)" + "".join("%8.2f %17s" % (statistics.median(val[t]["op"]) / 1000, "") for t in tags))
for k in names:
    print("%-36s" % k + "".join("%-26s" % cell(t, k) for t in tags))
tot = {t: 0.0 for t in tags}
for t in tags:
    for k in names:
        v = val[t].get(k, [])
        tot[t] += statistics.median(v + [0.0] * (len(val[t]["op"]) - len(v)))
print("%-36s" % "sum of the rows" + "".join("%8.0f %17s" % (tot[t], "") for t in tags))
PY
echo "# $WL, $N operations per round, $REPS rounds, CPU $CPU, $HZ Hz; load average $(cut -d' ' -f1-3 /proc/loadavg)"
