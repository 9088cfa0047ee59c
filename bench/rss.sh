#!/usr/bin/env bash
# bench/rss.sh - the agent's resident memory where bench/run reads it: one agent switched by
# SIGHUP between every family off and the configuration under test (bench/switch.sh), the
# --quick sizes of the workloads run with it on, ROUNDS times; VmRSS, RssAnon and RssFile after
# each run, and at the end the largest mappings (smaps, KiB by file). Minutes, not bench/run's
# quarter of an hour.
# usage: bench/rss.sh [ROUNDS=2]   (as root, under the BPF lock; AGENT=... for another binary)
set -uo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-2}
WLB=$PWD/build/bench
AGENT=${AGENT:-$PWD/build/herdwatch-agent}
SW_DIR=$(mktemp -d /tmp/hwrss.XXXXXX)
SW_CONFIG=
# shellcheck source=bench/switch.sh
. bench/switch.sh
trap 'sw_cleanup; rm -rf "$SW_DIR"' EXIT
mem() {
	awk '$1 == "VmRSS:" || $1 == "RssAnon:" || $1 == "RssFile:" {printf "%s %s KiB  ", $1, $2}' \
		"/proc/$SW_AGENT_PID/status"
	echo
}
sw_start off || exit 1
sleep 2
echo "all off, at start: $(mem)"
sw_switch on || exit 1
sleep 2
echo "on, idle:          $(mem)"
for ((r = 1; r <= ROUNDS; r++)); do
	for wl in exec connect open watched cap; do
		sw_switch on || exit 1
		case $wl in
		exec) "$WLB/exec_storm" -n 300 ;;
		connect) "$WLB/connect_storm" -n 4000 ;;
		open) "$WLB/open_storm" -n 60000 ;;
		watched) "$WLB/open_storm" -p /etc/shadow -w watched -n 20000 ;;
		cap) "$WLB/cap_storm" -n 40000 ;;
		esac >/dev/null
		sleep 0.5
		printf 'round %d %-8s %s\n' "$r" "$wl" "$(mem)"
		sw_switch off || exit 1
	done
done
sw_switch on || exit 1
sleep 1
echo "on, at the end:    $(mem)"
echo "largest mappings (KiB resident):"
awk '/^[0-9a-f]+-[0-9a-f]+ / {n = $6; if (n == "") n = "[anon]"; sub(/.*\//, "", n)}
	/^Rss:/ {r[n] += $2} END {for (n in r) if (r[n] >= 200) printf "  %6d %s\n", r[n], n}' \
	"/proc/$SW_AGENT_PID/smaps" | sort -rn
