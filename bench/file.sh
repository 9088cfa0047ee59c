#!/usr/bin/env bash
# bench/file.sh - what the user family costs, side by side in one run.
#
# Workloads:
#   storm     open + read 4 KiB + close on unwatched files (64 files in a private dir)
#   watched   the same on files in a watched dir (every open matches; repeats are counted in
#             the kernel, so after the first open per file nothing is emitted)
#   bash      a non-interactive bash loop (never calls readline: the uprobe must cost nothing)
# States, interleaved round by round in one agent run (SIGHUP switches the config):
#   off       agent running, every probe disabled
#   file      only the file.* probes
#   all       every probe of the agent (process, user, file)
# Output: per workload and state the median CPU time per iteration (user + system of the
# workload itself: waiting for a CPU on a shared machine is not counted, time in the kernel and
# its hooks is), and the ratio to "off".
#   alt       only the file.* probes of a second agent binary ALT_AGENT (env), when given:
#             e.g. a build whose file.open picks the raw sys_exit (tp_btf) candidate first
# Usage: [ALT_AGENT=path] bench/file.sh [ROUNDS] [MS_PER_RUN]     (defaults 11 and 700)
set -u
cd "$(dirname "$0")/.."
ROUNDS=${1:-11}
MS=${2:-700}
AGENT=build/herdwatch-agent
STORM=build/tests/helpers/file_storm
[ -x "$AGENT" ] && [ -x "$STORM" ] || { echo "build first: make" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "needs root" >&2; exit 1; }

D=$(mktemp -d /var/tmp/hwbench-file.XXXXXX)
declare -A PID
trap 'kill ${PID[*]} 2>/dev/null; wait 2>/dev/null; rm -rf "$D"' EXIT
mkdir -p "$D/plain" "$D/watched"
for i in $(seq 0 63); do
	head -c 4096 /dev/urandom >"$D/plain/f$i"
	cp "$D/plain/f$i" "$D/watched/f$i"
done

conf() { # conf NAME PROBES
	cat >"$D/$1.yaml" <<EOF
probes: $2
heartbeat_interval: 3600
files:
  add: [$D/watched/]
EOF
}
OFF='{process: false, user: false, file: false}'
FILE='{process: false, user: false, file: true}'
ALL='{process: true, user: true, file: true}'

declare -A APPLIED PID
reload() { # reload NAME PROBES: and wait until that agent says it applied the config
	local n=$1
	conf "$n" "$2"
	kill -HUP "${PID[$n]}"
	APPLIED[$n]=$((APPLIED[$n] + 1))
	for _ in $(seq 1 200); do
		[ "$(grep -c '"kind":"agent.config".*"applied"' "$D/$n.json")" -ge "${APPLIED[$n]}" ] && return 0
		sleep 0.05
	done
	echo "agent $n did not apply the config" >&2
	exit 1
}
start() { # start NAME BINARY
	conf "$1" "$OFF"
	"$2" -c "$D/$1.yaml" -o "$D/$1.json" 2>"$D/$1.err" &
	PID[$1]=$!
	APPLIED[$1]=0
	for _ in $(seq 1 600); do grep -q agent.heartbeat "$D/$1.json" 2>/dev/null && break; sleep 0.1; done
	grep -q agent.heartbeat "$D/$1.json" || { echo "agent $2 did not start: $(cat "$D/$1.err")" >&2; exit 1; }
}
switch() { # switch STATE
	case $1 in
	off) reload main "$OFF" ;;
	file) reload main "$FILE" ;;
	all) reload main "$ALL" ;;
	alt) reload main "$OFF" && reload alt "$FILE" ;;
	esac
	if [ -n "${ALT_AGENT:-}" ] && [ "$1" != alt ]; then reload alt "$OFF"; fi
}
start main "$AGENT"
STATES="off file all"
if [ -n "${ALT_AGENT:-}" ]; then
	start alt "$ALT_AGENT"
	STATES="off file alt all"
fi

bash_loop() { # CPU ns (user + sys) per iteration of a non-interactive bash loop
	local t
	t=$( { TIMEFORMAT='%3U %3S'; time bash -c 'for ((i = 0; i < 200000; i++)); do :; done'; } 2>&1)
	awk -v t="$t" 'BEGIN { split(t, a, " "); printf "%.0f\n", (a[1] + a[2]) * 1e9 / 200000 }'
}

declare -A R
for r in $(seq 1 "$ROUNDS"); do
	for s in $STATES; do
		switch "$s"
		R[storm,$s]+="$("$STORM" "$D/plain" 64 "$MS") "
		R[watched,$s]+="$("$STORM" "$D/watched" 64 "$MS") "
		R[bash,$s]+="$(bash_loop) "
	done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
printf '%-8s %-5s %12s %8s   %s\n' workload state median_ns ratio runs
for w in storm watched bash; do
	base=$(echo "${R[$w,off]}" | median)
	for s in $STATES; do
		m=$(echo "${R[$w,$s]}" | median)
		printf '%-8s %-5s %12s %8.3f   %s\n' "$w" "$s" "$m" "$(awk -v m="$m" -v b="$base" 'BEGIN { print m / b }')" "${R[$w,$s]}"
	done
done
events=$(cat "$D"/*.json | grep -c '"kind":"file\.')
echo "file events emitted during the run: $events (watched storm: first open per file, then counted in the kernel)"
echo "agent CPU: $(ps -o times= -p "${PID[main]}") s"
