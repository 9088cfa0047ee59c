#!/usr/bin/env bash
# Scoped custom probes: `cgroup:` fires only for tasks in that cgroup v2 or below it, `pid:` only
# for that process; both checked in the kernel. A cgroup that does not exist is refused by name
# while the rest of the config applies. The opens below are bash redirections, so the process
# that was moved into a cgroup is the one calling openat.
. "$(dirname "$0")/../lib.sh"
need_root
[ -n "$CG2" ] || { not_ok "custom scope" "no cgroup2 mount"; exit 1; }

TOP=hwscope$$
P=/tmp/hwscope$$ # prefix of the paths opened by the test's processes (a string filter)
mkdir -p "$CG2/$TOP/in/sub" "$CG2/$TOP/out"
rmcg() { rmdir "$CG2/$TOP/in/sub" "$CG2/$TOP/in" "$CG2/$TOP/out" "$CG2/$TOP" 2>/dev/null; }
trap 'rmcg; hw_cleanup' EXIT

# One custom probe per tracepoint at a time here: the same program cannot be attached twice to
# one tracepoint (yet).
cat >"$T/c.yaml" <<YAML
custom_probes:
  - name: opens_in
    tracepoint: syscalls:sys_enter_openat
    capture: [{name: filename, max: 64}]
    filter: [{field: filename, op: prefix, value: $P}]
    cgroup: /$TOP/in
  - name: opens_nowhere
    tracepoint: syscalls:sys_enter_openat
    capture: [flags]
    cgroup: /$TOP/no_such_group
  - name: bad_pid
    tracepoint: syscalls:sys_enter_openat
    pid: twelve
  - name: kills
    tracepoint: syscalls:sys_enter_kill
    capture: [pid, sig]
YAML
agent_start "$T/c.yaml" || { not_ok "agent starts with scoped probes" "$(cat "$T/agent.err")"; exit 1; }
hb=$(head -n1 "$EV")
expect_jq "cgroup-scoped probe attached, scope in the manifest" "$hb" \
	".agent.probes[\"custom.opens_in\"]|.state==\"attached\" and .cgroup==\"/$TOP/in\""
expect_jq "missing cgroup refused by name" "$hb" \
	".agent.probes[\"custom.opens_nowhere\"]|.state==\"unavailable\" and (.reason|test(\"no cgroup ./$TOP/no_such_group.\"))"
expect_jq "bad pid refused" "$hb" '.agent.probes["custom.bad_pid"]|.state=="unavailable" and (.reason|test("pid must be"))'
expect_jq "the rest of the config applies" "$hb" \
	'.agent.probes["custom.kills"].state=="attached" and .agent.probes["process.exec"].state=="attached"'
grep -q "opens_nowhere refused: no cgroup '/$TOP/no_such_group'" "$T/agent.err" &&
	ok "refusal on stderr names the cgroup" || not_ok "refusal on stderr names the cgroup" "$(cat "$T/agent.err")"

# open_in CGROUP-DIR TAG: a process moves itself into the cgroup, then opens $P-TAG itself
open_in() {
	bash -c 'echo $$ >"$1/cgroup.procs" && { : <"$2"; } 2>/dev/null; exit 0' _ "$1" "$P-$2" &
	wait $!
}
# check_scope PROBE ROUND: opens in the cgroup, a descendant, a sibling and outside
check_scope() {
	local k=$1 r=$2 before
	before=$(ctl status | jq '.probes["custom.'$k'"].filtered')
	open_in "$CG2/$TOP/in" "in$r"
	open_in "$CG2/$TOP/in/sub" "sub$r"
	open_in "$CG2/$TOP/out" "out$r"
	{ : <"$P-here$r"; } 2>/dev/null # the test itself, outside both
	wait_event "select(.kind==\"custom.$k\" and .custom.filename==\"$P-sub$r\")" >/dev/null
	expect_eq "$k: open in the cgroup reported" \
		"$(events "select(.kind==\"custom.$k\" and .custom.filename==\"$P-in$r\")" | wc -l)" 1
	expect_eq "$k: open in a descendant cgroup reported" \
		"$(events "select(.kind==\"custom.$k\" and .custom.filename==\"$P-sub$r\")" | wc -l)" 1
	expect_eq "$k: opens in a sibling cgroup and outside not reported" \
		"$(events "select(.kind==\"custom.$k\" and (.custom.filename==\"$P-out$r\" or .custom.filename==\"$P-here$r\"))" | wc -l)" 0
	# the sibling's and the test's opens did reach the program: dropped by the scope
	expect_jq "$k: out-of-scope calls counted as filtered" "$(ctl status)" \
		".probes[\"custom.$k\"].filtered >= $before + 2"
}
check_scope opens_in 1

