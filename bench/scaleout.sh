#!/usr/bin/env bash
# Scale-out benchmark (docs/scale-out.md): per process, since two cores cannot show scaling.
#   flock /tmp/hw-bench.lock bench/scaleout.sh [AGENTS] [ROUNDS] [ALERTS]
# A 3-node JetStream cluster of its own on loopback (R3 streams, temporary store; the cluster
# start is tests/collector/nats_lib.sh's, as in the tests), one ingest process (--mode
# ingest), one worker (--mode worker, all partitions), --mode api, and the replay tool as
# AGENTS synthetic agents (--clone) of four herds' recorded output (bench/gen_events.py).
# Reports events per CPU-second (utime + stime from /proc) of the ingest from the first event
# sent to the last acknowledged (TLS, strict parse, dedup, the JetStream publish with its
# PubAck), of the worker until every event is in a shard (fetch, judge, store, checkpoint,
# ack), and the nats-servers' CPU per event. Then the alert latency: ALERTS herds (4 members
# each) learn, and one planted outlier per herd is sent, one after the other; its latency is
# from its first event's time (made just before it is sent, as an agent's event carries its
# syscall's time) to the JetStream timestamp of its alert on HW_ALERT (as
# --mode api stored it), with the herd engine's defaults (--hold-ms 1000: a new token waits a
# second before it is judged). Targets (issue #22): ingest >= 150,000, worker >= 200,000
# events per CPU-second, alert p95 <= 2 s.
set -euo pipefail
cd "$(dirname "$0")/.."
AGENTS=${1:-8}
ROUNDS=${2:-500}
ALERTS=${3:-20}
make -s collector-all >/dev/null
B=$PWD/build
T=$(mktemp -d /tmp/hw-bench-scaleout.XXXXXX)
trap 'for p in $(jobs -p); do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$T"' EXIT
NATS_MEM_STORE=256MB NATS_FILE_STORE=4GB
. tests/collector/nats_lib.sh
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; } # clock ticks
TCK=$(getconf CLK_TCK)
start_cluster
scripts/herdwatch-ca init "$T/pki" >/dev/null 2>&1
scripts/herdwatch-ca collector "$T/pki" collector >/dev/null 2>&1
scripts/herdwatch-ca agent "$T/pki" relay >/dev/null 2>&1
for h in web api db cache; do
	python3 bench/gen_events.py baseline --host "$h" --herd "$h" --members m1,m2,m3,m4,m5 \
		--rounds "$ROUNDS" >"$T/$h.jsonl" 2>/dev/null &
done
wait "$!"
sleep 0.5
start_first_ingest 1
ING=${IPID[1]}
# the engine's defaults but for learning (the recorded herds are judged at once) and silence
start_worker 1 --worker-id bench --lease-ms 3000 --checkpoint-ms 1000 --learn-s 0 \
	--hold-ms 1000 --min-herd 4 --silent-s 0 --quiet
WK=${WPID[1]}
start_api --learn-s 0
sleep 2.5 # the worker claims its partitions
events=$((AGENTS * $(cat "$T"/{web,api,db,cache}.jsonl | wc -l)))
i0=$(cpu "$ING")
w0=$(cpu "$WK")
n0=0
for i in 1 2 3; do n0=$((n0 + $(cpu "${NPID[$i]}"))); done
t0=$(date +%s.%N)
send 1 tput --clone "$AGENTS" --timeout-s 300 "$T"/{web,api,db,cache}.jsonl >"$T/replay.out"
i1=$(cpu "$ING")
t1=$(date +%s.%N)
stored=0
for _ in $(seq 1200); do
	stored=0
	for f in "$T"/shards/part-*.db; do
		stored=$((stored + $(sqlite3 "$f" 'SELECT COALESCE(SUM(count), 0) FROM chunks' 2>/dev/null || echo 0)))
	done
	[ "$stored" -ge "$events" ] && break
	sleep 0.25
done
w1=$(cpu "$WK")
t2=$(date +%s.%N)
n1=0
for i in 1 2 3; do n1=$((n1 + $(cpu "${NPID[$i]}"))); done

# ---- alert latency: one planted outlier per herd, one after the other ----
for i in $(seq "$ALERTS"); do
	python3 bench/gen_events.py baseline --host "lat$i" --herd "lat$i" --members m1,m2,m3,m4 \
		--rounds 3 >"$T/lat-learn-$i.jsonl" 2>"$T/lat-learn-$i.next"
done
send 1 lat-learn --timeout-s 60 "$T"/lat-learn-*.jsonl >/dev/null
sleep 3 # the learning's own first sights are judged (hold 1 s) and settle
: >"$T/latency"
for i in $(seq "$ALERTS"); do
	# the attack's events carry the time they are made, as an agent's carry their syscall's:
	# made now, and the latency counts from the first one's time
	python3 bench/gen_events.py attack --host "lat$i" --herd "lat$i" --member m1 \
		--seq-start "$(cat "$T/lat-learn-$i.next")" >"$T/lat-attack-$i.jsonl" 2>/dev/null
	ts=$(date -d "$(head -n 1 "$T/lat-attack-$i.jsonl" | jq -r .time)" +%s%N)
	send 1 "lat-$i" --timeout-s 20 "$T/lat-attack-$i.jsonl" >/dev/null
	at=
	for _ in $(seq 500); do
		at=$(sqlite3 "$T/api.db" "SELECT min(ts) FROM alerts WHERE kind = 'member.outlier' AND member = 'lat$i/m1'" 2>/dev/null)
		[ -n "$at" ] && break
		sleep 0.02
	done
	echo "$i ${at:-none} $ts" >>"$T/latency"
done
python3 - "$events" "$stored" "$TCK" "$i0" "$i1" "$w0" "$w1" "$n0" "$n1" "$t0" "$t1" "$t2" "$T/latency" <<'EOF'
import json, sys
ev, stored, tck = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
i0, i1, w0, w1, n0, n1 = (int(x) for x in sys.argv[4:10])
t0, t1, t2 = (float(x) for x in sys.argv[10:13])
ing, wk, nats = (i1 - i0) / tck, (w1 - w0) / tck, (n1 - n0) / tck
r = {"events": ev, "stored": stored,
     "ingest_cpu_s": round(ing, 2), "ingest_events_per_cpu_s": round(ev / ing) if ing else None,
     "worker_cpu_s": round(wk, 2), "worker_events_per_cpu_s": round(ev / wk) if wk else None,
     "nats_cpu_us_per_event": round(nats / ev * 1e6, 2),
     "wall_ingest_s": round(t1 - t0, 2), "wall_stored_s": round(t2 - t0, 2)}
lat, missed = [], 0
for line in open(sys.argv[13]):
    _, at, ts = line.split()
    if at == "none":
        missed += 1
    else:
        lat.append((int(at) - int(ts)) / 1e9)
lat.sort()
if lat:
    r["alerts"] = len(lat)
    r["alerts_missed"] = missed
    r["alert_p50_s"] = round(lat[len(lat) // 2], 3)
    r["alert_p95_s"] = round(lat[min(len(lat) - 1, int(len(lat) * 0.95 + 0.5) - 1)], 3)
    r["alert_max_s"] = round(lat[-1], 3)
print(json.dumps(r))
print("ingest: %s events/CPU-s (target 150000); worker: %s events/CPU-s (target 200000); "
      "nats-server: %.2f us CPU/event (3 nodes, R3); alert p95 %s s (target 2)" % (
      r["ingest_events_per_cpu_s"], r["worker_events_per_cpu_s"], r["nats_cpu_us_per_event"],
      r.get("alert_p95_s")), file=sys.stderr)
EOF
