#!/usr/bin/env bash
# Instrument anything, any time: custom tracepoint and uprobe probes from the config and from
# the control socket, added and removed on a running agent without losing or duplicating the
# events of probes that stay on; bad declarations refused by name; control is root-only.
. "$(dirname "$0")/../lib.sh"
need_root

cat >"$T/c.yaml" <<YAML
custom_probes:
  - name: greet
    uprobe: $HELPERS/uprobe_target:hw_target_greet
    capture:
      - {name: n, arg: 1, type: int}
      - {name: who, arg: 2, type: string, max: 32}
  - name: greet_ret
    uretprobe: $HELPERS/uprobe_target:hw_target_greet
    capture: [{name: rv, ret: true, type: int}]
  - name: no_such_tp
    tracepoint: syscalls:sys_enter_no_such_call
  - name: bad_field
    tracepoint: syscalls:sys_enter_kill
    capture: [pid, signal_number]
  - name: unbounded
    uprobe: $HELPERS/uprobe_target:hw_target_greet
    capture: [{name: who, arg: 2, type: string}]
  - name: not_elf
    uprobe: /etc/passwd:main
  - name: no_symbol
    uprobe: $HELPERS/uprobe_target:no_such_function
YAML
agent_start "$T/c.yaml" || { not_ok "agent starts with custom probes" "$(cat "$T/agent.err")"; exit 1; }
hb=$(head -n1 "$EV")
expect_jq "uprobe attached" "$hb" '.agent.probes["custom.greet"]|.state=="attached" and .hook=="uprobe"'
expect_jq "uretprobe attached" "$hb" '.agent.probes["custom.greet_ret"]|.state=="attached" and .hook=="uretprobe"'
expect_jq "missing tracepoint refused by name" "$hb" '.agent.probes["custom.no_such_tp"]|.state=="unavailable" and (.reason|test("sys_enter_no_such_call does not exist"))'
expect_jq "unknown field refused by name" "$hb" '.agent.probes["custom.bad_field"]|.state=="unavailable" and (.reason|test("field .signal_number. is not in the format"))'
expect_jq "string without bound refused" "$hb" '.agent.probes["custom.unbounded"]|.state=="unavailable" and (.reason|test("needs a bound"))'
expect_jq "non-ELF refused" "$hb" '.agent.probes["custom.not_elf"]|.state=="unavailable" and (.reason|test("/etc/passwd is not an ELF file"))'
expect_jq "missing symbol refused" "$hb" '.agent.probes["custom.no_symbol"]|.state=="unavailable" and (.reason|test("no_such_function"))'
expect_jq "built-in probes unaffected" "$hb" '.agent.probes["process.exec"].state=="attached"'

out=$("$HELPERS/uprobe_target" 21 '!hw"x')
expect_eq "target ran" "$out" 43
ev=$(wait_event 'select(.kind=="custom.greet")') || not_ok "uprobe event" "none"
expect_jq "uprobe captures int and string args" "$ev" '.custom.n==21 and .custom.who=="!hw\"x" and (.proc.exe|test("uprobe_target$"))'
ev=$(wait_event 'select(.kind=="custom.greet_ret")') || not_ok "uretprobe event" "none"
expect_jq "uretprobe captures the return value" "$ev" '.custom.rv==43'

