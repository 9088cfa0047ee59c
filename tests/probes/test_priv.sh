#!/usr/bin/env bash
# priv family: every kind performs its real action through build/tests/helpers/priv_actions (or
# the shell) and is checked field by field, including refused calls and who is blamed.
. "$(dirname "$0")/../lib.sh"
need_root
H="$HELPERS/priv_actions"
cat >"$T/cfg.yaml" <<CFG
privilege:
  summary_interval: 2
probes:
  kernel.module_load_raw: true
filters:
  ignore_exe: [$T/ignored_actions]
files:
  mode: exact # /proc/PID/mem opens below are seen in exact mode only (docs/events-user.md)
  watch: ["$T/watched/"]
CFG
cp "$H" "$T/ignored_actions"
chmod 755 "$T" 
agent_start "$T/cfg.yaml" || { not_ok "agent starts" "$(cat "$T/agent.err")"; exit 1; }
APID=$AGENT_PID
# The machine is shared: other processes' events can make the output large, so lookups first
# keep the lines of one pid (grep), then apply the jq filter.
# pev PID FILTER: matching events of PID; pwait PID FILTER [TIMEOUT_S]: wait for the first
pev() { grep -F "\"pid\":$1," "$EV" | jq -c "$2" 2>/dev/null; }
pwait() { poll_first "${3:-15}" pev "$1" "$2"; }
# psum PID FILTER REDUCE WANT: poll (up to 20 s) until REDUCE over the matching events of PID
# equals WANT (summaries arrive once per window; a loaded machine may delay one); prints it
psum() {
	local r
	for _ in $(seq 1 200); do
		r=$(pev "$1" "$2" | jq -s -r "$3")
		[ "$r" == "$4" ] && break
		sleep 0.1
	done
	echo "$r"
}
# ej NAME JSON FILTER: ej that fails on a missing event instead of testing nothing
ej() { if [ -z "$2" ]; then not_ok "$1" "no event to check"; else expect_jq "$@"; fi; }
# run HELPER ARGS...: runs the helper, leaves its output in $OUT and its pid in $HP
run() { OUT=$("$@"); HP=$(sed -n 's/^pid=//p' <<<"$OUT" | head -1); }
val() { sed -n "s/^$1=//p" <<<"$OUT" | head -1; }

# --- process.cred_change: setresuid root -> nobody, then a refused setuid(0)
run "$H" setresuid
ev=$(pwait "$HP" "select(.kind==\"process.cred_change\" and .proc.pid==$HP and .cred.syscall==\"setresuid\")") || not_ok "cred setresuid seen" "pid $HP"
ej "cred setresuid result and args" "$ev" '.cred.result==0 and .cred.args==[65534,65534,65534] and (.cred|has("error")|not)'
ej "cred setresuid old ids" "$ev" '.cred.old=={"uid":0,"euid":0,"suid":0,"fsuid":0,"gid":0,"egid":0,"sgid":0,"fsgid":0}'
ej "cred setresuid new ids" "$ev" '.cred.new.uid==65534 and .cred.new.euid==65534 and .cred.new.suid==65534 and .cred.new.fsuid==65534 and .cred.new.gid==0 and .cred.changed==true'
ej "cred setresuid caps dropped" "$ev" '(.cred.caps.old.effective|index("CAP_SYS_ADMIN"))!=null and .cred.caps.new.effective==[] and .cred.caps.new.permitted==[]'
ej "cred blames the helper, after the change" "$ev" ".proc.comm==\"priv_actions\" and .proc.ppid==$$ and .proc.uid==65534 and .proc.euid==65534"
ev=$(pwait "$HP" "select(.kind==\"process.cred_change\" and .proc.pid==$HP and .cred.syscall==\"setuid\")") || not_ok "cred refused setuid seen" "pid $HP"
ej "cred refused setuid(0): EPERM, nothing changed" "$ev" '.cred.result==-1 and .cred.error=="EPERM" and .cred.args==[0] and .cred.changed==false and .cred.old==.cred.new and .cred.new.uid==65534'

ev=$(pwait "$HP" "select(.kind==\"process.cred_change\" and .proc.pid==$HP and .cred.syscall==\"setgroups\")") || not_ok "cred setgroups seen" "pid $HP"
mygroups=$(jq -nc '$ARGS.positional|map(tonumber)' --args $(awk '/^Groups:/{$1="";print}' /proc/$$/status))
ej "cred setgroups: groups before and after the call, changed" "$ev" ".cred.result==0 and .cred.args==[2] and .cred.ngroups==2 and .cred.groups==[10,20] and .cred.old_groups==$mygroups and .cred.old_ngroups==($mygroups|length) and .cred.changed==true and .cred.old==.cred.new"

