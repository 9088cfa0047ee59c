#!/usr/bin/env bash
# Runtime control of every probe family: "ctl disable FAMILY" stops its events and the
# manifest (heartbeat and ctl status) says so, "ctl enable" brings both back; every change is
# reported as agent.control and followed at once by a heartbeat; timed overrides expire with
# an event; the control socket is never blocked by a slow client and is created 0600 without
# following a symlink.
. "$(dirname "$0")/../lib.sh"
need_root

NA="$HELPERS/net_act"
PA="$HELPERS/priv_actions"
mkdir -p "$T/w" "$T/work"
echo x >"$T/w/f"
cat >"$T/c.yaml" <<YAML
files:
  add: [$T/w/]
custom_probes:
  - name: kill_any
    tracepoint: syscalls:sys_enter_kill
    capture: [pid, sig]
YAML
agent_start "$T/c.yaml" || { not_ok "agent starts" "$(cat "$T/agent.err")"; exit 1; }
bash -c 'trap "" USR1; sleep 120' &
VICTIM=$!
N=0

# last_hb: the newest heartbeat
last_hb() { events 'select(.kind=="agent.heartbeat")' | tail -n1; }

# trigger FAMILY MARK: produce one event of the family; prints the jq filter that finds it
trigger() {
	local fam=$1 m=$2
	case $fam in
	process)
		/usr/bin/true "hwctl-$m"
		echo "select(.kind==\"process.exec\" and .proc.args[1]==\"hwctl-$m\")"
		;;
	process.memfd)
		local out pid
		out=$("$PA" memfd "hwctl-$m")
		pid=$(sed -n 's/^pid=//p' <<<"$out" | head -1)
		echo "select(.kind==\"process.memfd\" and .proc.pid==$pid)"
		;;
	system)
		mkdir -p "$T/mnt-$m"
		mount -t tmpfs "hwctl-$m" "$T/mnt-$m" && umount "$T/mnt-$m"
		echo "select((.kind|startswith(\"system.\")) and ((.|tostring)|contains(\"mnt-$m\")))"
		;;
	net)
		local cpid
		read -r cpid _ < <("$NA" client 127.0.0.1 $((40000 + RANDOM % 20000)))
		echo "select(.kind==\"net.connect\" and .proc.pid==$cpid)"
		;;
	user)
		(
			sleep 0.8
			printf 'echo hwctl-%s\n' "$m"
			sleep 0.3
			printf 'exit\n'
			sleep 0.3
		) | (cd "$T/work" && HISTFILE=/dev/null SHELL=/bin/sh script -qfc "exec bash --norc --noprofile -i" /dev/null >/dev/null)
		echo "select(.kind==\"user.shell\" and .shell.line==\"echo hwctl-$m\")"
		;;
	file)
		chmod "$((600 + RANDOM % 2 * 40))" "$T/w/f"
		touch "$T/w/new-$m"
		echo "select((.kind|startswith(\"file.\")) and .file.path==\"$T/w/new-$m\")"
		;;
	custom)
		kill -USR1 $VICTIM
		sleep 0.05
		echo "select(.kind==\"custom.kill_any\" and .custom.pid==$VICTIM and .seq>$3)"
		;;
	esac
}

# manifest_jq FAMILY STATE [status]: a jq test that the heartbeat (or ctl status) gives the
# family's probes (and the user family's uprobes) that state
manifest_jq() {
	local fam=$1 st=$2 up=""
	[ "${3:-}" = status ] || up=" and ([.agent.uprobes[]|select(.probe==\"user.shell\" and (.path|test(\"^/(usr/)?bin/bash$|libreadline\")))|.state]|unique==[\"$st\"])"
	case $fam in
	user) echo "([.agent.probes|to_entries[]|select(.key|startswith(\"user.shell\"))|.value.state]|unique==[\"$st\"])$up" ;;
	custom) echo ".agent.probes[\"custom.kill_any\"].state==\"$st\"" ;;
	process.memfd) echo ".agent.probes[\"process.memfd\"].state==\"$st\"" ;;
	# net.accept_exact: only its own name turns it on (docs/events-net.md, Socket hooks)
	*) echo "[.agent.probes|to_entries[]|select(.key|startswith(\"$fam.\"))|select(.key!=\"net.accept_exact\" and .value.state!=\"unavailable\")|.value.state]|unique==[\"$st\"]" ;;
	esac
}

