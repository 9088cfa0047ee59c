#!/usr/bin/env bash
# lane: parallel (no BPF, no agent: runs beside the probe tests)
# GET /metrics of the collector (docs/metrics.md): the Prometheus text format 0.0.4, checked by
# promtool (Debian's prometheus package) and scraped by a real prometheus on loopback. The
# values are those of what the test did: events sent and resent (stored, duplicate), a batch
# refused (host mismatch), a rogue certificate (TLS refused), an attack that raises one alert,
# a year-old batch deleted by retention, the database file's size.
. "$(dirname "$0")/lib.sh"
ts() { [ -n "${HW_TRACE:-}" ] && echo "# $SECONDS $*"; true; }
command -v promtool >/dev/null && command -v prometheus >/dev/null ||
	{ echo "not ok - prometheus: promtool/prometheus missing (scripts/deps.sh installs them)"; exit 1; }
make_pki vm1 vm2 >/dev/null 2>&1 || { echo "not ok - pki: herdwatch-ca failed"; exit 1; }
start_collector --learn-s 2 --hold-ms 200 --min-herd 4 --silent-s 0 --retain-days 30 \
	--retain-interval-s 1 || exit 1
M="http://127.0.0.1:$HTTP_PORT/metrics"
# a real prometheus scrapes it every second (started now: it takes seconds to come up); its
# query API must return what was sent
PPORT=$((HTTP_PORT + 2))
mkdir -p "$T/prom"
cat >"$T/prometheus.yml" <<YML
global: { scrape_interval: 1s, evaluation_interval: 1s }
scrape_configs:
  - job_name: herdwatch-collector
    static_configs: [ { targets: ["127.0.0.1:$HTTP_PORT"] } ]
YML
prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/prom" \
	--web.listen-address="127.0.0.1:$PPORT" >"$T/prometheus.log" 2>&1 &
PROM_PID=$!
# metric NAME{LABELS} (as written in the exposition): its value
metric() { curl -sf "$M" | awk -v n="$1" '$1 == n { print $2 }'; }

# the herd learns web's normal behaviour; vm1 sends it, then everything again (duplicates)
$GEN baseline --host vm1 --herd web --members m1,m2,m3,m4,m5 --rounds 4 >"$T/base.jsonl" 2>"$T/base.next"
N=$(wc -l <"$T/base.jsonl")
replay vm1 vm1 --timeout-s 20 "$T/base.jsonl" >/dev/null 2>&1
replay vm1 vm1-again --timeout-s 20 "$T/base.jsonl" >/dev/null 2>&1
# a year-old batch of vm2 (deleted by retention; its times are beyond the skew bounds)
$GEN baseline --host vm2 --herd api --members a1 --rounds 2 2>/dev/null |
	sed -E 's/"time":"[0-9]{4}-/"time":"2025-/' >"$T/old.jsonl"
OLD=$(wc -l <"$T/old.jsonl")
replay vm2 vm2 --timeout-s 20 "$T/old.jsonl" >/dev/null 2>&1
# vm2's certificate sending vm1's events: the batch is refused (host_mismatch); meanwhile the
# herd's learning time runs out
timeout 5 "$B/herdwatch-replay" --collector "127.0.0.1:$TLS_PORT" --ca "$T/pki/ca.pem" \
	--cert "$T/pki/vm2.pem" --key "$T/pki/vm2.key" --spool "$T/spool-mismatch" --timeout-s 1 \
	"$T/base.jsonl" >/dev/null 2>&1 &
bad1=$!
# a certificate of another CA: the handshake is refused
timeout 5 "$B/herdwatch-replay" --collector "127.0.0.1:$TLS_PORT" --ca "$T/pki/ca.pem" \
	--cert "$T/rogue/rogue.pem" --key "$T/rogue/rogue.key" --spool "$T/spool-rogue" --timeout-s 1 \
	"$T/base.jsonl" >/dev/null 2>&1 &
bad2=$!
ts sent
sleep 2 # learning ends
wait "$bad1"; ts bad1; wait "$bad2"; ts bad2
$GEN attack --host vm1 --herd web --member m3 --seq-start "$(cat "$T/base.next")" >"$T/attack.jsonl" 2>/dev/null
A=$(wc -l <"$T/attack.jsonl")
replay vm1 vm1 --timeout-s 20 "$T/attack.jsonl" >/dev/null 2>&1
ts attack-sent
for _ in $(seq 40); do # the alert (hold 200 ms) and retention (every second)
	[ "$(grep -c member.outlier "$T/alerts.jsonl")" -ge 1 ] && [ "$(stat .retention_deleted)" -gt 0 ] && break
	sleep 0.1
done
sleep 0.2

ts waited
hdr=$(curl -s -o "$T/metrics.txt" -D - "$M" | tr -d '\r')
expect metrics_content_type "headers: $hdr" \
	grep -qx 'Content-Type: text/plain; version=0.0.4; charset=utf-8' <<<"$hdr"
expect metrics_promtool "$(promtool check metrics <"$T/metrics.txt" 2>&1 | head -5)" \
	bash -c "promtool check metrics <'$T/metrics.txt' >'$T/promtool.out' 2>&1"
