#!/usr/bin/env bash
# user.shell / user.auth: lines typed into a real interactive bash on a pseudo-terminal (one
# with a control character), a bash binary the agent has never seen (a copy: another inode, as
# in a container), and real PAM transactions: pamtester (success, failure, a password change),
# su from an unprivileged user, sudo with a sudoers rule, SSH password logins (good and bad,
# the session's close) to an sshd this test starts on 127.0.0.1, and a client that dlopen()s
# the libpam of a chroot (a second root with its own copy). The test creates and removes its
# own users, PAM service and sudoers drop-in; the chroot is in its temporary directory.
. "$(dirname "$0")/../lib.sh"
need_root

U=hwu$$            # test user with a known password
V=hwv$$            # unprivileged user that runs su
PW="Pw-$$-good"
SVC=hwtest-$$      # PAM service of this test
SUDOERS=/etc/sudoers.d/hwtest-$$
PORT=$((20000 + $$ % 20000))
SSHD_PID=

user_cleanup() {
	[ -n "$SSHD_PID" ] && kill "$SSHD_PID" 2>/dev/null
	rm -f "$SUDOERS" "/etc/pam.d/$SVC"
	userdel -r "$U" >/dev/null 2>&1
	userdel -r "$V" >/dev/null 2>&1
	hw_cleanup
}
trap user_cleanup EXIT

useradd -m -s /bin/bash "$U" && useradd -m -s /bin/bash "$V" || { not_ok "create test users" "useradd failed"; exit 1; }
echo "$U:$PW" | chpasswd
printf 'auth required pam_unix.so nodelay\naccount required pam_unix.so\nsession required pam_unix.so\npassword required pam_unix.so\n' >"/etc/pam.d/$SVC"
echo "$U ALL=(root) /usr/bin/id" >"$SUDOERS" && chmod 440 "$SUDOERS"
mkdir -p "$T/work"
chmod 755 "$T"
cat >"$T/agent.yaml" <<EOF
heartbeat_interval: 1
EOF
agent_start "$T/agent.yaml" || { not_ok "agent starts" "$(cat "$T/agent.err")"; exit 1; }

# A check on an event that never came must fail: a missing event becomes {} (see below).
# ---- user.shell: a real bash on a pty; every line exactly, one with a control character ----
# Ctrl-V Ctrl-A types a literal 0x01 into the line (readline's quoted-insert).
(
	sleep 1
	printf 'echo hw-line-%s\n' $$
	sleep 0.2
	printf 'echo "two  spaces" '\''q'\'' $HOME\n'
	sleep 0.2
	printf 'echo ctl\026\001x\n'
	sleep 0.2
	printf 'exit\n'
	sleep 0.5
) | (cd "$T/work" && HISTFILE="$T/hist" SHELL=/bin/sh script -qfc "exec bash --norc --noprofile -i" /dev/null >/dev/null)
ev=$(wait_event "select(.kind==\"user.shell\" and .shell.line==\"echo hw-line-$$\")") || { not_ok "shell line seen" "no user.shell for the marker line"; ev={}; }
bpid=$(jq -r .proc.pid <<<"$ev")
expect_jq "shell: exe is bash" "$ev" "(.shell.shell==\"$(readlink -f /bin/bash)\") and (.proc.exe|test(\"bash\$\"))"
expect_jq "shell: cwd and tty" "$ev" ".shell.cwd==\"$T/work\" and (.shell.tty|test(\"^pts\"))"
expect_jq "shell: process is the interactive bash" "$ev" '.proc.comm=="bash" and .proc.uid==0 and .proc.args[1]=="--norc" and .proc.tid==.proc.pid'
# script(1) runs the command through $SHELL -c; the exec makes the shell become bash
expect_jq "shell: parent is script" "$ev" '.parent.exe=="/usr/bin/script" and .ancestors[0]=="/usr/bin/script"'
lines=$(events "select(.kind==\"user.shell\" and .proc.pid==$bpid) | .shell.line" | jq -s -c .)
expect_eq "shell: every line, in order, exactly" "$lines" "$(jq -c -n --arg h "$HOME" '["echo hw-line-'$$'", "echo \"two  spaces\" '"'q'"' $HOME", "echo ctl\u0001x", "exit"]' | sed "s|\\\$HOME|\$HOME|")"
raw=$(grep -F '"echo ctl' "$EV" | head -1)
case "$raw" in
*'"echo ctl\u0001x"'*) ok "shell: control character escaped in the JSON" ;;
*) not_ok "shell: control character escaped in the JSON" "${raw:0:300}" ;;
esac

