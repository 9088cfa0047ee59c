#!/usr/bin/env bash
# bench/file_progs.sh - BPF run time per call of each file.* program, on unwatched files.
#
# Starts the agent with only the file.* probes (default rules plus one watched directory, as
# bench/file.sh), turns on kernel.bpf_stats_enabled for the run, and for each workload of
# build/tests/helpers/file_storm on 64 unwatched files (open: open + read + close; fdops: open
# + fchmod + fchown + ftruncate + close; paths: chmod + chown + truncate by path) reads
# run_time_ns / run_cnt of each of the agent's programs before and after (bpftool prog show -j).
# Prints per workload and program the median over ROUNDS of ns per call, and calls per
# iteration of the workload. (The stats themselves add two clock reads per call.)
# Usage: bench/file_progs.sh [ROUNDS] [MS_PER_RUN]     (defaults 7 and 500)
set -u
cd "$(dirname "$0")/.."
ROUNDS=${1:-7}
MS=${2:-500}
AGENT=${AGENT:-build/herdwatch-agent}
STORM=build/tests/helpers/file_storm
[ -x "$AGENT" ] && [ -x "$STORM" ] || { echo "build first: make" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "needs root" >&2; exit 1; }

D=$(mktemp -d /var/tmp/hwbench-fprog.XXXXXX)
OLD_STATS=$(sysctl -n kernel.bpf_stats_enabled)
APID=
trap '[ -n "$APID" ] && kill $APID 2>/dev/null; wait 2>/dev/null; sysctl -q kernel.bpf_stats_enabled=$OLD_STATS; rm -rf "$D"' EXIT
mkdir -p "$D/plain" "$D/watched"
for i in $(seq 0 63); do head -c 4096 /dev/urandom >"$D/plain/f$i"; done
cat >"$D/a.yaml" <<EOF2
probes: {process: false, user: false, file: true}
heartbeat_interval: 3600
files:
  add: [$D/watched/]
EOF2
"$AGENT" -c "$D/a.yaml" -o "$D/a.json" 2>"$D/a.err" &
APID=$!
for _ in $(seq 1 600); do grep -q agent.heartbeat "$D/a.json" 2>/dev/null && break; sleep 0.1; done
grep -q agent.heartbeat "$D/a.json" || { echo "agent did not start: $(cat "$D/a.err")" >&2; exit 1; }
jq -r 'select(.kind=="agent.heartbeat") | .agent.probes | to_entries[] | select(.key|startswith("file.")) | "\(.key) \(.value.state)"' "$D/a.json" | head -n 7 | tr '\n' ' '
echo
sysctl -q kernel.bpf_stats_enabled=1

# the agent's programs: prog_id of its descriptors
IDS=$(grep -h '^prog_id:' /proc/$APID/fdinfo/* 2>/dev/null | awk '{print $2}' | sort -un | paste -sd, -)
snap() { # id name run_time_ns run_cnt of the agent's programs
	bpftool prog show -j | jq -r "[$IDS] as \$ids | .[] | select(.id as \$i | \$ids | index(\$i)) | \"\\(.id) \\(.name) \\(.run_time_ns // 0) \\(.run_cnt // 0)\""
}
declare -A NS CNT CPU
for r in $(seq 1 "$ROUNDS"); do
	for w in open fdops paths; do
		snap >"$D/s0"
		its=$("$STORM" "$D/plain" 64 "$MS" "$w" 2>&1) || { echo "$its" >&2; exit 1; }
		snap >"$D/s1"
		# iterations: CPU ns per iteration is printed; recount from the run count instead
		while read -r id name t c; do
			read -r t0 c0 < <(awk -v i="$id" '$1==i {print $3, $4}' "$D/s0")
			dc=$((c - ${c0:-0}))
			[ "$dc" -gt 0 ] || continue
			NS[$w,$name]+="$(awk -v t="$((t - ${t0:-0}))" -v c="$dc" 'BEGIN { printf "%.0f", t / c }') "
			CNT[$w,$name]+="$dc "
		done <"$D/s1"
		CPU[$w]+="$its "
	done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {if (NR) print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
printf '%-7s %-16s %9s %10s   %s\n' workload program ns/call calls/run "ns/call per round"
for k in $(printf '%s\n' "${!NS[@]}" | sort); do
	w=${k%%,*} p=${k#*,}
	printf '%-7s %-16s %9s %10s   %s\n' "$w" "$p" "$(echo "${NS[$k]}" | median)" "$(echo "${CNT[$k]}" | median)" "${NS[$k]}"
done
for w in open fdops paths; do echo "$w: workload CPU ns/iteration (stats on): $(echo "${CPU[$w]}" | median)"; done
echo "file events during the run: $(grep -c '"kind":"file\.' "$D/a.json")"
