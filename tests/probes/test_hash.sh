#!/usr/bin/env bash
# exec.sha256 and process.binary (agent/binhash.c), with real execs of files this test makes:
# a first exec says "pending" and process.binary follows with the exec's seq and the hash
# sha256sum computes; a repeat has it inline (cache); a file replaced at the same path (new
# inode) or rewritten in place (new mtime) gets its new hash; a file over exec_hash.max_file_kb
# is null "too_large" at once; a file deleted before the worker reached it is "gone"; an exe
# deleted while its process runs is still hashed (through /proc/PID/exe), and so is a memfd;
# files beyond the budget of bytes per second are "budget", which is not remembered.
# HW_HASH_DELAY=MS:PREFIX holds the worker back before files under PREFIX (the "slow-" files).
. "$(dirname "$0")/../lib.sh"
need_root

mkdir -p "$T/bin"
chmod 755 "$T" "$T/bin"
cat >"$T/hash.yaml" <<EOF
exec_hash:
  max_file_kb: 2048
  budget_kb_per_s: 4096
  cache_entries: 64
EOF
export HW_HASH_DELAY="400:$T/bin/slow-"
agent_start "$T/hash.yaml" || { not_ok "agent starts" "$(cat "$T/agent.err")"; exit 1; }
unset HW_HASH_DELAY

sum() { sha256sum "$1" | cut -d' ' -f1; }
# run FILE MARK: exec FILE with argv[1] MARK; prints the exec event
run() {
	"$1" "$2" >/dev/null 2>&1
	wait_grep "$2" "select(.kind==\"process.exec\" and .proc.args[1]==\"$2\")"
}
# binary_of SEQ: the process.binary answering the exec of that seq
binary_of() { wait_grep process.binary "select(.kind==\"process.binary\" and .binary.exec_seq==$1)" "${2:-10}"; }

# 1. first exec: pending, then process.binary with the hash of the file
cp /usr/bin/true "$T/bin/t1"
want1=$(sum "$T/bin/t1")
ev=$(run "$T/bin/t1" hwh1$$)
expect_jq first_exec_pending "$ev" '.exec.sha256 == null and .exec.sha256_reason == "pending"'
seq1=$(jq .seq <<<"$ev")
bin=$(binary_of "$seq1")
expect_jq binary_event_hash "$bin" ".binary.sha256 == \"$want1\" and .binary.path == \"$T/bin/t1\""
expect_jq binary_event_fields "$bin" ".binary.ino == $(stat -c %i "$T/bin/t1") and .binary.size == $(stat -c %s "$T/bin/t1") and .binary.execs == 1 and (.binary.dev | test(\"^[0-9]+:[0-9]+$\")) and .binary.sha256_reason == null"
expect_jq binary_event_proc "$bin" ".proc.pid == $(jq .proc.pid <<<"$ev")"

# 2. the same file again: the hash is in the exec event itself, nothing follows
ev=$(run "$T/bin/t1" hwh2$$)
expect_jq repeat_exec_inline_hash "$ev" ".exec.sha256 == \"$want1\" and (.exec | has(\"sha256_reason\") | not)"
seq2=$(jq .seq <<<"$ev")

# 3. replaced at the same path (new inode): new hash; rewritten in place (same inode, new
# mtime): new hash again
cp /usr/bin/false "$T/bin/t1.new" && mv "$T/bin/t1.new" "$T/bin/t1"
want3=$(sum "$T/bin/t1")
ev=$(run "$T/bin/t1" hwh3$$)
expect_jq replaced_exec_pending "$ev" '.exec.sha256_reason == "pending"'
bin=$(binary_of "$(jq .seq <<<"$ev")")
expect_jq replaced_new_hash "$bin" ".binary.sha256 == \"$want3\" and \"$want3\" != \"$want1\""
ev=$(run "$T/bin/t1" hwh4$$)
expect_jq replaced_then_cached "$ev" ".exec.sha256 == \"$want3\""
ino=$(stat -c %i "$T/bin/t1")
cat /usr/bin/echo >"$T/bin/t1"
want5=$(sum "$T/bin/t1")
ev=$(run "$T/bin/t1" hwh5$$)
bin=$(binary_of "$(jq .seq <<<"$ev")")
expect_jq rewritten_in_place_new_hash "$bin" ".binary.sha256 == \"$want5\" and .binary.ino == $ino"
expect "no process.binary for a cache hit" \
	test -z "$(grep_events process.binary "select(.binary.exec_seq == $seq2)")"