# a line with bytes that are not UTF-8 (0xff 0xfe, typed raw: readline in 8-bit mode): reported,
# each such byte escaped as \u00XX, the JSON still valid
printf 'set input-meta on\nset convert-meta off\nset output-meta on\n' >"$T/inputrc"
(
	sleep 1
	printf 'echo nonutf\377\376-%s\n' $$
	sleep 0.3
	printf 'exit\n'
	sleep 0.3
) | (cd "$T/work" && INPUTRC="$T/inputrc" LC_ALL=C.UTF-8 HISTFILE=/dev/null SHELL=/bin/sh script -qfc "exec bash --norc --noprofile -i" /dev/null >/dev/null)
wait_event "select(.kind==\"user.shell\" and (.shell.line|startswith(\"echo nonutf\")))" >/dev/null || not_ok "non-UTF-8 line seen" "no user.shell for it"
raw=$(grep -F '"echo nonutf' "$EV" | head -1)
case "$raw" in
*'"echo nonutf\u00ff\u00fe-'$$'"'*) ok "shell: non-UTF-8 bytes reported, escaped as \\u00XX" ;;
*) not_ok "shell: non-UTF-8 bytes reported, escaped as \\u00XX" "${raw:0:300}" ;;
esac

# ---- a bash the agent has never seen (a copy is another inode, like a container's bash) ----
cp /bin/bash "$T/cbash"
(
	printf 'echo warm-up\n'
	# wait until the agent reports uprobes on the new file (heartbeat every second)
	for _ in $(seq 1 100); do
		jq -e "select(.kind==\"agent.heartbeat\") | .agent.uprobes[]? | select(.path==\"$T/cbash\" and .state==\"attached\")" "$EV" >/dev/null 2>&1 && break
		sleep 0.1
	done
	printf 'echo warm-up-2-%s\n' $$ # read by the readline call that began before the attach
	sleep 0.3
	printf 'echo in-copy-%s\n' $$
	sleep 0.2
	printf 'exit\n'
	sleep 0.5
) | (cd "$T/work" && HISTFILE=/dev/null SHELL=/bin/sh script -qfc "exec $T/cbash --norc --noprofile -i" /dev/null >/dev/null)
ev=$(wait_event "select(.kind==\"user.shell\" and .shell.line==\"echo in-copy-$$\")") || { not_ok "new bash binary covered" "no user.shell from $T/cbash"; ev={}; }
expect_jq "new bash binary: shell path" "$ev" ".shell.shell==\"$T/cbash\" and .proc.exe==\"$T/cbash\""
# the line read by the readline() call entered before the uprobes were attached: taken at
# rl_deprep_terminal, marked, reported once
ev=$(wait_event "select(.kind==\"user.shell\" and .shell.line==\"echo warm-up-2-$$\")") || { not_ok "first line of a never-seen bash" "no user.shell for warm-up-2"; ev={}; }
# Whether that readline() call began before the attach is a race with bash (seen both ways,
# natively too, and always under emulation): marked entry_missed when it did, taken by the
# entry probe when not. Either way: reported, from this bash, once (below).
expect_jq "first line of a never-seen bash: reported, from that bash" "$ev" ".shell.shell==\"$T/cbash\" and .proc.exe==\"$T/cbash\""
expect_eq "first line of a never-seen bash: once" "$(events "select(.kind==\"user.shell\" and .shell.line==\"echo warm-up-2-$$\")" | wc -l)" 1
expect_eq "later lines of that bash: from the return probe, once" "$(events "select(.kind==\"user.shell\" and .shell.line==\"echo in-copy-$$\" and (.shell.entry_missed|not))" | wc -l)" 1
hb=$(wait_event "select(.kind==\"agent.heartbeat\" and ([.agent.uprobes[]? | select(.path==\"$T/cbash\" and .state==\"attached\")] | length)==1)") || { not_ok "heartbeat lists the new uprobe" "no heartbeat with $T/cbash attached"; hb={}; }
expect_jq "heartbeat: host bash, libreadline and libpam attached" "$hb" '[.agent.uprobes[] | select(.state=="attached") | .path] | (any(test("bash$")) and any(test("libreadline")) and any(test("libpam")))'

