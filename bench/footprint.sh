#!/usr/bin/env bash
# Agent footprint: CPU while idle, and memory with N live processes in the process table.
# usage: bench/footprint.sh [N=10000] [IDLE_SECONDS=300] [KV_FILE]
#
#   1. start the agent (default config, heartbeat every 5 s, no control socket), RSS at start;
#   2. idle: the agent's CPU (the whole process, ns, bench/cputime.sh) over IDLE_SECONDS
#      while this script starts nothing (other activity on the machine still makes events: their
#      number and the load average are printed, so a busy machine reads as one);
#   3. N live processes (sleep, each exec'd: exe, argv, cwd in the table): RSS and RssAnon once
#      the agent's heartbeat counts them, then its CPU over IDLE_SECONDS/2 with them alive (the
#      table's reconciliation with /proc runs every 60 s);
#   4. the N processes killed: the table back to where it was, RSS after.
# With KV_FILE, the figures are also written there as key=value lines (bench/run does this).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10000}
IDLE=${2:-300}
KV=${3:-}
T=$(mktemp -d /tmp/hwfoot.XXXXXX)
AGENT=${AGENT:-build/herdwatch-agent}
SLEEPERS=()
APID=
cleanup() {
	# only the processes this script started, by pid
	[ ${#SLEEPERS[@]} -gt 0 ] && kill "${SLEEPERS[@]}" 2>/dev/null || true
	[ -n "$APID" ] && kill -TERM "$APID" 2>/dev/null && wait "$APID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
# shellcheck source=bench/cputime.sh
. bench/cputime.sh
[ -x "$HW_CPUTIME" ] || { echo "footprint: $HW_CPUTIME missing: run make" >&2; exit 1; }
cpu_ns() { proc_cpu_ns "$1"; }
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
mono_ns() { awk '{printf "%.0f\n", $1 * 1e9}' /proc/uptime; }
last_hb() { grep -F '"kind":"agent.heartbeat"' "$T/ev.json" | tail -n1; }
events_now() { wc -l <"$T/ev.json"; }
pct() { awk -v a="$1" -v b="$2" -v t0="$3" -v t1="$4" 'BEGIN {printf "%.3f", 100 * (b - a) / (t1 - t0)}'; }
kv() { [ -z "$KV" ] || echo "$*" >>"$KV"; }

printf 'heartbeat_interval: 5\n' >"$T/c.yaml"
ulimit -u unlimited 2>/dev/null || true
"$AGENT" --config "$T/c.yaml" --output "$T/ev.json" --control none 2>"$T/err" &
APID=$!
until grep -q heartbeat "$T/ev.json" 2>/dev/null; do
	kill -0 "$APID" 2>/dev/null || { cat "$T/err" >&2; exit 1; }
	sleep 0.2
done
sleep 2
rss0=$(status_kb $APID VmRSS)
procs0=$(last_hb | jq .agent.stats.processes)
echo "agent RSS at start: $rss0 KiB ($procs0 processes in the table)"

# idle: nothing started by us
c0=$(cpu_ns $APID) t0=$(mono_ns) e0=$(events_now) l0=$(cut -d' ' -f1 /proc/loadavg)
sleep "$IDLE"
c1=$(cpu_ns $APID) t1=$(mono_ns) e1=$(events_now) l1=$(cut -d' ' -f1 /proc/loadavg)
idle_pct=$(pct "$c0" "$c1" "$t0" "$t1")
idle_events=$((e1 - e0))
echo "idle: $idle_pct% of a core over ${IDLE}s ($idle_events events from other activity, load average $l0 -> $l1)"

# N live processes, each exec'd
for ((i = 0; i < N; i++)); do
	sleep 3600 &
	SLEEPERS+=($!)
done 2>/dev/null
live=0
for p in "${SLEEPERS[@]}"; do [ -d /proc/$p ] && live=$((live + 1)); done
want=$((procs0 + live * 95 / 100))
for _ in $(seq 1 60); do
	sleep 5
	[ "$(last_hb | jq .agent.stats.processes)" -ge "$want" ] && break
done
hb=$(last_hb)
procsN=$(jq .agent.stats.processes <<<"$hb")
rssN=$(status_kb $APID VmRSS)
anonN=$(status_kb $APID RssAnon)
echo "live processes started: $live; in the agent's table: $procsN"
echo "agent RSS with $live extra live processes: $rssN KiB (RssAnon $anonN KiB)"
busy=$((IDLE / 2))
c0=$(cpu_ns $APID) t0=$(mono_ns) e0=$(events_now)
sleep "$busy"
c1=$(cpu_ns $APID) t1=$(mono_ns) e1=$(events_now)
idleN_pct=$(pct "$c0" "$c1" "$t0" "$t1")
echo "idle with $live extra live processes: $idleN_pct% of a core over ${busy}s ($((e1 - e0)) events)"

kill "${SLEEPERS[@]}" 2>/dev/null || true
wait "${SLEEPERS[@]}" 2>/dev/null || true
SLEEPERS=()
sleep 12
procsE=$(last_hb | jq .agent.stats.processes)
rssE=$(status_kb $APID VmRSS)
echo "after they exited: $procsE processes in the table, RSS $rssE KiB"
kv "date=$(date -u +%Y-%m-%dT%H:%M:%SZ) n=$N live=$live idle_s=$IDLE cpus=$(nproc) loadavg=$l1"
kv "rss_start_kb=$rss0 rss_live_kb=$rssN rss_anon_live_kb=$anonN rss_after_kb=$rssE"
kv "procs_start=$procs0 procs_live=$procsN procs_after=$procsE"
kv "idle_cpu_pct=$idle_pct idle_events=$idle_events idle_live_cpu_pct=$idleN_pct idle_live_events=$((e1 - e0))"
