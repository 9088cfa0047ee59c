#!/usr/bin/env bash
# Instrument anything, any time: custom tracepoint and uprobe probes from the config and from
# the control socket, added and removed on a running agent without losing or duplicating the
# events of probes that stay on; bad declarations refused by name; control is root-only.
. "$(dirname "$0")/../lib.sh"
need_root

# the file offset of hw_target_greet (uprobe by offset): its address in the LOAD segment
GREET_OFF=$(python3 - "$HELPERS/uprobe_target" <<'PY'
import subprocess, sys
b = sys.argv[1]
addr = int([l.split()[0] for l in subprocess.check_output(["nm", b], text=True).splitlines()
            if l.endswith(" hw_target_greet")][0], 16)
for l in subprocess.check_output(["readelf", "-lW", b], text=True).splitlines():
    f = l.split()
    if f and f[0] == "LOAD":
        off, va, sz = int(f[1], 16), int(f[2], 16), int(f[5], 16)
        if va <= addr < va + sz:
            print(hex(addr - va + off))
PY
)
cat >"$T/c.yaml" <<YAML
custom_probes:
  - name: greet
    uprobe: $HELPERS/uprobe_target:hw_target_greet
    capture:
      - {name: n, arg: 1, type: int}
      - {name: who, arg: 2, type: string, max: 32}
      - {name: n8, arg: 1, type: uint8}
      - {name: n16, arg: 1, type: int16}
      - {name: raw, arg: 2, type: bytes, max: 3}
  - name: greet_off
    uprobe: $HELPERS/uprobe_target:$GREET_OFF
    capture: [{name: n, arg: 1, type: int}]
  - name: kneg
    tracepoint: syscalls:sys_enter_kill
    capture: [pid, sig]
    filter: [{field: pid, op: lt, value: -1000}]
  - name: kzero
    tracepoint: syscalls:sys_enter_kill
    capture: [pid, sig]
    filter: [{field: sig, op: eq, value: 0}, {field: pid, op: gt, value: 0}]
  - name: no_binary
    uprobe: /nonexistent/hw-bin:main
  - name: tp_unbounded
    tracepoint: syscalls:sys_enter_openat
    capture: [filename]
  - name: tp_pointer
    tracepoint: syscalls:sys_enter_execve
    capture: [argv]
  - name: tp_array
    tracepoint: raw_syscalls:sys_enter
    capture: [args]
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
expect_jq "uprobe by offset attached" "$hb" '.agent.probes["custom.greet_off"].state=="attached"'
expect_jq "nonexistent binary refused by name" "$hb" '.agent.probes["custom.no_binary"]|.state=="unavailable" and (.reason|test("cannot open /nonexistent/hw-bin"))'
expect_jq "tracepoint string without a bound refused, naming the field" "$hb" '.agent.probes["custom.tp_unbounded"]|.state=="unavailable" and (.reason|test("filename. is a string: give a bound"))'
expect_jq "tracepoint pointer field refused (no addresses)" "$hb" '.agent.probes["custom.tp_pointer"]|.state=="unavailable" and (.reason|test("argv. is a pointer"))'
expect_jq "tracepoint non-char array refused" "$hb" '.agent.probes["custom.tp_array"]|.state=="unavailable" and (.reason|test("args. is an array"))'
expect_jq "two config probes on one tracepoint both attached" "$hb" '[.agent.probes["custom.kneg","custom.kzero"].state]==["attached","attached"]'
expect_jq "per-probe drop counter in the manifest" "$hb" '.agent.probes["custom.greet"].dropped==0'

out=$("$HELPERS/uprobe_target" 21 '!hw"x')
expect_eq "target ran" "$out" 43
ev=$(wait_event 'select(.kind=="custom.greet")') || not_ok "uprobe event" "none"
expect_jq "uprobe captures int and string args" "$ev" '.custom.n==21 and .custom.who=="!hw\"x" and (.proc.exe|test("uprobe_target$"))'
ev=$(wait_event 'select(.kind=="custom.greet_ret")') || not_ok "uretprobe event" "none"
expect_jq "uretprobe captures the return value" "$ev" '.custom.rv==43'
expect_jq "bytes capture" "$(events 'select(.kind=="custom.greet")' | head -1)" '.custom.raw=="!hw"'
ev=$(wait_event 'select(.kind=="custom.greet_off")') || not_ok "uprobe by offset event" "none"
expect_jq "uprobe by offset captures" "$ev" '.custom.n==21'

