#!/usr/bin/env bash
# A full file system under the output: the failure is told on stderr, events are held in
# memory up to a bound and written once space returns, what did not fit is announced as
# agent.loss (cause output_error) with a count equal to the gap in seq.
. "$(dirname "$0")/../lib.sh"
need_root

FS=$T/small
mkdir -p "$FS"
mount -t tmpfs -o size=256k hwtest-full "$FS" || { not_ok "tmpfs mounted" "mount failed"; exit 1; }
out_cleanup() {
	[ -n "$AGENT_PID" ] && kill -TERM "$AGENT_PID" 2>/dev/null && wait "$AGENT_PID" 2>/dev/null
	AGENT_PID=
	umount "$FS" 2>/dev/null
	hw_cleanup
}
trap out_cleanup EXIT
# most of the space taken by a file this test can remove to give it back
head -c 200k /dev/zero >"$FS/filler"
OUT=$FS/events.json
HW_OUTPUT_HOLD_BYTES=65536 "$AGENT" --output "$OUT" --control none 2>"$T/agent.err" &
AGENT_PID=$!
for _ in $(seq 1 1200); do
	grep -q '"kind":"agent.heartbeat"' "$OUT" 2>/dev/null && break
	kill -0 "$AGENT_PID" 2>/dev/null || { not_ok "agent starts" "$(cat "$T/agent.err")"; exit 1; }
	sleep 0.1
done

# grep_out STRING FILTER: the complete lines of the output with STRING, through jq FILTER
grep_out() { grep -F -- "$1" "$OUT" 2>/dev/null | jq -c "$2" 2>/dev/null; }

SECONDS=0
# fill it: each exec and exit is an event of ~1-2 KiB; 800 of each are far beyond the
# ~50 KiB left and the 64 KiB the agent may hold
for i in $(seq 1 800); do /usr/bin/true "hwfull$$-$i"; done
for _ in $(seq 1 50); do
	grep -q "No space left on device" "$T/agent.err" && break
	sleep 0.1
done
expect "stderr names the error" grep -q "writing output $OUT failed: No space left on device" "$T/agent.err"
sleep 1.5 # a retry or two while still full
# rate-limited: one message when it starts, then at most one every 10 s (the machine may be
# slow enough for the 800 execs to take longer than that)
expect_eq "stderr: the failure told once when it starts" "$(grep -c "writing output $OUT failed" "$T/agent.err")" 1
again=$(grep -c "writing output $OUT still fails" "$T/agent.err")
expect "stderr: reminders at most every 10 s" test "$again" -le $((SECONDS / 10 + 1))
expect "no loss announced while nothing can be written" \
	bash -c "! grep -q '\"cause\":\"output_error\"' '$OUT'"

# space returns: the filler goes, and the file system grows (the events of everything else
# running on the machine must not fill it again before the test ends)
rm -f "$FS/filler"
mount -o remount,size=64m "$FS"
# the agent retries once a second: the events below come after it writes again (before that,
# with its hold full, they would be dropped and counted, as they should)
poll_first 10 grep -m1 "writing output $OUT works again" "$T/agent.err" >/dev/null
expect "stderr tells that writing works again" grep -q "writing output $OUT works again" "$T/agent.err"
for i in $(seq 1 20); do /usr/bin/true "hwafter$$-$i"; done
# (lines picked by grep first: jq over the whole file stops at a line still being written)
ev=$(poll_first 10 grep_out '"cause":"output_error"' 'select(.kind=="agent.loss" and .loss.cause=="output_error")') ||
	not_ok "agent.loss output_error in the file" "$(tail -c 300 "$OUT")"
expect_jq "loss: count and kind" "$ev" '.loss.count > 0 and (.loss.kind|length) > 0'
after=$(poll_first 10 grep_out "hwafter$$-20" "select(.kind==\"process.exec\" and .proc.args[1]==\"hwafter$$-20\")")
expect_jq "events after the failure are written" "$after" '.seq > 0' 
kill -TERM "$AGENT_PID"
wait "$AGENT_PID"
expect_eq "agent exits 0" "$?" 0
AGENT_PID=
expect "every line is valid JSON" jq -e . "$OUT"
# seq: gaps only where events were dropped, and their sum equals the announced counts
jq -s -e '
	([.[].seq]) as $s
	| ([range(1; $s|length) | $s[.] - $s[. - 1] - 1] | add) as $gap
	| ([.[] | select(.kind=="agent.loss" and .loss.cause=="output_error") | .loss.count] | add) as $ann
	| ($s == ($s|sort)) and $s[0] == 1 and $gap > 0 and $gap == $ann' "$OUT" >/dev/null &&
	ok "seq gap == announced count" ||
	not_ok "seq gap == announced count" "$(jq -s '[.[]|select(.kind=="agent.loss")|.loss]' "$OUT")"
exit 0
