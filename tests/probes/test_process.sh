#!/usr/bin/env bash
# process.exec / process.exit: every field of the contract, checked against processes this test
# starts itself (hostile argv, cwd, setuid binary, memfd and deleted-file exec, own cgroup, fresh
# cgroups and container ids, tty, auid, gids, long argv, exit codes, signals).
. "$(dirname "$0")/../lib.sh"
need_root

CG=$CG2/hwtest-proc-$$
mkdir -p "$T/work dir"
cp /usr/bin/id "$T/suid-id" && chown root:root "$T/suid-id" && chmod 4755 "$T/suid-id"
chmod 755 "$T"
printf 'exec_failed_enoent: true\n' >"$T/proc.yaml"
# processes older than the agent, each waiting on a fifo to act once the agent runs:
# a shell on a pty (tty from /proc), a shell that execs later (process key from /proc and from
# the kernel), a shell whose binary is deleted (exe from /proc without " (deleted)")
mkfifo "$T/f-tty" "$T/f-key" "$T/f-del"
SHELL=/bin/bash script -qfc "read x <$T/f-tty; /usr/bin/true hwttychild$$; exit 3" /dev/null >/dev/null 2>&1 &
spid_script=$!
bash -c "read x <$T/f-key; /usr/bin/true hwkeychild$$; exec /usr/bin/sleep 0.1" &
kpid_pre=$!
cp /bin/bash "$T/hwdelsh"
"$T/hwdelsh" -c "read x <$T/f-del; /usr/bin/true hwdelchild$$; exit 0" &
dpid_pre=$!
sleep 0.3
rm -f "$T/hwdelsh"
agent_start "$T/proc.yaml" || { not_ok "agent starts" "$(cat "$T/agent.err")"; exit 1; }

# 1. hostile argv, spaces, quotes, newline, tab, invalid UTF-8, valid UTF-8, in a known cwd
marker="hwmark$$"
(cd "$T/work dir" && exec /bin/echo "$marker" "a b" 'q"u\o' $'new\nline\ttab' $'bad\xff\xfeend' 'héllo' '' >/dev/null) &
epid=$!
wait $epid
ev=$(wait_event "select(.kind==\"process.exec\" and .proc.pid==$epid)") || not_ok "exec event seen" "no process.exec for pid $epid"
expect_eq "exec exe" "$(jq -r .proc.exe <<<"$ev")" "/usr/bin/echo"
expect_eq "exec cwd" "$(jq -r .proc.cwd <<<"$ev")" "$T/work dir"
expect_eq "exec argc" "$(jq '.proc.args|length' <<<"$ev")" 8
expect_eq "exec arg with space" "$(jq -r '.proc.args[2]' <<<"$ev")" "a b"
expect_eq "exec arg with quote and backslash" "$(jq -r '.proc.args[3]' <<<"$ev")" 'q"u\o'
expect_eq "exec arg with newline and tab" "$(jq -r '.proc.args[4]' <<<"$ev")" $'new\nline\ttab'
expect_eq "exec valid UTF-8 kept" "$(jq -r '.proc.args[6]' <<<"$ev")" 'héllo'
expect_eq "exec empty arg kept" "$(jq -r '.proc.args[7]' <<<"$ev")" ''
# invalid bytes are \u00XX escapes in the JSON text: recoverable byte for byte
raw=$(grep -F "\"$marker\"" "$EV" | grep '"process.exec"' | head -1)
case "$raw" in
*'"bad\u00ff\u00feend"'*) ok "exec invalid UTF-8 escaped per byte" ;;
*) not_ok "exec invalid UTF-8 escaped per byte" "raw line: ${raw:0:400}" ;;
esac
expect "every line is valid JSON" jq -e . "$EV"
expect_jq "exec ids" "$ev" '.proc.uid==0 and .proc.euid==0 and .proc.gid==0 and .proc.egid==0'
expect_jq "exec tid==pid, ppid is this shell" "$ev" ".proc.tid==$epid and .proc.ppid==$$"
expect_jq "exec comm" "$ev" '.proc.comm=="echo"'
expect_jq "exec parent is this test's bash" "$ev" ".parent.pid==$$ and (.parent.exe|test(\"bash\$\")) and (.parent.key|type)==\"string\""
expect_jq "exec ancestors nearest first" "$ev" '(.ancestors|length)>=1 and (.ancestors[0]|test("bash$"))'
expect_jq "exec key has pid" "$ev" "(.proc.key|test(\"-$epid-\"))"
expect_jq "exec host identity" "$ev" '(.host.id|length)>0 and (.host.boot_id|length)==36 and (.host.name|length)>0'
expect_jq "exec time is RFC 3339 UTC ns" "$ev" '.time|test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{9}Z$")'
expect_jq "exec not setuid, not fileless" "$ev" '.exec.setuid==false and .exec.fileless==false and .exec.result==0'
expect_jq "exec auid null or number" "$ev" '(.proc.auid==null) or (.proc.auid|type)=="number"'
expect_jq "exec paths complete, argv read" "$ev" '.exec.exe_truncated==false and .exec.cwd_truncated==false and .exec.args_read_failed==false'

