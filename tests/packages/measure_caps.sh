#!/usr/bin/env bash
# tests/packages/measure_caps.sh - which capabilities herdwatch-agent needs (the set
# herdwatch-agent.service keeps, docs/packaging.md). Run as root on the kernel to measure:
#
#   flock /tmp/hw-bpf.lock tests/packages/measure_caps.sh [build/herdwatch-agent]
#
# The agent runs as uid 0 with a reduced bounding set (setpriv), so its capabilities are exactly
# that set. First with every capability this process has; then with the unit's set (no
# CAP_SYS_ADMIN, which would stand in for BPF and PERFMON); then, for each capability of the
# unit's set, with the set minus that one: `--probe` (every probe's state and hook) is compared
# with the unrestricted one, and a short run checks what needs more than loading programs: the
# exit event of another user's process that started before the agent carries its executable
# and working directory (read from /proc), and `ctl kill` of that process succeeds. Prints one line per capability:
# "needed: <what breaks without it>" or "not needed".
set -u
AGENT=$(realpath "${1:-build/herdwatch-agent}")
SET="bpf perfmon sys_ptrace dac_read_search kill"
T=$(mktemp -d /tmp/hw-caps.XXXXXX)
trap 'rm -rf "$T"' EXIT

manifest() { jq -c '[.probes | to_entries[] | {(.key): (.value.state + " " + (.value.hook // ""))}] | add'; }

# run_with CAPS...: --probe and a short run with exactly CAPS (none: "-all")
run_with() {
	local bset="-all" c
	for c in "$@"; do bset="$bset,+$c"; done
	setpriv --bounding-set="$bset" --inh-caps=-all -- "$AGENT" --probe --control none 2>"$T/err" |
		manifest >"$T/manifest"
	# the short run: a nobody process started before the agent (its exe and cwd come from
	# /proc), killed through ctl kill; its exit event shows what the agent could read
	rm -f "$T/ev.json"
	setpriv --reuid=65534 --regid=65534 --clear-groups -- sleep 60 &
	local victim=$! i
	setpriv --bounding-set="$bset" --inh-caps=-all -- "$AGENT" --output "$T/ev.json" \
		--control "$T/ctl.sock" 2>>"$T/err" &
	local apid=$!
	for i in $(seq 300); do grep -q agent.heartbeat "$T/ev.json" 2>/dev/null && break; sleep 0.1; done
	"$AGENT" ctl --socket "$T/ctl.sock" kill "$victim" >"$T/kill" 2>&1
	for i in $(seq 30); do kill -0 "$victim" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$victim" 2>/dev/null; then echo alive >>"$T/kill"; kill "$victim"; fi
	wait "$victim" 2>/dev/null
	for i in $(seq 30); do
		grep -q "\"process.exit\".*\"pid\":$victim," "$T/ev.json" 2>/dev/null && break
		sleep 0.1
	done
	jq -c "select(.kind==\"process.exit\" and .proc.pid==$victim) | {exe: .proc.exe, cwd: .proc.cwd}" \
		"$T/ev.json" 2>/dev/null | head -n1 >"$T/exec"
	kill -TERM "$apid"
	wait "$apid" 2>/dev/null
}

caps_now=$(setpriv --dump | sed -n 's/^Capability bounding set: //p' | tr ',' ' ')
run_with $caps_now
cp "$T/manifest" "$T/full.manifest"
cp "$T/exec" "$T/full.exec"
echo "with every capability ($caps_now):"
echo "  probes: $(jq -r 'to_entries | map(.value) | group_by(split(" ")[0]) | map("\(.[0] | split(" ")[0]) \(length)") | join(", ")' "$T/full.manifest")"
echo "  exit of a nobody process: $(cat "$T/full.exec")"
# verdict NAME: compare the last run with the unrestricted one
verdict() {
	local why=""
	if ! cmp -s "$T/manifest" "$T/full.manifest"; then
		why="probes differ: $(jq -r --slurpfile f "$T/full.manifest" \
			'to_entries | map(select(.value != $f[0][.key]) | "\(.key) \($f[0][.key]) -> \(.value)") | join("; ")' \
			"$T/manifest" 2>/dev/null | head -c 300) $(grep -m1 -i "error\|fail\|cannot" "$T/err" | head -c 200)"
	fi
	cmp -s "$T/exec" "$T/full.exec" || why="$why exit event $(cat "$T/exec") instead of $(cat "$T/full.exec");"
	grep -q alive "$T/kill" && why="$why ctl kill failed: $(head -c 200 "$T/kill");"
	if [ -n "$why" ]; then echo "$1: needed: $why"; else echo "$1: not needed"; fi
}
run_with $SET
verdict "everything but ${SET// /,} (sys_admin, sys_resource, ...)"
for c in $SET; do
	rest=$(for x in $SET; do [ "$x" != "$c" ] && echo "$x"; done)
	run_with $rest
	verdict "cap_$c"
done
