#!/usr/bin/env bash
# file.*: every watched operation, by absolute path, by relative path and through a directory
# fd, on a test-only watched directory added by the config (the defaults stay: /etc/shadow is
# read for real), failures with their errno, the process blamed, and paths that must produce
# nothing (unwatched files, reads under a write-only rule).
. "$(dirname "$0")/../lib.sh"
need_root

FO="$HELPERS/fileops"
W="$T/w"        # watched subtree (files.add)
N="$T/n"        # not watched
BASE="hw-base-$$" # watched anywhere by basename
mkdir -p "$W/sub" "$N"
chmod 755 "$T"
DIRN="hwd-$$"     # watched anywhere by directory name
mkdir -p "$N/$DIRN" "$T/late" "$T/e"
echo s >"$T/e/secret"
echo k >"$N/$DIRN/key"
echo k >"$N/$DIRN/key2"
echo l >"$T/late/f"
# Exact mode (the syscall exit tracepoints), named: most checks here are of what only it gives —
# refused and failed opens (result, error), open flags, the syscall, O_TRUNC opens as
# file.truncate, created, mode, basename rules outside the home directories, /proc/PID/mem,
# short-lived mount namespaces and the exit summary of folded opens. The default on a kernel
# without BPF-LSM is watch mode (fanotify): tests/probes/test_file_watch.sh.
cat >"$T/agent.yaml" <<EOF
files:
  mode: exact
  add:
    - $W/
    - "*/$BASE"
    - path: $T/named-only
      ops: [write]
    - "*/$DIRN/"
    - $T/e/secret
EOF
# /var/spool/cron must exist when the rules are applied (directories are resolved to inodes then)
spool_made=
[ -d /var/spool/cron ] || { mkdir -p /var/spool/cron && spool_made=1; }
agent_start "$T/agent.yaml" || { not_ok "agent starts" "$(cat "$T/agent.err")"; exit 1; }

# 1. a default rule: /etc/shadow read by root, and refused to nobody
run_pid cat /etc/shadow
ev=$(fev "shadow read" "select(.kind==\"file.open\" and .proc.pid==$P)")
expect_jq "shadow read: path, op, rule, fd" "$ev" '.file.path=="/etc/shadow" and .file.op=="read" and .file.watch=="/etc/shadow" and .file.result>=0 and .file.resolved==true and .file.syscall=="openat" and .file.ns_path==null and .file.mnt_ns==null'
expect_jq "shadow read: flags and blamed process" "$ev" '(.file.flags_names|index("O_RDONLY"))!=null and .proc.comm=="cat" and .proc.exe=="/usr/bin/cat" and .proc.uid==0'
run_pid setpriv --reuid=65534 --regid=65534 --clear-groups cat /etc/shadow
ev=$(fev "shadow refused" "select(.kind==\"file.open\" and .proc.pid==$P)")
expect_jq "shadow refused to nobody: EACCES" "$ev" '.file.path=="/etc/shadow" and .file.result==-13 and .file.error=="EACCES" and .proc.uid==65534 and .file.resolved==false'

# 2. create + truncate by absolute path (shell redirection: O_WRONLY|O_CREAT|O_TRUNC)
run_pid bash -c "echo data > $W/f1"
ev=$(fev "create by absolute path" "select(.kind==\"file.truncate\" and .proc.pid==$P)")
expect_jq "create: path, rule, flags, mode" "$ev" ".file.path==\"$W/f1\" and .file.watch==\"$W/\" and .file.op==\"truncate\" and (.file.flags_names|index(\"O_CREAT\"))!=null and (.file.flags_names|index(\"O_TRUNC\"))!=null and .file.mode==\"0666\" and .file.created==true"
run_pid bash -c "echo more >> $W/f1"
ev=$(fev "append" "select(.kind==\"file.open\" and .proc.pid==$P)")
expect_jq "append: write open" "$ev" ".file.path==\"$W/f1\" and .file.op==\"write\" and (.file.flags_names|index(\"O_APPEND\"))!=null and .file.created==false"

# 3. relative path (cwd), and through a directory fd
(cd "$W/sub" && exec cat ../f1 >/dev/null) &
P=$!
wait $P
ev=$(fev "relative read" "select(.kind==\"file.open\" and .proc.pid==$P)")
expect_jq "relative path resolved" "$ev" ".file.path==\"$W/f1\" and .file.op==\"read\""
run_pid "$FO" openat "$W/sub" f2 0101 # O_WRONLY|O_CREAT
ev=$(fev "openat dirfd" "select(.kind==\"file.open\" and .proc.pid==$P and .file.path!=\"$W/sub\")")
expect_jq "openat through a directory fd" "$ev" ".file.path==\"$W/sub/f2\" and .file.op==\"write\" and .file.mode==\"0640\" and .proc.comm==\"fileops\""
run_pid "$FO" openat "$W/sub" missing 0
ev=$(fev "failed openat dirfd" "select(.kind==\"file.open\" and .proc.pid==$P and .file.result<0)")
expect_jq "failed openat through a dirfd: joined path, ENOENT" "$ev" ".file.path==\"$W/sub/missing\" and .file.error==\"ENOENT\" and .file.resolved==false"