# --- the other set*id calls, every field; setfsuid/setfsgid return the previous id
run "$H" ids
c() { pwait "$HP" "select(.kind==\"process.cred_change\" and .proc.pid==$HP and .cred.syscall==\"$1\" and .cred.args==$2)"; }
ids() { echo "{\"uid\":$1,\"euid\":$1,\"suid\":$1,\"fsuid\":$2,\"gid\":$3,\"egid\":$3,\"sgid\":$3,\"fsgid\":$4}"; }
ev=$(c setgid '[50]') || not_ok "setgid seen" "pid $HP"
ej "setgid fields" "$ev" ".cred.result==0 and .cred.old==$(ids 0 0 0 0) and .cred.new==$(ids 0 0 50 50) and .cred.changed==true and (.cred|has(\"error\")|not)"
ev=$(c setregid '[60,60]') || not_ok "setregid seen" "pid $HP"
ej "setregid fields" "$ev" ".cred.result==0 and .cred.old==$(ids 0 0 50 50) and .cred.new==$(ids 0 0 60 60) and .cred.changed==true"
ev=$(c setresgid '[70,70,70]') || not_ok "setresgid seen" "pid $HP"
ej "setresgid fields" "$ev" ".cred.result==0 and .cred.old==$(ids 0 0 60 60) and .cred.new==$(ids 0 0 70 70) and .cred.changed==true"
ev=$(c setfsgid '[80]') || not_ok "setfsgid seen" "pid $HP"
ej "setfsgid fields: result is the previous fsgid" "$ev" ".cred.result==70 and .cred.previous==70 and .cred.took_effect==true and .cred.old==$(ids 0 0 70 70) and .cred.new==$(ids 0 0 70 80) and .cred.changed==true"
ev=$(c setfsuid '[1000]') || not_ok "setfsuid seen" "pid $HP"
ej "setfsuid fields: result is the previous fsuid" "$ev" ".cred.result==0 and .cred.previous==0 and .cred.took_effect==true and .cred.old==$(ids 0 0 70 80) and .cred.new==$(ids 0 1000 70 80) and .cred.changed==true"
ev=$(c setreuid '[1000,1000]') || not_ok "setreuid seen" "pid $HP"
ej "setreuid fields, capabilities dropped" "$ev" ".cred.result==0 and .cred.old==$(ids 0 1000 70 80) and .cred.new==$(ids 1000 1000 70 80) and .cred.changed==true and .cred.caps.new.effective==[] and (.cred.caps.old.effective|index(\"CAP_SETUID\"))!=null"
ev=$(c setfsuid '[0]') || not_ok "refused setfsuid seen" "pid $HP"
ej "refused setfsuid: previous id returned, no effect" "$ev" ".cred.result==1000 and .cred.previous==1000 and .cred.took_effect==false and .cred.changed==false and .cred.new==$(ids 1000 1000 70 80)"
ev=$(c setfsgid '[0]') || not_ok "refused setfsgid seen" "pid $HP"
ej "refused setfsgid: previous id returned, no effect" "$ev" ".cred.result==80 and .cred.previous==80 and .cred.took_effect==false and .cred.changed==false and .cred.new==$(ids 1000 1000 70 80)"
ev=$(c setgid '[0]') || not_ok "refused setgid seen" "pid $HP"
ej "refused setgid: EPERM" "$ev" ".cred.result==-1 and .cred.error==\"EPERM\" and .cred.changed==false and .cred.old==.cred.new"

# --- capset: drop CAP_NET_RAW, then a refused raise
run "$H" capset
evs=$(pev "$HP" "select(.kind==\"process.cred_change\" and .proc.pid==$HP and .cred.syscall==\"capset\")")
pwait "$HP" "select(.kind==\"process.cred_change\" and .proc.pid==$HP and .cred.result!=0)" >/dev/null
evs=$(pev "$HP" "select(.kind==\"process.cred_change\" and .proc.pid==$HP and .cred.syscall==\"capset\")")
ok1=$(head -1 <<<"$evs")
bad=$(sed -n 2p <<<"$evs")
ej "capset drop: result 0, CAP_NET_RAW gone from effective and permitted" "$ok1" '.cred.result==0 and .cred.args==[] and (.cred.caps.old.effective|index("CAP_NET_RAW"))!=null and (.cred.caps.new.effective|index("CAP_NET_RAW"))==null and (.cred.caps.new.permitted|index("CAP_NET_RAW"))==null and (.cred.caps.new.effective|index("CAP_SYS_ADMIN"))!=null'
ej "capset raise refused: EPERM, sets unchanged" "$bad" '.cred.result==-1 and .cred.error=="EPERM" and .cred.caps.old==.cred.caps.new and (.cred.caps.new.effective|index("CAP_NET_RAW"))==null'

# --- process.capability: first use at once, then every check counted in the summaries
touch "$T/chownme"
run "$H" chown "$T/chownme" 1000
ev=$(pwait "$HP" "select(.kind==\"process.capability\" and .proc.pid==$HP and .cap.name==\"CAP_CHOWN\" and .cap.first)") || not_ok "capability first use seen" "pid $HP"
ej "capability first use fields" "$ev" '.cap.cap==0 and .cap.checks==1 and .cap.denied==0 and .cap.allowed==true and .cap.window_s==0 and .proc.comm=="priv_actions"'
pwait "$HP" "select(.kind==\"process.capability\" and .proc.pid==$HP and .cap.name==\"CAP_CHOWN\" and (.cap.first|not))" 15 >/dev/null || not_ok "capability summary seen" "pid $HP"
sum=$(psum "$HP" "select(.kind==\"process.capability\" and .proc.pid==$HP and .cap.name==\"CAP_CHOWN\" and (.cap.first|not))" 'map(.cap.checks)|add' 1000)
expect_eq "capability summaries count every one of 1000 chown checks" "$sum" 1000
ev=$(pev "$HP" "select(.kind==\"process.capability\" and .proc.pid==$HP and .cap.name==\"CAP_CHOWN\" and (.cap.first|not))" | tail -1)
ej "capability summary fields" "$ev" '.cap.denied==0 and .cap.window_s>=1 and .cap.total_checks==1000 and .cap.total_denied==0'
# denied: nobody asking for CAP_NET_ADMIN
OUT=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$H" rcvbufforce 300)
HP=$(val pid)
expect_eq "helper saw 300 refused setsockopt" "$(val fails)" 300
ev=$(pwait "$HP" "select(.kind==\"process.capability\" and .proc.pid==$HP and .cap.name==\"CAP_NET_ADMIN\" and .cap.first)") || not_ok "denied capability first use seen" "pid $HP"
ej "denied first use" "$ev" '.cap.allowed==false and .cap.denied==1 and .cap.cap==12 and .proc.uid==65534'
pwait "$HP" "select(.kind==\"process.capability\" and .proc.pid==$HP and .cap.name==\"CAP_NET_ADMIN\" and (.cap.first|not))" 15 >/dev/null
s=$(psum "$HP" "select(.kind==\"process.capability\" and .proc.pid==$HP and .cap.name==\"CAP_NET_ADMIN\" and (.cap.first|not))" '[(map(.cap.checks)|add), (map(.cap.denied)|add)]|@csv' 300,300)
expect_eq "capability summaries: 300 checks, 300 denied" "$s" "300,300"
# CAP_SYS_ADMIN checked for new namespaces is a use of privilege: counted per process, even
# inside clone/clone3 (whose plain forms only check it for memory accounting)
for how in clone clone3; do
	OUT=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$H" nsclone $how)
	HP=$(val pid)
	expect_eq "unprivileged $how of a new namespace refused" "$(val $how)" -1
	ev=$(pwait "$HP" "select(.kind==\"process.capability\" and .proc.pid==$HP and .cap.name==\"CAP_SYS_ADMIN\" and .cap.first)") || not_ok "$how namespace capability check seen" "pid $HP"
	ej "$how namespace CAP_SYS_ADMIN check: per process, denied" "$ev" '.cap.cap==21 and .cap.allowed==false and .cap.denied==1 and .cap.checks==1 and .proc.uid==65534 and .proc.comm=="priv_actions" and (.cap|has("aggregate")|not)'