# a non-interactive bash reads no line: nothing reported
bash -c "echo hw-noninteractive-$$ >/dev/null"
sleep 0.5

# ---- user.auth: pamtester, success and failure, all four steps ----
echo "$PW" | pamtester "$SVC" "$U" authenticate acct_mgmt open_session close_session >/dev/null 2>&1 &
ppid_=$!
wait $ppid_
expect_eq "pamtester succeeds" "$?" 0
for step in authenticate account open_session close_session; do
	ev=$(wait_event "select(.kind==\"user.auth\" and .proc.pid==$ppid_ and .auth.step==\"$step\")") || { not_ok "pamtester $step seen" "no event"; ev={}; }
	expect_jq "pamtester $step: service, user, success" "$ev" ".auth.service==\"$SVC\" and .auth.user==\"$U\" and .auth.result==\"success\" and .auth.code==0 and .proc.comm==\"pamtester\" and .proc.uid==0"
done
echo "wrong-$$" | pamtester "$SVC" "$U" authenticate >/dev/null 2>&1 &
fpid=$!
wait $fpid
ev=$(wait_event "select(.kind==\"user.auth\" and .proc.pid==$fpid)") || { not_ok "failed pamtester seen" "no event"; ev={}; }
expect_jq "pamtester wrong password: PAM_AUTH_ERR" "$ev" ".auth.step==\"authenticate\" and .auth.result==\"PAM_AUTH_ERR\" and .auth.code==7 and .auth.user==\"$U\""
expect_eq "pamtester failure: one event only" "$(events "select(.kind==\"user.auth\" and .proc.pid==$fpid)" | wc -l)" 1

# ---- su from an unprivileged user ----
echo "$PW" | setpriv --reuid="$V" --regid="$V" --clear-groups su "$U" -c "true" >/dev/null 2>&1 &
spid=$!
wait $spid
ev=$(wait_event "select(.kind==\"user.auth\" and .proc.pid==$spid and .auth.step==\"authenticate\")") || { not_ok "su authenticate seen" "no event"; ev={}; }
vuid=$(id -u "$V")
expect_jq "su: service su, target user, caller blamed" "$ev" ".auth.service==\"su\" and .auth.user==\"$U\" and .auth.result==\"success\" and .proc.uid==$vuid and .proc.euid==0 and .proc.comm==\"su\" and .auth.ruser==\"$V\""
ev=$(wait_event "select(.kind==\"user.auth\" and .proc.pid==$spid and .auth.step==\"open_session\")") || { not_ok "su session seen" "no event"; ev={}; }
expect_jq "su: session opened" "$ev" ".auth.result==\"success\" and .auth.user==\"$U\""
echo "wrong" | setpriv --reuid="$V" --regid="$V" --clear-groups su "$U" -c "true" >/dev/null 2>&1 &
spid2=$!
wait $spid2
ev=$(wait_event "select(.kind==\"user.auth\" and .proc.pid==$spid2 and .auth.step==\"authenticate\")") || { not_ok "failed su seen" "no event"; ev={}; }
expect_jq "su wrong password: PAM_AUTH_ERR" "$ev" '.auth.result=="PAM_AUTH_ERR"'

# ---- sudo with a sudoers rule; the command is the exec whose parent is sudo ----
echo "$PW" | runuser -u "$U" -- sudo -S -k -u root /usr/bin/id >/dev/null 2>&1
expect_eq "sudo runs" "$?" 0
ev=$(wait_event "select(.kind==\"user.auth\" and .auth.service==\"sudo\" and .auth.user==\"$U\" and .auth.step==\"authenticate\")") || { not_ok "sudo authenticate seen" "no event"; ev={}; }
sudo_pid=$(jq .proc.pid <<<"$ev")
uuid=$(id -u "$U")
expect_jq "sudo: invoking user authenticated" "$ev" ".auth.result==\"success\" and .proc.uid==$uuid and .proc.comm==\"sudo\""
ev=$(wait_event "select(.kind==\"user.auth\" and .proc.pid==$sudo_pid and .auth.step==\"open_session\")") || { not_ok "sudo session seen" "no event"; ev={}; }
expect_jq "sudo: session for the target user root" "$ev" '.auth.user=="root" and .auth.result=="success"'
ev=$(wait_event "select(.kind==\"process.exec\" and .proc.exe==\"/usr/bin/id\" and .parent.pid==$sudo_pid)") || { not_ok "sudo command exec linked" "no exec of /usr/bin/id with parent $sudo_pid"; ev={}; }
expect_jq "sudo: command exec runs as root, linked by parent key" "$ev" '.proc.euid==0 and .proc.args==["/usr/bin/id"] and (.parent.key|type)=="string"'
ev=$(wait_event "select(.kind==\"user.auth\" and .proc.pid==$sudo_pid and .auth.step==\"open_session\")")
expect_jq "sudo: command and target user on its own auth event" "$ev" '.auth.sudo_command==["/usr/bin/id"] and .auth.sudo_runas=="root"'

