#!/usr/bin/env bash
# The inventory (inventory.* events, docs/events-inventory.md) of real things this test makes:
# an account with uid 0 and an account whose authorized_keys holds a key made by ssh-keygen
# (in a copy of /etc/passwd: HW_INVENTORY_PASSWD), a preload file (HW_INVENTORY_PRELOAD: the
# real /etc/ld.so.preload would touch every program on the machine), a set-uid and a set-gid
# file in /usr/local/bin, a crontab in /etc/cron.d, an enabled unit under /etc/systemd/system
# (all removed at the end), TCP and UDP listeners of a process it starts; modules as the kernel
# has them. The run at start, a periodic run (HW_INVENTORY_INTERVAL_MS), "ctl inventory" (one
# at a time), events keep flowing while a run goes on, the time and I/O budgets cut a run short
# and say so, a bad inventory setting is refused, and a stop in mid-run still gives a summary.
. "$(dirname "$0")/../lib.sh"
need_root
TAG="hwinv$$"
SUID=/usr/local/bin/$TAG-suid
SGID=/usr/local/bin/$TAG-sgid
CRON=/etc/cron.d/$TAG
WANTS=/etc/systemd/system/$TAG.target.wants
LPID=
inv_cleanup() {
	rm -f "$SUID" "$SGID" "$CRON"
	rm -rf "$WANTS"
	[ -n "$LPID" ] && kill "$LPID" 2>/dev/null
}
trap 'inv_cleanup; hw_cleanup' EXIT

# accounts: a copy of passwd with a second uid 0 and an account with a key
mkdir -p "$T/home/.ssh"
cp /etc/passwd "$T/passwd"
echo "${TAG}r:x:0:0:test:/nonexistent:/usr/sbin/nologin" >>"$T/passwd"
echo "${TAG}u:x:4242:4242:test:$T/home:/bin/sh" >>"$T/passwd"
ssh-keygen -q -t ed25519 -N '' -C "$TAG@test" -f "$T/key" || { not_ok ssh_keygen "failed"; exit 1; }
FP=$(ssh-keygen -lf "$T/key.pub" | awk '{print $2}')
BLOB=$(awk '{print $2}' "$T/key.pub")
{
	echo "# keys of the test"
	echo "from=\"127.0.0.1\",command=\"/bin/echo a b\" $(cat "$T/key.pub")"
	echo "not a key line"
} >"$T/home/.ssh/authorized_keys"
mkfifo "$T/home/.ssh/authorized_keys2" # never read (not a regular file), never blocks
printf '/lib/%s-a.so /lib/%s-b.so:# a comment\n' "$TAG" "$TAG" >"$T/preload"
export HW_INVENTORY_PASSWD=$T/passwd HW_INVENTORY_PRELOAD=$T/preload HW_INVENTORY_INTERVAL_MS=2500

cp /bin/true "$SUID" && chmod 4755 "$SUID"
cp /bin/true "$SGID" && chmod 2755 "$SGID"
printf '# a comment\nSHELL=/bin/sh\n0 0 31 2 * root /bin/true\n' >"$CRON"
mkdir -p "$WANTS" && ln -s /dev/null "$WANTS/$TAG.service"
python3 -c '
import socket, sys, time
t = socket.socket(); t.bind(("127.0.0.1", 0)); t.listen()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0))
print(t.getsockname()[1], u.getsockname()[1], flush=True)
time.sleep(120)' >"$T/ports" &
LPID=$!
for _ in $(seq 50); do [ -s "$T/ports" ] && break; sleep 0.1; done
read -r TPORT UPORT <"$T/ports"

agent_start || { not_ok "agent starts" "$(cat "$T/agent.err")"; exit 1; }

# summary RUN: the summary of that run (waits)
summary() { wait_grep '"inventory.summary"' "select(.inventory.run==$1)" "${2:-30}"; }
# items KIND RUN: the items of that kind of that run
items() { grep_events "\"inventory.$1\"" "select(.kind==\"inventory.$1\" and .inventory.run==$2) | .inventory"; }