# every family has HELP and TYPE, and every sample belongs to one
fams=$(grep -v '^#' "$T/metrics.txt" | sed -E 's/[{ ].*//' | sort -u)
missing=$(for f in $fams; do grep -q "^# TYPE $f " "$T/metrics.txt" || grep -q "^# TYPE ${f%_total} " "$T/metrics.txt" || echo "$f"; done)
expect metrics_help_type_everywhere "no TYPE for: $missing" test -z "$missing"
undoc=$(awk '/^# TYPE / { print $3 }' "$T/metrics.txt" | while read -r f; do
	grep -qF "\`$f\`" "$HW_ROOT/docs/metrics.md" || echo "$f"; done)
expect metrics_documented "not in docs/metrics.md: $undoc" test -z "$undoc"

v=$(metric herdwatch_collector_events_stored_total)
expect metrics_events_stored "stored $v, sent $((N + OLD + A)), stats $(stat .events_stored)" \
	test "$v" = $((N + OLD + A)) -a "$v" = "$(stat .events_stored)"
v=$(metric 'herdwatch_collector_events_rejected_total{cause="duplicate"}')
expect metrics_events_duplicate "duplicates $v, resent $N" test "$v" = "$N"
v=$(metric 'herdwatch_collector_events_rejected_total{cause="malformed"}')
expect metrics_events_malformed "malformed $v" test "$v" = 0
v=$(metric 'herdwatch_collector_frames_refused_total{reason="host_mismatch"}')
expect metrics_refused_host_mismatch "host_mismatch $v" test "${v:-0}" -ge 1
v=$(metric herdwatch_collector_tls_refused_total)
expect metrics_tls_refused "tls_refused $v" test "${v:-0}" -ge 1 -a "$v" = "$(stat .tls_refused)"
b=$(metric herdwatch_collector_batches_total)
a=$(metric herdwatch_collector_acks_total)
expect metrics_batches_acked "batches $b, acks $a, stats $(stat .batches)" \
	test "${b:-0}" -ge 4 -a "$a" = "$b" -a "$b" = "$(stat .batches)"
v=$(metric 'herdwatch_collector_alerts_total{kind="member.outlier",severity="alert"}')
expect metrics_alert_by_kind "member.outlier alerts $v: $(grep -c member.outlier "$T/alerts.jsonl") raised" \
	test "${v:-0}" = "$(grep -c member.outlier "$T/alerts.jsonl")" -a "${v:-0}" -ge 1
v=$(metric herdwatch_collector_herds)
expect metrics_herds "herds $v" test "$v" = 2
v=$(metric herdwatch_collector_members)
expect metrics_members "members $v, stats $(stat .members)" test "$v" = "$(stat .members)" -a "$v" -ge 6
v=$(metric herdwatch_collector_retention_events_deleted_total)
expect metrics_retention "deleted $v, old events $OLD" test "$v" = "$OLD"
v=$(metric herdwatch_collector_events_clock_skew_total)
expect metrics_clock_skew "clock_skew $v, old events $OLD" test "$v" = "$OLD"
v=$(metric herdwatch_collector_database_bytes)
expect metrics_database_bytes "metric $v, file $(command stat -c %s "$T/c.db")" \
	test "$v" = "$(command stat -c %s "$T/c.db")" -a "$v" -gt 0
rss=$(metric process_resident_memory_bytes)
real=$(($(awk '/^VmRSS/ { print $2 }' "/proc/$COLL_PID/status") * 1024))
expect metrics_process_rss "metric $rss, VmRSS $real" \
	test "$rss" -gt $((real / 2)) -a "$rss" -lt $((real * 2))
v=$(metric process_cpu_seconds_total)
expect metrics_process_cpu "cpu $v" awk -v v="$v" 'BEGIN { exit !(v > 0 && v < 600) }'
code=$(curl -s -o /dev/null -w '%{http_code}' "$M?x=1")
expect metrics_bad_param "status $code" test "$code" = 400

q() { curl -sf -G "http://127.0.0.1:$PPORT/api/v1/query" --data-urlencode "query=$1" | jq -r '.data.result[0].value[1] // empty'; }
got=
for _ in $(seq 100); do # until it has scraped once more since the last event was sent
	got=$(q herdwatch_collector_events_stored_total 2>/dev/null)
	[ "$got" = $((N + OLD + A)) ] && break
	sleep 0.1
done
expect prometheus_scrapes_stored "queried '$got', sent $((N + OLD + A)); $(tail -3 "$T/prometheus.log")" \
	test "$got" = $((N + OLD + A))
ts prom-first
got=$(q 'up{job="herdwatch-collector"}')
expect prometheus_target_up "up $got" test "$got" = 1
got=$(q 'sum(herdwatch_collector_alerts_total{kind="member.outlier"})')
expect prometheus_alerts "alerts $got" test "${got:-0}" -ge 1
kill "$PROM_PID" 2>/dev/null
wait "$PROM_PID" 2>/dev/null
exit 0
