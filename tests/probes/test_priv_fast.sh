#!/usr/bin/env bash
# process.capability's fast path (hwv_cap_pc in bpf/priv.bpf.h): a process's allowed repeats
# of a capability it already used are counted in its CPU's slot and moved into the process's
# counts when another process takes the slot and, by the agent on every CPU, at the end of
# every window. Checked here
# with real threads making real chown calls: every allowed and every denied check is in the
# summaries, while the process lives and after its threads exit, and nothing is reported lost.
. "$(dirname "$0")/../lib.sh"
need_root
cat >"$T/cfg.yaml" <<CFG
privilege:
  summary_interval: 1
CFG
agent_start "$T/cfg.yaml" || { not_ok "agent starts" "$(cat "$T/agent.err")"; exit 1; }
H="$HELPERS/cap_threads"
touch "$T/f"
chown 65534 "$T/f"
chmod 755 "$T"
pev() { grep -F "\"pid\":$1," "$EV" | jq -c "$2" 2>/dev/null; }
SUMMARY='select(.kind=="process.capability" and .cap.name=="CAP_CHOWN" and (.cap.first|not))'
# sums PID WANT [TIMEOUT_S]: poll until "checks,denied" summed over PID's CAP_CHOWN summaries
# equals WANT; prints the last value
sums() {
	local r end=$((SECONDS + ${3:-10} * HW_TIME_SCALE))
	while :; do
		r=$(pev "$1" "$SUMMARY" | jq -s -r '[(map(.cap.checks)|add // 0), (map(.cap.denied)|add // 0)]|@csv')
		[ "$r" = "$2" ] || [ "$SECONDS" -ge "$end" ] && break
		sleep 0.2
	done
	echo "$r"
}
# wait_done FILE: the helper printed "done" (all threads finished their calls)
wait_done() {
	local end=$((SECONDS + 20 * HW_TIME_SCALE))
	until grep -qx done "$1" 2>/dev/null; do
		[ "$SECONDS" -ge "$end" ] && return 1
		sleep 0.1
	done
}

# the fast path is on only where the agent can flush the per-CPU slots: it says so when not
if grep -q "per-CPU flush does not run" "$T/agent.err" 2>/dev/null; then
	not_ok "the per-CPU flush runs" "$(grep "per-CPU flush" "$T/agent.err")"
else
	ok "the per-CPU flush runs (no complaint from the agent)"
fi

# 1. 4 threads x (20000 allowed + 100 denied), then the process stays alive: only the
# per-CPU flush can bring the pending counts to the summaries before it exits.
"$H" "$T/f" 4 20000 100 $((15000 * HW_TIME_SCALE)) >"$T/out1" &
hp1=$!
wait_done "$T/out1" || not_ok "helper finished its calls" "$(cat "$T/out1")"
pid=$(sed -n 's/^pid=//p' "$T/out1")
expect_eq "helper: every allowed call allowed, every denied call refused" \
	"$(sed -n 's/^allowed=//p' "$T/out1"),$(sed -n 's/^denied=//p' "$T/out1")" "80000,400"
got=$(sums "$pid" "80400,400" 10)
expect_eq "4 threads alive: summaries count 80400 checks, 400 denied" "$got" "80400,400"
if kill -0 "$hp1" 2>/dev/null; then
	ok "counted while the process lives (the window's per-CPU flush)"
else
	not_ok "counted while the process lives (the window's per-CPU flush)" "the helper had exited"
fi
n=$(pev "$pid" 'select(.kind=="process.capability" and .cap.name=="CAP_CHOWN" and .cap.first and .cap.allowed)' | wc -l)
# (two threads' first checks may race to a duplicate first record, never to a lost one)
expect "first use reported for the process, not once per thread (got $n)" test "$n" -ge 1 -a "$n" -le 4
kill "$hp1" 2>/dev/null
wait "$hp1" 2>/dev/null

# 2. 3 threads x 20000 allowed, the process exits at once: the window's per-CPU flush (or
# another process taking a slot) brings every check.
"$H" "$T/f" 3 20000 0 0 >"$T/out2"
pid=$(sed -n 's/^pid=//p' "$T/out2")
got=$(sums "$pid" "60000,0" 10)
expect_eq "3 threads that exited: summaries count 60000 checks, 0 denied" "$got" "60000,0"

# 3. a denial after the fast path is in place is still counted as a denial (1 thread)
"$H" "$T/f" 1 500 7 0 >"$T/out3"
pid=$(sed -n 's/^pid=//p' "$T/out3")
expect_eq "denials after fast-path repeats: 507 checks, 7 denied" "$(sums "$pid" "507,7" 10)" "507,7"

n=$(grep -F '"kind":"agent.loss"' "$EV" | grep -cF '"process.capability"')
expect_eq "no capability count reported lost" "$n" 0
agent_stop
