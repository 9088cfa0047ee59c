#!/usr/bin/env bash
# file.open in watch mode (files.mode auto on a kernel without BPF-LSM, as here; watch elsewhere):
# fanotify marks on the watched files only. The manifest names the hook; reads and writes of
# watched files are reported with the process, the path, the rule and fanotify's events, once
# per open at its close (a file held open is reported when it is closed); a new
# file of a watched name, a watched file replaced by rename, a container's own /etc/shadow and a
# rule added by reload are covered; file.chown comes from the same marks (FAN_ATTRIB); unwatched opens produce nothing; the faults (queue
# overflow, max_user_marks) are named, announced as agent.loss and fall back to exact mode,
# which `ctl enable file.exact` also turns on.
. "$(dirname "$0")/../lib.sh"
need_root

W="$T/w"   # watched subtree
N="$T/n"   # not watched
mkdir -p "$W/many" "$N" "$T/e" "$T/late" "$T/cetc" "$T/ro"
chmod 755 "$T"
echo s >"$T/e/secret"
echo u >"$N/plain"
echo l >"$T/late/f"
echo r >"$T/ro/data"
for i in $(seq 1 200); do echo "$i" >"$W/many/f$i"; done
echo 'croot:*:1::::::' >"$T/cetc/shadow"
# auto is watch here (no BPF-LSM); named, so that the test means the same on every kernel
mode=watch
cat >"$T/agent.yaml" <<EOF2
files:
  mode: $mode
  add:
    - $W/
    - $T/e/secret
    - path: $T/newname
      ops: [write]
    - path: $T/ro/
      ops: [read]
EOF2
q_old=$(cat /proc/sys/fs/fanotify/max_queued_events)
m_old=$(cat /proc/sys/fs/fanotify/max_user_marks)
restore_limits() {
	echo "$q_old" >/proc/sys/fs/fanotify/max_queued_events
	echo "$m_old" >/proc/sys/fs/fanotify/max_user_marks
}
trap 'restore_limits; hw_cleanup' EXIT
agent_start "$T/agent.yaml" || { not_ok "agent starts" "$(cat "$T/agent.err")"; exit 1; }

# 1. the manifest: file.open on fanotify, no syscall tracepoint for it
hb=$(last_heartbeat)
expect_jq "manifest: file.open hook fanotify" "$hb" '.agent.probes["file.open"].state=="attached" and .agent.probes["file.open"].hook=="fanotify" and (.agent.probes["file.open"].syscall_tracepoints // 0)==0 and .agent.file_watch.active=="fanotify" and .agent.file_watch.marks>0 and .agent.file_watch.dir_marks>0'

# 2. a default rule: /etc/shadow read; the process from /proc or the process table
run_pid cat /etc/shadow
ev=$(fev "shadow read" "select(.kind==\"file.open\" and .proc.pid==$P)")
expect_jq "shadow read: path, op, rule, source" "$ev" '.file.path=="/etc/shadow" and .file.op=="read" and .file.watch=="/etc/shadow" and .file.source=="fanotify" and .file.syscall==null and .file.result==0 and .file.resolved==true and (.file.events|index("close_nowrite"))!=null'
expect_jq "shadow read: the process blamed" "$ev" '.proc.comm=="cat" and .proc.exe=="/usr/bin/cat" and .proc.uid==0 and .proc.args==["cat","/etc/shadow"] and (.proc.key|test("-[0-9]+-[0-9]+$"))'
run_pid setpriv --reuid=65534 --regid=65534 --clear-groups cat "$T/e/secret"
ev=$(fev "read by nobody" "select(.kind==\"file.open\" and .proc.pid==$P)")
expect_jq "read by nobody: uid from the process" "$ev" ".file.path==\"$T/e/secret\" and .proc.uid==65534 and .proc.euid==65534 and .file.watch==\"$T/e/secret\""

# 3. a write in a watched subtree: op write, modify and close_write
run_pid bash -c "echo more >> $W/many/f1"
ev=$(fev "append" "select(.kind==\"file.open\" and .proc.pid==$P and .file.op==\"write\")")
expect_jq "append in a watched directory: write" "$ev" ".file.path==\"$W/many/f1\" and .file.watch==\"$W/\" and (.file.events|index(\"close_write\"))!=null"