done
n=$(pev "$APID" "select(.kind==\"process.capability\" and .proc.pid==$APID)" | wc -l)
expect_eq "the agent's own capability checks are not reported" "$n" 0

# filters.ignore_exe applies to the priv kinds too, summaries included
touch "$T/chownme2"
run "$T/ignored_actions" chown "$T/chownme2" 200
ign=$HP
# a reported process started after it: once its summary is out, the ignored one's would be too
run "$H" chown "$T/chownme2" 10
pwait "$HP" "select(.kind==\"process.capability\" and .proc.pid==$HP and (.cap.first|not))" 20 >/dev/null || not_ok "summary after the ignored process" "pid $HP"
n=$(pev "$ign" 'select(.kind!="process.exit")' | wc -l)
expect_eq "an ignored executable's capability use is not reported" "$n" 0

# CAP_SYS_ADMIN memory-accounting checks (every mmap/fork/exec as root): one host-wide
# summary per window, never a per-process record
for _ in 1 2 3 4 5; do /bin/true; done
/bin/true & tp=$!
wait $tp
ev=$(wait_event 'select(.kind=="process.capability" and .cap.aggregate=="memory_accounting" and .cap.window_s==2)' 20) || { not_ok "memory-accounting summary seen" "none in 20 s"; ev='{}'; }
ej "memory-accounting summary: host-wide, counted" "$ev" '.cap.name=="CAP_SYS_ADMIN" and .cap.checks>0 and .cap.first==false and .cap.window_s==2 and (has("proc")|not)'
sleep 2.5
n=$(pev "$tp" 'select(.kind=="process.capability")' | wc -l)
expect_eq "memory accounting of an exec makes no per-process capability event" "$n" 0

# --- process.ptrace: attach to a child, refused attach to itself, process_vm_readv
run "$H" ptrace
child=$(val child)
expect_eq "helper read the child's memory" "$(val vm_read_ok)" 1
ev=$(pwait "$HP" "select(.kind==\"process.ptrace\" and .proc.pid==$HP and .ptrace.request==\"PTRACE_ATTACH\" and .ptrace.result==0)") || not_ok "ptrace attach seen" "pid $HP"
ej "ptrace attach fields" "$ev" ".ptrace.syscall==\"ptrace\" and .ptrace.target_pid==$child and (.ptrace.target_exe|endswith(\"/priv_actions\")) and .proc.comm==\"priv_actions\""
ev=$(pwait "$HP" "select(.kind==\"process.ptrace\" and .proc.pid==$HP and .ptrace.request==\"PTRACE_ATTACH\" and .ptrace.result!=0)") || not_ok "refused ptrace seen" "pid $HP"
ej "ptrace attach to itself refused" "$ev" ".ptrace.result==-1 and .ptrace.error==\"EPERM\" and .ptrace.target_pid==$HP"
ev=$(pwait "$HP" "select(.kind==\"process.ptrace\" and .proc.pid==$HP and .ptrace.syscall==\"process_vm_readv\")") || not_ok "process_vm_readv seen" "pid $HP"
ej "process_vm_readv fields" "$ev" ".ptrace.request==\"process_vm_readv\" and .ptrace.target_pid==$child and .ptrace.result==8 and .ptrace.local_iovcnt==1 and .ptrace.remote_iovcnt==1"
n=$(pev "$HP" "select(.kind==\"process.ptrace\" and .proc.pid==$HP)" | wc -l)
expect_eq "ptrace: detach and waits are not reported (3 events)" "$n" 3