for fam in ${HW_FAMILIES:-process process.memfd system net user file custom}; do
	N=$((N + 1))
	before=$(events '.seq' | tail -n1)
	r=$(ctl disable "$fam")
	expect_jq "$fam: ctl disable" "$r" '.ok==true and .now=="disabled"'
	ev=$(wait_event "select(.kind==\"agent.control\" and .seq>$before)") || not_ok "$fam: agent.control on disable" "none"
	expect_jq "$fam: agent.control names client, command and result" "$ev" ".control.source==\"socket\" and .control.uid==0 and .control.pid>0 and .control.command==\"disable\" and .control.args==[\"$fam\"] and .control.ok==true"
	hb=$(wait_event "select(.kind==\"agent.heartbeat\" and .seq>$before)") || not_ok "$fam: heartbeat right after the change" "none"
	expect_jq "$fam: heartbeat says disabled" "$hb" "$(manifest_jq "$fam" disabled)"
	st=$(ctl status)
	expect_jq "$fam: ctl status says disabled" "{\"agent\":$st}" "$(manifest_jq "$fam" disabled status)"
	seq0=$(events '.seq' | tail -n1)
	f=$(trigger "$fam" "off$N" "$seq0")
	sleep 1.2
	expect_eq "$fam: no event while disabled" "$(events "$f" | wc -l)" 0

	before=$(events '.seq' | tail -n1)
	r=$(ctl enable "$fam")
	expect_jq "$fam: ctl enable" "$r" '.ok==true and .now=="enabled"'
	hb=$(wait_event "select(.kind==\"agent.heartbeat\" and .seq>$before)") || not_ok "$fam: heartbeat after enable" "none"
	expect_jq "$fam: heartbeat says attached" "$hb" "$(manifest_jq "$fam" attached)"
	seq0=$(events '.seq' | tail -n1)
	f=$(trigger "$fam" "on$N" "$seq0")
	wait_event "$f" >/dev/null || not_ok "$fam: events again once enabled" "none for $f"
	[ "$(events "$f" | wc -l)" -ge 1 ] && ok "$fam: events again once enabled"
done
kill $VICTIM 2>/dev/null

# ---- one probe of a shared program: every file.* probe attaches the one program hwf_sys_ex, a
# link per syscall tracepoint; disabling file.chmod detaches its tracepoints only ----
r=$(ctl disable file.chmod)
expect_jq "file.chmod alone: ctl disable" "$r" '.ok==true and .now=="disabled"'
chmod 640 "$T/w/f" &
c1=$!
wait $c1
touch "$T/w/shared-$$" &
o1=$!
wait $o1
ev=$(wait_event "select(.kind==\"file.open\" and .proc.pid==$o1)") || not_ok "file.chmod alone: open still reported" "none"
expect_jq "file.chmod alone: open still reported (same program)" "$ev" ".file.path==\"$T/w/shared-$$\""
sleep 1
expect_eq "file.chmod alone: no chmod event while disabled" "$(events "select(.kind==\"file.chmod\" and .proc.pid==$c1)" | wc -l)" 0
r=$(ctl enable file.chmod)
expect_jq "file.chmod alone: ctl enable" "$r" '.ok==true and .now=="enabled"'
chmod 600 "$T/w/f" &
c2=$!
wait $c2
wait_event "select(.kind==\"file.chmod\" and .proc.pid==$c2)" >/dev/null && ok "file.chmod alone: chmod reported once enabled" || not_ok "file.chmod alone: chmod reported once enabled" "none"

# ---- timed override: expiry is an event, followed by a heartbeat ----
before=$(events '.seq' | tail -n1)
r=$(ctl disable user.shell --for 1)
expect_jq "timed disable of user.shell" "$r" '.ok==true'
# the heartbeat the disable is followed by (a periodic one may come between reading $before and
# the disable: the first that shows user.shell's uprobes disabled, before the expiry)
hb=$(wait_event "select(.kind==\"agent.heartbeat\" and .seq>$before and ([.agent.uprobes[]|select(.probe==\"user.shell\")|.state]|unique==[\"disabled\"]))") || not_ok "heartbeat after timed disable" "none"
expect_jq "uprobes detached at once" "$hb" '[.agent.uprobes[]|select(.probe=="user.shell")|.state]|unique==["disabled"]'
ev=$(wait_event "select(.kind==\"agent.control\" and .control.source==\"expiry\" and .seq>$before)" 5) || not_ok "expiry reported" "no agent.control from expiry"
expect_jq "expiry event names the override" "$ev" '.control.command=="disable" and .control.args==["user.shell"] and .control.answer.now=="expired"'
hb=$(wait_event "select(.kind==\"agent.heartbeat\" and .seq>$(jq .seq <<<"$ev"))") || not_ok "heartbeat after expiry" "none"
expect_jq "uprobes attached again after expiry" "$hb" '[.agent.uprobes[]|select(.probe=="user.shell" and (.path|test("^/(usr/)?bin/bash$|libreadline")))|.state]|unique==["attached"]'

# ---- a refused change is reported too; a full override table is refused, not overwritten ----
r=$(ctl enable no.such.probe)
ev=$(wait_event 'select(.kind=="agent.control" and .control.ok==false)') || not_ok "refused change reported" "none"
expect_jq "refused change: reason in the event" "$ev" '.control.command=="enable" and (.control.answer.error|test("unknown probe"))'
for i in $(seq 1 3); do
	ctl add-probe "{name: ov$i, tracepoint: 'syscalls:sys_enter_kill', capture: [sig]}" >/dev/null
done
names=(custom.ov1 custom.ov2 process.exec process.exit process.fork process.exec_failed process.cred_change process.capability process.ptrace process.wx_memory process.rename process.namespace system.mount agent.tamper net.connect net.accept net.listen net.bind net.socket net.dns user.auth file.open file.unlink file.rename file.chmod file.chown file.truncate file.link kernel.bpf kernel.module_load kernel.module_loaded process system net user file custom kernel agent)
refused=
for n in "${names[@]}"; do
	r=$(ctl enable "$n") || { refused=$n; break; }