# 3b. one event per open, at its close: nothing while a reader holds the file open, then one
# event with close_nowrite only (no access event for its read); an O_RDWR open under a read-only
# rule ends in a write close and is reported as a read (as exact mode does)
bash -c "exec 3<$T/ro/data; read -r _ <&3; touch $T/held; while [ ! -e $T/release ]; do sleep 0.02; done; exec 3<&-; exec sleep 30" &
HP=$!
for _ in $(seq 1 $((100 * HW_TIME_SCALE))); do [ -e "$T/held" ] && break; sleep 0.02; done
run_pid cat /etc/shadow # a sentinel read after the held file's open and read
fev "sentinel while a file is held" "select(.kind==\"file.open\" and .proc.pid==$P)" >/dev/null
expect_eq "held open and read: no event before the close" \
	"$(events "select(.kind==\"file.open\" and .proc.pid==$HP)" | wc -l)" 0
touch "$T/release"
ev=$(fev "held file closed" "select(.kind==\"file.open\" and .proc.pid==$HP)")
expect_jq "held file: reported at the close, one event kind" "$ev" ".file.path==\"$T/ro/data\" and .file.op==\"read\" and .file.events==[\"close_nowrite\"]"
kill "$HP" 2>/dev/null
wait "$HP" 2>/dev/null
run_pid bash -c "exec 3<>$T/ro/data; head -c1 <&3 >/dev/null; exec 3<&-"
ev=$(fev "O_RDWR under a read rule" "select(.kind==\"file.open\" and .proc.pid==$P)")
expect_jq "O_RDWR under a read-only rule: a read, close_write" "$ev" ".file.path==\"$T/ro/data\" and .file.op==\"read\" and .file.watch==\"$T/ro/\" and (.file.events|index(\"close_write\"))!=null"

# 4. a new file of a watched name (the rule names a prefix of its directory): reported created
run_pid bash -c "echo x > $T/newname-1"
ev=$(fev "create of a watched name" "select(.kind==\"file.open\" and .proc.pid==$P)")
expect_jq "create of a watched name: write, created" "$ev" ".file.path==\"$T/newname-1\" and .file.watch==\"$T/newname\" and .file.op==\"write\" and .file.created==true and (.file.events|index(\"create\"))!=null"

# 5. a watched file replaced by rename (as passwd(1) replaces /etc/shadow): the new inode watched
ino_before=$(stat -c %i "$T/e/secret")
echo new >"$N/secret.tmp"
mv "$N/secret.tmp" "$T/e/secret"
ino_after=$(stat -c %i "$T/e/secret")
[ "$ino_before" != "$ino_after" ] && ok "rename: another inode" || not_ok "rename: another inode" "$ino_before"
ev=
for _ in $(seq 1 20); do
	run_pid cat "$T/e/secret"
	ev=$(wait_event "select(.kind==\"file.open\" and .proc.pid==$P)" 1) && break
done
expect_jq "replaced by rename: still watched" "${ev:-}" ".file.path==\"$T/e/secret\" and .file.op==\"read\" and .file.watch==\"$T/e/secret\""

