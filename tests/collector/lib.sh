# Shared helpers of the collector tests: a private directory, a fresh fleet CA, a collector on
# random loopback ports, and the replay tool as the agent-side sender.
set -u
HW_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
B=$HW_ROOT/build
for bin in herdwatch-collector herdwatch herdwatch-replay; do
	[ -x "$B/$bin" ] || make -s -C "$HW_ROOT" collector-all >/dev/null || { echo "not ok - build: $bin missing"; exit 1; }
done
T=$(mktemp -d /tmp/hw-coll.XXXXXX)
# ports below the ephemeral range (32768+), so no outgoing connection holds them
new_ports() {
	local port=$((10000 + RANDOM % 22000))
	TLS_PORT=$port
	HTTP_PORT=$((port + 1))
}
new_ports
COLL_PID=
FAILED=0
FIXED_PORTS= # set once agents were given the ports (a restart must reuse them)
GEN="python3 $HW_ROOT/bench/gen_events.py"

cleanup() {
	[ -n "$COLL_PID" ] && kill "$COLL_PID" 2>/dev/null && wait "$COLL_PID" 2>/dev/null
	for p in $(jobs -p); do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	if [ "$FAILED" = 0 ] && [ -z "${HW_KEEP:-}" ]; then rm -rf "$T"; else echo "# kept $T for inspection"; fi
}
trap cleanup EXIT

ok() { echo "ok - $1"; }
notok() { echo "not ok - $1: $2"; FAILED=1; }
# expect NAME WHY-IF-FAILED COMMAND...
expect() {
	local name=$1 why=$2
	shift 2
	if "$@"; then ok "$name"; else notok "$name" "$why"; fi
}

make_pki() {
	local ca=$HW_ROOT/scripts/herdwatch-ca
	$ca init "$T/pki" && $ca collector "$T/pki" collector &&
		for a in "$@"; do $ca agent "$T/pki" "$a" || return 1; done
	# a second, unrelated CA: its agents must be refused
	$ca init "$T/rogue" && $ca agent "$T/rogue" rogue
}

start_collector() {
	local try
	for try in 1 2 3 4 5; do
		if start_collector_once "$@"; then
			FIXED_PORTS=1
			return 0
		fi
		grep -q "Address already in use\|cannot serve HTTP" "$T/collector.log" || return 1
		[ -n "$FIXED_PORTS" ] && return 1 # agents already know these ports
		new_ports
	done
	return 1
}

start_collector_once() {
	"$B/herdwatch-collector" --ca "$T/pki/ca.pem" --cert "$T/pki/collector.pem" \
		--key "$T/pki/collector.key" --db "$T/c.db" --listen "127.0.0.1:$TLS_PORT" \
		--http "127.0.0.1:$HTTP_PORT" "$@" >>"$T/alerts.jsonl" 2>>"$T/collector.log" &
	COLL_PID=$!
	for _ in $(seq 100); do
		curl -sf "http://127.0.0.1:$HTTP_PORT/api/stats" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	echo "# collector did not start:"; sed 's/^/# /' "$T/collector.log"
	wait "$COLL_PID" 2>/dev/null
	COLL_PID=
	return 1
}

stop_collector() {
	[ -n "$COLL_PID" ] || return 0
	kill "${1:--TERM}" "$COLL_PID" 2>/dev/null
	wait "$COLL_PID" 2>/dev/null
	COLL_PID=
}

api() { curl -sf "http://127.0.0.1:$HTTP_PORT$1"; }
stat() { api /api/stats | jq -r "$1"; }

# replay AGENT-CERT-NAME SPOOL-NAME [replay options] FILE...
replay() {
	local agent=$1 spool=$2 dir=$T/pki
	shift 2
	[ "$agent" = rogue ] && dir=$T/rogue
	# EXEC=1 replay ... &   makes $! the replay process itself (so it can be killed)
	${EXEC:+exec} "$B/herdwatch-replay" --collector "127.0.0.1:$TLS_PORT" --ca "$T/pki/ca.pem" \
		--cert "$dir/$agent.pem" --key "$dir/$agent.key" --spool "$T/spool-$spool" "$@"
}

# all seqs stored for MEMBER (host name), one per line, via the query API (paged)
stored_seqs() {
	local after=0 out
	while :; do
		out=$(api "/api/events?member=$1&after=$after&limit=10000") || return 1
		echo "$out" | jq -r '.events[].event.seq'
		local last
		last=$(echo "$out" | jq -r '.last_id')
		# an empty page that examined only part of the data ("truncated") is not the end
		[ "$(echo "$out" | jq '.events | length')" -eq 0 ] && [ "$(echo "$out" | jq .truncated)" != true ] && break
		after=$last
	done
}
