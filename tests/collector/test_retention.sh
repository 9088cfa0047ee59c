#!/usr/bin/env bash
# Retention: events older than --retain-days are deleted; while the data exceeds --retain-mb
# the oldest chunks go; the newest events stay queryable.
. "$(dirname "$0")/lib.sh"
make_pki vm1 vm2 >/dev/null 2>&1 || { echo "not ok - pki: herdwatch-ca failed"; exit 1; }
start_collector --learn-s 0 --retain-days 30 --retain-mb 1 --retain-interval-s 1 || exit 1

# old events (a year ago) from vm1; current ones from vm2, enough to exceed 1 MiB
$GEN baseline --host vm1 --members m1 --rounds 20 2>/dev/null |
	sed -E 's/"time":"[0-9]{4}-/"time":"2025-/' >"$T/old.jsonl"
replay vm1 vm1 "$T/old.jsonl" >/dev/null 2>&1
$GEN baseline --host vm2 --members m1,m2,m3 --rounds 2000 >"$T/new.jsonl" 2>/dev/null
N=$(wc -l <"$T/new.jsonl")
replay vm2 vm2 "$T/new.jsonl" >/dev/null 2>&1
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