# ---- sudo on a terminal with `Defaults use_pty` (Debian's default): the command runs under
# sudo's pty monitor, a second sudo process; the command is on the PAM sudo's events ----
echo "Defaults:$U use_pty" >>"$SUDOERS"
script -qec "runuser -u $U -- sudo -S -k -u root /usr/bin/id -u" /dev/null <<<"$PW" >/dev/null 2>&1
ev=$(wait_event "select(.kind==\"user.auth\" and .auth.service==\"sudo\" and .auth.step==\"open_session\" and .auth.sudo_command==[\"/usr/bin/id\",\"-u\"])") || { not_ok "sudo on a pty: session seen" "no event"; ev={}; }
psudo=$(jq .proc.pid <<<"$ev")
expect_jq "sudo on a pty: target user, command, terminal" "$ev" '.auth.user=="root" and .auth.sudo_runas=="root" and (.auth.tty|test("^/dev/pts/[0-9]+$"))'
ev=$(wait_event "select(.kind==\"user.auth\" and .proc.pid==$psudo and .auth.step==\"authenticate\")") || { not_ok "sudo on a pty: authenticate seen" "no event"; ev={}; }
expect_jq "sudo on a pty: authenticate carries the command and the tty" "$ev" ".auth.user==\"$U\" and .auth.sudo_command==[\"/usr/bin/id\",\"-u\"] and (.auth.tty|test(\"^/dev/pts/\"))"
ev=$(wait_event "select(.kind==\"process.exec\" and .proc.exe==\"/usr/bin/id\" and .proc.args==[\"/usr/bin/id\",\"-u\"])") || { not_ok "sudo on a pty: command exec" "none"; ev={}; }
expect_jq "sudo on a pty: the command's parent is sudo's monitor, not the PAM sudo" "$ev" ".parent.pid!=$psudo and (.parent.exe|endswith(\"/sudo\")) and .proc.euid==0"

# ---- su on a terminal: auth.tty (su may flush the terminal's input before it reads the
# password, so the result is not checked here: the step and its tty are) ----
script -qec "setpriv --reuid=$V --regid=$V --clear-groups su $U -c true" /dev/null <<<"$PW" >/dev/null 2>&1
ev=$(wait_event "select(.kind==\"user.auth\" and .auth.service==\"su\" and .auth.step==\"authenticate\" and (.auth.tty|type)==\"string\" and (.auth.tty|test(\"^/dev/pts/\")))") || { not_ok "su on a pty: auth.tty" "no su authenticate with a pts tty"; ev={}; }
expect_jq "su on a pty: tty, user, caller" "$ev" ".auth.user==\"$U\" and .auth.ruser==\"$V\" and .auth.sudo_command==null and .proc.comm==\"su\""

