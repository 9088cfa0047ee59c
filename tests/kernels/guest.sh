#!/usr/bin/env bash
# tests/kernels/guest.sh - the kernel matrix's run on one kernel: inside a VM booted by
# tests/kernels/run, or natively for this machine's kernel. Starts one agent for the whole run
# (verification under emulation takes ~30 s per start), prints its coverage manifest, then runs
# the probe tests against that agent (tests/lib.sh shared-agent mode: each test's config is given
# by SIGHUP) with waits scaled by HW_TIME_SCALE. Every line it prints starts with "HW ":
#   HW manifest {"hooks":...,"probes":...}     from the agent's first heartbeat
#   HW test NAME ok - CASE | HW test NAME not ok - CASE: WHY
#   HW agent alive|died  (the agent must survive every test)    HW done
# Usage: guest.sh [TEST...|none]   (test names under tests/probes/ or tests/kernels/; default:
# the probe families, the TTY capture's hooks (vm_tty), and the module test where the kernel
# has modules; none: no test)
set -u
cd "$(dirname "$0")/../.."
# descriptors inherited from the caller (a lock held by flock(1), say) would shift the ones the
# test helpers open and report
for fd in /proc/$$/fd/*; do
	fd=${fd##*/}
	[ "$fd" -gt 2 ] && [ "$fd" != 255 ] && eval "exec $fd>&-"
done 2>/dev/null
export HW_TIME_SCALE=${HW_TIME_SCALE:-1}
export HW_MSG_MAX=${HW_MSG_MAX:-3000} # the whole event in a failure message: the VM is gone after
tests=("$@")
if [ "${tests[*]}" = none ]; then # the manifest and the agent's survival only
	tests=()
elif [ ${#tests[@]} -eq 0 ]; then
	tests=(test_process test_priv test_file test_net test_user vm_tty)
	[ -e /proc/modules ] && [ -d "/usr/lib/modules/$(uname -r)" ] && tests+=(vm_module)
fi
D=$(mktemp -d /tmp/hw-shared.XXXXXX)
printf 'output: %s\n' "$D/start.json" >"$D/agent.yaml"
t0=$(date +%s.%N)
build/herdwatch-agent --config "$D/agent.yaml" --control "$D/ctl.sock" 2>"$D/agent.err" &
apid=$!
echo $apid >"$D/agent.pid"
hb=
for _ in $(seq 1 $((1200 * HW_TIME_SCALE))); do
	hb=$(grep -m1 '"kind":"agent.heartbeat"' "$D/start.json" 2>/dev/null) && break
	kill -0 $apid 2>/dev/null || break
	sleep 0.1
done
if [ -z "$hb" ]; then
	echo "HW agent died before its first heartbeat"
	sed 's/^/HW stderr /' "$D/agent.err"
	echo "HW done"
	exit 1
fi
echo "HW time agent_start $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')"
echo "HW manifest $(jq -c '{hooks: .agent.hooks, probes: .agent.probes}' <<<"$hb")"
sed 's/^/HW stderr /' "$D/agent.err"
export HW_SHARED_AGENT=$D
# every minute: how big the events files are, and what runs (a slow VM can be told from a
# stuck one)
(
	while sleep 60; do
		echo "HW watch $(du -sch /tmp/hwtest.*/events.json 2>/dev/null | tail -n1 | cut -f1) of events;" \
			"busiest: $(ps -eo pcpu=,etime=,args= --sort=-pcpu | head -n3 | cut -c1-100 | tr '\n' '|')" \
			"newest: $(ps -eo etime=,args= --sort=start_time | tail -n6 | head -n3 | cut -c1-100 | tr '\n' '|')"
	done
) &
watcher=$!
for t in "${tests[@]}"; do
	start=$(date +%s)
	f=tests/probes/$t.sh
	[ -f "$f" ] || f=tests/kernels/$t.sh
	# results as they come (a slow VM shows its progress)
	timeout -k 10 $((300 * HW_TIME_SCALE)) bash "$f" 2>&1 | tee "$D/$t.log" |
		grep --line-buffered -E '^(not )?ok - ' | sed -u "s/^/HW test $t /"
	rc=${PIPESTATUS[0]}
	if [ $rc -ne 0 ] && ! grep -q '^not ok - ' "$D/$t.log"; then
		echo "HW test $t not ok - $t: exited with status $rc"
		tail -n 20 "$D/$t.log" | sed "s/^/HW log $t /"
	fi
	echo "HW time $t $(($(date +%s) - start))"
done
kill $watcher 2>/dev/null
if kill -0 $apid 2>/dev/null; then echo "HW agent alive"; else echo "HW agent died"; fi
kill -TERM $apid 2>/dev/null
wait $apid
echo "HW agent exit $?"
tail -n 5 "$D/agent.err" | sed 's/^/HW stderr /'
echo "HW done"