# --- PTRACE_SEIZE, PTRACE_POKEDATA, process_vm_writev on a child; PTRACE_TRACEME
run "$H" ptrace2
child=$(val child)
ev=$(pwait "$HP" "select(.kind==\"process.ptrace\" and .proc.pid==$HP and .ptrace.request==\"PTRACE_SEIZE\")") || not_ok "ptrace seize seen" "pid $HP"
ej "ptrace seize fields" "$ev" ".ptrace.syscall==\"ptrace\" and .ptrace.target_pid==$child and (.ptrace.target_exe|endswith(\"/priv_actions\")) and .ptrace.result==$(val seize) and .ptrace.result==0"
ev=$(pwait "$HP" "select(.kind==\"process.ptrace\" and .proc.pid==$HP and .ptrace.request==\"PTRACE_POKEDATA\")") || not_ok "ptrace pokedata seen" "pid $HP"
ej "ptrace pokedata fields" "$ev" ".ptrace.target_pid==$child and .ptrace.addr==$(val addr) and (.ptrace.target_exe|endswith(\"/priv_actions\")) and .ptrace.result==$(val poke) and .ptrace.result==0"
ev=$(pwait "$HP" "select(.kind==\"process.ptrace\" and .proc.pid==$HP and .ptrace.syscall==\"process_vm_writev\")") || not_ok "process_vm_writev seen" "pid $HP"
ej "process_vm_writev fields" "$ev" ".ptrace.request==\"process_vm_writev\" and .ptrace.target_pid==$child and .ptrace.result==8 and .ptrace.result==$(val vm_writev) and .ptrace.local_iovcnt==1 and .ptrace.remote_iovcnt==1"
tc=$(val traceme_child)
ev=$(pwait "$tc" "select(.kind==\"process.ptrace\" and .proc.pid==$tc and .ptrace.request==\"PTRACE_TRACEME\")") || not_ok "ptrace traceme seen" "pid $tc"
ej "ptrace traceme: the tracer is the parent" "$ev" ".ptrace.target_pid==$HP and .proc.ppid==$HP and .ptrace.target_comm==\"priv_actions\" and (.ptrace.target_exe|endswith(\"/priv_actions\")) and .ptrace.result==0 and .ptrace.result==$(val traceme)"

# /proc/PID/mem opens stay watched when files.watch replaces the default list
sleep 30 &
sp=$!
mp=$(sh -c 'echo $$; exec head -c 0 /proc/'"$sp"'/mem')
kill $sp; wait $sp 2>/dev/null
ev=$(pwait "$mp" "select(.kind==\"file.open\" and .proc.pid==$mp)") || not_ok "/proc/PID/mem open seen with files.watch set" "pid $mp"
ej "/proc/PID/mem rule kept over files.watch" "$ev" ".file.path==\"/proc/$sp/mem\" and .file.watch==\"/proc/*/mem\""

# --- process.memfd
run "$H" memfd "hw-memfd-$$"
ev=$(pwait "$HP" "select(.kind==\"process.memfd\" and .proc.pid==$HP)") || not_ok "memfd seen" "pid $HP"
ej "memfd fields" "$ev" ".memfd.name==\"hw-memfd-$$\" and .memfd.flags==3 and .memfd.flag_names==[\"MFD_CLOEXEC\",\"MFD_ALLOW_SEALING\"] and .memfd.result==3 and .memfd.fd==3"

# --- process.wx_memory: 5 mprotect RW->RWX and one RWX mmap; first at once, then counted
run "$H" wx 5
ev=$(pwait "$HP" "select(.kind==\"process.wx_memory\" and .proc.pid==$HP and .mem.syscall==\"mprotect\" and .mem.first)") || not_ok "wx first seen" "pid $HP"
ej "wx mprotect first fields" "$ev" '.mem.prot=="rwx" and .mem.prot_bits==7 and .mem.count==1 and .mem.len==4096 and .mem.addr>0'
ev=$(pwait "$HP" "select(.kind==\"process.wx_memory\" and .proc.pid==$HP and .mem.syscall==\"mmap\" and .mem.first)") || not_ok "wx mmap seen" "pid $HP"
ej "wx mmap first fields" "$ev" '.mem.prot=="rwx" and .mem.anonymous==true and .mem.len==8192'
pwait "$HP" "select(.kind==\"process.wx_memory\" and .proc.pid==$HP and .mem.syscall==\"mprotect\" and (.mem.first|not))" 15 >/dev/null || not_ok "wx summary seen" "pid $HP"
sum=$(psum "$HP" "select(.kind==\"process.wx_memory\" and .proc.pid==$HP and .mem.syscall==\"mprotect\" and (.mem.first|not))" 'map(.mem.count)|add' 5)
expect_eq "wx summaries count all 5 mprotect calls" "$sum" 5
n=$(pev "$HP" "select(.kind==\"process.wx_memory\" and .proc.pid==$HP and .mem.first)" | wc -l)
expect_eq "wx: one first record per syscall, not one per call" "$n" 2

# executable after being writable: mprotect RW -> RX
run "$H" wxrx
ev=$(pwait "$HP" "select(.kind==\"process.wx_memory\" and .proc.pid==$HP and .mem.first)") || not_ok "wx RW->RX seen" "pid $HP"
ej "wx RW->RX fields" "$ev" ".mem.syscall==\"mprotect\" and .mem.prot==\"r-x\" and .mem.prot_bits==5 and .mem.was_writable==true and .mem.anonymous==false and .mem.addr==$(val addr) and .mem.len==4096 and .mem.count==1 and (.mem|has(\"mmap_flags\")|not)"

# --- process.rename: prctl and /proc/self/comm
run "$H" rename hwname1 hwname2
ev=$(pwait "$HP" "select(.kind==\"process.rename\" and .proc.pid==$HP and .rename.via==\"prctl\")") || not_ok "rename prctl seen" "pid $HP"
ej "rename prctl old/new" "$ev" ".rename.old==\"priv_actions\" and .rename.new==\"hwname1\" and .rename.tid==$HP"
ev=$(pwait "$HP" "select(.kind==\"process.rename\" and .proc.pid==$HP and .rename.via==\"procfs\")") || not_ok "rename procfs seen" "pid $HP"
ej "rename /proc/self/comm old/new" "$ev" '.rename.old=="hwname1" and .rename.new=="hwname2" and .proc.comm=="hwname1"'
n=$(pev "$HP" "select(.kind==\"process.rename\" and .proc.pid==$HP)" | wc -l)
expect_eq "rename: exec's own naming not reported (2 events)" "$n" 2