# ---- SSH password login to our own sshd on 127.0.0.1, then a failed one ----
mkdir -p /run/sshd
ssh-keygen -q -t ed25519 -N '' -f "$T/hostkey"
cat >"$T/sshd_config" <<EOF
ListenAddress 127.0.0.1
HostKey $T/hostkey
PidFile $T/sshd.pid
UsePAM yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
PubkeyAuthentication no
PermitRootLogin no
UseDNS no
StrictModes no
AllowUsers $U
EOF
/usr/sbin/sshd -D -f "$T/sshd_config" -p "$PORT" -E "$T/sshd.log" &
SSHD_PID=$!
for _ in $(seq 1 50); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
SSHOPT=(-F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o PreferredAuthentications=password -o PubkeyAuthentication=no -o ConnectTimeout=10 -p "$PORT")
out=$(timeout 30 sshpass -p "$PW" ssh "${SSHOPT[@]}" "$U@127.0.0.1" "echo hw-ssh-ok" 2>>"$T/ssh.err")
expect_eq "ssh login works" "$out" "hw-ssh-ok"
ev=$(wait_event "select(.kind==\"user.auth\" and .auth.service==\"sshd\" and .auth.user==\"$U\" and .auth.step==\"authenticate\" and .auth.result==\"success\")") || { not_ok "ssh authenticate seen" "no event"; ev={}; }
expect_jq "ssh: remote host 127.0.0.1, blamed on sshd" "$ev" '.auth.rhost=="127.0.0.1" and .proc.exe=="/usr/sbin/sshd" and .proc.uid==0'
ev=$(wait_event "select(.kind==\"user.auth\" and .auth.service==\"sshd\" and .auth.user==\"$U\" and .auth.step==\"account\")") || { not_ok "ssh account seen" "no event"; ev={}; }
expect_jq "ssh: account ok" "$ev" '.auth.result=="success" and .auth.rhost=="127.0.0.1"'
ev=$(wait_event "select(.kind==\"user.auth\" and .auth.service==\"sshd\" and .auth.user==\"$U\" and .auth.step==\"open_session\")") || { not_ok "ssh session seen" "no event"; ev={}; }
expect_jq "ssh: session opened with tty/rhost" "$ev" '.auth.result=="success" and .auth.rhost=="127.0.0.1"'
# the session is closed once the remote command has ended, by the process that opened it:
# sshd's privileged monitor for the connection (a child of the listening sshd), same handle
omon=$(jq '.proc.pid // -1' <<<"$ev")
oseq=$(jq '.seq // -1' <<<"$ev")
ohandle=$(jq -r '.auth.handle // "none"' <<<"$ev")
xev=$(wait_event "select(.kind==\"process.exit\" and .proc.uid==$uuid and .proc.args==[\"bash\",\"-c\",\"echo hw-ssh-ok\"])") || { not_ok "ssh: remote command's exit seen" "no process.exit of bash -c 'echo hw-ssh-ok'"; xev='{"seq":-1}'; }
xseq=$(jq .seq <<<"$xev")
ev=$(wait_event "select(.kind==\"user.auth\" and .auth.service==\"sshd\" and .auth.user==\"$U\" and .auth.step==\"close_session\")") || { not_ok "ssh session close seen" "no close_session event"; ev={}; }
expect_jq "ssh: session closed (success) by sshd's monitor after the remote command ended" "$ev" ".auth.result==\"success\" and .auth.code==0 and .auth.rhost==\"127.0.0.1\" and .proc.exe==\"/usr/sbin/sshd\" and .proc.uid==0 and .proc.pid==$omon and .parent.pid==$SSHD_PID and .auth.handle==\"$ohandle\" and .seq>$oseq and .seq>$xseq and $xseq>0"
expect_eq "ssh: one close_session for the session" "$(events "select(.kind==\"user.auth\" and .auth.step==\"close_session\" and .auth.handle==\"$ohandle\" and .proc.pid==$omon)" | wc -l)" 1
timeout 30 sshpass -p "wrong-$$" ssh "${SSHOPT[@]}" "$U@127.0.0.1" true 2>>"$T/ssh.err"
expect_eq "ssh with a wrong password fails (sshpass 5)" "$?" 5
ev=$(wait_event "select(.kind==\"user.auth\" and .auth.service==\"sshd\" and .auth.user==\"$U\" and .auth.step==\"authenticate\" and .auth.result!=\"success\")") || { not_ok "failed ssh seen" "no event"; ev={}; }
expect_jq "ssh wrong password: PAM_AUTH_ERR from 127.0.0.1" "$ev" '.auth.result=="PAM_AUTH_ERR" and .auth.rhost=="127.0.0.1"'

