#!/usr/bin/env bash
# vm_tty.sh: the TTY capture's hooks on each kernel of the matrix, in seconds of a VM (the
# whole behaviour is tests/probes/test_tty.sh, on this machine): off by default and not attached;
# ctl tty on attaches it (the learned terminal file operations work: no error); a typed line is
# tty.input with the shell's pid and session, its output tty.output; a line typed after stty
# -echo is in no event and is counted; ctl tty off detaches it. Not named test_*: tests/run
# runs test_tty.sh on this machine instead.
. "$(dirname "$0")/../lib.sh"
need_root

DRIVE="/usr/bin/python3 $HW_ROOT/tests/helpers/tty_drive.py $T"
M=hwvt$$
agent_start || { not_ok "agent starts" "$(cat "$T/agent.err")"; exit 1; }
state() { ctl status | jq -r '.probes["tty.capture"] | .state + " " + (.hook // "-")'; }
expect_eq tty_off_by_default "$(state)" "disabled -"
r=$(ctl tty on)
expect_jq tty_on "$r" '.ok == true and .now == "host"'
expect_eq tty_attached_tracepoint "$(state)" "attached tracepoint"
printf 'vm-%s-%s-secret\n' "$M" "$RANDOM" >"$T/secret"
$DRIVE v1 "type:echo vm_$M \$((2+3))\n" "see:vm_$M 5" \
	"type:stty -echo; read x; stty echo; echo len_\${#x}\n" noecho "typefile:$T/secret" \
	"see:len_$(($(wc -c <"$T/secret") - 1))" echo ||
	not_ok drive_v1 "$(cat "$T/v1.err" 2>/dev/null)"
pid=$(cat "$T/v1.pid")
ev=$(wait_grep "vm_$M" "select(.kind==\"tty.input\" and (.tty.data | contains(\"vm_$M\")))")
expect_jq tty_input "$ev" ".tty.data == \"echo vm_$M \$((2+3))\\n\" and .proc.pid == $pid and .tty.session == $pid"
ev=$(wait_grep "vm_$M" "select(.kind==\"tty.output\" and .tty.data == \"vm_$M 5\\n\")")
expect_jq tty_output "$ev" ".proc.pid == $pid and (.tty.name | startswith(\"pts\"))"
expect_eq tty_secret_in_no_event "$(grep -c -F -f "$T/secret" "$EV")" 0
r=$(ctl tty off)
expect_jq tty_off "$r" '.ok == true and .now == "off"'
expect_eq tty_detached "$(state)" "disabled -"
hb=$(last_heartbeat)
expect_jq tty_secret_counted "$hb" '.agent.tty.secret_reads > 0 and .agent.tty.error == null'
agent_stop
exit 0
