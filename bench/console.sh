#!/usr/bin/env bash
# Web console benchmark (docs/console.md): how long the console's API calls and pages take on
# a collector holding 100,000 events of 1,000 members.
#   bench/console.sh [HOSTS] [MEMBERS_PER_HOST] [ROUNDS] [REPEAT]     defaults 20 50 20 20
# 1. Fills a collector: HOSTS hosts (one herd of MEMBERS_PER_HOST containers each, herd
#    svc<host mod 10>), ROUNDS rounds of bench/gen_events.py's web workload per member (5 events
#    a round: 20 x 50 x 20 x 5 = 100,000 events) plus a heartbeat per host carrying a manifest of
#    30 probes, then an attack on one member of each host (alerts) and a deploy of one herd (a
#    herd change). One --relay-cert sends everything.
# 2. Times every call each page makes (curl, REPEAT times each; the first /api/coverage call
#    reads the heartbeats, later ones are served from its cache): median, p95, max in ms.
# 3. Loads each page in headless Chromium (tests/collector/cdp.py) REPEAT/4 times and reports the
#    time from the start of its render to its last DOM change (the page's data-render-ms: API
#    calls, JSON parsing, building the DOM).
# Run under flock /tmp/hw-bench.lock (other benchmarks share the machine).
set -euo pipefail
cd "$(dirname "$0")/.."
HOSTS=${1:-20}
PER=${2:-50}
ROUNDS=${3:-20}
REPEAT=${4:-20}
make -s collector-all >/dev/null
B=build
T=$(mktemp -d /tmp/hw-bench-console.XXXXXX)
trap 'kill $CP 2>/dev/null; wait 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
PORT=$((20000 + RANDOM % 20000))
HTTP=$((PORT + 1))
BASE=http://127.0.0.1:$HTTP
scripts/herdwatch-ca init "$T/pki" >/dev/null 2>&1
scripts/herdwatch-ca collector "$T/pki" collector >/dev/null 2>&1
scripts/herdwatch-ca agent "$T/pki" relay >/dev/null 2>&1
$B/herdwatch-collector --ca "$T/pki/ca.pem" --cert "$T/pki/collector.pem" --key "$T/pki/collector.key" \
	--db "$T/bench.db" --listen 127.0.0.1:$PORT --http 127.0.0.1:$HTTP --relay-cert relay \
	--learn-s 2 --hold-ms 300 --silent-s 0 >"$T/alerts.jsonl" 2>"$T/collector.log" &