# ---- password change through PAM (pam_chauthtok) for the test user: as root, pam_unix asks
# only for the new password, twice; a retype that differs fails; then the new password works ----
NPW="Pw-$$-new"
printf '%s\n%s\n' "$NPW" "$NPW" | pamtester "$SVC" "$U" chauthtok >/dev/null 2>&1 &
cpid=$!
wait $cpid
expect_eq "pamtester chauthtok succeeds" "$?" 0
ev=$(wait_event "select(.kind==\"user.auth\" and .proc.pid==$cpid)") || { not_ok "chauthtok seen" "no event"; ev={}; }
expect_jq "chauthtok: step, service, user, success" "$ev" ".auth.step==\"chauthtok\" and .auth.service==\"$SVC\" and .auth.user==\"$U\" and .auth.result==\"success\" and .auth.code==0 and .proc.comm==\"pamtester\" and .proc.uid==0"
expect_eq "chauthtok: one event" "$(events "select(.kind==\"user.auth\" and .proc.pid==$cpid)" | wc -l)" 1
printf '%s\n%s\n' "Pw-$$-one" "Pw-$$-other" | pamtester "$SVC" "$U" chauthtok >/dev/null 2>&1 &
cfpid=$!
wait $cfpid
expect_eq "pamtester chauthtok with a retype that differs fails" "$?" 1
ev=$(wait_event "select(.kind==\"user.auth\" and .proc.pid==$cfpid)") || { not_ok "failed chauthtok seen" "no event"; ev={}; }
expect_jq "chauthtok, retype differs: PAM_TRY_AGAIN" "$ev" ".auth.step==\"chauthtok\" and .auth.service==\"$SVC\" and .auth.user==\"$U\" and .auth.result==\"PAM_TRY_AGAIN\" and .auth.code==24"
# the change was real: the new password authenticates, the old one no longer does
echo "$NPW" | pamtester "$SVC" "$U" authenticate >/dev/null 2>&1 &
npid=$!
wait $npid
expect_eq "the new password authenticates" "$?" 0
ev=$(wait_event "select(.kind==\"user.auth\" and .proc.pid==$npid)") || { not_ok "authenticate with the new password seen" "no event"; ev={}; }
expect_jq "authenticate with the new password: success" "$ev" ".auth.step==\"authenticate\" and .auth.result==\"success\" and .auth.user==\"$U\""
echo "$PW" | pamtester "$SVC" "$U" authenticate >/dev/null 2>&1
expect_eq "the old password no longer authenticates" "$?" 1

# ---- a libpam that only a plugin loads, from a second root: a chroot with its own copy of
# libpam (another inode) and a PAM client that does not link libpam but dlopen()s it, as sudo
# does through sudoers.so. Its ELF does not name libpam: only the lookup of the libpam of the
# process's root (at the exec of a binary the agent has not seen, or at a /proc scan) finds it.
# The helper waits for a file before its dlopen(): the agent handles an exec some ms after it,
# and a program that reaches pam_start sooner than that is missed (docs/events-user.md) ----
CR="$T/croot"
LIBD=usr/lib/x86_64-linux-gnu
HPAM=$(readlink -f /lib/x86_64-linux-gnu/libpam.so.0)
mkdir -p "$CR/$LIBD/security" "$CR/usr/lib64" "$CR/etc/pam.d"
ln -s usr/lib "$CR/lib"
ln -s usr/lib64 "$CR/lib64"
for f in $(ldd "$HELPERS/pam_dlopen" "$HPAM" "$(dirname "$HPAM")/security/pam_permit.so" | awk '$2=="=>" && $3 ~ /^\// {print $3} $1 ~ /^\/.*[^:]$/ {print $1}' | sort -u); do
	mkdir -p "$CR$(dirname "$f")" && cp -L "$f" "$CR$f"
done
cp -L "$HPAM" "$CR/$LIBD/libpam.so.0"
cp "$(dirname "$HPAM")/security/pam_permit.so" "$(dirname "$HPAM")/security/pam_deny.so" "$CR/$LIBD/security/"
cp "$HELPERS/pam_dlopen" "$CR/pam_dlopen"
echo "auth required pam_permit.so" >"$CR/etc/pam.d/hwc-permit-$$"
echo "auth required pam_deny.so" >"$CR/etc/pam.d/hwc-deny-$$"
cino=$(stat -c %i "$CR/$LIBD/libpam.so.0")
hino=$(stat -c %i "$HPAM")
if ldd "$HELPERS/pam_dlopen" | grep -q libpam; then
	not_ok "chroot: helper without libpam, another libpam file" "the helper links libpam"
elif [ "$(stat -c %d:%i "$HPAM")" = "$(stat -c %d:%i "$CR/$LIBD/libpam.so.0")" ]; then
	not_ok "chroot: helper without libpam, another libpam file" "the chroot's libpam is the host's file"
else
	ok "chroot: helper without libpam, another libpam file"