# ---- add a tracepoint probe with a field filter to the running agent ----
"$HELPERS/exec_storm" 3000 1 "hwcust$$" >/dev/null &
storm=$!
r=$(ctl add-probe "{name: kill_usr2, tracepoint: 'syscalls:sys_enter_kill', capture: [pid, sig], filter: [{field: sig, op: eq, value: 12}]}")
expect_jq "ctl add-probe attaches" "$r" '.ok==true and .now=="attached"'
bash -c 'trap "" USR1 USR2; sleep 30' &
victim=$!
sleep 0.2
kill -USR1 $victim 2>/dev/null
kill -USR2 $victim 2>/dev/null
ev=$(wait_event "select(.kind==\"custom.kill_usr2\" and .custom.pid==$victim)") || not_ok "tracepoint event" "none"
expect_jq "tracepoint fields captured" "$ev" ".custom.sig==12 and .custom.pid==$victim and .proc.pid==$$"
expect_eq "field filter drops other signals" "$(events "select(.kind==\"custom.kill_usr2\" and .custom.sig!=12)" | wc -l)" 0
st=$(ctl status)
expect_jq "status shows the new probe with counters" "$st" '.probes["custom.kill_usr2"]|.state=="attached" and .source=="control" and .emitted>=1 and .filtered>=1'
r=$(ctl remove-probe kill_usr2)
expect_jq "ctl remove-probe" "$r" '.ok==true'
kill -USR2 $victim 2>/dev/null
sleep 0.5
expect_eq "no events after removal" "$(events "select(.kind==\"custom.kill_usr2\")" | wc -l)" 1
kill $victim 2>/dev/null
wait $storm
r=$(ctl add-probe "{name: x, tracepoint: 'syscalls:sys_enter_kill', capture: [nope]}")
expect_jq "ctl add-probe refuses a bad field by name" "$r" '.ok==false and (.error|test("nope"))'
r=$(ctl add-probe "{name: y, uprobe: '/etc/hostname:main'}")
expect_jq "ctl add-probe refuses a non-ELF file" "$r" '.ok==false and (.error|test("not an ELF"))'

# ---- enable/disable with a time limit ----
r=$(ctl disable process.exit --for 2)
expect_jq "ctl disable for 2 s" "$r" '.ok==true and .now=="disabled"'
st=$(ctl status)
expect_jq "status: disabled by control" "$st" '.probes["process.exit"].state=="disabled" and (.overrides[0].remaining_s<=2)'
sleep 3.2
st=$(ctl status)
expect_jq "timed override expired: attached again" "$st" '.probes["process.exit"].state=="attached" and (.overrides|length)==0'
r=$(ctl enable no.such.probe)
expect_jq "ctl enable unknown probe refused" "$r" '.ok==false and (.error|test("unknown probe"))'

r=$(ctl add-probe --for 1 "{name: brief, tracepoint: 'syscalls:sys_enter_kill', capture: [sig]}")
expect_jq "ctl add-probe --for" "$r" '.ok==true'
sleep 2.3
expect_jq "timed custom probe removed itself" "$(ctl status)" '.probes|has("custom.brief")|not'

# ---- change filters at runtime ----
r=$(ctl set 'filters: {ignore_exe: [/usr/bin/sleep]}')
expect_jq "ctl set filters" "$r" '.ok==true'
/usr/bin/sleep hwsetign$$ 2>/dev/null
r=$(ctl set 'bogus: 1')
expect_jq "ctl set with a bad key is refused" "$r" '.ok==false and (.error|test("unknown key .bogus."))'
/usr/bin/echo hwafterset$$ >/dev/null
wait_event "select(.proc.args[1]==\"hwafterset$$\")" >/dev/null
expect_eq "runtime filter applied" "$(events "select(.proc.args[1]==\"hwsetign$$\")" | wc -l)" 0

# ---- root only ----
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$AGENT" ctl --socket "$T/ctl.sock" status 2>&1)
rc=$?
[ $rc -ne 0 ] && [[ "$out" == *"permission denied"* ]] && ok "ctl refuses a non-root client" || not_ok "ctl refuses a non-root client" "rc=$rc $out"
chmod 711 "$T"
chmod 666 "$T/ctl.sock"
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$AGENT" ctl --socket "$T/ctl.sock" disable process 2>&1)
rc=$?
[ $rc -ne 0 ] && [[ "$out" == *"root only"* ]] && ok "agent checks peer credentials even on an open socket" || not_ok "agent checks peer credentials" "rc=$rc $out"
expect_jq "probes still on after refused request" "$(ctl status)" '.probes["process.exec"].state=="attached"'

agent_stop
expect "seq contiguous across probe changes" seq_contiguous
n=$(events "select(.kind==\"process.exec\" and .proc.args[1]==\"hwcust$$\")" | wc -l)
m=$(events "select(.kind==\"process.exit\" and .proc.args[1]==\"hwcust$$\")" | wc -l)
expect_eq "always-on probes lost nothing across changes (execs)" "$n" 3000
expect_eq "always-on probes lost nothing across changes (exits)" "$m" 3000
expect_eq "no duplicates" "$(events "select(.kind==\"process.exec\" and .proc.args[1]==\"hwcust$$\") | .proc.pid" | sort | uniq -d | wc -l)" 0