# 6. unwatched opens produce nothing (a watched read after them is the sentinel)
for _ in $(seq 1 20); do cat "$N/plain" /etc/hostname /etc/passwd >/dev/null; done
bash -c "echo y >> $N/plain"
run_pid cat /etc/shadow
fev "sentinel after unwatched opens" "select(.kind==\"file.open\" and .proc.pid==$P)" >/dev/null
expect_eq "unwatched opens and reads under a write-only rule: no event" \
	"$(events "select((.kind|startswith(\"file.\")) and (.file.path==\"$N/plain\" or .file.path==\"/etc/hostname\" or .file.path==\"/etc/passwd\"))" | wc -l)" 0

# 6b. file.chown through fanotify (FAN_ATTRIB on the places whose rules watch chown): the
# process, the new owner and the old one; a chgrp has uid null; a chmod or touch of a watched
# file and a chown of an unwatched one make no file.chown; a file created in a watched
# directory and a watched file replaced by rename (section 5) have their owner known
expect_jq "manifest: file.chown hook fanotify, no syscall tracepoint" "$(last_heartbeat)" '.agent.probes["file.chown"].state=="attached" and .agent.probes["file.chown"].hook=="fanotify" and (.agent.probes["file.chown"].syscall_tracepoints // 0)==0 and .agent.file_watch.attrib_marks>0 and .agent.file_watch.owners>=200'
run_pid chown 65534:65534 "$W/many/f2"
ev=$(fev "chown in a watched directory" "select(.kind==\"file.chown\" and .proc.pid==$P)")
expect_jq "chown: path, rule, new and old owner, source" "$ev" ".file.path==\"$W/many/f2\" and .file.watch==\"$W/\" and .file.op==\"chown\" and .file.uid==65534 and .file.gid==65534 and .file.prev_uid==0 and .file.prev_gid==0 and .file.source==\"fanotify\" and .file.events==[\"attrib\"] and .file.syscall==null and .proc.comm==\"chown\""
run_pid chgrp 0 "$W/many/f2"
ev=$(fev "chgrp" "select(.kind==\"file.chown\" and .proc.pid==$P)")
expect_jq "chgrp: uid unchanged is null" "$ev" ".file.uid==null and .file.gid==0 and .file.prev_gid==65534"
run_pid chmod 600 "$W/many/f3"
CP=$P
touch "$W/many/f3" "$N/plain"
chown 65534 "$N/plain"
echo n >"$W/many/newfile"
sleep 0.5 # the walk after the create notes its owner (at most 100 ms later)
run_pid chown 65534 "$W/many/newfile"
ev=$(fev "chown of a new file" "select(.kind==\"file.chown\" and .proc.pid==$P)")
expect_jq "chown of a file created in a watched directory" "$ev" ".file.path==\"$W/many/newfile\" and .file.uid==65534 and .file.prev_uid==0"
expect_eq "chmod, touch, unwatched chown: no file.chown" \
	"$(events "select(.kind==\"file.chown\" and (.proc.pid==$CP or .file.path==\"$W/many/f3\" or .file.path==\"$N/plain\"))" | wc -l)" 0
ev=$(events "select(.kind==\"file.chmod\" and .proc.pid==$CP)" | tail -n1)
expect_jq "chmod of a watched file: still file.chmod" "$ev" ".file.path==\"$W/many/f3\" and .file.mode==\"0600\""
run_pid chown 65534 "$T/e/secret"
ev=$(fev "chown of a replaced watched file" "select(.kind==\"file.chown\" and .proc.pid==$P)")
expect_jq "chown of a file replaced by rename: its rule" "$ev" ".file.path==\"$T/e/secret\" and .file.watch==\"$T/e/secret\" and .file.uid==65534"

# 7. reload adds a watch
run_pid cat "$T/late/f"
s=$(last_seq)
sed -i "s|^  add:|  add:\n    - $T/late/|" "$T/agent.yaml"
agent_reload && ok "reload applied" || not_ok "reload applied" "no agent.config applied"
run_pid cat "$T/late/f"
ev=$(fev "reload adds a watch" "select(.kind==\"file.open\" and .proc.pid==$P)")
expect_jq "reload adds a watch: the new rule" "$ev" ".file.path==\"$T/late/f\" and .file.watch==\"$T/late/\""

# 8. a container's root (another mount namespace, its own /etc): marked through /proc/PID/root
unshare -m bash -c "mount --bind $T/cetc /etc && touch $T/ns-ready && while [ ! -e $T/ns-go ]; do sleep 0.02; done; exec cat /etc/shadow" >/dev/null &
NSP=$!
for _ in $(seq 1 100); do [ -e "$T/ns-ready" ] && break; sleep 0.02; done
hostns=$(stat -Lc %i /proc/self/ns/mnt)
agent_reload # rescans the namespaces now (otherwise within 5 s)
touch "$T/ns-go"
wait $NSP
ev=$(fev "container shadow read" "select(.kind==\"file.open\" and .proc.pid==$NSP)")
expect_jq "container root: its /etc/shadow, ns_path" "$ev" ".file.path==\"/etc/shadow\" and .file.watch==\"/etc/shadow\" and .file.ns_path==true and .file.mnt_ns!=$hostns and .proc.comm==\"cat\""
expect_eq "container root: the host's shadow untouched" "$(grep -c '^croot:' /etc/shadow)" 0

# 9. exact mode on demand: failed opens and open flags only it sees
ctl enable file.exact --for 60 >/dev/null
hb=$(last_heartbeat)
expect_jq "ctl enable file.exact: syscall tracepoints" "$hb" '.agent.probes["file.open"].hook=="tracepoint" and .agent.file_watch.active=="exact" and .agent.probes["file.chown"].hook=="tracepoint"'
run_pid setpriv --reuid=65534 --regid=65534 --clear-groups chown 0 "$W/many/f1"
ev=$(fev "exact: refused chown" "select(.kind==\"file.chown\" and .proc.pid==$P)")
expect_jq "exact mode: a refused chown, EPERM" "$ev" ".file.result==-1 and .file.syscall==\"fchownat\" and .file.path==\"$W/many/f1\""
run_pid setpriv --reuid=65534 --regid=65534 --clear-groups cat /etc/shadow
ev=$(fev "exact: refused open" "select(.kind==\"file.open\" and .proc.pid==$P)")
expect_jq "exact mode: a refused open, EACCES, flags" "$ev" '.file.result==-13 and .file.syscall=="openat" and (.file.flags_names|index("O_RDONLY"))!=null'
ctl disable file.exact >/dev/null
expect_jq "ctl disable file.exact: fanotify again" "$(last_heartbeat)" '.agent.probes["file.open"].hook=="fanotify" and .agent.probes["file.chown"].hook=="fanotify"'

# 10. queue overflow: a fault, announced, exact mode until the next reload
echo 8 >/proc/sys/fs/fanotify/max_queued_events
agent_reload # the queue's bound is taken when the group is made
s=$(last_seq)
cat "$W"/many/f* >/dev/null
ev=$(fev "overflow loss" "select(.kind==\"agent.loss\" and .seq>$s and .loss.cause==\"fanotify_queue_overflow\")")
expect_jq "overflow: agent.loss names file.open" "$ev" '.loss.kind=="file.open" and .loss.count==null and (.loss.reason|test("queue overflow"))'
expect_jq "overflow: manifest reason, exact mode" "$(ctl status)" '.probes["file.open"].hook=="tracepoint" and (.probes["file.open"].reason|test("queue overflow"))'
run_pid cat /etc/shadow
ev=$(fev "after overflow" "select(.kind==\"file.open\" and .proc.pid==$P)")
expect_jq "after overflow: exact mode reports" "$ev" '.file.syscall=="openat" and .file.path=="/etc/shadow"'
restore_limits

# 11. max_user_marks reached: the same
echo 3 >/proc/sys/fs/fanotify/max_user_marks
s=$(last_seq)
agent_reload
ev=$(fev "marks limit loss" "select(.kind==\"agent.loss\" and .seq>$s and .loss.cause==\"fanotify_max_user_marks\")")
expect_jq "max_user_marks: agent.loss" "$ev" '.loss.kind=="file.open" and (.loss.reason|test("max_user_marks"))'
expect_jq "max_user_marks: manifest reason, exact mode" "$(hb_after "$s")" '.agent.probes["file.open"].hook=="tracepoint" and (.agent.probes["file.open"].reason|test("max_user_marks")) and (.agent.file_watch.fault|test("max_user_marks"))'
restore_limits
agent_reload
s=$(last_seq)
run_pid cat /etc/shadow
ev=$(fev "watch mode back after reload" "select(.kind==\"file.open\" and .proc.pid==$P)")
expect_jq "reload: watch mode back" "$ev" '.file.source=="fanotify"'

agent_stop || not_ok "agent exits cleanly" "rc $?"
seq_contiguous && ok "seq contiguous" || not_ok "seq contiguous" "gap"
exit 0
