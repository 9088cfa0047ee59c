#!/usr/bin/env bash
# The agent as a whole: zero loss under an exec storm, drain on SIGTERM with events in flight,
# config reload on SIGHUP (good and bad), in-kernel filters, heartbeats, clear start-up errors.
. "$(dirname "$0")/../lib.sh"
need_root

# ---- 5,000 short-lived processes as fast as possible: every exec and exit, zero loss ----
agent_start || { not_ok "agent starts" "$(cat "$T/agent.err")"; exit 1; }
"$HELPERS/exec_storm" 5000 2 "hwstorm$$" | sed 's/^/# /'
sleep 1
agent_stop
expect_eq "agent exits 0 after storm" "$?" 0
n_exec=$(jq -c "select(.kind==\"process.exec\" and .proc.args[1]==\"hwstorm$$\") | .proc.pid" "$EV" | sort -u | wc -l)
expect_eq "storm: every exec captured" "$n_exec" 5000
pids=$(jq -r "select(.kind==\"process.exec\" and .proc.args[1]==\"hwstorm$$\") | .proc.pid" "$EV" | sort -u)
n_exit=$(jq -r "select(.kind==\"process.exit\" and .proc.args[1]==\"hwstorm$$\") | .proc.pid" "$EV" | sort -u | wc -l)
expect_eq "storm: every exit captured" "$n_exit" 5000
expect_eq "storm: no agent.loss" "$(events 'select(.kind=="agent.loss")' | wc -l)" 0
expect "storm: seq contiguous" seq_contiguous
expect_jq "storm: exits carry the exec'd exe" "$(events "select(.kind==\"process.exit\" and .proc.args[1]==\"hwstorm$$\")" | head -1)" '.proc.exe=="/usr/bin/true"'

# ---- SIGTERM with events in flight: all processes that ran before the signal are reported ----
agent_start || exit 1
: >"$T/term.pids"
EXEC_STORM_PIDS="$T/term.pids" "$HELPERS/exec_storm" 1500 2 "hwterm$$" >/dev/null &
spid=$!
sleep 0.3
# the children started before the signal: each must have its exec and its exit, except those
# still running when the probes were detached (at most one per storm worker)
before=$(wc -l <"$T/term.pids")
kill -TERM "$AGENT_PID"
wait "$AGENT_PID"
rc=$?
AGENT_PID=
wait $spid
expect_eq "TERM mid-storm: exit 0" "$rc" 0
expect "TERM mid-storm: seq contiguous" seq_contiguous
expect_eq "TERM mid-storm: no agent.loss" "$(events 'select(.kind=="agent.loss")' | wc -l)" 0
head -n "$before" "$T/term.pids" | sort -u >"$T/term.started"
events "select(.kind==\"process.exec\" and .proc.args[1]==\"hwterm$$\") | .proc.pid" | sort -u >"$T/term.exec"
events "select(.kind==\"process.exit\" and .proc.args[1]==\"hwterm$$\") | .proc.pid" | sort -u >"$T/term.exit"
no_exec=$(comm -23 "$T/term.started" "$T/term.exec" | wc -l)
no_exit=$(comm -23 "$T/term.started" "$T/term.exit" | wc -l)
stray=$(sort -u "$T/term.pids" | comm -13 - "$T/term.exec" | wc -l)
if [ "$before" -gt 10 ] && [ "$no_exec" -le 2 ] && [ "$no_exit" -le 2 ] && [ "$stray" -eq 0 ]; then
	ok "TERM mid-storm: each started pid has its exec and exit ($before pids, $no_exec/$no_exit in flight)"
else
	not_ok "TERM mid-storm: each started pid has its exec and exit" "$before pids started, $no_exec without exec, $no_exit without exit, $stray execs of unknown pids"
fi
expect_jq "TERM: last event is the final heartbeat" "$(tail -n1 "$EV")" '.kind=="agent.heartbeat"'

# ---- config: heartbeat interval, herd, version, filters; SIGHUP reload good and bad ----
mkdir -p $CG2/hwtest-ign-$$ $CG2/hwtest-ver-$$/web/m1-v2.0 $CG2/hwtest-ver-$$/web/m2
cat >"$T/c.yaml" <<YAML
herd: testherd
version: 1.4.2
heartbeat_interval: 1
filters:
  ignore_exe: [/usr/bin/sleep]
  ignore_cgroup: [/hwtest-ign-$$]