# ---- 32-bit arguments and return values are sign-extended; sized types ----
out=$("$HELPERS/uprobe_target" -5 x)
expect_eq "target ran with -5" "$out" -10
ev=$(wait_event 'select(.kind=="custom.greet" and .custom.who=="x")') || not_ok "negative arg event" "none"
expect_jq "negative int argument" "$ev" '.custom.n==-5 and .custom.n16==-5 and .custom.n8==251'
ev=$(wait_event 'select(.kind=="custom.greet_ret" and .custom.rv<0)') || not_ok "negative return event" "none"
expect_jq "negative int return value" "$ev" '.custom.rv==-10'
ev=$(wait_event 'select(.kind=="custom.greet_off" and .custom.n<0)') || not_ok "negative arg by offset" "none"
expect_jq "negative int argument (by offset)" "$ev" '.custom.n==-5'
# a tracepoint's pid_t: kill(-999999, 0) fails harmlessly (no such process group)
kill -0 -- -999999 2>/dev/null
ev=$(wait_event "select(.kind==\"custom.kneg\" and .proc.pid==$$)") || not_ok "negative tracepoint field" "none"
expect_jq "negative tracepoint field, integer lt filter" "$ev" '.custom.pid==-999999 and .custom.sig==0'
kill -0 $$
ev=$(wait_event "select(.kind==\"custom.kzero\" and .custom.pid==$$)") || not_ok "integer gt filter event" "none"
expect_eq "lt filter kept positive pids out" "$(events 'select(.kind=="custom.kneg" and .custom.pid>-1000)' | wc -l)" 0
expect_eq "gt filter kept negative pids out" "$(events 'select(.kind=="custom.kzero" and .custom.pid<0)' | wc -l)" 0

# ---- string filters: eq, ne, prefix ----
r=$(ctl add-probe "{name: s_eq, uprobe: '$HELPERS/uprobe_target:hw_target_greet', capture: [{name: who, arg: 2, type: string, max: 32}], filter: [{field: who, op: eq, value: alpha}]}")
expect_jq "string eq probe added" "$r" '.ok==true'
ctl add-probe "{name: s_ne, uprobe: '$HELPERS/uprobe_target:hw_target_greet', capture: [{name: who, arg: 2, type: string, max: 32}], filter: [{field: who, op: ne, value: alpha}]}" >/dev/null
ctl add-probe "{name: s_pre, uprobe: '$HELPERS/uprobe_target:hw_target_greet', capture: [{name: who, arg: 2, type: string, max: 32}], filter: [{field: who, op: prefix, value: alp}]}" >/dev/null
for w in alpha alphabet beta; do "$HELPERS/uprobe_target" 1 $w >/dev/null; done
sleep 0.5
wait_event 'select(.kind=="custom.s_ne" and .custom.who=="beta")' >/dev/null
expect_eq "string eq" "$(events 'select(.kind=="custom.s_eq") | .custom.who' | jq -s -c .)" '["alpha"]'
expect_eq "string ne" "$(events 'select(.kind=="custom.s_ne") | .custom.who' | jq -s -c .)" '["alphabet","beta"]'
expect_eq "string prefix" "$(events 'select(.kind=="custom.s_pre") | .custom.who' | jq -s -c .)" '["alpha","alphabet"]'
for p in s_eq s_ne s_pre; do ctl remove-probe $p >/dev/null; done

