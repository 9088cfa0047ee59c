#!/usr/bin/env bash
# tty.input and tty.output (bpf/tty.bpf.c, agent/tty.c): interactive sessions on real ptys
# (tests/helpers/tty_drive.py: sh -i as a session leader on a pty's slave side, typed into from
# the master side like a person at a terminal). One agent, the capture turned on and off by ctl:
# off by default (nothing recorded, nothing attached); on for the host: the typed line as
# tty.input and what the shell printed as tty.output, with the shell's pid, session and pts;
# a password typed after stty -echo, and one typed at Python's getpass, in NO event (the whole
# output grepped) and only counted; typed control bytes and printed escape sequences escaped
# in valid JSON; per-session scope: the named session and its children (also one that left
# the session with setsid) recorded, another session's typing not; a session's byte budget
# overflowed: dropped and announced as agent.loss; off again; --for expiry; refusals.
. "$(dirname "$0")/../lib.sh"
need_root

DRIVE="/usr/bin/python3 $HW_ROOT/tests/helpers/tty_drive.py $T"
M=hwtty$$
cat >"$T/tty.yaml" <<EOF
tty:
  enabled: false
  budget_bytes_per_s: 4000
EOF
agent_start "$T/tty.yaml" || { not_ok "agent starts" "$(cat "$T/agent.err")"; exit 1; }

# drive_failed NAME: why the session NAME stopped (the step and the end of its screen)
drive_failed() { not_ok "drive_$1" "$(cat "$T/$1.err" 2>/dev/null || tail -c 300 "$T/$1.out" | cat -v | tr '\n' ' ')"; }
# tty_events JQ: tty.* events matching a select() body
tty_events() { events "select((.kind==\"tty.input\" or .kind==\"tty.output\") and ($1))"; }
probe_state() { ctl status | jq -r '.probes["tty.capture"].state'; }

# 1. off by default: not attached, nothing recorded
expect_eq off_by_default_not_attached "$(probe_state)" disabled
$DRIVE s0 "type:echo off_\$((1+1))_$M\n" "see:off_2_$M" || drive_failed s0
expect_eq off_nothing_recorded "$(tty_events 'true' | wc -l)" 0

# 2. on for the host: the typed line and the printed output, with pid, session and terminal
r=$(ctl tty on)
expect_jq ctl_tty_on "$r" '.ok == true and .now == "host"'
expect_eq on_attached "$(probe_state)" attached
printf 'pw-%s-%s-hunter2\n' "$M" "$RANDOM" >"$T/secret1"
printf 'gp-%s-%s-correcthorse\n' "$M" "$RANDOM" >"$T/secret2"
# grep takes its patterns from files: a secret on a command line would be in process.exec args
printf 'hunter2\ncorrecthorse\n' >"$T/parts.pat"
len1=$(($(wc -c <"$T/secret1") - 1))
len2=$(($(wc -c <"$T/secret2") - 1))
# each see: waits for text only the output has (the echo of the typed line differs)
$DRIVE s1 "type:echo typed_$M \$((6*7))\n" "see:typed_$M 42" \
	"type:stty -echo; read x; stty echo; echo after_\${#x}_$M\n" noecho "typefile:$T/secret1" \
	"see:after_${len1}_" echo \
	"type:printf '\\\\033[31mRED_$M\\\\033[0m\\\\n'\n" "see:RED_$M\\x1b" \
	"type:echo ctl\x01X_$M >/dev/null; echo ctldone_\$((1+1))_$M\n" "see:ctldone_2_$M" \
	"type:/usr/bin/python3 -c 'import getpass; print(\"gp_\" + str(len(getpass.getpass(\"p\" + \"w> \"))))'\n" \
	"see:pw> " noecho "typefile:$T/secret2" "see:gp_$len2" echo || drive_failed s1