# 4. over max_file_kb (2048): null and too_large in the exec event, never queued
cp /usr/bin/true "$T/bin/big" && truncate -s 3M "$T/bin/big"
ev=$(run "$T/bin/big" hwh6$$)
expect_jq too_large_inline "$ev" '.exec.sha256 == null and .exec.sha256_reason == "too_large"'

# 5. deleted before the worker reached it (held back 400 ms): gone
cp /usr/bin/true "$T/bin/slow-gone"
"$T/bin/slow-gone" hwh7$$
rm -f "$T/bin/slow-gone"
ev=$(wait_grep hwh7$$ 'select(.kind=="process.exec")')
bin=$(binary_of "$(jq .seq <<<"$ev")")
expect_jq gone_before_hashing "$bin" '.binary.sha256 == null and .binary.sha256_reason == "gone"'

# 6. an exe deleted while its process runs: read through /proc/PID/exe
cp /usr/bin/sleep "$T/bin/slow-del"
want6=$(sum "$T/bin/slow-del")
"$T/bin/slow-del" 3 &
dpid=$!
# removed once it runs (the worker waits 400 ms before it looks)
for _ in $(seq 1 100); do
	[ "$(readlink "/proc/$dpid/exe")" = "$T/bin/slow-del" ] && break
	sleep 0.01
done
rm -f "$T/bin/slow-del"
ev=$(wait_event "select(.kind==\"process.exec\" and .proc.pid==$dpid)")
bin=$(binary_of "$(jq .seq <<<"$ev")")
expect_jq deleted_exe_hashed_via_proc "$bin" ".binary.sha256 == \"$want6\""
kill "$dpid" 2>/dev/null
wait "$dpid" 2>/dev/null

# 7. memfd: no path at all
"$HELPERS/memfd_exec" hwhmemfd /usr/bin/sleep 1 &
mpid=$!
ev=$(wait_event "select(.kind==\"process.exec\" and .proc.pid==$mpid and .exec.fileless)")
bin=$(binary_of "$(jq .seq <<<"$ev")")
expect_jq memfd_exe_hashed "$bin" ".binary.sha256 == \"$(sum /usr/bin/sleep)\""
wait "$mpid" 2>/dev/null

# 8. budget: 4 MiB per second; four distinct 1.9 MiB files at once exceed it
for i in 1 2 3 4; do
	cp /usr/bin/true "$T/bin/b$i" && truncate -s 1900K "$T/bin/b$i" && printf '%s' "$i" >>"$T/bin/b$i"
done
for i in 1 2 3 4; do "$T/bin/b$i" hwhb$i$$; done
bins=""
for i in 1 2 3 4; do
	ev=$(wait_grep "hwhb$i$$" 'select(.kind=="process.exec")')
	bins+="$(binary_of "$(jq .seq <<<"$ev")")"$'\n'
done
expect_jq budget_some_hashed "$(jq -s -c . <<<"$bins")" '[.[] | select(.binary.sha256 != null)] | length >= 1'
expect_jq budget_some_skipped "$(jq -s -c . <<<"$bins")" '[.[] | select(.binary.sha256_reason == "budget")] | length >= 1'
skipped=$(jq -r 'select(.binary.sha256_reason == "budget") | .binary.path' <<<"$bins" | tail -n1)
sleep 1.1 # the bucket refills
if [ -n "$skipped" ]; then
	"$skipped" hwhb9$$
	ev=$(wait_grep "hwhb9$$" 'select(.kind=="process.exec")')
	expect_jq budget_not_remembered "$ev" '.exec.sha256_reason == "pending"'
	bin=$(binary_of "$(jq .seq <<<"$ev")")
	expect_jq budget_retry_hashed "$bin" ".binary.sha256 == \"$(sum "$skipped")\""
else
	not_ok budget_not_remembered "no file was skipped for the budget"
fi

agent_stop
hb=$(last_heartbeat)
expect_jq heartbeat_counters "$hb" '.agent.exec_hash.enabled and .agent.exec_hash.hashed >= 5 and .agent.exec_hash.hits >= 2 and .agent.exec_hash.skipped.too_large >= 1 and .agent.exec_hash.skipped.gone >= 1 and .agent.exec_hash.skipped.budget >= 1 and .agent.exec_hash.cache_max == 64'