# the same scope written as a path under the cgroup mount, added over the control socket
r=$(ctl remove-probe opens_in)
expect_jq "ctl remove-probe" "$r" '.ok==true'
r=$(ctl add-probe "{name: opens_in_abs, tracepoint: 'syscalls:sys_enter_openat', capture: [{name: filename, max: 64}], filter: [{field: filename, op: prefix, value: $P}], cgroup: '$CG2/$TOP/in/'}")
expect_jq "ctl add-probe with a cgroup under the mount point" "$r" '.ok==true and .now=="attached"'
expect_jq "status shows the cgroup relative to the root" "$(ctl status)" \
	".probes[\"custom.opens_in_abs\"]|.cgroup==\"/$TOP/in\" and .source==\"control\""
check_scope opens_in_abs 2
ctl remove-probe opens_in_abs >/dev/null

# ---- pid scope, added at runtime ----
# two shells waiting for a signal file, then opening the same path themselves
for w in a b; do
	bash -c 'while [ ! -e "$1" ]; do sleep 0.05; done; { : <"$2"; } 2>/dev/null; exit 0' _ "$T/go" "$P-pid" &
	eval "pid_$w=\$!"
done
r=$(ctl add-probe "{name: opens_pid, tracepoint: 'syscalls:sys_enter_openat', capture: [{name: filename, max: 64}], filter: [{field: filename, op: prefix, value: $P}], pid: $pid_a}")
expect_jq "ctl add-probe with pid attaches" "$r" '.ok==true and .now=="attached"'
expect_jq "status shows the pid scope" "$(ctl status)" ".probes[\"custom.opens_pid\"].pid==$pid_a"
touch "$T/go"
wait "$pid_a" "$pid_b"
ev=$(wait_event "select(.kind==\"custom.opens_pid\")") || not_ok "pid-scoped event" "none"
expect_jq "pid-scoped probe: that process's open reported" "$ev" ".proc.pid==$pid_a and .custom.filename==\"$P-pid\""
expect_eq "pid-scoped probe: the other process's open not reported" \
	"$(events "select(.kind==\"custom.opens_pid\" and .proc.pid!=$pid_a)" | wc -l)" 0
expect_jq "pid-scoped probe: the other process's call counted as filtered" "$(ctl status)" \
	'.probes["custom.opens_pid"].filtered>=1 and .probes["custom.opens_pid"].emitted==1'

# ---- refusals over the control socket ----
r=$(ctl add-probe "{name: nowhere, tracepoint: 'syscalls:sys_enter_openat', capture: [flags], cgroup: $TOP/nope}")
expect_jq "ctl add-probe refuses a missing cgroup by name" "$r" ".ok==false and (.error|test(\"no cgroup .$TOP/nope.\"))"
expect_jq "refused probe not kept" "$(ctl status)" '.probes|has("custom.nowhere")|not'
r=$(ctl add-probe "{name: dotdot, tracepoint: 'syscalls:sys_enter_openat', cgroup: /$TOP/../etc}")
expect_jq "ctl add-probe refuses .. in a cgroup path" "$r" '.ok==false and (.error|test("not allowed"))'
r=$(ctl add-probe "{name: gone, tracepoint: 'syscalls:sys_enter_openat', pid: $pid_b}")
expect_jq "ctl add-probe refuses a process that is gone" "$r" ".ok==false and (.error|test(\"pid $pid_b: no such process\"))"

agent_stop
expect "seq contiguous" seq_contiguous