pid1=$(cat "$T/s1.pid")
pts1=$(sed 's|^/dev/pts/|pts|' "$T/s1.pts")
ev=$(wait_grep "typed_$M" "select(.kind==\"tty.input\" and (.tty.data | contains(\"typed_$M\")))")
expect_jq input_typed_line "$ev" ".tty.data == \"echo typed_$M \$((6*7))\\n\" and .tty.bytes == (.tty.data | length) and .tty.truncated == false"
expect_jq input_pid_session_pts "$ev" ".proc.pid == $pid1 and .tty.session == $pid1 and .tty.name == \"$pts1\" and .tty.fd == 0 and .proc.comm == \"sh\""
ev=$(wait_grep "typed_$M" "select(.kind==\"tty.output\" and .tty.data == \"typed_$M 42\\n\")")
expect_jq output_shown "$ev" ".proc.pid == $pid1 and .tty.session == $pid1 and .tty.name == \"$pts1\" and .tty.fd == 1"
# the secrets: typed (the shell said how long they were), recorded nowhere, counted
expect "secret was typed and read (length shown)" grep -q "after_${len1}_$M" "$T/s1.out"
expect "getpass secret was typed and read" grep -q "gp_$len2" "$T/s1.out"
expect_eq noecho_secret_in_no_event "$(grep -c -F -f "$T/secret1" "$EV")" 0
expect_eq getpass_secret_in_no_event "$(grep -c -F -f "$T/secret2" "$EV")" 0
expect_eq secret_parts_in_no_event "$(grep -c -F -f "$T/parts.pat" "$EV")" 0
ev=$(wait_grep "after_" "select(.kind==\"tty.output\" and (.tty.data | startswith(\"after_\")))")
expect_jq echo_back_on_recorded "$ev" ".tty.data == \"after_${len1}_$M\\n\""
# escapes: the printed ESC sequence and the typed ^A, escaped in the line, exact after parsing
ev=$(wait_grep "RED_$M" "select(.kind==\"tty.output\" and (.tty.data | contains(\"RED_$M\")))")
expect_jq output_escape_sequence "$ev" ".tty.data == \"\\u001b[31mRED_$M\\u001b[0m\\n\""
expect "escape written as \\u001b in the JSON line" grep -q -F '"data":"\u001b[31mRED_' "$EV"
ev=$(wait_grep "X_$M" "select(.kind==\"tty.input\" and (.tty.data | contains(\"X_$M\")))")
expect_jq input_control_byte "$ev" ".tty.data == \"echo ctl\\u0001X_$M >/dev/null; echo ctldone_\$((1+1))_$M\\n\""
expect "every line is valid JSON" jq -e -s 'length > 0' "$EV"

# 3. per session: A named (and its children, one of them in a new session), B not
r=$(ctl tty off)
expect_jq ctl_tty_off_before_sessions "$r" '.ok == true and .now == "off"'
$DRIVE sa "wait:$T/go" "type:echo sessA_\$((1+1))_$M\n" "see:sessA_2_$M" \
	"type:sh -c 'echo child_$M'\n" "see:child_$M\r\n" \
	"type:setsid -w sh -c 'echo tree_$M'\n" "see:tree_$M\r\n" &