done
expect_jq "a full override table refuses with a reason" "$r" '.ok==false and (.error|test("too many overrides"))'
expect_jq "earlier overrides are kept, none overwritten" "$(ctl status)" '([.overrides[].name]|index("custom.ov1")!=null and index("custom.ov2")!=null) and (.overrides|length)==32'
ctl remove-probe ov1 >/dev/null
expect_jq "overrides of a removed custom probe are dropped" "$(ctl status)" '([.overrides[].name]|index("custom.ov1")==null) and (.overrides|length)==31'
r=$(ctl enable "$refused")
expect_jq "room again after the removal" "$r" '.ok==true'
for i in 2 3; do ctl remove-probe ov$i >/dev/null; done

# ---- a client that connects and sends nothing does not hold up the agent ----
python3 - "$T/ctl.sock" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.send(b"sta")
time.sleep(4)
PY
slow=$!
sleep 0.3
t0=$(date +%s%N)
r=$(ctl status)
t1=$(date +%s%N)
expect_jq "status answered while a slow client is connected" "$r" '.ok==true'
ms=$(((t1 - t0) / 1000000))
[ $ms -lt 500 ] && ok "answered in ${ms} ms (not after the slow client's 2 s)" || not_ok "not blocked by a slow client" "took ${ms} ms"
/usr/bin/true "hwctl-during-slow"
wait_event 'select(.kind=="process.exec" and .proc.args[1]=="hwctl-during-slow")' 2 >/dev/null && ok "events flow while a slow client is connected" || not_ok "events flow while a slow client is connected" "none within 2 s"
wait $slow 2>/dev/null

# ---- response on the host: ctl kill, by pid and by process key; what it refuses ----
# reap PID: REAPED = its exit status once it ended (within 5 s), or "alive" (then it is killed)
reap() {
	for _ in $(seq 50); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$1" 2>/dev/null; then
		kill -9 "$1"
		wait "$1" 2>/dev/null
		REAPED=alive
	else
		wait "$1" 2>/dev/null
		REAPED=$?
	fi
}
sleep 1000 &
victim=$!
r=$(ctl kill $victim)
expect_jq "kill by pid: SIGKILL sent" "$r" ".ok==true and .pid==$victim and .signal==\"KILL\" and .comm==\"sleep\""
reap $victim
expect_eq "the process died of SIGKILL" "$REAPED" 137
ev=$(wait_event "select(.kind==\"agent.response\" and .response.pid==$victim)") || not_ok "kill: agent.response" "none"
expect_jq "kill: agent.response says who, what, to whom" "$ev" '.response.action=="kill" and .response.source=="socket" and .response.ok==true and .response.comm=="sleep"'
sleep 1000 &
victim=$!
key=$(wait_event "select(.kind==\"process.exec\" and .proc.pid==$victim)" | jq -r .proc.key)
r=$(ctl kill "${key%-*}-$(( ${key##*-} + 1 ))" TERM)
expect_jq "kill by a stale process key (pid reused): nothing sent" "$r" '.ok==false and (.error|test("another process"))'
kill -0 $victim 2>/dev/null && ok "the process named by a stale key is alive" || not_ok "stale key spares the process" "it is gone"
r=$(ctl kill "$key" TERM)
expect_jq "kill by process key with SIGTERM" "$r" ".ok==true and .pid==$victim and .signal==\"TERM\""
reap $victim
expect_eq "the process died of SIGTERM" "$REAPED" 143
r=$(ctl kill 1)
expect_jq "kill 1 refused" "$r" '.ok==false and (.error|test("init"))'
r=$(ctl kill "$AGENT_PID")
expect_jq "kill of the agent itself refused" "$r" '.ok==false and (.error|test("the agent itself"))'
r=$(ctl kill "$(pgrep -x kthreadd)")
expect_jq "kill of a kernel thread refused" "$r" '.ok==false and (.error|test("kernel thread"))'
r=$(ctl kill 12345abc)
expect_jq "kill of garbage: a clear error" "$r" '.ok==false and (.error|test("neither a pid nor a process key"))'
r=$(ctl kill $$ BOGUS)
expect_jq "kill with an unknown signal: refused" "$r" '.ok==false and (.error|test("unknown signal"))'

agent_stop
expect "seq contiguous" seq_contiguous

# ---- socket mode, and a symlink at the socket's path is replaced, not followed ----
touch "$T/target"
chmod 644 "$T/target"
ln -s "$T/target" "$T/ctl.sock"
EV="$T/events-symlink.json"
agent_start "" || { not_ok "agent starts over a symlink" "$(cat "$T/agent.err")"; exit 1; }
expect_eq "socket is 0600" "$(stat -c %a "$T/ctl.sock")" 600
expect_eq "socket is a socket" "$(stat -c %F "$T/ctl.sock")" socket
expect_eq "the symlink's target keeps its mode" "$(stat -c %a "$T/target")" 644
agent_stop