fi
# the exec of a binary the agent has not seen, in the chroot: its root's libpam is probed
# (the heartbeat's /proc scan, every 30 s, would find it as well, had it run in this second)
chroot "$CR" /pam_dlopen "hwc-permit-$$" "hwc$$" /go >"$T/chroot1.out" 2>&1 &
c1=$!
cvia="/proc/$c1/root/$LIBD/libpam.so.0"
hb=$(wait_grep '"kind":"agent.heartbeat"' "select(.kind==\"agent.heartbeat\" and any(.agent.uprobes[]?; .ino==$cino and .via==\"$cvia\" and .state==\"attached\"))" 10) || { not_ok "chroot: its libpam probed at the helper's exec" "no heartbeat lists $cvia attached"; hb={}; }
: >"$CR/go"
wait $c1
expect_eq "chroot: helper authenticates through pam_permit" "$?" 0
expect_jq "heartbeat: the chroot's libpam, as its root sees it, attached through /proc/PID/root like the host's" "$hb" "([.agent.uprobes[] | select(.probe==\"user.auth\" and .ino==$hino)][0].links) as \$n | [.agent.uprobes[] | select(.ino==$cino and .via==\"$cvia\")] | length==1 and .[0].probe==\"user.auth\" and .[0].path==\"/$LIBD/libpam.so.0\" and .[0].links==\$n and \$n>0"
ev=$(wait_event "select(.kind==\"user.auth\" and .proc.pid==$c1)") || { not_ok "chroot: user.auth from the helper" "no event ($(cat "$T/chroot1.out"))"; ev={}; }
expect_jq "chroot: authenticate, service and user of the chroot, success, blamed on the helper" "$ev" ".auth.step==\"authenticate\" and .auth.service==\"hwc-permit-$$\" and .auth.user==\"hwc$$\" and .auth.result==\"success\" and .auth.code==0 and .proc.exe==\"$CR/pam_dlopen\" and .proc.comm==\"pam_dlopen\""
chroot "$CR" /pam_dlopen "hwc-deny-$$" "hwc$$" >/dev/null 2>&1 &
c2=$!
wait $c2
expect_eq "chroot: helper refused by pam_deny" "$?" 1
ev=$(wait_event "select(.kind==\"user.auth\" and .proc.pid==$c2)") || { not_ok "chroot: pam_deny seen" "no event"; ev={}; }
expect_jq "chroot: pam_deny gives PAM_AUTH_ERR" "$ev" ".auth.step==\"authenticate\" and .auth.service==\"hwc-deny-$$\" and .auth.result==\"PAM_AUTH_ERR\" and .auth.code==7"
# user.auth disabled and enabled again: the chroot's libpam was attached through the first
# helper's /proc/PID/root, gone now; a helper already seen (no exec lookup) waits in the chroot,
# and the /proc scan of the enable finds the libpam through its root and attaches it again
chroot "$CR" /pam_dlopen "hwc-permit-$$" "hwr$$" /go2 >"$T/chroot3.out" 2>&1 &
c3=$!
for _ in $(seq 1 50); do [ "$(readlink "/proc/$c3/exe")" = "$CR/pam_dlopen" ] && break; sleep 0.02; done
ctl disable user.auth >/dev/null && ctl enable user.auth >/dev/null
: >"$CR/go2"
wait $c3
ev=$(wait_event "select(.kind==\"user.auth\" and .proc.pid==$c3)") || { not_ok "chroot: probed again after disable/enable" "no event ($(cat "$T/chroot3.out"))"; ev={}; }
expect_jq "chroot: after disable/enable, found by the /proc scan through a live process's root" "$ev" ".auth.service==\"hwc-permit-$$\" and .auth.user==\"hwr$$\" and .auth.result==\"success\""
hb=$(wait_grep '"kind":"agent.heartbeat"' "select(.kind==\"agent.heartbeat\" and .seq>$(jq '.seq // 0' <<<"$ev"))") || hb={}
expect_jq "heartbeat: the chroot's libpam attached through the live process" "$hb" "[.agent.uprobes[] | select(.ino==$cino and .probe==\"user.auth\")] | length==1 and .[0].state==\"attached\" and .[0].via==\"/proc/$c3/root/$LIBD/libpam.so.0\""

agent_stop
expect_eq "agent exits 0" "$?" 0
expect_eq "no user.shell from a non-interactive bash" "$(grep -c "hw-noninteractive-$$" <(events 'select(.kind=="user.shell")'))" 0
expect "every line is valid JSON" jq -e . "$EV"
expect "seq contiguous from 1" seq_contiguous
expect_jq "final heartbeat: user probes attached" "$(last_heartbeat)" '.agent.probes["user.shell"].state=="attached" and .agent.probes["user.auth"].state=="attached"'