da=$!
$DRIVE sb "wait:$T/go" "type:echo sessB_\$((1+1))_$M\n" "see:sessB_2_$M" "sleep:0.3" &
db=$!
poll_first 10 sh -c "cat $T/sa.pid $T/sb.pid 2>/dev/null | wc -l | grep 2" >/dev/null
pida=$(cat "$T/sa.pid")
r=$(ctl tty on --session "$pida")
expect_jq ctl_tty_on_session "$r" ".ok == true and .now == \"sessions\" and .session == $pida"
touch "$T/go"
wait $da || drive_failed sa
wait $db || drive_failed sb
ev=$(wait_grep "sessA_" "select(.kind==\"tty.input\" and (.tty.data | contains(\"sessA_\") and contains(\"$M\")))")
expect_jq session_a_recorded "$ev" ".proc.pid == $pida and .tty.session == $pida"
ev=$(wait_grep "child_$M" "select(.kind==\"tty.output\" and .tty.data == \"child_$M\\n\")")
expect_jq session_child_recorded "$ev" ".proc.pid != $pida and .proc.ppid == $pida and .tty.session == $pida"
ev=$(wait_grep "tree_$M" "select(.kind==\"tty.output\" and .tty.data == \"tree_$M\\n\")")
expect_jq setsid_descendant_recorded "$ev" ".tty.session != $pida and .tty.session == .proc.pid"
expect_eq session_b_not_recorded "$(tty_events ".tty.data | contains(\"sessB_\")" | wc -l)" 0
expect_eq session_b_nothing_at_all "$(tty_events ".tty.session == $(cat "$T/sb.pid")" | wc -l)" 0
ev=$(wait_event "select(.kind==\"agent.control\" and .control.source==\"expiry\" and .control.command==\"tty\" and .control.args[2]==\"$pida\")" 5)
expect_jq session_ends_with_its_process "$ev" '.control.reason == "process_exited" and .control.now == "off"'
expect_eq off_after_session_ended "$(probe_state)" disabled

# 4. budget: 4000 bytes per session and second, 30 lines of 200 bytes in one go
r=$(ctl tty on)
line=$(printf '%0200d' 0)
$DRIVE s2 "type:for i in \$(seq 30); do echo $line; done; echo budget_\$((1+1))_$M\n" "see:budget_2_$M" \
	|| drive_failed s2
ev=$(wait_event 'select(.kind=="agent.loss" and .loss.cause=="tty_budget")' 5)
expect_jq budget_overflow_reported "$ev" '.loss.kind == "tty.output" and .loss.count > 0'
n=$(tty_events ".tty.session == $(cat "$T/s2.pid") and (.tty.data | startswith(\"0000\"))" | wc -l)
if [ "$n" -gt 0 ] && [ "$n" -lt 30 ]; then ok budget_kept_some; else not_ok budget_kept_some "$n of 30 lines recorded"; fi

# 5. off: detached, nothing recorded
r=$(ctl tty off)
expect_jq ctl_tty_off "$r" '.ok == true and .now == "off"'
expect_eq off_detached "$(probe_state)" disabled
$DRIVE s3 "type:echo offagain_\$((1+1))_$M\n" "see:offagain_2_$M" || drive_failed s3
expect_eq off_again_nothing "$(tty_events ".tty.data | contains(\"offagain_\")" | wc -l)" 0

# 6. --for: on for 1 s, then off by itself
r=$(ctl tty on --for 1)
expect_jq ctl_tty_on_for "$r" '.ok == true and .for_s == 1'
ev=$(wait_event 'select(.kind=="agent.control" and .control.source=="expiry" and .control.command=="tty" and .control.reason=="for_elapsed")' 5)
expect_jq for_expired "$ev" '.control.now == "off"'
expect_eq for_expired_detached "$(probe_state)" disabled

# 7. refusals
r=$(ctl tty on --session 999999)
expect_jq refuse_unknown_session "$r" '.ok == false and (.error | test("no such process"))'
r=$(ctl tty sideways)
expect_jq refuse_bad_verb "$r" '.ok == false and (.error | test("usage: tty on|off"))'
r=$(ctl enable tty.capture)
expect_jq refuse_enable_tty "$r" '.ok == false and (.error | test("ctl tty on"))'
r=$(ctl set 'tty: {scope: everywhere}')
expect_jq refuse_bad_scope "$r" '.ok == false and (.error | test("tty.scope. must be host or sessions"))'

agent_stop
hb=$(last_heartbeat)
expect_jq heartbeat_counts_secrets "$hb" '.agent.tty.secret_reads >= 2 and .agent.tty.budget_dropped > 0 and .agent.tty.error == null'
expect_eq secrets_nowhere_at_the_end "$(grep -c -F -f "$T/parts.pat" "$EV")" 0
exit 0