containers:
  - cgroup: '^/hwtest-ver-$$/([a-z]+)/(m[0-9]+)(-(v[0-9.]+))?$'
    version_group: 4
YAML
agent_start "$T/c.yaml" || { not_ok "agent starts with config" "$(cat "$T/agent.err")"; exit 1; }
sleep 2.5
nhb=$(events 'select(.kind=="agent.heartbeat")' | wc -l)
if [ "$nhb" -ge 2 ]; then ok "heartbeat every heartbeat_interval"; else not_ok "heartbeat every heartbeat_interval" "$nhb heartbeats in 2.5 s"; fi
hb=$(events 'select(.kind=="agent.heartbeat")' | tail -1)
expect_jq "heartbeat has version, probes, stats" "$hb" '(.agent.version|length)>0 and .agent.probes["process.exit"].state=="attached" and .agent.probes["process.exit"].hook=="tp_btf" and (.agent.stats|has("events") and has("dropped") and has("cpu") and has("rss") and has("dropped_user")) and (.agent.stats.cpu|type)=="number" and .agent.stats.rss > 0'
expect_jq "herd from config" "$hb" '.host.herd=="testherd"'
expect_jq "version from config in host.version, after herd; run id" "$hb" '.host.version=="1.4.2" and (.host|keys_unsorted)==["name","id","boot_id","run","herd","version"] and (.host.run|test("^[0-9a-f]{16}$"))'
(echo $BASHPID >$CG2/hwtest-ver-$$/web/m1-v2.0/cgroup.procs && exec /usr/bin/echo hwver1$$ >/dev/null)
(echo $BASHPID >$CG2/hwtest-ver-$$/web/m2/cgroup.procs && exec /usr/bin/echo hwver2$$ >/dev/null)
ev=$(wait_event "select(.kind==\"process.exec\" and .proc.args[1]==\"hwver1$$\")")
expect_jq "container rule's version group in container.version" "$ev" '.proc.container=={"id":"m1","herd":"web","version":"v2.0","identity":"none","runtime":null,"name":null,"image":null,"image_digest":null,"pod":null,"labels":null} and .host.version=="1.4.2"'
ev=$(wait_event "select(.kind==\"process.exec\" and .proc.args[1]==\"hwver2$$\")")
expect_jq "version group that did not match: container.version null" "$ev" '.proc.container | {id,herd,version,identity}=={"id":"m2","herd":"web","version":null,"identity":"none"}'
/usr/bin/sleep hwign$$ 2>/dev/null
(echo $BASHPID >$CG2/hwtest-ign-$$/cgroup.procs && exec /usr/bin/echo hwcg$$ >/dev/null)
(exec /nonexistent/hwenoent$$ 2>/dev/null)
/usr/bin/echo hwseen$$ >/dev/null
wait_event "select(.kind==\"process.exec\" and .proc.args[1]==\"hwseen$$\")" >/dev/null
expect_eq "ignore_exe drops exec and exit" "$(events "select(.proc.args[1]==\"hwign$$\")" | wc -l)" 0
expect_eq "ENOENT execs (PATH search) not reported by default" "$(events "select(.exec.filename==\"/nonexistent/hwenoent$$\")" | wc -l)" 0
expect_eq "ignore_cgroup drops in kernel" "$(events "select(.proc.args[1]==\"hwcg$$\")" | wc -l)" 0
# a bad config on SIGHUP keeps the old one running and says why
cp "$T/c.yaml" "$T/good.yaml"
printf 'herd: other\nbogus_key: 1\n' >"$T/c.yaml"
kill -HUP "$AGENT_PID"
ev=$(wait_event 'select(.kind=="agent.config")') || not_ok "bad reload reported" "no agent.config event"
expect_jq "bad reload rejected with file:line" "$ev" ".config.result==\"rejected\" and (.config.error|test(\"c.yaml:2: unknown key 'bogus_key'\"))"
grep -q "reload rejected" "$T/agent.err" && ok "bad reload said on stderr" || not_ok "bad reload said on stderr" "$(cat "$T/agent.err")"
expect "agent still running after bad reload" kill -0 "$AGENT_PID"
# a good config on SIGHUP applies: new herd, probe disabled, filter removed
printf 'herd: newherd\nversion: 1.5.0\nheartbeat_interval: 1\nprobes:\n  process.exit: false\n' >"$T/c.yaml"
kill -HUP "$AGENT_PID"
wait_event 'select(.kind=="agent.config" and .config.result=="applied")' >/dev/null && ok "good reload applied" || not_ok "good reload applied" "no event"
/usr/bin/sleep hwafter$$ 2>/dev/null
ev=$(wait_event "select(.kind==\"process.exec\" and .proc.args[1]==\"hwafter$$\")") || not_ok "exec after reload" "ignore_exe still applied"
expect_jq "reload changed herd" "$ev" '.host.herd=="newherd"'
expect_jq "reload changed version" "$ev" '.host.version=="1.5.0"'
hb=$(wait_event 'select(.kind=="agent.heartbeat" and .host.herd=="newherd")')
expect_jq "manifest shows disabled probe" "$hb" '.agent.probes["process.exit"].state=="disabled"'
# log rotation: after a rename and SIGHUP the agent writes to a new file, seq continues
mv "$EV" "$EV.1"
kill -HUP "$AGENT_PID"
for _ in $(seq 1 50); do [ -s "$EV" ] && break; sleep 0.1; done
last=$(tail -n1 "$EV.1" | jq .seq)
first=$(head -n1 "$EV" | jq .seq)
expect_eq "SIGHUP reopens a rotated output file, seq continues" "$first" "$((last + 1))"
agent_stop
cat "$EV" >>"$EV.1" && mv "$EV.1" "$EV"
expect_eq "no exit events after process.exit disabled" "$(events "select(.kind==\"process.exit\" and .proc.args[1]==\"hwafter$$\")" | wc -l)" 0
expect "seq contiguous across reloads" seq_contiguous
# output changed to 'none' and back to a file on SIGHUP: applied
printf 'output: none\n' >"$T/o.yaml"
: >"$T/o1.json"
"$AGENT" --config "$T/o.yaml" --control "$T/o.sock" >"$T/o-stdout" 2>"$T/o.err" &
opid=$!
# ready (probes attached, table seeded) once its control socket exists
for _ in $(seq 1 1200); do [ -S "$T/o.sock" ] && break; sleep 0.1; done
printf 'output: %s\n' "$T/o1.json" >"$T/o.yaml"
kill -HUP $opid
for _ in $(seq 1 50); do grep -q '"agent.config"' "$T/o1.json" && break; sleep 0.1; done
/usr/bin/echo hwout1$$ >/dev/null
for _ in $(seq 1 50); do grep -q "hwout1$$" "$T/o1.json" && break; sleep 0.1; done
grep -q "hwout1$$" "$T/o1.json" && ok "reload from output none to a file applied" || not_ok "reload from output none to a file applied" "$(head -c 300 "$T/o1.json")"
printf 'output: none\n' >"$T/o.yaml"
kill -HUP $opid
sleep 0.5
/usr/bin/echo hwout2$$ >/dev/null
sleep 0.5
printf 'output: "-"\n' >"$T/o.yaml"
kill -HUP $opid
sleep 0.5
/usr/bin/echo hwout3$$ >/dev/null
sleep 0.5
kill -TERM $opid
wait $opid
expect_eq "reload to output none: nothing written to the file" "$(grep -c "hwout2$$" "$T/o1.json" "$T/o-stdout" | cut -d: -f2 | paste -sd,)" "0,0"
grep -q "hwout3$$" "$T/o-stdout" && ok "reload to output '-' writes to stdout" || not_ok "reload to output '-' writes to stdout" "$(tail -c 300 "$T/o-stdout")"
expect_eq "no exec after the switch to '-' went to the old file" "$(grep -c "hwout3$$" "$T/o1.json")" 0