# 4. chmod: setuid and setgid called out; by path and by fd and through a dirfd
run_pid chmod 4755 "$W/f1"
ev=$(fev "chmod setuid" "select(.kind==\"file.chmod\" and .proc.pid==$P)")
expect_jq "chmod 4755: setuid" "$ev" ".file.path==\"$W/f1\" and .file.mode==\"4755\" and .file.setuid==true and .file.setgid==false and .file.result==0"
run_pid "$FO" fchmodat "$W/sub" f2 2750
ev=$(fev "fchmodat setgid" "select(.kind==\"file.chmod\" and .proc.pid==$P)")
expect_jq "fchmodat dirfd: setgid" "$ev" ".file.path==\"$W/sub/f2\" and .file.setgid==true and .file.setuid==false and .file.syscall==\"fchmodat\""
run_pid "$FO" fchmod "$W/f1" 0600
ev=$(fev "fchmod" "select(.kind==\"file.chmod\" and .proc.pid==$P)")
expect_jq "fchmod by fd" "$ev" ".file.path==\"$W/f1\" and .file.mode==\"0600\" and .file.syscall==\"fchmod\" and .file.resolved==true"

# 5. chown by path, through a dirfd, by fd; a refused one
run_pid chown 65534:65534 "$W/f1"
ev=$(fev "chown" "select(.kind==\"file.chown\" and .proc.pid==$P)")
expect_jq "chown: ids" "$ev" ".file.path==\"$W/f1\" and .file.uid==65534 and .file.gid==65534 and .file.result==0"
run_pid "$FO" fchownat "$W/sub" f2 0 -1
ev=$(fev "fchownat" "select(.kind==\"file.chown\" and .proc.pid==$P)")
expect_jq "fchownat dirfd: gid unchanged is null" "$ev" ".file.path==\"$W/sub/f2\" and .file.uid==0 and .file.gid==null"
run_pid "$FO" fchown "$W/f1" 0 0
ev=$(fev "fchown" "select(.kind==\"file.chown\" and .proc.pid==$P)")
expect_jq "fchown by fd" "$ev" ".file.path==\"$W/f1\" and .file.syscall==\"fchown\""
run_pid setpriv --reuid=65534 --regid=65534 --clear-groups chown 0:0 "$W/f1"
ev=$(fev "refused chown" "select(.kind==\"file.chown\" and .proc.pid==$P)")
expect_jq "chown by nobody: EPERM, nobody blamed" "$ev" '.file.result==-1 and .file.error=="EPERM" and .proc.uid==65534'

# 6. truncate by path and by fd
run_pid truncate -s 0 "$W/f1"
ev=$(fev "truncate" "select(.kind==\"file.truncate\" and .proc.pid==$P and .file.syscall==\"ftruncate\")")
expect_jq "truncate(1): ftruncate on the file" "$ev" ".file.path==\"$W/f1\" and .file.result==0"
run_pid "$FO" ftruncate "$W/sub/f2"
ev=$(fev "ftruncate" "select(.kind==\"file.truncate\" and .proc.pid==$P and .file.syscall==\"ftruncate\")")
expect_jq "ftruncate by fd" "$ev" ".file.path==\"$W/sub/f2\" and .file.op==\"truncate\""

# 7. link and symlink: path is the new link, target the existing file
run_pid ln "$W/f1" "$W/hard"
ev=$(fev "link" "select(.kind==\"file.link\" and .proc.pid==$P)")
expect_jq "hard link" "$ev" ".file.path==\"$W/hard\" and .file.target==\"$W/f1\" and .file.watch==\"$W/\" and .file.target_watch==\"$W/\""
run_pid "$FO" symlinkat /etc/shadow "$N" shadow-alias
ev=$(fev "symlink to shadow" "select(.kind==\"file.link\" and .proc.pid==$P)")
expect_jq "symlink from an unwatched dir to /etc/shadow: target matched" "$ev" ".file.path==\"$N/shadow-alias\" and .file.target==\"/etc/shadow\" and .file.watch==null and .file.target_watch==\"/etc/shadow\""
run_pid "$FO" linkat "$W/sub" f2 f3
ev=$(fev "linkat" "select(.kind==\"file.link\" and .proc.pid==$P)")
expect_jq "linkat through a dirfd" "$ev" ".file.path==\"$W/sub/f3\" and .file.target==\"$W/sub/f2\""

# 8. rename: both paths; into the watched dir from outside
run_pid mv "$W/hard" "$W/sub/moved"
ev=$(fev "rename" "select(.kind==\"file.rename\" and .proc.pid==$P)")
expect_jq "rename: both paths" "$ev" ".file.path==\"$W/hard\" and .file.target==\"$W/sub/moved\" and .file.result==0"
echo x >"$N/outside"
run_pid "$FO" renameat "$T" n/outside w/inside
ev=$(fev "renameat into watched" "select(.kind==\"file.rename\" and .proc.pid==$P)")
expect_jq "renameat into a watched dir: target matched, source not" "$ev" ".file.path==\"$N/outside\" and .file.target==\"$W/inside\" and .file.watch==null and .file.target_watch==\"$W/\""