# ---- changes while an exec storm runs: add/remove probes, two probes on one tracepoint,
# a refused replacement, SIGHUP (adding and removing a custom probe), a family disabled and
# enabled, ctl set, a custom probe disabled; the storm's events must all arrive, once ----
"$HELPERS/exec_storm" 6000 1 "hwcust$$" >/dev/null &
storm=$!
r=$(ctl add-probe "{name: kill_usr2, tracepoint: 'syscalls:sys_enter_kill', capture: [pid, sig], filter: [{field: sig, op: eq, value: 12}]}")
expect_jq "ctl add-probe attaches" "$r" '.ok==true and .now=="attached"'
r=$(ctl add-probe "{name: kill_usr1, tracepoint: 'syscalls:sys_enter_kill', capture: [pid, sig], filter: [{field: sig, op: eq, value: 10}]}")
expect_jq "a second ctl probe on the same tracepoint attaches" "$r" '.ok==true and .now=="attached"'
bash -c 'trap "" USR1 USR2; sleep 60' &
victim=$!
sleep 0.2
kill -USR1 $victim 2>/dev/null
kill -USR2 $victim 2>/dev/null
ev=$(wait_event "select(.kind==\"custom.kill_usr2\" and .custom.pid==$victim)") || not_ok "tracepoint event" "none"
expect_jq "tracepoint fields captured" "$ev" ".custom.sig==12 and .custom.pid==$victim and .proc.pid==$$"
ev=$(wait_event "select(.kind==\"custom.kill_usr1\" and .custom.pid==$victim)") || not_ok "second probe on the tracepoint: event" "none"
expect_jq "second probe on the same tracepoint gets its own events" "$ev" ".custom.sig==10"
expect_eq "field filter drops other signals" "$(events "select(.kind==\"custom.kill_usr2\" and .custom.sig!=12)" | wc -l)" 0
expect_eq "each probe only its own signal" "$(events "select(.kind==\"custom.kill_usr1\" and .custom.sig!=10)" | wc -l)" 0
st=$(ctl status)
expect_jq "status shows the new probe with counters" "$st" '.probes["custom.kill_usr2"]|.state=="attached" and .source=="control" and .emitted>=1 and .filtered>=1 and .dropped==0'
expect_jq "each probe on the tracepoint has its own counters" "$st" '.probes["custom.kill_usr1"].emitted==1 and .probes["custom.kill_usr1"].filtered>=1'
# a refused replacement keeps the running probe
r=$(ctl add-probe "{name: kill_usr1, tracepoint: 'syscalls:sys_enter_kill', capture: [nope]}")
expect_jq "refused replacement: error says the running probe stays" "$r" '.ok==false and (.error|test("nope")) and (.error|test("stays attached"))'
expect_jq "refused replacement: the old probe is still attached" "$(ctl status)" '.probes["custom.kill_usr1"].state=="attached"'
r=$(ctl remove-probe kill_usr2)
expect_jq "ctl remove-probe" "$r" '.ok==true'
kill -USR2 $victim 2>/dev/null
kill -USR1 $victim 2>/dev/null
for _ in $(seq 50); do [ "$(events 'select(.kind=="custom.kill_usr1")' | wc -l)" -ge 2 ] && break; sleep 0.1; done
sleep 0.3
expect_eq "no events after removal" "$(events "select(.kind==\"custom.kill_usr2\")" | wc -l)" 1
expect_eq "the other probe on the tracepoint keeps working after the removal" "$(events "select(.kind==\"custom.kill_usr1\")" | wc -l)" 2
expect "storm still running (add/remove)" kill -0 $storm
# SIGHUP: a probe added to the config, then removed again
cp "$T/c.yaml" "$T/c0.yaml"
cat >>"$T/c.yaml" <<YAML
  - name: hup_probe
    tracepoint: syscalls:sys_enter_kill
    capture: [pid, sig]
    filter: [{field: sig, op: eq, value: 10}]