rmdir $CG2/hwtest-ign-$$ $CG2/hwtest-ver-$$/web/m1-v2.0 $CG2/hwtest-ver-$$/web/m2 $CG2/hwtest-ver-$$/web $CG2/hwtest-ver-$$

# ---- the process table frees entries of processes that make no exit record ----
# processes in an ignored cgroup make none: 20 seeded from /proc and 20 started under the agent,
# all moved into the ignored cgroup and killed, are reaped within two (shortened) periods (the
# first pass marks them, the next frees them)
mkdir -p $CG2/hwtest-reap-$$
printf 'heartbeat_interval: 1\nfilters:\n  ignore_cgroup: [/hwtest-reap-%s]\n' $$ >"$T/r.yaml"
rpids=()
for _ in $(seq 1 20); do sleep 300 & rpids+=($!); done
export HW_PROCTAB_REAP_MS=2000
agent_start "$T/r.yaml" || { not_ok "agent starts (reap)" "$(cat "$T/agent.err")"; exit 1; }
unset HW_PROCTAB_REAP_MS
for _ in $(seq 1 20); do sleep 300 & rpids+=($!); done
wait_grep "\"pid\":${rpids[39]}," "select(.kind==\"process.exec\" and .proc.pid==${rpids[39]})" 30 >/dev/null
for p in "${rpids[@]}"; do echo "$p" >$CG2/hwtest-reap-$$/cgroup.procs; done
kill "${rpids[@]}"
wait "${rpids[@]}" 2>/dev/null
hb=$(wait_grep '"kind":"agent.heartbeat"' "select(.kind==\"agent.heartbeat\" and .agent.stats.reaped >= 40)" 10)
expect_jq "ignored-cgroup processes that exit are reaped within the period" "$hb" '.agent.stats.reaped >= 40 and (.agent.stats|has("evicted")) and (.agent.stats.dns_names_evicted|type == "number")'
expect_eq "no exit events from the ignored cgroup" "$(grep_events "\"pid\":${rpids[0]}," "select(.kind==\"process.exit\" and .proc.pid==${rpids[0]})" | wc -l)" 0
agent_stop
rmdir $CG2/hwtest-reap-$$