# 1b. paths deeper than the kernel walk: marked, never absolute-looking
deep="$T"
for i in $(seq 1 60); do deep="$deep/d$i"; done
mkdir -p "$deep" && cp /bin/true "$deep/audtrue"
(cd "$deep" && exec ./audtrue hwdeep$$) &
dpid=$!
wait $dpid
ev=$(wait_event "select(.kind==\"process.exec\" and .proc.pid==$dpid)") || not_ok "deep exec seen" "pid $dpid"
expect_jq "deep exe marked truncated" "$ev" '(.proc.exe|startswith("…/")) and (.proc.exe|endswith("/d59/d60/audtrue")) and .exec.exe_truncated==true'
expect_jq "deep cwd marked truncated" "$ev" '(.proc.cwd|startswith("…/")) and (.proc.cwd|endswith("/d60")) and .exec.cwd_truncated==true'
expect_jq "deep paths never look absolute" "$ev" '(.proc.exe|startswith("/")|not) and (.proc.cwd|startswith("/")|not)'

# 2. exit code and duration
bash -c 'sleep 0.2; exit 7' &
xpid=$!
wait $xpid
ev=$(wait_event "select(.kind==\"process.exit\" and .proc.pid==$xpid)") || not_ok "exit event seen" "pid $xpid"
expect_jq "exit code 7" "$ev" '.exit.code==7 and .exit.signal==0'
expect_jq "exit duration >= 0.2 s" "$ev" '.exit.duration_ns >= 200000000 and .exit.duration_ns < 20000000000'
expect_jq "exit carries exe and args" "$ev" '(.proc.exe|test("bash$")) and .proc.args[1]=="-c"'

# 3. killed by a signal
sleep 30 &
kpid=$!
sleep 0.2
kill -KILL $kpid
wait $kpid 2>/dev/null
ev=$(wait_event "select(.kind==\"process.exit\" and .proc.pid==$kpid)") || not_ok "signal exit seen" "pid $kpid"
expect_jq "exit by SIGKILL" "$ev" '.exit.signal==9'

# 4. a setuid binary run by nobody gains euid 0
setpriv --reuid=65534 --regid=65534 --clear-groups "$T/suid-id" >/dev/null &
spid=$!
wait $spid
ev=$(wait_event "select(.kind==\"process.exec\" and .proc.pid==$spid and .proc.exe==\"$T/suid-id\")") || not_ok "setuid exec seen" "pid $spid"
expect_jq "setuid exec flagged" "$ev" '.exec.setuid==true and .proc.uid==65534 and .proc.euid==0 and .exec.old_euid==65534 and .exec.old_egid==65534'

# 4b. root dropping its euid before the exec gains nothing: no setuid flag
setpriv --euid=65534 /bin/echo hwdrop$$ >/dev/null &
ppid_drop=$!
wait $ppid_drop
ev=$(wait_event "select(.kind==\"process.exec\" and .proc.pid==$ppid_drop and .proc.args[1]==\"hwdrop$$\")") || not_ok "euid drop exec seen" "pid $ppid_drop"
expect_jq "dropped euid is not setuid" "$ev" '.exec.setuid==false and .proc.uid==0 and .proc.euid==65534 and .exec.old_euid==65534'

# 5. fileless exec from a memfd
"$HELPERS/memfd_exec" hwfileless /usr/bin/true &
mpid=$!
wait $mpid
ev=$(wait_event "select(.kind==\"process.exec\" and .proc.pid==$mpid and .exec.fileless==true)") || not_ok "memfd exec seen" "pid $mpid"
expect_jq "memfd exec is fileless" "$ev" '.exec.fileless==true and (.proc.exe|test("memfd:hwfileless"))'

# 6. a process in its own cgroup
mkdir -p "$CG"
(echo $BASHPID >"$CG/cgroup.procs" && exec /usr/bin/true) &
cpid=$!
wait $cpid
ev=$(wait_event "select(.kind==\"process.exec\" and .proc.pid==$cpid)") || not_ok "cgroup exec seen" "pid $cpid"
expect_jq "exec cgroup path" "$ev" ".proc.cgroup==\"/hwtest-proc-$$\""
rmdir "$CG" 2>/dev/null

