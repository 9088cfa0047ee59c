#!/usr/bin/env bash
# Hook selection: when the preferred hook type is refused, each probe falls back to the next
# candidate and events keep every field; what cannot attach is reported (a blind host must not
# look like a quiet one); without process.exec, the foundation, the agent refuses to run.
. "$(dirname "$0")/../lib.sh"
need_root

export HW_DENY_HOOKS=tp_btf
agent_start || { not_ok "agent starts with tp_btf refused" "$(cat "$T/agent.err")"; exit 1; }
hb=$(head -n1 "$EV")
expect_jq "exec falls back to the classic tracepoint" "$hb" '.agent.probes["process.exec"]|.state=="attached" and .hook=="tracepoint" and (.reason|test("tp_btf"))'
expect_jq "exit and fork fall back too" "$hb" '[.agent.probes["process.exit","process.fork"]|.hook]==["tracepoint","tracepoint"]'
mkdir -p "$T/fb"
(cd "$T/fb" && exec /usr/bin/env hwfb$$ "x y" 2>/dev/null; true)
bash -c 'exit 5' &
xp=$!
wait $xp
ev=$(wait_event "select(.kind==\"process.exec\" and .proc.args[1]==\"hwfb$$\")") || not_ok "fallback exec seen" "none"
expect_jq "fallback exec fields" "$ev" ".proc.exe==\"/usr/bin/env\" and .proc.cwd==\"$T/fb\" and .proc.args==[\"/usr/bin/env\",\"hwfb$$\",\"x y\"] and .exec.filename==\"/usr/bin/env\" and .parent.pid==$$"
ev=$(wait_event "select(.kind==\"process.exit\" and .proc.pid==$xp)") || not_ok "fallback exit seen" "none"
expect_jq "fallback exit code" "$ev" '.exit.code==5 and (.proc.exe|test("bash$"))'
agent_stop
expect "fallback: seq contiguous" seq_contiguous

# everything but classic tracepoints refused: probes without a tracepoint candidate are
# reported unavailable with their reasons, the agent runs on
export HW_DENY_HOOKS=tp_btf,raw_tracepoint,uprobe,uretprobe
agent_start || { not_ok "agent starts with only tracepoints" "$(cat "$T/agent.err")"; exit 1; }
hb=$(head -n1 "$EV")
expect_jq "unavailable probes are reported, with reasons" "$hb" '([.agent.probes[]|select(.state=="unavailable")]|length)>=1 and ([.agent.probes[]|select(.state!="attached")|.reason]|all(length>0)) and .agent.probes["process.exec"].state=="attached"'
agent_stop
expect_eq "agent with fewer hooks exits cleanly" "$?" 0

# every hook refused: process.exec, the foundation, cannot attach: a clear error, no blind run
export HW_DENY_HOOKS=tp_btf,tracepoint,raw_tracepoint,uprobe,uretprobe
# (a timeout: an agent that runs blind instead of refusing never returns)
out=$(timeout 300 "$AGENT" --output "$T/blind.json" --control none 2>&1); rc=$?
[ $rc -eq 1 ] && [[ "$out" == *"the process.exec probe cannot be loaded or attached ("*"denied"* ]] && ok "no process.exec: clear error, exit 1" || not_ok "no process.exec: clear error, exit 1" "rc=$rc: $out"
[[ "$out" == *"probe process.exec unavailable"* ]] && ok "unavailable probe said on stderr" || not_ok "unavailable probe said on stderr" "$out"
expect_eq "no events from a blind agent" "$(cat "$T/blind.json" 2>/dev/null | wc -l)" 0