# ---- filters.ignore_exe follows a reload for processes already running ----
cp /usr/bin/sleep "$T/ign-a" && cp /usr/bin/sleep "$T/ign-b"
printf 'filters:\n  ignore_exe: [%s]\n' "$T/ign-a" >"$T/i.yaml"
"$T/ign-a" 300 &
a_old=$!
agent_start "$T/i.yaml" || { not_ok "agent starts (ignore_exe)" "$(cat "$T/agent.err")"; exit 1; }
"$T/ign-a" 300 &
a_new=$!
"$T/ign-b" 300 &
b_new=$!
bash -c "exec $T/ign-a 300" &
a_child=$!
wait_grep "\"pid\":$b_new," "select(.kind==\"process.exec\" and .proc.pid==$b_new)" 30 >/dev/null
sleep 0.5
# now ign-b is ignored and ign-a no longer is
printf 'filters:\n  ignore_exe: [%s]\n' "$T/ign-b" >"$T/i.yaml"
kill -HUP "$AGENT_PID"
wait_grep '"kind":"agent.config"' 'select(.kind=="agent.config" and .config.result=="applied")' 30 >/dev/null
kill $a_old $a_new $b_new $a_child
wait $a_old $a_new $b_new $a_child 2>/dev/null
for p in $a_old $a_new $a_child; do
	wait_grep "\"pid\":$p," "select(.kind==\"process.exit\" and .proc.pid==$p)" 10 >/dev/null &&
		ok "ignore_exe removed on reload: exit of running pid $p reported" ||
		not_ok "ignore_exe removed on reload: exit of running pid $p reported" "no process.exit"
done
/usr/bin/echo hwign2seen$$ >/dev/null
wait_grep "hwign2seen$$" "select(.kind==\"process.exec\" and .proc.args[1]==\"hwign2seen$$\")" 30 >/dev/null
expect_eq "ignore_exe added on reload hides a running process" "$(grep_events "\"pid\":$b_new," "select(.kind==\"process.exit\" and .proc.pid==$b_new)" | wc -l)" 0
expect_jq "ignore_exe: re-shown process keeps its exe" "$(grep_events "\"pid\":$a_old," "select(.kind==\"process.exit\" and .proc.pid==$a_old)" | head -1)" ".proc.exe==\"$T/ign-a\""
agent_stop

# ---- filters.ignore_exe set by a reload of an agent started without it (the kernel looks
# processes up only while ignore_exe is set: hw_cfg.ignore_pids) ----
cp /usr/bin/sleep "$T/ign-c"
echo 'heartbeat_interval: 1' >"$T/i0.yaml"
agent_start "$T/i0.yaml" || { not_ok "agent starts (no ignore_exe)" "$(cat "$T/agent.err")"; exit 1; }
"$T/ign-c" 300 &
c_old=$!
wait_grep "\"pid\":$c_old," "select(.kind==\"process.exec\" and .proc.pid==$c_old)" 30 >/dev/null ||
	not_ok "ignore_exe unset: exec reported" "no process.exec of $c_old"
