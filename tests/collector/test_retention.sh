#!/usr/bin/env bash
# lane: parallel (no BPF, no agent: runs beside the probe tests)
# Retention: events older than --retain-days are deleted; while the data exceeds --retain-mb
# the oldest chunks go; the newest events stay queryable. Alerts go with the events they cite
# (older than the age limit, or older than the oldest event left); streams (stored seqs of an
# agent run) go when none of their events is left and they were inactive beyond the age limit.
. "$(dirname "$0")/lib.sh"
make_pki vm1 vm2 >/dev/null 2>&1 || { echo "not ok - pki: herdwatch-ca failed"; exit 1; }
start_collector --learn-s 0 --retain-days 30 --retain-mb 1 --retain-interval-s 1 || exit 1
SQL() { sqlite3 -cmd ".timeout 5000" "$T/c.db" "$@"; }
now_s=$(date +%s)
year=$((365 * 86400))
# alerts: a year old (age), an hour old (older than every event left once size retention has
# run), and one newer than any event (kept)
SQL "INSERT INTO alerts(ts, kind, severity, herd, member, score, json) VALUES
	($(((now_s - year) * 1000000000)), 'member.outlier', 'alert', 'web', 'x', 1, '{\"t\":\"year-old\"}'),
	($(((now_s - 3600) * 1000000000)), 'member.outlier', 'alert', 'web', 'x', 1, '{\"t\":\"hour-old\"}'),
	($(((now_s + 86400) * 1000000000)), 'member.outlier', 'alert', 'web', 'x', 1, '{\"t\":\"newest\"}')"
# a stream inactive for a year whose events are gone
SQL "INSERT INTO streams(name, host_id, boot_id, run, ranges, updated) VALUES('gonehost', 'gonehost', 'b', 0, '1-10', $((now_s - year)))"

# old events (a year ago) from vm1; current ones from vm2, enough to exceed 1 MiB
$GEN baseline --host vm1 --members m1 --rounds 20 2>/dev/null |
	sed -E 's/"time":"[0-9]{4}-/"time":"2025-/' >"$T/old.jsonl"
replay vm1 vm1 "$T/old.jsonl" >/dev/null 2>&1
$GEN baseline --host vm2 --members m1,m2,m3 --rounds 2000 >"$T/new.jsonl" 2>/dev/null
N=$(wc -l <"$T/new.jsonl")
replay vm2 vm2 "$T/new.jsonl" >/dev/null 2>&1
# a stream inactive for a year whose newest chunk (vm2's) is still stored
SQL "INSERT INTO streams(name, host_id, boot_id, run, ranges, updated, host, last_chunk) VALUES('livehost', 'livehost',
	'b', 0, '1-10', $((now_s - year)), (SELECT id FROM names WHERE type = 2 AND name = 'vm2'), (SELECT max(id) FROM chunks))"
sleep 2.5
expect retention_by_age "vm1 events left: $(api '/api/events?member=vm1&limit=5' | jq '.events | length')" \
	test "$(api '/api/events?member=vm1&limit=5' | jq '.events | length')" -eq 0
del=$(stat .retention_deleted)
expect retention_counted "retention_deleted $del" test "$del" -gt 101
expect retention_by_size_oldest_gone "seq 1 of vm2 still stored" \
	test -z "$(api '/api/events?member=vm2&after=0&limit=1' | jq -r '.events[] | select(.event.seq == 1)')"
newest=$(api '/api/events?member=vm2&limit=1' | jq -r '.events[0].event.seq')
expect retention_newest_kept "newest vm2 seq $newest, expected $N" test "$newest" = "$N"
used=$(sqlite3 "$T/c.db" "SELECT (SELECT page_count FROM pragma_page_count) - (SELECT freelist_count FROM pragma_freelist_count)")
pg=$(sqlite3 "$T/c.db" "PRAGMA page_size")
expect retention_size_bound "data $((used * pg)) bytes" test $((used * pg)) -le $((1024 * 1024 + 256 * 1024))

left=$(SQL "SELECT group_concat(json_extract(json, '$.t'), ' ') FROM alerts WHERE member = 'x'")
expect retention_alerts_by_age "alerts left: $left" bash -c "! grep -q year-old <<<'$left'"
expect retention_alerts_with_their_events "alerts left: $left" bash -c "! grep -q hour-old <<<'$left'"
expect retention_alerts_newer_kept "alerts left: $left" grep -q newest <<<"$left"
expect retention_alerts_counted "stats: $(api /api/stats)" test "$(stat .retention_alerts_deleted)" -ge 2
streams=$(SQL "SELECT group_concat(host_id, ' ') FROM streams")
expect retention_stream_pruned "streams: $streams" bash -c "! grep -q gonehost <<<'$streams'"
expect retention_stream_with_events_kept "streams: $streams" grep -q livehost <<<"$streams"
expect retention_stream_active_kept "streams: $streams" test "$(SQL "SELECT count(*) FROM streams WHERE host_id NOT IN ('gonehost', 'livehost')")" -eq 2
expect retention_streams_counted "stats: $(api /api/stats)" test "$(stat .retention_streams_deleted)" -eq 1