# --- process.namespace: unshare, refused setns, clone with CLONE_NEWNET
run "$H" ns
ev=$(pwait "$HP" "select(.kind==\"process.namespace\" and .proc.pid==$HP and .ns.syscall==\"unshare\")") || not_ok "unshare seen" "pid $HP"
ej "unshare fields" "$ev" '.ns.types==["uts","ipc"] and .ns.changed==["uts","ipc"] and .ns.result==0 and .ns.flags==201326592'
ev=$(pwait "$HP" "select(.kind==\"process.namespace\" and .proc.pid==$HP and .ns.syscall==\"setns\")") || not_ok "setns seen" "pid $HP"
ej "refused setns" "$ev" '.ns.types==["net"] and .ns.changed==[] and .ns.result==-9 and .ns.error=="EBADF" and .ns.fd==9999'
ev=$(pwait "$HP" "select(.kind==\"process.namespace\" and .proc.pid==$HP and .ns.syscall==\"clone\")") || not_ok "clone NEWNET seen" "pid $HP"
ej "clone with CLONE_NEWNET" "$ev" ".ns.changed==[\"net\"] and .ns.types==[\"net\"] and .ns.child_pid==$(val clone) and .ns.result==$(val clone)"

# a successful setns into a child's new UTS namespace
run "$H" setns
ev=$(pwait "$HP" "select(.kind==\"process.namespace\" and .proc.pid==$HP and .ns.syscall==\"setns\")") || not_ok "setns seen" "pid $HP"
ej "successful setns fields" "$ev" ".ns.types==[\"uts\"] and .ns.changed==[\"uts\"] and .ns.fd==$(val fd) and .ns.result==0 and .ns.result==$(val setns)"
# clone3 as root: the flags come from struct clone_args
run "$H" nsclone both
ev=$(pwait "$HP" "select(.kind==\"process.namespace\" and .proc.pid==$HP and .ns.syscall==\"clone3\")") || not_ok "clone3 NEWUTS seen" "pid $HP"
ej "clone3 with CLONE_NEWUTS: flags read from clone_args" "$ev" ".ns.flags==67108864 and .ns.types==[\"uts\"] and .ns.changed==[\"uts\"] and .ns.child_pid==$(val clone3) and .ns.result==$(val clone3)"
ev=$(pwait "$HP" "select(.kind==\"process.namespace\" and .proc.pid==$HP and .ns.syscall==\"clone\")") || not_ok "clone NEWIPC seen" "pid $HP"
ej "clone with CLONE_NEWIPC" "$ev" ".ns.flags==(134217728+17) and .ns.types==[\"ipc\"] and .ns.changed==[\"ipc\"] and .ns.child_pid==$(val clone)"
ev=$(pwait "$HP" "select(.kind==\"process.capability\" and .proc.pid==$HP and .cap.name==\"CAP_SYS_ADMIN\" and .cap.first)") || not_ok "allowed namespace capability check seen" "pid $HP"
ej "namespace clones as root: CAP_SYS_ADMIN per process, allowed" "$ev" '.cap.cap==21 and .cap.allowed==true and .cap.denied==0 and .proc.uid==0 and (.cap|has("aggregate")|not)'

# --- system.mount: bind mount in a private mount namespace, umount, refused mount and chroot
mkdir -p "$T/src" "$T/dst"
run "$H" mount "$T/src" "$T/dst"
ev=$(pwait "$HP" "select(.kind==\"system.mount\" and .proc.pid==$HP and .mount.bind==true)") || not_ok "bind mount seen" "pid $HP"
ej "bind mount fields" "$ev" ".mount.syscall==\"mount\" and .mount.source==\"$T/src\" and .mount.target==\"$T/dst\" and .mount.fstype==null and .mount.flags==4096 and .mount.result==0"
ev=$(pwait "$HP" "select(.kind==\"system.mount\" and .proc.pid==$HP and .mount.syscall==\"umount2\")") || not_ok "umount seen" "pid $HP"
ej "umount fields" "$ev" ".mount.target==\"$T/dst\" and .mount.result==0"
ev=$(pwait "$HP" "select(.kind==\"system.mount\" and .proc.pid==$HP and .mount.source==\"hwnone\")") || not_ok "refused mount seen" "pid $HP"
ej "refused tmpfs mount" "$ev" '.mount.fstype=="tmpfs" and .mount.target=="/nonexistent-hwtest" and .mount.result==-2 and .mount.error=="ENOENT"'
ev=$(pwait "$HP" "select(.kind==\"system.mount\" and .proc.pid==$HP and .mount.syscall==\"chroot\")") || not_ok "chroot seen" "pid $HP"
ej "refused chroot" "$ev" '.mount.target=="/nonexistent-hwtest" and .mount.result==-2'
ev=$(pwait "$HP" "select(.kind==\"system.mount\" and .proc.pid==$HP and .mount.syscall==\"fsmount\")") || not_ok "fsmount seen" "pid $HP"
ej "fsmount fields" "$ev" ".mount.result==$(val fsmount) and .mount.result>=0 and (.mount.fs_fd|type)==\"number\" and .mount.flags==0"
ev=$(pwait "$HP" "select(.kind==\"system.mount\" and .proc.pid==$HP and .mount.syscall==\"move_mount\")") || not_ok "move_mount seen" "pid $HP"
ej "move_mount fields (empty from-path)" "$ev" ".mount.source==null and .mount.target==\"$T/dst\" and .mount.flags==4 and .mount.result==$(val move_mount)"
ev=$(pwait "$HP" "select(.kind==\"process.namespace\" and .proc.pid==$HP and .ns.syscall==\"unshare\")")
ej "the private mount namespace itself" "$ev" '.ns.changed==["mnt"] and .ns.result==0'