YAML
kill -HUP $AGENT_PID
wait_event 'select(.kind=="agent.config" and .config.result=="applied")' >/dev/null || not_ok "SIGHUP applied" "no agent.config"
expect_jq "SIGHUP adds a custom probe" "$(ctl status)" '.probes["custom.hup_probe"].state=="attached" and .probes["custom.hup_probe"].source=="config"'
kill -USR1 $victim 2>/dev/null
wait_event "select(.kind==\"custom.hup_probe\" and .custom.pid==$victim)" >/dev/null && ok "SIGHUP-added probe reports" || not_ok "SIGHUP-added probe reports" "none"
cp "$T/c0.yaml" "$T/c.yaml"
kill -HUP $AGENT_PID
sleep 0.5
expect_jq "SIGHUP removes a custom probe" "$(ctl status)" '.probes|has("custom.hup_probe")|not'
expect "storm still running (SIGHUP)" kill -0 $storm
r=$(ctl disable net)
expect_jq "family disabled during the storm" "$r" '.ok==true'
r=$(ctl enable net --for 1) # back to the config's state when it expires
r=$(ctl set 'heartbeat_interval: 30')
expect_jq "ctl set during the storm" "$r" '.ok==true'
r=$(ctl disable custom.kill_usr1)
expect_jq "custom probe disabled during the storm" "$r" '.ok==true'
expect_jq "disabled custom probe: state disabled" "$(ctl status)" '.probes["custom.kill_usr1"].state=="disabled"'
expect "storm still running (disable, set)" kill -0 $storm
kill $victim 2>/dev/null
wait $storm
r=$(ctl remove-probe kill_usr1)
expect_jq "removing a disabled probe drops its override" "$(ctl status)" '(.probes|has("custom.kill_usr1")|not) and ([.overrides[].name]|index("custom.kill_usr1")==null)'
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
expect_eq "always-on probes lost nothing across changes (execs)" "$n" 6000
expect_eq "always-on probes lost nothing across changes (exits)" "$m" 6000
expect_eq "no duplicate exits" "$(events "select(.kind==\"process.exit\" and .proc.args[1]==\"hwcust$$\") | .proc.pid" | sort | uniq -d | wc -l)" 0
expect_eq "no duplicates" "$(events "select(.kind==\"process.exec\" and .proc.args[1]==\"hwcust$$\") | .proc.pid" | sort | uniq -d | wc -l)" 0

# ---- skipped runs of the custom tracepoint program are announced ----
# hwc_probe_tp is a classic tracepoint program: the kernel skips it when another kprobe or
# tracepoint program is running on the CPU (bpf_prog_active). A probe on irq:softirq_entry (its
# filter matches nothing) misses the softirqs that interrupt herdwatch's own syscall-exit
# programs (file.chmod's, under a chmod loop); the kernel counts the skips from 6.7 on.
kmaj=$(uname -r | cut -d. -f1) kmin=$(uname -r | cut -d. -f2)
if [ "$kmaj" -gt 6 ] || { [ "$kmaj" = 6 ] && [ "$kmin" -ge 7 ]; }; then
	cat >"$T/skip.yaml" <<'YAML'
heartbeat_interval: 1
custom_probes:
  - name: softirqs
    tracepoint: irq:softirq_entry
    capture: [vec]
    filter: [{field: vec, op: eq, value: 99}]
YAML
	agent_start "$T/skip.yaml" || { not_ok "agent starts (softirq probe)" "$(cat "$T/agent.err")"; exit 1; }
	touch "$T/chm"
	timeout 4 perl -e 'chmod 0644, $ARGV[0] for 1 .. 5e6' "$T/chm"
	ids=$(cat /proc/"$AGENT_PID"/fdinfo/* 2>/dev/null | awk '/^prog_id:/ {print $2}' | sort -un | jq -sc .)
	miss=$(bpftool -j prog show 2>/dev/null | jq --argjson m "${ids:-[]}" '[.[] | select(.name == "hwc_probe_tp" and (.id as $i | $m | index($i))) | .recursion_misses // 0] | add // 0')
	sum=0
	for _ in $(seq 1 40); do # announced within the second after the count moved
		sum=$(events 'select(.kind=="agent.loss" and .loss.cause=="recursion" and .loss.kind=="custom.softirqs") | .loss.count' | awk '{s += $1} END {print s + 0}')
		[ "$sum" -ge "$miss" ] && break
		sleep 0.1
	done
	expect "the kernel skipped the softirq probe under the chmod loop ($miss runs)" [ "${miss:-0}" -gt 0 ]
	expect "every skipped run announced as agent.loss cause recursion ($sum of $miss)" [ "$sum" -ge "${miss:-1}" ]
	expect_jq "the announcement names the program" "$(events 'select(.kind=="agent.loss" and .loss.kind=="custom.softirqs")' | head -1)" '.loss.program=="hwc_probe_tp" and .loss.count>0'
	agent_stop
else
	ok "custom probe skipped runs # SKIP kernel $(uname -r) does not count them (6.7+)"
fi