# 7. a process older than the agent has a parent and ancestors (table seeded from /proc)
ev=$(wait_event "select(.kind==\"process.exec\" and .proc.pid==$epid)")
expect_jq "pre-existing parent known" "$ev" '.parent.exe!=null and .parent.args!=null'

# 7b. processes older than the agent: tty, process key and exe as their own events show them
echo go >"$T/f-tty"
ev=$(wait_event "select(.kind==\"process.exec\" and .proc.args[1]==\"hwttychild$$\")") || not_ok "pty child exec seen" "none"
shpid=$(jq .proc.ppid <<<"$ev")
ev=$(wait_event "select(.kind==\"process.exit\" and .proc.pid==$shpid)") || not_ok "pty shell exit seen" "pid $shpid"
expect_jq "tty of a process older than the agent (from /proc)" "$ev" '.exit.code==3 and (.proc.tty|test("^pts[0-9]+$"))'
wait $spid_script
echo go >"$T/f-key"
ev=$(wait_event "select(.kind==\"process.exec\" and .proc.args[1]==\"hwkeychild$$\")") || not_ok "key child exec seen" "none"
seeded_key=$(jq -r .parent.key <<<"$ev")
ev=$(wait_event "select(.kind==\"process.exec\" and .proc.pid==$kpid_pre and (.proc.exe|test(\"sleep\")))") || not_ok "pre-agent exec seen" "pid $kpid_pre"
expect_eq "process key from /proc equals the key from the kernel" "$(jq -r .proc.key <<<"$ev")" "$seeded_key"
ev=$(wait_event "select(.kind==\"process.exit\" and .proc.pid==$kpid_pre)") || not_ok "pre-agent exit seen" "pid $kpid_pre"
# lifetime since its start (boot clock, like /proc/PID/stat), within a minute
expect_jq "duration of a process older than the agent" "$ev" ".exit.duration_ns > 100000000 and .exit.duration_ns < 60000000000"
wait $kpid_pre
echo go >"$T/f-del"
ev=$(wait_event "select(.kind==\"process.exec\" and .proc.args[1]==\"hwdelchild$$\")") || not_ok "deleted-exe child seen" "none"
expect_jq "deleted exe from /proc without the suffix" "$ev" ".parent.exe==\"$T/hwdelsh\" and .ancestors[0]==\"$T/hwdelsh\""
wait $dpid_pre

# 8. failed execs are reported with their error, blamed on the caller
printf 'not a program' >"$T/noexec" && chmod 644 "$T/noexec"
(exec "$T/missing-prog" 2>/dev/null) &
fpid=$!
wait $fpid
ev=$(wait_event "select(.kind==\"process.exec\" and .proc.pid==$fpid and .exec.result<0)") || not_ok "failed exec seen" "pid $fpid"
expect_jq "exec ENOENT reported" "$ev" ".exec.result==-2 and .exec.error==\"ENOENT\" and .exec.filename==\"$T/missing-prog\" and (.proc.exe|test(\"bash$\"))"
(exec "$T/noexec" 2>/dev/null) &
fpid=$!
wait $fpid
ev=$(wait_event "select(.kind==\"process.exec\" and .proc.pid==$fpid and .exec.result<0)") || not_ok "failed exec seen" "pid $fpid"
expect_jq "exec EACCES reported" "$ev" '.exec.result==-13 and .exec.error=="EACCES"'
# execveat (dirfd, path): the path is its second argument, read from the saved registers
python3 -c '
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
argv = (ctypes.c_char_p * 2)(sys.argv[1].encode(), None)
envp = (ctypes.c_char_p * 1)(None)
nr = 281 if os.uname().machine == "aarch64" else 322  # execveat
r = libc.syscall(nr, -100, sys.argv[1].encode(), argv, envp, 0)  # AT_FDCWD
sys.exit(0 if r == -1 and ctypes.get_errno() == 13 else 1)
' "$T/noexec" &
fpid=$!
wait $fpid || not_ok "execveat failed with EACCES" "exit $?"
ev=$(wait_event "select(.kind==\"process.exec\" and .proc.pid==$fpid and .exec.result==-13)") || not_ok "failed execveat seen" "pid $fpid"
expect_jq "execveat EACCES reported with its path" "$ev" ".exec.result==-13 and .exec.filename==\"$T/noexec\""

# 9. tty: an exec on a pseudo-terminal names it ("pts3" for /dev/pts/3)
script -qec "tty; exec /usr/bin/true hwtty$$" /dev/null >"$T/tty.out" 2>&1 </dev/null
want_tty=$(tr -d '\r' <"$T/tty.out" | sed -n 's#^/dev/\(pts\)/\([0-9]*\)$#\1\2#p' | head -n1)
ev=$(wait_event "select(.kind==\"process.exec\" and .proc.args[1]==\"hwtty$$\")") || not_ok "tty exec seen" "none"
if [ -n "$want_tty" ]; then
	expect_jq "exec tty is the pty's name" "$ev" ".proc.tty==\"$want_tty\""