# pivot_root in a private mount namespace
mkdir -p "$T/newroot"
run "$H" pivot "$T/newroot"
ev=$(pwait "$HP" "select(.kind==\"system.mount\" and .proc.pid==$HP and .mount.syscall==\"pivot_root\")") || not_ok "pivot_root seen" "pid $HP"
# (the kernel refuses pivot_root when / is the initramfs itself, as in the kernel matrix's VMs:
# there the call fails with EINVAL, and the event must say so)
want=0
[ "$(findmnt -n -o FSTYPE /)" = rootfs ] && want=-22
ej "pivot_root fields" "$ev" ".mount.target==\"$T/newroot\" and .mount.source==\"$T/newroot/old\" and .mount.fstype==null and .mount.flags==0 and .mount.result==$(val pivot_root) and .mount.result==$want"

# --- kernel.module_load: finit_module of a file that is not a module
echo "not a module" >"$T/notmod.ko"
run "$H" module "$T/notmod.ko"
ev=$(pwait "$HP" "select(.kind==\"kernel.module_load\" and .proc.pid==$HP and .module.syscall==\"finit_module\")") || not_ok "finit_module seen" "pid $HP"
ej "finit_module fields" "$ev" ".module.path==\"$T/notmod.ko\" and .module.params==\"hwparam=1\" and .module.fd==3 and .module.result<0 and (.module.error|type)==\"string\""
expect_eq "finit_module result is what the caller got" "$(jq .module.result <<<"$ev")" "$(val finit)"
ev=$(pwait "$HP" "select(.kind==\"kernel.module_load\" and .proc.pid==$HP and .module.syscall==\"delete_module\")") || not_ok "delete_module seen" "pid $HP"
ej "delete_module fields" "$ev" ".module.name==\"hwtest_nomod\" and .module.result==$(val delete)"