s=$(summary 1) || { not_ok start_summary "no summary of run 1"; exit 1; }
expect_jq start_summary "$s" '.inventory.trigger=="start" and .inventory.cut_short==null and .inventory.cpu_s > 0 and .inventory.files > 1000'
u0=$(items uid0 1)
expect_jq uid0_root "$(jq -s . <<<"$u0")" 'any(.[]; .name=="root" and .uid==0)'
expect_jq uid0_added_account "$(jq -s . <<<"$u0")" "any(.[]; .name==\"${TAG}r\" and .shell==\"/usr/sbin/nologin\" and .source==\"$T/passwd\" and .line==$(wc -l <"$T/passwd")-1)"
expect_eq uid0_only_uid0 "$(jq -s 'map(select(.uid!=0)) | length' <<<"$u0")" 0
k=$(items authorized_key 1 | jq -c "select(.user==\"${TAG}u\")")
expect_eq key_one_per_key_line "$(grep -c . <<<"$k")" 1
expect_jq key_fingerprint_as_ssh_keygen "$k" ".fingerprint==\"$FP\" and .type==\"ssh-ed25519\" and .line==2 and .comment==\"$TAG@test\" and .options==true and .uid==4242 and .path==\"$T/home/.ssh/authorized_keys\""
inv_lines=$(grep -F '"kind":"inventory.' "$EV") # (a grep for the key would be an exec event with it)
expect key_never_in_events test -n "$inv_lines" -a "${inv_lines/"$BLOB"/}" = "$inv_lines"
expect_eq key_fifo_skipped "$(items authorized_key 1 | jq -c "select(.path|endswith(\"authorized_keys2\"))")" ""
p=$(items preload 1 | jq -s -c 'map(.entry)')
expect_eq preload_entries "$p" "[\"/lib/$TAG-a.so\",\"/lib/$TAG-b.so\"]"
su=$(items setid 1 | jq -c "select(.path==\"$SUID\")")
expect_jq setid_suid_file "$su" '.setuid==true and .setgid==false and .mode=="4755" and .uid==0'
sg=$(items setid 1 | jq -c "select(.path==\"$SGID\")")
expect_jq setid_sgid_file "$sg" '.setuid==false and .setgid==true and .mode=="2755"'
expect_eq setid_no_plain_file "$(items setid 1 | jq -c 'select(.path=="/usr/bin/true")')" ""
c=$(items crontab 1 | jq -c "select(.path==\"$CRON\")")
expect_jq crontab_hash_entries "$c" ".sha256==\"$(sha256sum "$CRON" | cut -d' ' -f1)\" and .entries==1 and .type==\"system\" and .bytes==$(stat -c %s "$CRON")"
un=$(items unit 1 | jq -c "select(.unit==\"$TAG.service\")")
expect_jq unit_enabled "$un" ".wanted_by==\"$TAG.target\" and .dependency==\"wants\" and .scope==\"system\" and .target==\"/dev/null\""
l=$(items listener 1 | jq -c "select(.port==$TPORT and .proto==\"tcp\")")
expect_jq listener_tcp_with_process "$l" ".ip==\"127.0.0.1\" and .procs[0].pid==$LPID and .procs[0].exe==\"$(readlink /proc/$LPID/exe)\" and .nprocs==1"
l=$(items listener 1 | jq -c "select(.port==$UPORT and .proto==\"udp\")")
expect_jq listener_udp_with_process "$l" ".ip==\"127.0.0.1\" and .procs[0].pid==$LPID"
if [ -r /proc/modules ]; then
	expect_eq modules_as_proc_modules "$(items module 1 | jq -r .name | sort | tr '\n' ' ')" "$(cut -d' ' -f1 /proc/modules | sort | tr '\n' ' ')"
else
	expect_jq modules_unavailable_said "$s" '(.inventory.unavailable.modules|test("no /proc/modules")) and .inventory.counts.modules==0'
fi
n_items=$(grep -F '"inventory.' "$EV" | jq -c 'select(.inventory.run==1 and .kind!="inventory.summary")' | grep -c .)
expect_eq summary_counts_items "$(jq '[.inventory.counts[]] | add' <<<"$s")" "$n_items"

# the budgets: a run cut short says which budget and where
# inv_ctl: ctl inventory, again while a periodic run happens to be on
inv_ctl() {
	local o
	for _ in $(seq 50); do
		o=$(ctl inventory)
		grep -q '"ok":true' <<<"$o" && { jq .run <<<"$o"; return; }
		sleep 0.2
	done
}
ctl set 'inventory: {time_budget_ms: 1}' >/dev/null
r=$(inv_ctl)
expect_jq ctl_inventory_started "$(events 'select(.kind=="agent.control" and .control.command=="inventory")' | tail -n1)" '.control.ok==true and (.control.answer.now=="started")'
expect_jq cut_short_time "$(summary "$r")" '.inventory.cut_short=="time" and .inventory.budget.time_ms==1 and .inventory.cut_in!=null and .inventory.trigger=="control:socket"'
ctl set 'inventory: {time_budget_ms: 60000, max_files: 30}' >/dev/null
r=$(inv_ctl)
expect_jq cut_short_io "$(summary "$r")" '.inventory.cut_short=="io" and .inventory.files==31 and .inventory.counts.setid==0'
# the heartbeat that follows a change (here the request) says a run is on
expect_jq heartbeat_inventory "$(wait_event "select(.kind==\"agent.heartbeat\" and .agent.inventory.runs==$r)" 5)" '.agent.inventory.running==true'
bad=$(ctl set 'inventory: {interval_hours: -1}')
expect_jq bad_setting_refused "$bad" '.ok==false and (.error|test("interval_hours"))'
# the periodic run (HW_INVENTORY_INTERVAL_MS=2500) comes 2.5 s after the run before it ends
iv=$(wait_grep '"inventory.summary"' 'select(.inventory.trigger=="interval")' 15)
pv=$(summary "$(($(jq .inventory.run <<<"$iv") - 1))")
expect periodic_run test -n "$iv" -a "$(jq .inventory.started_ms <<<"$iv")" -ge \
	"$(($(jq '.inventory.started_ms + .inventory.duration_ms' <<<"$pv") + 2400))"

# a full run: one at a time, events flow while it goes on, a stop ends it with its summary
ctl set 'inventory: {max_files: 1000000}' >/dev/null
r=$(inv_ctl)
busy=$(ctl inventory)
expect_jq ctl_inventory_busy_refused "$busy" ".ok==false and (.error|test(\"an inventory is running \\\\(run $r\\\\)\"))"
/bin/true "$TAG-during"
during=$(wait_event "select(.kind==\"process.exec\" and .proc.args[0]==\"/bin/true\" and .proc.args[1]==\"$TAG-during\")" 5)
mid=$(grep_events '"inventory.summary"' "select(.inventory.run==$r)")
expect events_flow_during_run test -n "$during" -a -z "$mid"
ctls=$(events 'select(.kind=="agent.control" and .control.command=="inventory")' | jq -s -c 'map(.control.ok) | .[-2:]')
expect_eq ctl_inventory_reported "$ctls" "[true,false]"
agent_stop
expect_jq stop_mid_run_summary "$(summary "$r" 2)" '.inventory.cut_short=="stopped" and .inventory.trigger=="control:socket"'