printf 'heartbeat_interval: 1\nfilters:\n  ignore_exe: [%s]\n' "$T/ign-c" >"$T/i0.yaml"
f0=$(last_heartbeat | jq .agent.stats.filtered)
agent_reload || not_ok "reload with ignore_exe" "not applied"
"$T/ign-c" 301 &
c_new=$!
bash -c "$T/ign-c 0.2; true" &
c_child=$!
sleep 0.5
kill $c_old $c_new
wait $c_old $c_new $c_child 2>/dev/null
/usr/bin/echo hwign3seen$$ >/dev/null
wait_grep "hwign3seen$$" "select(.kind==\"process.exec\" and .proc.args[1]==\"hwign3seen$$\")" 30 >/dev/null
expect_eq "ignore_exe set on reload (none at start) hides a running process" "$(grep_events "\"pid\":$c_old," "select(.kind==\"process.exit\" and .proc.pid==$c_old)" | wc -l)" 0
expect_eq "ignore_exe set on reload (none at start) hides a new exec" "$(grep_events "\"pid\":$c_new," "select(.proc.pid==$c_new)" | wc -l)" 0
expect_eq "ignore_exe set on reload (none at start) hides it under a shell" "$(grep_events "ign-c" "select(.kind==\"process.exec\" and .proc.args[1]==\"0.2\")" | wc -l)" 0
# the two execs above are dropped by the agent (it marks them); their exits, and the running
# process's, never leave the kernel: an exit that did would count in "filtered" too
hb_after "$(last_seq)" >/dev/null
expect_eq "ignore_exe set on reload: the exits are dropped in the kernel" "$(($(last_heartbeat | jq .agent.stats.filtered) - f0))" 2
agent_stop

# ---- clear errors: one line naming the problem, non-zero exit ----
out=$("$AGENT" --output /nonexistent-dir/x.json 2>&1); rc=$?
[ $rc -ne 0 ] && [[ "$out" == *"cannot write output file /nonexistent-dir/x.json"*"create its directory"* ]] && [ "$(wc -l <<<"$out")" -eq 1 ] && ok "unwritable output: clear error with a remedy" || not_ok "unwritable output: clear error with a remedy" "rc=$rc: $out"
printf 'herd: a\nnope: 1\n' >"$T/bad.yaml"
out=$("$AGENT" --config "$T/bad.yaml" 2>&1); rc=$?
[ $rc -ne 0 ] && [[ "$out" == *"bad.yaml:2: unknown key 'nope'"* ]] && ok "unknown config key: file, line, key" || not_ok "unknown config key: file, line, key" "rc=$rc: $out"
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "$AGENT" 2>&1); rc=$?
[ $rc -ne 0 ] && [[ "$out" == *"missing capabilities CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN"*"run it as root"* ]] && ok "not root: clear error" || not_ok "not root: clear error" "rc=$rc: $out"
# root without the BPF capabilities (bounding set): names what is missing, one line
out=$(setpriv --inh-caps=-bpf,-perfmon,-sys_admin --bounding-set=-bpf,-perfmon,-sys_admin "$AGENT" --output "$T/nocap.json" 2>&1); rc=$?
[ $rc -eq 1 ] && [ "$(wc -l <<<"$out")" -eq 1 ] && [[ "$out" == *"missing capabilities CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN"*"setcap"* ]] && ok "root without CAP_BPF/CAP_PERFMON/CAP_SYS_ADMIN: names them" || not_ok "root without CAP_BPF/CAP_PERFMON/CAP_SYS_ADMIN: names them" "rc=$rc: $out"
out=$(setpriv --inh-caps=-perfmon,-sys_admin --bounding-set=-perfmon,-sys_admin "$AGENT" --output "$T/nocap.json" 2>&1); rc=$?
[ $rc -eq 1 ] && [[ "$out" == *"missing capabilities CAP_PERFMON, CAP_SYS_ADMIN:"* ]] && ok "only CAP_PERFMON missing: named alone" || not_ok "only CAP_PERFMON missing: named alone" "rc=$rc: $out"
out=$("$AGENT" --bogus 2>&1); rc=$?
[ $rc -eq 2 ] && [[ "$out" == *"usage"* ]] && ok "bad option: usage" || not_ok "bad option: usage" "rc=$rc: $out"
out=$("$AGENT" --probe 2>/dev/null); rc=$?
expect_jq "--probe prints the coverage manifest" "$out" '.hooks.tp_btf==true and .hooks.kprobe==false and ([.probes["process.exec","process.exit","process.fork","process.exec_failed"]|.state]|all(.=="attached")) and ([.probes[]|select(.state!="attached")|.reason]|all(length>0))'
"$AGENT" --version | grep -q "herdwatch-agent" && ok "--version" || not_ok "--version" "no version"
