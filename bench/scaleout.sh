#!/usr/bin/env bash
# Scale-out benchmark (docs/scale-out.md): per process, since two cores cannot show scaling.
#   flock /tmp/hw-bench.lock bench/scaleout.sh [AGENTS] [ROUNDS]
# A 3-node JetStream cluster of its own on loopback (R3 streams, temporary store), one ingest
# process (--mode ingest), one worker (--mode worker, all partitions) and the replay tool as
# AGENTS synthetic agents (--clone) of four herds' recorded output (bench/gen_events.py). Reports
# events per CPU-second (utime + stime from /proc) of the ingest from the first event sent to
# the last acknowledged (TLS, strict parse, dedup, the JetStream publish with its PubAck), of
# the worker until every event is in a shard (fetch, judge, store, checkpoint, ack), and the
# nats-servers' CPU per event. Targets (issue #22): ingest >= 150,000, worker >= 200,000.
set -euo pipefail
cd "$(dirname "$0")/.."
AGENTS=${1:-8}
ROUNDS=${2:-500}
make -s collector-all >/dev/null
B=build
T=$(mktemp -d /tmp/hw-bench-scaleout.XXXXXX)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$T"' EXIT
base=$((20000 + RANDOM % 9000 / 10 * 10))
NATS=nats://127.0.0.1:$((base + 1)),nats://127.0.0.1:$((base + 2)),nats://127.0.0.1:$((base + 3))
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; } # clock ticks
TCK=$(getconf CLK_TCK)

routes=
for j in 1 2 3; do routes+="nats-route://127.0.0.1:$((base + 10 + j)),"; done
for i in 1 2 3; do
	cat >"$T/n$i.conf" <<-EOF
		server_name: n$i
		listen: 127.0.0.1:$((base + i))
		http: 127.0.0.1:$((base + 20 + i))
		jetstream { store_dir: "$T/js$i", max_memory_store: 256MB, max_file_store: 4GB }
		cluster { name: hwbench, listen: 127.0.0.1:$((base + 10 + i)), routes: [${routes%,}] }
	EOF
	nats-server -c "$T/n$i.conf" >"$T/n$i.log" 2>&1 &
	NP[$i]=$!
	PIDS+=($!)
done
for _ in $(seq 100); do
	ok=1
	for i in 1 2 3; do
		curl -sf "http://127.0.0.1:$((base + 20 + i))/healthz?js-enabled-only=true" >/dev/null || ok=
	done
	[ -n "$ok" ] && break
	sleep 0.1
done
scripts/herdwatch-ca init "$T/pki" >/dev/null 2>&1
scripts/herdwatch-ca collector "$T/pki" collector >/dev/null 2>&1
scripts/herdwatch-ca agent "$T/pki" relay >/dev/null 2>&1
for h in web api db cache; do
	python3 bench/gen_events.py baseline --host "$h" --herd "$h" --members m1,m2,m3,m4,m5 \
		--rounds "$ROUNDS" >"$T/$h.jsonl" 2>/dev/null &
done
wait "$!"
sleep 0.5
ING=
for _ in $(seq 30); do
	$B/herdwatch-collector --mode ingest --nats "$NATS" --partitions 8 --ca "$T/pki/ca.pem" \
		--cert "$T/pki/collector.pem" --key "$T/pki/collector.key" --db "$T/ingest.db" \
		--listen "127.0.0.1:$((base + 31))" --http "127.0.0.1:$((base + 41))" \
		--relay-cert relay --quiet 2>>"$T/ingest.log" &
	ING=$!
	for _ in $(seq 40); do
		curl -sf "http://127.0.0.1:$((base + 41))/api/stats" >/dev/null && break 2
		kill -0 "$ING" 2>/dev/null || break
		sleep 0.05
	done
	sleep 0.3
done
PIDS+=("$ING")
$B/herdwatch-collector --mode worker --nats "$NATS" --partitions 8 --shard-dir "$T/shards" \
	--worker-id bench --learn-s 0 --silent-s 0 --quiet >/dev/null 2>>"$T/worker.log" &
WK=$!
PIDS+=("$WK")
sleep 2.5 # the worker claims its partitions
events=$((AGENTS * $(cat "$T"/{web,api,db,cache}.jsonl | wc -l)))
i0=$(cpu "$ING")
w0=$(cpu "$WK")
n0=0
for i in 1 2 3; do n0=$((n0 + $(cpu "${NP[$i]}"))); done
t0=$(date +%s.%N)
"$B/herdwatch-replay" --collector "127.0.0.1:$((base + 31))" --ca "$T/pki/ca.pem" \
	--cert "$T/pki/relay.pem" --key "$T/pki/relay.key" --spool "$T/spool" --clone "$AGENTS" \
	--timeout-s 300 "$T"/{web,api,db,cache}.jsonl >"$T/replay.out"
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
for i in 1 2 3; do n1=$((n1 + $(cpu "${NP[$i]}"))); done
python3 - "$events" "$stored" "$TCK" "$i0" "$i1" "$w0" "$w1" "$n0" "$n1" "$t0" "$t1" "$t2" <<'EOF'
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
print(json.dumps(r))
print("ingest: %s events/CPU-s (target 150000); worker: %s events/CPU-s (target 200000); "
      "nats-server: %.2f us CPU/event (3 nodes, R3)" % (r["ingest_events_per_cpu_s"],
      r["worker_events_per_cpu_s"], r["nats_cpu_us_per_event"]), file=sys.stderr)
EOF