CP=$!
for _ in $(seq 100); do curl -sf "$BASE/api/stats" >/dev/null && break; sleep 0.05; done
api() { curl -sf "$BASE$1"; }
replay() {
	$B/herdwatch-replay --collector 127.0.0.1:$PORT --ca "$T/pki/ca.pem" --cert "$T/pki/relay.pem" \
		--key "$T/pki/relay.key" --spool "$T/spool" --timeout-s 120 "$1" >/dev/null 2>&1
}
# a manifest of 30 probes, two of them not attached
manifest=$(python3 -c '
import json
p = {"probe%02d" % i: {"state": "attached", "hook": "tracepoint", "reason": None} for i in range(28)}
p["file.open"] = {"state": "unavailable", "hook": None, "reason": "no candidate attached"}
p["user.shell"] = {"state": "disabled", "hook": None, "reason": "disabled by config"}
print(json.dumps(p, separators=(",", ":")))')
declare -A seq
echo "# generating $((HOSTS * PER * ROUNDS * 5)) events of $((HOSTS * PER)) members on $HOSTS hosts"
: >"$T/fill.jsonl"
for h in $(seq -w 1 "$HOSTS"); do
	members=$(seq -s, -f "m%g" 1 "$PER")
	python3 bench/gen_events.py baseline --host "h$h" --herd "svc$((10#$h % 10))" --members "$members" \
		--rounds "$ROUNDS" 2>"$T/next" | sed "s|\"probes\":{}|\"probes\":$manifest|" >>"$T/fill.jsonl"
	seq[$h]=$(cat "$T/next")
done
t0=$(date +%s.%N)
replay "$T/fill.jsonl"
t1=$(date +%s.%N)
sleep 2.5 # past --learn-s
: >"$T/attack.jsonl"
for h in $(seq -w 1 "$HOSTS"); do
	python3 bench/gen_events.py attack --host "h$h" --herd "svc$((10#$h % 10))" --member m7 \
		--seq-start "${seq[$h]}" 2>"$T/next" >>"$T/attack.jsonl"
	seq[$h]=$(cat "$T/next")
done
python3 bench/gen_events.py deploy --host "h$(seq -w 1 "$HOSTS" | head -1)" --herd svc1 --members "$(seq -s, -f "m%g" 1 "$PER")" \
	--seq-start "${seq[$(seq -w 1 "$HOSTS" | head -1)]}" >>"$T/attack.jsonl" 2>/dev/null
replay "$T/attack.jsonl"
sleep 2
stored=$(api /api/stats | jq .events_stored)
members=$(api /api/members | jq length)
alerts=$(api '/api/alerts?limit=10000' | jq '.alerts | length')
printf '# stored %s events (%s members, %s alerts, database %s MB) in %.1f s\n' "$stored" "$members" \
	"$alerts" "$(du -m "$T/bench.db" | cut -f1)" "$(echo "$t1 - $t0" | bc)"
aid=$(api '/api/alert-list?kind=member.outlier&limit=1' | jq '.alerts[0].id')
cid=$(api '/api/alert-list?kind=herd.change&limit=1' | jq '.alerts[0].id')
m=$(api "/api/alert?id=$aid" | jq -r .alert.member)
at=$(api "/api/alert?id=$aid" | jq -r '.events[0].event.time')
t=$(python3 -c "import datetime,sys; d=datetime.datetime.fromisoformat(sys.argv[1][:26]); print(int(d.replace(tzinfo=datetime.timezone.utc).timestamp()*1e9))" "$at")
since=$((t - 600000000000))
until=$((t + 600000000000))
mq=${m//\//%2F}

# time PAGE PATH: REPEAT calls, "page path median p95 max bytes"
timeit() {
	local page=$1 path=$2 i
	for i in $(seq "$REPEAT"); do
		curl -s -o "$T/body" -w '%{time_total}\n' "$BASE$path"
	done | sort -n >"$T/times"
	awk -v page="$page" -v path="$path" -v bytes="$(wc -c <"$T/body")" '
		{ v[NR] = $1 * 1000 }
		END { p95 = v[int(NR * 0.95 + 0.999)]; printf "%-7s %-72s %7.1f %7.1f %7.1f %8d\n", page, path, v[int((NR + 1) / 2)], p95, v[NR], bytes }' "$T/times"
}
echo "# first /api/coverage call (reads $HOSTS heartbeats): $(curl -s -o /dev/null -w '%{time_total}' "$BASE/api/coverage") s"
printf '%-7s %-72s %7s %7s %7s %8s\n' page call median p95 max bytes
timeit fleet /api/herds
timeit fleet /api/members
timeit fleet /api/fleet
timeit fleet /api/coverage
timeit alerts '/api/alert-list?limit=100'
timeit alerts '/api/alert-list?herd=svc3&severity=alert&limit=100'
timeit alert "/api/alert?id=$aid"
timeit member "/api/member?name=$mq"
timeit member "/api/events?member=$mq&since=$since&until=$until&limit=1000"
timeit member "/api/events?member=$mq&limit=1000"
timeit member "/api/coverage?host=${m%%/*}"
timeit change "/api/herd-change?id=$cid"

# whole pages in the browser
export BASE REPEAT T AID=$aid CID=$cid MEMBER=$m AROUND=$at
python3 - <<'EOF'
import os, statistics, sys
sys.path.insert(0, "tests/collector")
import cdp, json
from urllib.parse import quote
base, n = os.environ["BASE"], max(3, int(os.environ["REPEAT"]) // 4)
b = cdp.Browser(os.environ["T"])
pages = [("fleet", "#/fleet"), ("alerts", "#/alerts"), ("alert", "#/alert/" + os.environ["AID"]),
         ("member", "#/member/%s?alert=%s&around=%s" % (quote(os.environ["MEMBER"], safe=""), os.environ["AID"],
                                                       quote(os.environ["AROUND"]))),
         ("change", "#/change/" + os.environ["CID"])]
print("# pages in headless Chromium (render start to DOM built, ms; %d loads each)" % n)
for name, route in pages:
    ms = []
    for _ in range(n):
        b.goto("about:blank")
        b.wait("location.href === 'about:blank'")
        b.goto(base + "/console/" + route)
        b.wait("document.body && document.body.dataset.view === %s" % json.dumps(name), timeout=30)
        ms.append(int(b.eval("document.body.dataset.renderMs")))
    ms.sort()
    print("page %-7s median %4d ms  max %4d ms  (%s)" % (name, statistics.median(ms), ms[-1],
                                                        b.eval("document.querySelectorAll('main tr, main li').length") and
                                                        "%d rows" % b.eval("document.querySelectorAll('main tr, main li').length")))
b.close()
EOF
echo "# member $m: $(api "/api/events?member=$mq&since=$since&until=$until&limit=1000" | jq '.events | length') events in the alert's +-10 min, $(api "/api/events?member=$mq&limit=1000" | jq '.events | length') in all"
echo "# load average: $(cut -d' ' -f1-3 /proc/loadavg)"