# 9. unlink, through a dirfd, and a failed one
run_pid rm "$W/inside"
ev=$(fev "unlink" "select(.kind==\"file.unlink\" and .proc.pid==$P)")
expect_jq "unlink" "$ev" ".file.path==\"$W/inside\" and .file.result==0 and .proc.comm==\"rm\""
run_pid "$FO" unlinkat "$W/sub" f3
ev=$(fev "unlinkat" "select(.kind==\"file.unlink\" and .proc.pid==$P)")
expect_jq "unlinkat through a dirfd" "$ev" ".file.path==\"$W/sub/f3\" and .file.syscall==\"unlinkat\""
run_pid "$FO" unlinkat "$W/sub" nothing
ev=$(fev "failed unlink" "select(.kind==\"file.unlink\" and .proc.pid==$P)")
expect_jq "failed unlink: ENOENT" "$ev" '.file.result==-2 and .file.error=="ENOENT"'

# 9b. path strings are normalised before matching and in the report: "./x", "../d/x", "d//x",
# and a directory fd with ".." in the name, on a file rule and on a directory rule
(cd "$T/e" && exec chmod 4755 ./secret) &
P=$!; wait $P
ev=$(fev "chmod ./x" "select(.kind==\"file.chmod\" and .proc.pid==$P)")
expect_jq "chmod ./secret on a file rule: canonical path" "$ev" ".file.path==\"$T/e/secret\" and .file.watch==\"$T/e/secret\" and .file.setuid==true"
(cd "$T/e" && exec chmod 0600 ../e/secret) &
P=$!; wait $P
ev=$(fev "chmod ../d/x" "select(.kind==\"file.chmod\" and .proc.pid==$P)")
expect_jq "chmod ../e/secret: canonical path" "$ev" ".file.path==\"$T/e/secret\" and .file.watch==\"$T/e/secret\""
(cd "$T" && exec chmod 0644 e//secret) &
P=$!; wait $P
ev=$(fev "chmod d//x" "select(.kind==\"file.chmod\" and .proc.pid==$P)")
expect_jq "chmod e//secret: canonical path" "$ev" ".file.path==\"$T/e/secret\" and .file.watch==\"$T/e/secret\""
run_pid "$FO" fchmodat "$T/late" ../e/./secret 0640
ev=$(fev "fchmodat dirfd ../" "select(.kind==\"file.chmod\" and .proc.pid==$P)")
expect_jq "fchmodat through a dirfd with ../: canonical path" "$ev" ".file.path==\"$T/e/secret\" and .file.watch==\"$T/e/secret\""
run_pid "$FO" renameat "$T/e" ./secret ..//e/secret2
ev=$(fev "rename ./x" "select(.kind==\"file.rename\" and .proc.pid==$P)")
expect_jq "renameat ./secret ..//e/secret2: both canonical" "$ev" ".file.path==\"$T/e/secret\" and .file.target==\"$T/e/secret2\" and .file.watch==\"$T/e/secret\" and .file.result==0"
run_pid "$FO" renameat "$T/late" ../e/secret2 ../e/../e/secret
ev=$(fev "rename back ../" "select(.kind==\"file.rename\" and .proc.pid==$P)")
expect_jq "renameat back through ../: target on the file rule" "$ev" ".file.path==\"$T/e/secret2\" and .file.target==\"$T/e/secret\" and .file.target_watch==\"$T/e/secret\""
echo n >"$W/nf"
run_pid "$FO" renameat "$W/sub" ../nf ./../nf2
ev=$(fev "rename in dir rule" "select(.kind==\"file.rename\" and .proc.pid==$P)")
expect_jq "renameat ../nf ./../nf2 on a directory rule: canonical" "$ev" ".file.path==\"$W/nf\" and .file.target==\"$W/nf2\" and .file.watch==\"$W/\""
(cd "$W/sub" && exec chmod 0600 ./../nf2) &
P=$!; wait $P
ev=$(fev "chmod in dir rule" "select(.kind==\"file.chmod\" and .proc.pid==$P)")
expect_jq "chmod ./../nf2 on a directory rule: canonical" "$ev" ".file.path==\"$W/nf2\" and .file.watch==\"$W/\""
run_pid "$FO" unlinkat "$W/sub" ../sub/..//nf2
ev=$(fev "unlink in dir rule" "select(.kind==\"file.unlink\" and .proc.pid==$P)")
expect_jq "unlinkat ../sub/..//nf2 through a dirfd: canonical" "$ev" ".file.path==\"$W/nf2\" and .file.result==0"
run_pid cat "$W/./sub/../missing"
ev=$(fev "failed open ./ ../" "select(.kind==\"file.open\" and .proc.pid==$P)")
expect_jq "failed open of W/./sub/../missing: canonical" "$ev" ".file.path==\"$W/missing\" and .file.error==\"ENOENT\""
run_pid chmod "$(stat -c %a /etc/shadow)" /../../etc/./shadow # the same mode: nothing changes
ev=$(fev "chmod /../etc/./shadow" "select(.kind==\"file.chmod\" and .proc.pid==$P)")
expect_jq "chmod /../../etc/./shadow: the default rule, canonical" "$ev" '.file.path=="/etc/shadow" and .file.watch=="/etc/shadow"'
(cd "$T/e" && exec rm ./secret) &
P=$!; wait $P
ev=$(fev "unlink ./x" "select(.kind==\"file.unlink\" and .proc.pid==$P)")
expect_jq "rm ./secret on a file rule: canonical" "$ev" ".file.path==\"$T/e/secret\" and .file.watch==\"$T/e/secret\""

# 9c. rmdir, and unlinkat(AT_REMOVEDIR): file.unlink with dir true
mkdir -p "$W/dd" "$W/dd2"
(cd "$W" && exec rmdir ./dd) &
P=$!; wait $P
ev=$(fev "rmdir" "select(.kind==\"file.unlink\" and .proc.pid==$P)")
expect_jq "rmdir ./dd: file.unlink, dir, canonical path" "$ev" ".file.path==\"$W/dd\" and .file.syscall==\"rmdir\" and .file.dir==true and .file.result==0 and .file.watch==\"$W/\""
run_pid rm -d "$W/dd2"
ev=$(fev "rm -d" "select(.kind==\"file.unlink\" and .proc.pid==$P)")
expect_jq "rm -d: unlinkat AT_REMOVEDIR, dir" "$ev" ".file.path==\"$W/dd2\" and .file.dir==true"
echo u >"$W/plainf"
run_pid rm "$W/plainf"
ev=$(fev "unlink file" "select(.kind==\"file.unlink\" and .proc.pid==$P)")
expect_jq "rm of a file: dir false" "$ev" ".file.path==\"$W/plainf\" and .file.dir==false"

# 9d. a private mount namespace with another /etc (a container's): opens there are matched by
# the path the process sees, and marked with its mount namespace
mkdir -p "$T/cetc"
echo 'croot:*:1::::::' >"$T/cetc/shadow"
hostns=$(stat -Lc %i /proc/self/ns/mnt)
run_pid unshare -m bash -c "mount --bind $T/cetc /etc && echo x >> /etc/shadow && exec cat /etc/shadow"
ev=$(fev "container shadow write" "select(.kind==\"file.open\" and .proc.pid==$P and .file.op==\"write\")")
expect_jq "other mount ns: append to its /etc/shadow" "$ev" ".file.path==\"/etc/shadow\" and .file.watch==\"/etc/shadow\" and .file.ns_path==true and .file.mnt_ns!=$hostns and .file.mnt_ns>0"
ev=$(fev "container shadow read" "select(.kind==\"file.open\" and .proc.pid==$P and .file.op==\"read\" and .file.path==\"/etc/shadow\")")
expect_jq "other mount ns: cat its /etc/shadow, process blamed" "$ev" ".file.ns_path==true and .proc.comm==\"cat\" and .file.result>=0"
expect_eq "other mount ns: the host's shadow untouched" "$(grep -c '^croot:' /etc/shadow)" 0

# 10. basename rule anywhere; name rule with write only; /proc/PID/mem
run_pid bash -c "echo x > $N/$BASE"
ev=$(fev "basename rule" "select(.kind==\"file.truncate\" and .proc.pid==$P)")
expect_jq "basename rule in an unwatched dir" "$ev" ".file.path==\"$N/$BASE\" and .file.watch==\"*/$BASE\""
run_pid bash -c "echo x > $T/named-only; cat $T/named-only"
ev=$(fev "write-only rule" "select((.kind|startswith(\"file.\")) and .proc.pid==$P)")
expect_jq "write-only rule: the write" "$ev" ".file.path==\"$T/named-only\" and .file.watch==\"$T/named-only\""
run_pid head -c 1 /proc/self/mem
ev=$(fev "proc mem" "select(.kind==\"file.open\" and .proc.pid==$P)")
expect_jq "/proc/PID/mem" "$ev" ".file.path==\"/proc/$P/mem\" and .file.watch==\"/proc/*/mem\""

# 11. repeats: one event for a burst of opens of the same file by one process
run_pid "$FO" openloop "$W/f1" 50
expect_eq "50 opens in a burst: one event" "$(events "select(.kind==\"file.open\" and .proc.pid==$P and (.file.summary|not))" | wc -l)" 1
# the 49 folded opens are reported when the process exits: no count is lost with it
ev=$(wait_event "select(.kind==\"file.open\" and .proc.pid==$P and .file.summary==true)") || not_ok "burst summary at exit" "none for pid $P"
expect_jq "burst: the 49 folded opens reported at exit" "$ev" ".file.repeats==49 and .file.path==\"$W/f1\" and .file.op==\"read\""
# more (process, file) pairs with folded opens pending than the agent's table keeps (1,024): an
# entry pushed out reports what it folded at once, the others at the exit; nothing is lost
mkdir -p "$W/many"
for i in $(seq 1 1100); do : >"$W/many/m$i"; done
perl -e 'for my $f (@ARGV) { for (1 .. 2) { open(my $h, "<", $f) or die "$f: $!"; close $h } } sleep 1' "$W"/many/m* &
pp=$!
wait $pp
for _ in $(seq 1 100); do # the exit's summaries come after the process.exit is read
	# (the glob's opendir of the directory, by the same process before its exec, left out)
	n1=$(events "select(.kind==\"file.open\" and .proc.pid==$pp and (.file.path|startswith(\"$W/many/m\")) and (.file.summary|not))" | wc -l)
	nr=$(events "select(.kind==\"file.open\" and .proc.pid==$pp and (.file.path|startswith(\"$W/many/m\")) and .file.summary==true) | .file.repeats" | awk '{s += $1} END {print s + 0}')
	[ $((n1 + nr)) -ge 2200 ] && break
	sleep 0.1
done
expect_eq "1,100 files opened twice with the table full: every open counted" "$((n1 + nr))" 2200
# the 76 entries pushed out were reported while the process ran (it sleeps 1 s after its
# opens), the others at its exit
tsec='def t: (.time[0:19] + "Z" | fromdateiso8601) + ("0" + .time[19:-1] | tonumber);'
ext=$(events "select(.kind==\"process.exit\" and .proc.pid==$pp)" | head -1 | jq "$tsec t")
early=$(events "select(.kind==\"file.open\" and .proc.pid==$pp and .file.summary==true)" |
	jq -s --argjson e "${ext:-0}" "$tsec [.[] | select(t < \$e - 0.5)] | length")
expect_eq "the entries pushed out of the full table reported while the process ran" "$early" 76
rm -rf "$W/many"


# 12. directory name rule ("*/DIR/"): by the opened file (the directory's verdict computed, then
# reused by a second process), by the string of a failed open, by the fd of fchmod
run_pid cat "$N/$DIRN/key"
ev=$(fev "dirname rule" "select(.kind==\"file.open\" and .proc.pid==$P)")
expect_jq "dirname rule: opened file" "$ev" ".file.path==\"$N/$DIRN/key\" and .file.watch==\"*/$DIRN/\" and .file.resolved==true"
run_pid cat "$N/$DIRN/key2"
ev=$(fev "dirname rule again" "select(.kind==\"file.open\" and .proc.pid==$P)")
expect_jq "dirname rule: second file of the directory" "$ev" ".file.path==\"$N/$DIRN/key2\" and .file.watch==\"*/$DIRN/\""
run_pid cat "$N/$DIRN/missing"
ev=$(fev "dirname rule, failed open" "select(.kind==\"file.open\" and .proc.pid==$P)")
expect_jq "dirname rule: failed open by string" "$ev" ".file.path==\"$N/$DIRN/missing\" and .file.error==\"ENOENT\" and .file.watch==\"*/$DIRN/\""
run_pid "$FO" fchmod "$N/$DIRN/key" 0640
ev=$(fev "dirname rule, fchmod" "select(.kind==\"file.chmod\" and .proc.pid==$P)")
expect_jq "dirname rule: fchmod by fd" "$ev" ".file.path==\"$N/$DIRN/key\" and .file.syscall==\"fchmod\" and .file.watch==\"*/$DIRN/\""

# 13. a reload invalidates the kernel's cached directory verdicts: a directory opened while
# unwatched (on CPU 0, where its verdict is then cached) and watched after the reload
run_pid taskset -c 0 cat "$T/late/f"
printf '    - %s/late/\n' "$T" >>"$T/agent.yaml"
kill -HUP "$AGENT_PID"
wait_event 'select(.kind=="agent.config" and .config.result=="applied")' >/dev/null || not_ok "reload applied" "no agent.config applied event"
run_pid taskset -c 0 cat "$T/late/f"
ev=$(fev "watched after reload" "select(.kind==\"file.open\" and .proc.pid==$P)")
expect_jq "reload: directory watched from then on" "$ev" ".file.path==\"$T/late/f\" and .file.watch==\"$T/late/\""

# 13b. renames change cached directory verdicts (all on CPU 0, where the verdicts are cached):
# a staging directory opened while unwatched, then moved into place, is watched at once ...
mkdir -p "$N/stage" "$N/tree/sub"
echo s >"$N/stage/key"
echo t >"$N/tree/sub/f"
run_pid taskset -c 0 cat "$N/stage/key"
mv "$N/stage" "$N/$DIRN-x" 2>/dev/null; mv "$N/$DIRN-x" "$T/$DIRN"
run_pid taskset -c 0 cat "$T/$DIRN/key"
ev=$(fev "moved directory watched" "select(.kind==\"file.open\" and .proc.pid==$P)")
expect_jq "rename: a directory moved into a watched name is watched at once" "$ev" ".file.path==\"$T/$DIRN/key\" and .file.watch==\"*/$DIRN/\""
# ... and so is a directory whose ancestor moved under a watched subtree
run_pid taskset -c 0 cat "$N/tree/sub/f"
mv "$N/tree" "$W/tree"
run_pid taskset -c 0 cat "$W/tree/sub/f"
ev=$(fev "directory under a moved ancestor watched" "select(.kind==\"file.open\" and .proc.pid==$P)")
expect_jq "rename: a directory whose ancestor moved into a watched subtree is watched at once" "$ev" ".file.path==\"$W/tree/sub/f\" and .file.watch==\"$W/\""

# 13c. the default rules, one operation each, on files the test creates and removes itself
# (names that sudo, cron, PAM and profile scripts ignore: with a '.' and no .sh/.conf suffix);
# /etc/ld.so.preload is only opened for writing without O_CREAT/O_TRUNC (changes nothing)
H="$T/home"
mkdir -p "$H/.ssh"
# dflt NAME PATH KIND WATCH CMD...: run CMD, expect a KIND event for PATH by the rule WATCH
dflt() {
	local name=$1 path=$2 kind=$3 watch=$4
	shift 4
	run_pid "$@"
	ev=$(fev "default rule: $name" "select(.kind==\"$kind\" and .proc.pid==$P and .file.path==\"$path\")")
	expect_jq "default rule: $name" "$ev" "(.file.watch|IN($watch))"
}
tag="hw-$$.tmp"
dflt "/etc/sudoers.d create" "/etc/sudoers.d/$tag" file.truncate '"/etc/sudoers.d/","/etc/sudoers"' bash -c "echo '# test' > /etc/sudoers.d/$tag"
dflt "/etc/sudoers.d unlink" "/etc/sudoers.d/$tag" file.unlink '"/etc/sudoers.d/","/etc/sudoers"' rm -f "/etc/sudoers.d/$tag"
dflt "/etc/pam.d create" "/etc/pam.d/$tag" file.truncate '"/etc/pam.d/"' bash -c "echo '# test' > /etc/pam.d/$tag"
dflt "/etc/pam.d unlink" "/etc/pam.d/$tag" file.unlink '"/etc/pam.d/"' rm -f "/etc/pam.d/$tag"
dflt "/etc/ssh create" "/etc/ssh/$tag" file.truncate '"/etc/ssh/"' bash -c "echo '# test' > /etc/ssh/$tag"
dflt "/etc/ssh chmod" "/etc/ssh/$tag" file.chmod '"/etc/ssh/"' chmod 600 "/etc/ssh/$tag"
rm -f "/etc/ssh/$tag"
dflt "authorized_keys write" "$H/.ssh/authorized_keys" file.truncate '"*/.ssh/"' bash -c "echo 'ssh-ed25519 AAAA test' > $H/.ssh/authorized_keys"
dflt "authorized_keys read" "$H/.ssh/authorized_keys" file.open '"*/.ssh/"' cat "$H/.ssh/authorized_keys"
dflt "/etc/cron.d create" "/etc/cron.d/$tag" file.truncate '"/etc/cron"' bash -c "echo '# test' > /etc/cron.d/$tag"
dflt "/etc/cron.d rename" "/etc/cron.d/$tag" file.rename '"/etc/cron"' mv "/etc/cron.d/$tag" "/etc/cron.d/$tag.2"
rm -f "/etc/cron.d/$tag.2"
dflt "/var/spool/cron create" "/var/spool/cron/$tag" file.truncate '"/var/spool/cron/"' bash -c "echo '# test' > /var/spool/cron/$tag"
dflt "/var/spool/cron unlink" "/var/spool/cron/$tag" file.unlink '"/var/spool/cron/"' rm -f "/var/spool/cron/$tag"
[ -n "$spool_made" ] && rmdir /var/spool/cron
dflt "/etc/systemd create" "/etc/systemd/$tag" file.truncate '"/etc/systemd/"' bash -c "echo '# test' > /etc/systemd/$tag"
dflt "/etc/systemd unlink" "/etc/systemd/$tag" file.unlink '"/etc/systemd/"' rm -f "/etc/systemd/$tag"
dflt "/etc/ld.so.preload write open" "/etc/ld.so.preload" file.open '"/etc/ld.so.preload"' "$FO" openat /etc ld.so.preload 01
dflt "/etc/profile.d create" "/etc/profile.d/$tag" file.truncate '"/etc/profile.d/","/etc/profile"' bash -c "echo '# test' > /etc/profile.d/$tag"
dflt "/etc/profile.d unlink" "/etc/profile.d/$tag" file.unlink '"/etc/profile.d/","/etc/profile"' rm -f "/etc/profile.d/$tag"
dflt ".bashrc write" "$H/.bashrc" file.truncate '"*/.bashrc"' bash -c "echo 'alias x=y' > $H/.bashrc"
echo log >"/var/log/$tag"
dflt "/var/log truncate" "/var/log/$tag" file.truncate '"/var/log/"' truncate -s 0 "/var/log/$tag"
dflt "/var/log rename" "/var/log/$tag" file.rename '"/var/log/"' mv "/var/log/$tag" "/var/log/$tag.1"
dflt "/var/log unlink" "/var/log/$tag.1" file.unlink '"/var/log/"' rm -f "/var/log/$tag.1"
echo 'ls' >"$H/.bash_history"
dflt ".bash_history truncate" "$H/.bash_history" file.truncate '"*/.bash_history"' truncate -s 0 "$H/.bash_history"
dflt ".bash_history unlink" "$H/.bash_history" file.unlink '"*/.bash_history"' rm -f "$H/.bash_history"
dflt "/boot create" "/boot/$tag" file.truncate '"/boot/"' bash -c "echo x > /boot/$tag"
rm -f "/boot/$tag"

# 13d. every hooked syscall, by its own number: one program (hwf_sys_ex) is attached to the
# exit tracepoint of each and dispatches on the syscall number the tracepoint carries
want="open creat openat openat2 unlink unlinkat rmdir rename renameat renameat2 chmod fchmod fchmodat chown fchown lchown fchownat truncate ftruncate link linkat symlink symlinkat"
f2= # fchmodat2: Linux 6.6 and later
[ -e /sys/kernel/tracing/events/syscalls/sys_exit_fchmodat2 ] && f2=fchmodat2 && want+=" $f2"
mkdir -p "$W/all"
cat >"$T/allsys.py" <<'PY'
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
L = ctypes.c_long
AT = L(-100)
d = sys.argv[1]
def p(n):
    return ctypes.c_char_p(("%s/f-%s" % (d, n)).encode())
def mk(n):
    with open("%s/f-%s" % (d, n), "w") as f:
        f.write("x")
def sc(name, nr, *args):
    if libc.syscall(L(nr), *[L(a) if isinstance(a, int) else a for a in args]) < 0:
        print("%s: errno %d" % (name, ctypes.get_errno()))
class How(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]
# (not "creat": this process's own create of it would fold creat's truncate as a repeat)
for n in ("open", "openat", "openat2", "unlink", "unlinkat", "rename", "renameat",
          "renameat2", "chmod", "fchmod", "fchmodat", "fchmodat2", "chown", "fchown", "lchown",
          "fchownat", "truncate", "ftruncate", "link", "linkat"):
    mk(n)
os.mkdir("%s/f-rmdir" % d)
how = How(os.O_RDONLY, 0, 0)
sc("open", 2, p("open"), os.O_RDONLY)
sc("creat", 85, p("creat"), 0o644)
sc("openat", 257, AT, p("openat"), os.O_RDONLY)
sc("openat2", 437, AT, p("openat2"), ctypes.byref(how), ctypes.sizeof(how))
sc("unlink", 87, p("unlink"))
sc("unlinkat", 263, AT, p("unlinkat"), 0)
sc("rmdir", 84, p("rmdir"))
sc("rename", 82, p("rename"), p("rename.2"))
sc("renameat", 264, AT, p("renameat"), AT, p("renameat.2"))
sc("renameat2", 316, AT, p("renameat2"), AT, p("renameat2.2"), 0)
sc("chmod", 90, p("chmod"), 0o600)
sc("fchmod", 91, os.open("%s/f-fchmod" % d, os.O_RDWR), 0o600)
sc("fchmodat", 268, AT, p("fchmodat"), 0o600)
if len(sys.argv) > 2:
    sc("fchmodat2", 452, AT, p("fchmodat2"), 0o600, 0)
sc("chown", 92, p("chown"), 0, 0)
sc("fchown", 93, os.open("%s/f-fchown" % d, os.O_RDWR), 0, 0)
sc("lchown", 94, p("lchown"), 0, 0)
sc("fchownat", 260, AT, p("fchownat"), 0, 0, 0)
sc("truncate", 76, p("truncate"), 0)
sc("ftruncate", 77, os.open("%s/f-ftruncate" % d, os.O_RDWR), 0)
sc("link", 86, p("link"), p("link.2"))
sc("linkat", 265, AT, p("linkat"), AT, p("linkat.2"), 0)
sc("symlink", 88, ctypes.c_char_p(b"target"), p("symlink"))
sc("symlinkat", 266, ctypes.c_char_p(b"target"), AT, p("symlinkat"))
PY
run_pid python3 "$T/allsys.py" "$W/all" $f2
missing=
for _ in $(seq 1 100); do
	got=$(grep -F "$W/all/" "$EV" | jq -r "select((.kind|startswith(\"file.\")) and .proc.pid==$P and .file.result>=0) | .file.syscall" | sort -u)
	missing=$(comm -23 <(tr ' ' '\n' <<<"$want" | sort) <(echo "$got") | paste -sd' ')
	[ -z "$missing" ] && break
	sleep 0.1
done
expect_eq "each of the $(wc -w <<<"$want") hooked syscalls reported, under its own name" "$missing$(cat "$T/out")" ""

# 13b. setting the setuid/setgid bit is reported whatever the path (by path, by fd, through a
# dirfd), and a failed attempt too; an unwatched chmod without those bits is not (section 14)
echo x >"$N/planted"
run_pid chmod 4755 "$N/planted"
ev=$(fev "unwatched chmod setuid" "select(.kind==\"file.chmod\" and .proc.pid==$P)")
expect_jq "setuid on an unwatched file: reported, no rule" "$ev" ".file.path==\"$N/planted\" and .file.setuid==true and .file.watch==null and .file.result==0"
run_pid "$FO" fchmod "$N/planted" 02711
ev=$(fev "unwatched fchmod setgid" "select(.kind==\"file.chmod\" and .proc.pid==$P)")
expect_jq "setgid by fd on an unwatched file: reported" "$ev" ".file.path==\"$N/planted\" and .file.setgid==true and .file.setuid==false and .file.syscall==\"fchmod\" and .file.watch==null"
run_pid "$FO" fchmodat "$N" planted 6755
ev=$(fev "unwatched fchmodat setuid+setgid" "select(.kind==\"file.chmod\" and .proc.pid==$P)")
expect_jq "setuid+setgid through a dirfd: reported" "$ev" ".file.path==\"$N/planted\" and .file.setuid==true and .file.setgid==true"
run_pid setpriv --reuid=65534 --regid=65534 --clear-groups chmod 4755 "$N/planted"
ev=$(fev "refused chmod setuid" "select(.kind==\"file.chmod\" and .proc.pid==$P)")
expect_jq "a refused setuid chmod: reported with its error" "$ev" ".file.path==\"$N/planted\" and .file.setuid==true and .file.result==-1 and .file.error==\"EPERM\""

# 13c. file capabilities set on an unwatched file (setcap: setxattr security.capability) are
# reported with the set; another extended attribute is not
cp /usr/bin/true "$N/capable"
run_pid setcap cap_net_raw,cap_sys_ptrace+ep "$N/capable"
ev=$(fev "setcap" "select(.kind==\"file.caps\" and .proc.pid==$P)")
expect_jq "setcap on an unwatched file: file.caps with the permitted set" "$ev" ".file.path==\"$N/capable\" and .file.op==\"setcap\" and (.file.caps|sort)==[\"CAP_NET_RAW\",\"CAP_SYS_PTRACE\"] and .file.effective==true and .file.result==0 and .file.watch==null and (.file.syscall|test(\"setxattr\"))"
run_pid python3 -c "import os; os.setxattr('$N/capable', 'user.herdwatch', b'x')"
P_USERX=$P
run_pid python3 -c "import os; fd = os.open('$N/capable', os.O_RDONLY); os.setxattr(fd, 'security.capability', bytes.fromhex('0000000200200000000000000000000000000000'))"
ev=$(fev "fsetxattr caps" "select(.kind==\"file.caps\" and .proc.pid==$P)")
expect_jq "fsetxattr of security.capability by fd: reported" "$ev" ".file.path==\"$N/capable\" and .file.syscall==\"fsetxattr\" and .file.caps==[\"CAP_NET_RAW\"] and .file.effective==false"

# 14. nothing for unwatched paths and for reads under write-only rules
run_pid cat /etc/hostname /etc/passwd /etc/pam.d/other "$N/outside-nothing" "$T/named-only"
run_pid bash -c "echo y > $N/plain; cat $N/plain; rm $N/plain; chmod 600 $N"
echo z >"$N/plain-fd"
run_pid "$FO" fchmod "$N/plain-fd" 0600
run_pid "$FO" fchown "$N/plain-fd" 0 0
run_pid "$FO" ftruncate "$N/plain-fd"
sleep 1
agent_stop
expect_eq "agent exits 0" "$?" 0
expect_eq "no event for another extended attribute" "$(events "select(.proc.pid==$P_USERX and (.kind|startswith(\"file.\")))" | wc -l)" 0
expect_eq "no event for unwatched paths or reads under write rules" "$(events "select((.kind|startswith(\"file.\")) and ((.file.path|startswith(\"$N/plain\")) or .file.path==\"/etc/hostname\" or .file.path==\"/etc/passwd\" or .file.path==\"/etc/pam.d/other\" or (.file.path==\"$T/named-only\" and .file.op==\"read\")))" | wc -l)" 0
expect "every line is valid JSON" jq -e . "$EV"
expect "seq contiguous from 1" seq_contiguous
expect_jq "final heartbeat: file probes attached with tracepoints" "$(last_heartbeat)" '[.agent.probes | to_entries[] | select(.key|startswith("file.")) | .value.state] | length==8 and all(.=="attached")'