else
	not_ok "exec tty is the pty's name" "script gave no tty: $(cat "$T/tty.out")"
fi
expect_jq "exec without a terminal: tty null" "$(wait_event "select(.kind==\"process.exec\" and .proc.pid==$epid)")" '.proc.tty==null'

# 10. auid: the login uid set in the child before its exec, exact
bash -c "echo 4242 >/proc/self/loginuid && exec /usr/bin/true hwauid$$" 2>"$T/auid.err"
ev=$(wait_event "select(.kind==\"process.exec\" and .proc.args[1]==\"hwauid$$\")") || not_ok "auid exec seen" "$(cat "$T/auid.err")"
expect_jq "exec auid is the loginuid" "$ev" '.proc.auid==4242'

# 11. distinct real and effective gids, set before the exec: the exec itself gains nothing
setpriv --rgid=1234 --egid=5678 --keep-groups /usr/bin/true hwgid$$
ev=$(wait_event "select(.kind==\"process.exec\" and .proc.args[1]==\"hwgid$$\")") || not_ok "gid exec seen" "none"
expect_jq "exec gid and egid distinct" "$ev" '.proc.gid==1234 and .proc.egid==5678 and .exec.egid==5678 and .exec.setuid==false'

# 12. fileless: a deleted file run through its descriptor
cp /usr/bin/true "$T/delme"
bash -c "exec 3<'$T/delme' && rm '$T/delme' && exec /proc/self/fd/3 hwdel$$"
ev=$(wait_event "select(.kind==\"process.exec\" and .proc.args[1]==\"hwdel$$\")") || not_ok "deleted-file exec seen" "none"
expect_jq "deleted-file exec is fileless" "$ev" ".exec.fileless==true and (.proc.exe|startswith(\"$T/delme\"))"

# 13. argv longer than the bound (args_max_bytes, default 4096)
long=$(head -c 10000 /dev/zero | tr '\0' x)
/usr/bin/true hwlong$$ "$long"
ev=$(wait_event "select(.kind==\"process.exec\" and .proc.args[1]==\"hwlong$$\")") || not_ok "long argv exec seen" "none"
a0=/usr/bin/true a1=hwlong$$
want_bytes=$((${#a0} + 1 + ${#a1} + 1 + 10000 + 1))
expect_jq "long argv: args_truncated and the full size" "$ev" ".exec.args_truncated==true and .exec.args_bytes==$want_bytes and ([.proc.args[]|length]|add) < 4096"
ev=$(wait_event "select(.kind==\"process.exec\" and .proc.pid==$epid)")
expect_jq "short argv: not truncated, exact size" "$ev" ".exec.args_truncated==false and .exec.args_bytes==$(printf '%s\0' /bin/echo "$marker" "a b" 'q"u\o' $'new\nline\ttab' $'bad\xff\xfeend' 'héllo' '' | wc -c)"

# 14. ten processes, each in a cgroup created just before: every exec has its cgroup path, and
# the container id when the cgroup's name is a 64-hex id
cgs=()
cgpids=()
for i in $(seq 1 10); do
	if [ $i -le 5 ]; then name=hwtest-cg$i-$$; else name=$(printf 'hwcg%s-%s' $i $$ | sha256sum | cut -c1-64); fi
	mkdir "$CG2/$name"
	cgs+=("$name")
	(echo $BASHPID >"$CG2/$name/cgroup.procs" && exec /usr/bin/true hwcg$i-$$) &
	cgpids+=($!)
done
wait "${cgpids[@]}"
for i in $(seq 1 10); do
	name=${cgs[$((i - 1))]}
	ev=$(wait_event "select(.kind==\"process.exec\" and .proc.args[1]==\"hwcg$i-$$\")") || not_ok "fresh cgroup $i exec seen" "none"
	if [ $i -le 5 ]; then
		expect_jq "fresh cgroup $i: path resolved" "$ev" ".proc.cgroup==\"/$name\""
	else
		expect_jq "fresh cgroup $i: path and 64-hex container id" "$ev" ".proc.cgroup==\"/$name\" and .proc.container.id==\"${name:0:12}\""
	fi
	rmdir "$CG2/$name"
done

agent_stop
expect_eq "agent exits 0 on SIGTERM" "$?" 0
expect "seq contiguous from 1" seq_contiguous
expect_jq "final heartbeat has probes" "$(last_heartbeat)" '.kind=="agent.heartbeat" and .agent.probes["process.exec"].state=="attached"'