# --- kernel.bpf: a program load by another process, and a refused one
# (and a raw tracepoint open, a cgroup link created and detached: the program is resolved)
cg2=$(awk '$3=="cgroup2"{print $2; exit}' /proc/mounts)
CG="$cg2/hwtest_priv_$$"
mkdir "$CG" 2>/dev/null || CG=$cg2
run "$H" bpf "$CG"
[ "$CG" != "$cg2" ] && rmdir "$CG"
ev=$(pwait "$HP" "select(.kind==\"kernel.bpf\" and .proc.pid==$HP and .bpf.prog_name==\"hwtest_prog\")") || not_ok "bpf load seen" "pid $HP"
ej "bpf load fields" "$ev" ".bpf.cmd==\"BPF_PROG_LOAD\" and .bpf.prog_type==\"BPF_PROG_TYPE_SOCKET_FILTER\" and .bpf.insn_cnt==2 and .bpf.result==$(val load) and (.bpf|has(\"attach_type\")|not)"
ev=$(pwait "$HP" "select(.kind==\"kernel.bpf\" and .proc.pid==$HP and .bpf.cmd==\"BPF_RAW_TRACEPOINT_OPEN\")") || not_ok "raw tracepoint open seen" "pid $HP"
ej "raw tracepoint open: tracepoint name and program" "$ev" ".bpf.tracepoint==\"task_rename\" and .bpf.prog_type==\"BPF_PROG_TYPE_RAW_TRACEPOINT\" and .bpf.prog_name==\"hwtest_rawtp\" and (.bpf|has(\"attach_type\") or has(\"target\")|not) and .bpf.result==$(val rawtp_open) and .bpf.result>=0"
ev=$(pwait "$HP" "select(.kind==\"kernel.bpf\" and .proc.pid==$HP and .bpf.cmd==\"BPF_LINK_CREATE\")") || not_ok "link create seen" "pid $HP"
ej "link create: program, attach type and target" "$ev" ".bpf.prog_type==\"BPF_PROG_TYPE_CGROUP_SKB\" and .bpf.prog_name==\"hwtest_skb\" and .bpf.attach_type==\"cgroup_inet_ingress\" and .bpf.target==$(val cgfd) and .bpf.result==$(val link_create) and .bpf.result>=0"
ev=$(pwait "$HP" "select(.kind==\"kernel.bpf\" and .proc.pid==$HP and .bpf.cmd==\"BPF_LINK_DETACH\")") || not_ok "link detach seen" "pid $HP"
ej "link detach: the link's program, no attach type" "$ev" ".bpf.prog_type==\"BPF_PROG_TYPE_CGROUP_SKB\" and .bpf.prog_name==\"hwtest_skb\" and .bpf.target==$(val link_create) and (.bpf|has(\"attach_type\")|not) and .bpf.result==$(val link_detach) and .bpf.result==0"
ev=$(pwait "$HP" "select(.kind==\"kernel.bpf\" and .proc.pid==$HP and .bpf.prog_name==\"hwtest_bad\")") || not_ok "refused bpf load seen" "pid $HP"
ej "refused bpf load" "$ev" '.bpf.result==-7 and .bpf.error=="E2BIG" and .bpf.insn_cnt==0'
# the agent's own bpf() calls: make it detach and attach a probe again (new links), then check
# that it did call bpf() (a link id it did not hold before) and that none was reported
links() { grep -h '^link_id:' /proc/"$APID"/fdinfo/* 2>/dev/null | awk '{print $2}' | sort -u; }
before=$(links)
"$AGENT" ctl --socket "$T/ctl.sock" disable process.rename >/dev/null
"$AGENT" ctl --socket "$T/ctl.sock" enable process.rename >/dev/null
newlinks=$(comm -13 <(echo "$before") <(links) | wc -l)
expect "the agent re-attached a probe (its bpf() calls made new links)" test "$newlinks" -gt 0
run "$H" memfd "hw-after-reattach-$$"
pwait "$HP" "select(.kind==\"process.memfd\" and .proc.pid==$HP)" >/dev/null || not_ok "event after the re-attach seen" "pid $HP"
n=$(pev "$APID" "select(.kind==\"kernel.bpf\" and .proc.pid==$APID)" | wc -l)
expect_eq "the agent's own bpf() calls are not reported" "$n" 0

# --- kernel.bpf: perf_event_open of a uprobe by another process
utype=$(cat /sys/bus/event_source/devices/uprobe/type)
run "$H" uprobe "$utype" /usr/bin/true 0x1000
ev=$(pwait "$HP" "select(.kind==\"kernel.bpf\" and .proc.pid==$HP and .bpf.cmd==\"PERF_EVENT_OPEN\")") || not_ok "uprobe perf_event_open seen" "pid $HP"
ej "uprobe perf_event_open fields" "$ev" ".bpf.probe==\"uprobe\" and .bpf.path==\"/usr/bin/true\" and .bpf.offset==4096 and .bpf.retprobe==false and .bpf.target_pid==-1 and .bpf.result==$(val uprobe)"

# --- process.exec: a privilege gained through file capabilities alone (no id change)
cp /usr/bin/true "$T/capped" && chmod 755 "$T" "$T/capped" && setcap cap_net_raw+ep "$T/capped"
setpriv --reuid=65534 --regid=65534 --clear-groups "$T/capped" &
cpid=$!
wait $cpid
ev=$(pwait "$cpid" "select(.kind==\"process.exec\" and .proc.pid==$cpid and .proc.exe==\"$T/capped\")") || not_ok "file-capability exec seen" "pid $cpid"
ej "exec.setuid true for file capabilities (AT_SECURE), ids unchanged" "$ev" '.exec.setuid==true and .proc.uid==65534 and .proc.euid==65534 and .exec.old_euid==65534'
# a setuid-root binary run by nobody: old and new euid
cp /usr/bin/id "$T/suid-id" && chown root:root "$T/suid-id" && chmod 4755 "$T/suid-id"
setpriv --reuid=65534 --regid=65534 --clear-groups "$T/suid-id" >/dev/null &
spid=$!
wait $spid
ev=$(pwait "$spid" "select(.kind==\"process.exec\" and .proc.pid==$spid and .proc.exe==\"$T/suid-id\")") || not_ok "setuid exec seen" "pid $spid"
ej "exec.setuid with old_euid 65534 and new euid 0" "$ev" '.exec.setuid==true and .exec.old_euid==65534 and .exec.euid==0 and .proc.uid==65534'
ev=$(pwait "$HP" "select(.kind==\"process.exec\" and .proc.pid==$HP)")
ej "an ordinary exec: old_euid equals euid, not setuid" "$ev" '.exec.setuid==false and .exec.old_euid==0 and .exec.euid==0'

# --- agent.tamper: a signal to the agent, and a handle on one of its links
kill -USR1 "$APID"
ev=$(pwait "$$" "select(.kind==\"agent.tamper\" and .tamper.signal==\"SIGUSR1\" and .proc.pid==$$)") || not_ok "tamper signal seen" "sender $$"
# the event was written after the signal: an agent that died of it could not have
expect "agent survives SIGUSR1" kill -0 "$APID"
ej "tamper signal fields" "$ev" ".tamper.action==\"signal\" and .tamper.signo==10 and .tamper.target_pid==$APID and .tamper.result==\"ignored\""
# a link id held by the agent, from its descriptors (fdinfo of a bpf_link fd has link_id)
lid=$(grep -h '^link_id:' /proc/"$APID"/fdinfo/* 2>/dev/null | head -n 1 | awk '{print $2}')
if [ -n "$lid" ]; then
	run "$H" linkfd "$lid"
	ev=$(pwait "$HP" "select(.kind==\"agent.tamper\" and .proc.pid==$HP)") || not_ok "tamper link handle seen" "pid $HP"
	ej "tamper link handle fields" "$ev" ".tamper.action==\"bpf_get_fd\" and .tamper.cmd==\"BPF_LINK_GET_FD_BY_ID\" and .tamper.object==\"link\" and .tamper.id==$lid and .tamper.target_pid==$APID"
	# a detach attempt (tracepoint links refuse LINK_DETACH; the attempt is what counts)
	run "$H" linkdetach "$lid"
	ev=$(pwait "$HP" "select(.kind==\"agent.tamper\" and .proc.pid==$HP and .tamper.action==\"bpf_detach\")") || not_ok "tamper detach seen" "pid $HP"
	ej "tamper detach fields" "$ev" ".tamper.cmd==\"BPF_LINK_DETACH\" and .tamper.object==\"link\" and .tamper.id==$lid and .tamper.target_pid==$APID"
else
	not_ok "agent link id found" "no link_id in /proc/$APID/fdinfo"
fi

# a handle on one of the agent's maps (ids from its descriptors: fdinfo of a map fd has map_id)
mid=$(grep -h '^map_id:' /proc/"$APID"/fdinfo/* 2>/dev/null | head -n 1 | awk '{print $2}')
if [ -n "$mid" ]; then
	run "$H" mapfd "$mid"
	ev=$(pwait "$HP" "select(.kind==\"agent.tamper\" and .proc.pid==$HP)") || not_ok "tamper map handle seen" "pid $HP"
	ej "tamper map handle fields" "$ev" ".tamper.action==\"bpf_get_fd\" and .tamper.cmd==\"BPF_MAP_GET_FD_BY_ID\" and .tamper.object==\"map\" and .tamper.id==$mid and .tamper.target_pid==$APID"
else
	not_ok "agent map id found" "no map_id in /proc/$APID/fdinfo"
fi
# ptrace and process_vm_readv aimed at the agent (allowed or refused: reported either way)
run "$H" ptraceagent "$APID"
ev=$(pwait "$HP" "select(.kind==\"agent.tamper\" and .proc.pid==$HP and .tamper.action==\"ptrace\")") || not_ok "tamper ptrace seen" "pid $HP"
ej "tamper ptrace fields" "$ev" ".tamper.request==\"PTRACE_ATTACH\" and .tamper.syscall==\"ptrace\" and .tamper.target_pid==$APID and .tamper.result==$(val attach)"
ev=$(pwait "$HP" "select(.kind==\"agent.tamper\" and .proc.pid==$HP and .tamper.action==\"process_vm\")") || not_ok "tamper process_vm_readv seen" "pid $HP"
ej "tamper process_vm_readv fields" "$ev" ".tamper.request==\"process_vm_readv\" and .tamper.target_pid==$APID and .tamper.result==$(val vm_readv) and .tamper.result<0 and .tamper.error==\"EFAULT\""
expect "agent survives a ptrace attach" kill -0 "$APID"
# a signal from an ignored executable (filters.ignore_exe): tamper is never filtered
run "$T/ignored_actions" signal "$APID" 1500
ev=$(pwait "$HP" "select(.kind==\"agent.tamper\" and .proc.pid==$HP)") || not_ok "tamper signal from an ignored exe seen" "pid $HP"
ej "tamper signal from an ignored exe" "$ev" ".tamper.action==\"signal\" and .tamper.signal==\"SIGUSR2\" and .tamper.signo==12 and .tamper.target_pid==$APID and .tamper.result==\"ignored\" and (.proc.exe|endswith(\"/ignored_actions\"))"
n=$(pev "$HP" "select(.kind!=\"agent.tamper\" and .kind!=\"process.exit\")" | wc -l)
expect_eq "the ignored exe's other events stay filtered" "$n" 0

# --- configuration: the summary window is checked like every other key
printf 'privilege:\n  summary_interval: 0\n' >"$T/bad.yaml"
msg=$("$AGENT" -c "$T/bad.yaml" --probe 2>&1 >/dev/null)
expect_eq "privilege.summary_interval out of range is refused" "$?" 1
case "$msg" in *"bad.yaml:2:"*"summary_interval"*) ok "config error names file, line and key" ;; *) not_ok "config error names file, line and key" "$msg" ;; esac
printf 'privilege:\n  window: 5\n' >"$T/bad2.yaml"
msg=$("$AGENT" -c "$T/bad2.yaml" --probe 2>&1 >/dev/null)
case "$msg" in *"bad2.yaml:2:"*"unknown key 'privilege.window'"*) ok "unknown privilege key refused" ;; *) not_ok "unknown privilege key refused" "$msg" ;; esac

# --- coverage manifest
hb=$(tail -n1 "$EV")
agent_stop
expect_eq "agent exits 0" "$?" 0
hb=$(jq -c 'select(.kind=="agent.heartbeat")' "$EV" | tail -1)
ej "priv probes attached" "$hb" '[.agent.probes["process.cred_change","process.capability","process.ptrace","process.memfd","process.wx_memory","process.rename","process.namespace","kernel.bpf","system.mount","agent.tamper","kernel.module_load_raw"].state]|all(.=="attached")'
# the cap_capable tracepoint came with 6.14; before it, cap_capable's fexit (where offered)
if [ -d /sys/kernel/tracing/events/capability/cap_capable ] || [ -d /sys/kernel/debug/tracing/events/capability/cap_capable ]; then
	ej "capability uses tp_btf" "$hb" '.agent.probes["process.capability"].hook=="tp_btf"'
else
	ej "capability uses fexit without the tracepoint" "$hb" '.agent.probes["process.capability"].hook=="fentry"'
fi
# the module syscalls, on their kernel functions where the kernel has BPF trampolines, on their
# tracepoints otherwise
if [ "$(jq -r .agent.hooks.fentry <<<"$hb")" = true ] && [ -e /proc/modules ]; then
	ej "module syscalls on fentry: kernel.module_load attached, no syscall tracepoint" "$hb" '.agent.probes["kernel.module_load"] as $m | $m.state=="attached" and $m.hook=="fentry" and $m.syscall_tracepoints==0'
elif [ -d /sys/kernel/tracing/events/syscalls/sys_enter_finit_module ] || [ -d /sys/kernel/debug/tracing/events/syscalls/sys_enter_finit_module ]; then
	ej "module syscall tracepoints exist: kernel.module_load attached" "$hb" '.agent.probes["kernel.module_load"] as $m | $m.state=="attached" and $m.hook=="tracepoint"'
else
	ej "no module syscall tracepoints: kernel.module_load unavailable with a reason" "$hb" '.agent.probes["kernel.module_load"] as $m | $m.state=="unavailable" and ($m.reason|test("init_module"))'
fi
expect "seq contiguous from 1" seq_contiguous
expect "every line is valid JSON" jq -e . "$EV"
