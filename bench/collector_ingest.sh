#!/usr/bin/env bash
# Collector ingest benchmark.
#   bench/collector_ingest.sh [AGENTS] [ROUNDS] [LATENCY_SAMPLES]
# 1. Records synthetic agent output (bench/gen_events.py: a 5-container web service, ~730 B
#    events) and replays it through agent/ship.c from AGENTS concurrent TLS connections
#    (herdwatch-replay --clone), the collector pinned to CPU 0 and the load generator to CPU 1.
#    Reports events/s into storage + herd engine: wall clock (first to last stored batch) and
#    per CPU-second of the collector (utime + stime from /proc), i.e. what one core sustains.
# 2. Alert latency: LATENCY_SAMPLES new members each run the attacker sequence with the event
#    time set when the sender queues it; latency = alert time - earliest event time (includes
#    the sender's batching, TLS, storage, and the engine's hold before judging). The samples
#    repeat one attack on 20 new members within seconds, which --rollout-s would hold as a
#    possible rolling change (docs/collector.md); the hold is turned off (--rollout-s 0) so each
#    sample measures a single member's attack.
# 3. Herd engine state per member (engine's own accounting of its allocations).
set -euo pipefail
cd "$(dirname "$0")/.."
AGENTS=${1:-48}
ROUNDS=${2:-2000}
SAMPLES=${3:-20}
make -s collector-all >/dev/null
B=build
T=$(mktemp -d /tmp/hw-bench.XXXXXX)
SPOOL=/dev/shm/hw-bench-spool.$$
trap 'kill $CP 2>/dev/null; wait 2>/dev/null; rm -rf "$T" "$SPOOL"' EXIT
PORT=$((20000 + RANDOM % 20000))
scripts/herdwatch-ca init "$T/pki" && scripts/herdwatch-ca collector "$T/pki" collector &&
	scripts/herdwatch-ca agent "$T/pki" agent
python3 bench/gen_events.py baseline --host vm --members m1,m2,m3,m4,m5 --rounds "$ROUNDS" >"$T/rec.jsonl" 2>/dev/null
per=$(wc -l <"$T/rec.jsonl")
bytes=$(wc -c <"$T/rec.jsonl")
taskset -c 0 $B/herdwatch-collector --ca "$T/pki/ca.pem" --cert "$T/pki/collector.pem" \
	--key "$T/pki/collector.key" --db "$T/bench.db" --listen 127.0.0.1:$PORT \
	--http 127.0.0.1:$((PORT + 1)) --learn-s 0 --silent-s 0 --rollout-s 0 --relay-cert agent \
	>"$T/alerts.jsonl" 2>"$T/collector.log" & # one certificate for all the synthetic agents
CP=$!
sleep 0.5
api() { curl -sf "http://127.0.0.1:$((PORT + 1))$1"; }
cpu0=$(awk '{print $14 + $15}' /proc/$CP/stat)
load0=$(cut -d' ' -f1 /proc/loadavg)
TIMEFORMAT="%U %S"
{ time taskset -c 1 $B/herdwatch-replay --collector 127.0.0.1:$PORT --ca "$T/pki/ca.pem" --cert "$T/pki/agent.pem" \
	--key "$T/pki/agent.key" --spool "$SPOOL" --clone "$AGENTS" --timeout-s 600 "$T/rec.jsonl" >"$T/replay.out"; } 2>"$T/replay.time"
load1=$(cut -d' ' -f1 /proc/loadavg)
cpu1=$(awk '{print $14 + $15}' /proc/$CP/stat)
st=$(api /api/stats)
stored=$(jq .events_stored <<<"$st")
wall=$(jq '(.last_store_ns - .first_store_ns) / 1e9' <<<"$st")
cpu=$(awk -v a="$cpu0" -v b="$cpu1" -v hz="$(getconf CLK_TCK)" 'BEGIN { print (b - a) / hz }')
echo "ingest: $stored events ($AGENTS agents x $per, $((bytes / per)) B/event) from $AGENTS TLS connections"
echo "ingest: wall $(awk -v s="$stored" -v w="$wall" 'BEGIN { printf "%.0f events/s (%.2f s)", s / w, w }')," \
	"collector CPU $(awk -v s="$stored" -v c="$cpu" 'BEGIN { printf "%.2f s = %.0f events per CPU-second", c, s / c }')"
echo "ingest: replay $(cat "$T/replay.out"), load generator CPU $(awk '{ printf "%.2f s", $1 + $2 }' "$T/replay.time")"
echo "ingest: machine load average $load0 at start, $load1 at end (2 CPUs; other work shares them)"
echo "ingest: database $(du -k "$T"/bench.db* | awk '{s += $1} END { print s }') KiB for $stored events"

# alert latency
for i in $(seq "$SAMPLES"); do
	python3 bench/gen_events.py attack --host "lat$i" --herd web --member m3 >"$T/lat$i.jsonl" 2>/dev/null
	taskset -c 1 $B/herdwatch-replay --collector 127.0.0.1:$PORT --ca "$T/pki/ca.pem" --cert "$T/pki/agent.pem" \
		--key "$T/pki/agent.key" --spool "$SPOOL-lat" --time-now --timeout-s 30 "$T/lat$i.jsonl" >/dev/null
	sleep 0.3
done
sleep 2
api "/api/alerts?kind=member.outlier&limit=10000" >"$T/alerts.json"
for i in $(seq "$SAMPLES"); do
	api "/api/events?member=lat$i&limit=100" >"$T/ev$i.json"
done
python3 - "$T" "$SAMPLES" <<'PY'
import json, sys, datetime
T, n = sys.argv[1], int(sys.argv[2])
def ns(t):
    d = datetime.datetime.strptime(t[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    frac = t[20:-1] if len(t) > 20 else "0"
    return int(d.timestamp()) * 10**9 + int((frac + "000000000")[:9])
alerts = [a["alert"] for a in json.load(open(T + "/alerts.json"))["alerts"]]
lat = []
for i in range(1, n + 1):
    evs = json.load(open("%s/ev%d.json" % (T, i)))["events"]
    al = [a for a in alerts if a.get("member") == "lat%d/m3" % i]
    if not evs or not al:
        print("latency: sample %d: no alert" % i)
        continue
    t0 = min(ns(e["event"]["time"]) for e in evs)
    lat.append((ns(al[0]["time"]) - t0) / 1e9)
lat.sort()
if lat:
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
    print("latency: %d/%d attacks alerted; p50 %.3f s, p95 %.3f s, max %.3f s" % (len(lat), n, p(0.5), p(0.95), lat[-1]))
PY
st=$(api /api/stats)
echo "herd: $(jq .members <<<"$st") members, $(jq .herd_bytes <<<"$st") bytes of engine state," \
	"$(jq .herd_bytes_per_member <<<"$st") bytes per member (budget 65536), token overflow $(jq .herd_token_overflow <<<"$st")"
echo "false alerts during the bulk replay: $(jq -s '[.[] | select(.kind == "member.outlier" and (.member | startswith("lat") | not))] | length' "$T/alerts.jsonl")"
