# The scale-out cluster of the tests and of bench/scaleout.sh (docs/scale-out.md), sourced:
# a 3-node JetStream cluster on loopback ports with a temporary store, ingest processes
# (--mode ingest), herd workers (--mode worker), the query API (--mode api) and the replay tool
# through an ingest. The caller sets T (a private directory) and B (the build directory), and
# may set P (partitions, 8), NATS_FILE_STORE (256MB) and NATS_MEM_STORE (64MB).
C="$B/herdwatch-collector"
P=${P:-8}
base=$((20000 + RANDOM % 9000 / 10 * 10))
NATS=nats://127.0.0.1:$((base + 1)),nats://127.0.0.1:$((base + 2)),nats://127.0.0.1:$((base + 3))
API_PORT=$((base + 50))
declare -A NPID IPID WPID

start_nats() { # start_nats I
	local i=$1 routes=
	for j in 1 2 3; do routes+="nats-route://127.0.0.1:$((base + 10 + j)),"; done
	cat >"$T/n$i.conf" <<-EOC
		server_name: n$i
		listen: 127.0.0.1:$((base + i))
		http: 127.0.0.1:$((base + 20 + i))
		jetstream { store_dir: "$T/js$i", max_memory_store: ${NATS_MEM_STORE:-64MB}, max_file_store: ${NATS_FILE_STORE:-256MB} }
		cluster { name: hw, listen: 127.0.0.1:$((base + 10 + i)), routes: [${routes%,}] }
	EOC
	nats-server -c "$T/n$i.conf" >>"$T/n$i.log" 2>&1 &
	NPID[$i]=$!
}

# the 3 nodes, then until each says JetStream is up (up to 10 s); 1 when one is not
start_cluster() {
	local i ok
	for i in 1 2 3; do start_nats "$i"; done
	for _ in $(seq 100); do
		ok=1
		for i in 1 2 3; do
			curl -sf "http://127.0.0.1:$((base + 20 + i))/healthz?js-enabled-only=true" >/dev/null || ok=
		done
		[ -n "$ok" ] && return 0
		sleep 0.1
	done
	return 1
}

# jsz of node I (JetStream state as that node sees it)
jsz() { curl -sf "http://127.0.0.1:$((base + 20 + $1))/jsz?streams=true&config=true"; }
stream_of() { jsz "$1" | jq -c --arg s "$2" '.account_details[].stream_detail[]? | select(.name == $s)'; }

start_ingest() { # start_ingest I [options] (agents on base+30+I, API on base+40+I)
	local i=$1
	shift
	"$C" --mode ingest --nats "$NATS" --partitions "$P" --ca "$T/pki/ca.pem" \
		--cert "$T/pki/collector.pem" --key "$T/pki/collector.key" --db "$T/ingest$i.db" \
		--listen "127.0.0.1:$((base + 30 + i))" --http "127.0.0.1:$((base + 40 + i))" \
		--relay-cert relay --quiet "$@" >>"$T/ingest$i.log" 2>&1 &
	IPID[$i]=$!
	# up to 35 s: an ingest started while the cluster elects new leaders waits for JetStream
	wait_api $((base + 40 + i)) "${IPID[$i]}" 700
}

# wait_api PORT PID TRIES: until the API on PORT answers (0), PID exits or TRIES * 50 ms pass
wait_api() {
	for _ in $(seq "$3"); do
		curl -sf "http://127.0.0.1:$1/api/stats" >/dev/null && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# the first ingest, tried again while a fresh cluster is still electing its leaders
start_first_ingest() {
	for _ in $(seq 30); do start_ingest "$@" && return 0; sleep 0.2; done
	return 1
}

start_worker() { # start_worker I [options]: alerts on $T/workerI.alerts, log $T/workerI.log
	local i=$1
	shift
	"$C" --mode worker --nats "$NATS" --partitions "$P" --shard-dir "$T/shards" --worker-id "w$i" \
		--lease-ms 4000 --checkpoint-ms 300 --learn-s 2 --hold-ms 300 --min-herd 3 \
		--silent-s 0 "$@" >>"$T/worker$i.alerts" 2>>"$T/worker$i.log" &
	WPID[$i]=$!
}

start_api() { # start_api [options]: the query API on API_PORT, alerts into $T/api.db
	"$C" --mode api --nats "$NATS" --partitions "$P" --shard-dir "$T/shards" --db "$T/api.db" \
		--http "127.0.0.1:$API_PORT" "$@" >>"$T/api.alerts" 2>>"$T/api.log" &
	APID=$!
	wait_api "$API_PORT" "$APID" 200
}

# send INGEST SPOOL [replay options] FILE...: the replay tool through ingest I
send() {
	local i=$1 spool=$2
	shift 2
	"$B/herdwatch-replay" --collector "127.0.0.1:$((base + 30 + i))" --ca "$T/pki/ca.pem" \
		--cert "$T/pki/relay.pem" --key "$T/pki/relay.key" --spool "$T/spool-$spool" "$@"
}

# the partition of a herd: fnv1a64(herd) mod P, as the ingest computes it
part_of() {
	python3 -c 'import sys
h = 0xcbf29ce484222325
for b in sys.argv[1].encode(): h = ((h ^ b) * 0x100000001b3) % 2**64
print(h % int(sys.argv[2]))' "$1" "$P"
}

# every (host, seq) stored in the shards, sorted ("host<TAB>seq" a line)
stored_pairs() { "$C" --mode events --shard-dir "$T/shards" | jq -r '[.host.name, .seq] | @tsv' | sort; }
# wait until the shards hold N events (up to S seconds, 30)
wait_stored() {
	local n=$1 s=${2:-30}
	for _ in $(seq $((s * 10))); do
		[ "$("$C" --mode events --shard-dir "$T/shards" 2>/dev/null | wc -l)" -ge "$n" ] && return 0
		sleep 0.1
	done
	return 1
}

# In the tests (tests/collector/lib.sh's expect): the cluster and ingest 1 up, or exit.
cluster_and_ingest() {
	local ready=1
	start_cluster || ready=
	expect cluster_up "nats-server did not start: $(tail -n 3 "$T/n1.log")" test -n "$ready"
	start_first_ingest 1 || { notok ingest_up "$(tail -n 3 "$T/ingest1.log")"; exit 1; }
}

# expect_exactly_once NAME MIN FILE...: every (host, seq) of the JSON lines in FILE... stored
# exactly once across the shards (none missing, none twice, none never sent), and more than MIN
expect_exactly_once() {
	local name=$1 min=$2 dups missing extra
	shift 2
	cat "$@" | jq -r '[.host.name, .seq] | @tsv' | sort >"$T/sent"
	wait_stored "$(wc -l <"$T/sent")" 60 # polls: returns as soon as all are in
	stored_pairs >"$T/stored"
	dups=$(uniq -d "$T/stored" | wc -l)
	missing=$(comm -23 "$T/sent" <(sort -u "$T/stored") | wc -l)
	extra=$(comm -13 "$T/sent" <(sort -u "$T/stored") | wc -l)
	expect "$name" \
		"sent $(wc -l <"$T/sent"), stored $(wc -l <"$T/stored"): $missing missing, $dups stored twice, $extra never sent" \
		test "$dups" = 0 -a "$missing" = 0 -a "$extra" = 0 -a "$(wc -l <"$T/sent")" -gt "$min"
}
