#!/usr/bin/env bash
# End-to-end alert latency with the real BPF agent: from the syscall to the stored alert.
#   bench/alert_latency.sh [-n ROUNDS] [--hold-ms MS] [--members K] [--learn-s S]
# Setup as tests/collector/test_e2e_agent.sh: a fleet CA (certificate name = the agent's
# host_name), a collector, the agent (built from this tree) with a `containers:` pattern and a
# `collector:` section, so it ships its own stream over mutual TLS; K members of herd "web" are
# processes in separate cgroups under the cgroup2 mount, all running the same worker loop.
# After the learning period, ROUNDS times (default 20): member number (round mod K) execs a
# program never seen before, $T/bin/tool-<round> (a copy of /usr/bin/true), so every round's
# exec token is new to the herd and surprising. Per round:
#   t_syscall = `time` of the agent's process.exec event whose exe is tool-<round> (the event
#               the alert cites by seq): the kernel's timestamp at exec (bpf_ktime_get_boot_ns()
#               in the BPF program, turned into wall clock time by the agent with the
#               boot->realtime offset read at its start);
#   t_alert   = `time` of the member.outlier alert naming tool-<round>: the collector's
#               CLOCK_REALTIME when the herd engine judged the token and the alert row was
#               inserted (collector/main.c on_alert(): store_alert() with the same `now` as
#               the JSON's time, committed right after herd_tick() in the same timer tick);
#               the script checks that /api/alerts returns that alert, i.e. it was stored.
# Latency = t_alert - t_syscall: agent ring buffer + decode + ship linger + TLS + collector
# storage + the engine's --hold-ms wait + its 100 ms judging tick. Both clocks are this
# machine's, so no clock skew enters. Reports p50/p95/max and alerted/ROUNDS.
set -uo pipefail
ROUNDS=20 HOLD_MS= K=5 LEARN_S=8
while [ $# -gt 0 ]; do
	case $1 in
	-n) ROUNDS=$2; shift 2 ;;
	--hold-ms) HOLD_MS=$2; shift 2 ;;
	--members) K=$2; shift 2 ;;
	--learn-s) LEARN_S=$2; shift 2 ;;
	*) echo "usage: $0 [-n ROUNDS] [--hold-ms MS] [--members K] [--learn-s S]" >&2; exit 2 ;;
	esac
done
[ "$(id -u)" = 0 ] || { echo "alert_latency: needs root (BPF agent, cgroups)" >&2; exit 1; }
. "$(dirname "$0")/../tests/collector/lib.sh"
AGENT=$B/herdwatch-agent
[ -x "$AGENT" ] || make -s -C "$HW_ROOT" >/dev/null || { echo "alert_latency: no agent binary" >&2; exit 1; }
CG2=$(findmnt -n -t cgroup2 -o TARGET | head -n1)
[ -n "$CG2" ] || { echo "alert_latency: no cgroup2 mount" >&2; exit 1; }
HOST=lat-$$
make_pki "$HOST" >/dev/null 2>&1 || { echo "alert_latency: herdwatch-ca failed" >&2; exit 1; }
# --hold-ms left at the collector's default (1000) unless given
start_collector --learn-s "$LEARN_S" ${HOLD_MS:+--hold-ms "$HOLD_MS"} --min-herd 4 --silent-s 0 || exit 1

TOP=hwlat$$
mkdir -p "$CG2/$TOP/web" "$T/bin" "$T/go"
cat >"$T/agent.yaml" <<EOC
host_name: $HOST
heartbeat_interval: 2
containers:
  - cgroup: '^/$TOP/([a-z]+)/(m[0-9]+)'
collector:
  address: 127.0.0.1:$TLS_PORT
  ca: $T/pki/ca.pem
  cert: $T/pki/$HOST.pem
  key: $T/pki/$HOST.key
  spool_dir: $T/spool-agent
EOC
"$AGENT" --config "$T/agent.yaml" --control none --output "$T/events.json" 2>"$T/agent.err" &
APID=$!
has_kind() { test "$(api "/api/events?kind=$1&limit=1" | jq '.events | length')" -gt 0; }
for _ in $(seq 300); do has_kind agent.heartbeat && break; sleep 0.1; done
has_kind agent.heartbeat || { echo "alert_latency: agent did not start: $(cat "$T/agent.err")" >&2; kill "$APID"; exit 1; }

# the worker: the same on every member; runs the program named in go/<member> once, via
# shell builtins only (read, test), so the attack adds exactly one exec
cat >"$T/worker.sh" <<'EOW'
me=$1 dir=$2 last=
while [ ! -e "$dir/stop" ]; do
	/usr/bin/true
	/bin/cat /etc/hostname >/dev/null
	if [ -e "$dir/go/$me" ]; then
		read -r p <"$dir/go/$me"
		if [ -n "$p" ] && [ "$p" != "$last" ]; then last=$p; "$p"; fi
	fi
	/usr/bin/sleep 0.2
done
EOW
wpids=()
members=()
for i in $(seq "$K"); do
	m=m$i
	members+=("$m")
	mkdir -p "$CG2/$TOP/web/$m"
	bash -c 'echo $$ >"$1/cgroup.procs" && exec bash "$2" "$3" "$4"' _ "$CG2/$TOP/web/$m" "$T/worker.sh" "$m" "$T" &
	wpids+=($!)
done
finish() {
	touch "$T/stop"
	wait "${wpids[@]}" 2>/dev/null
	[ -n "$APID" ] && kill -TERM "$APID" 2>/dev/null && wait "$APID" 2>/dev/null
	for m in "${members[@]}"; do rmdir "$CG2/$TOP/web/$m" 2>/dev/null; done
	rmdir "$CG2/$TOP/web" "$CG2/$TOP" 2>/dev/null
}
trap 'finish; cleanup' EXIT

sleep $((LEARN_S + 2)) # learning is over; normal work continues
load0=$(cut -d' ' -f1-3 /proc/loadavg)
falsebefore=$(grep -c . "$T/alerts.jsonl")
for r in $(seq "$ROUNDS"); do
	m=${members[$(((r - 1) % K))]}
	cp /usr/bin/true "$T/bin/tool-$r"
	echo "$T/bin/tool-$r" >"$T/go/$m.new" && mv "$T/go/$m.new" "$T/go/$m"
	# wait for its alert (at most 10 s), then a pause so rounds do not overlap
	for _ in $(seq 100); do grep -q "/tool-$r\"\|/tool-$r|" "$T/alerts.jsonl" && break; sleep 0.1; done
	sleep 0.5
done
sleep 1
load1=$(cut -d' ' -f1-3 /proc/loadavg)
api "/api/alerts?kind=member.outlier&limit=10000" >"$T/api_alerts.json"
python3 - "$T" "$ROUNDS" "$K" "$HOST" <<'PY'
import json, sys, datetime, re
T, n, k, host = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
def ns(t):
    d = datetime.datetime.strptime(t[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    frac = t[20:-1] if len(t) > 20 and t[19] == "." else "0"
    return int(d.timestamp()) * 10**9 + int((frac + "000000000")[:9])
execs = {}
for line in open(T + "/events.json"):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    # the exec of the tool itself (its exe), not e.g. the cp that made it (args name it)
    m = re.search(r"/bin/tool-(\d+)$", (e.get("proc") or {}).get("exe") or "")
    if e.get("kind") == "process.exec" and m and int(m.group(1)) not in execs:
        execs[int(m.group(1))] = (ns(e["time"]), e["seq"])
out = [json.loads(l) for l in open(T + "/alerts.jsonl") if l.strip()]
stored = {json.dumps(a["alert"], sort_keys=True) for a in json.load(open(T + "/api_alerts.json"))["alerts"]}
lat, missing = [], []
for r in range(1, n + 1):
    pat = re.compile(r'/bin/tool-%d(\||")' % r)
    al = [a for a in out if a.get("kind") == "member.outlier" and pat.search(json.dumps(a))]
    if r not in execs or not al:
        missing.append("%d (%s)" % (r, "no exec event" if r not in execs else "no alert"))
        continue
    a = al[0]
    if json.dumps(a, sort_keys=True) not in stored:
        missing.append("%d (alert not in /api/alerts)" % r)
        continue
    want = "%s/m%d" % (host, (r - 1) % k + 1)
    if a.get("member") != want:
        missing.append("%d (alert names %s, not %s)" % (r, a.get("member"), want))
        continue
    if not any(execs[r][1] in t.get("events", []) for t in a.get("tokens", [])):
        missing.append("%d (alert does not cite exec event seq %d)" % (r, execs[r][1]))
        continue
    lat.append((ns(a["time"]) - execs[r][0]) / 1e9)
s = sorted(lat)
def p(q):  # nearest rank
    import math
    return s[max(0, math.ceil(q * len(s)) - 1)]
if s:
    print("latency syscall -> stored alert: %d/%d alerted; p50 %.3f s, p95 %.3f s, max %.3f s, min %.3f s"
          % (len(s), n, p(0.5), p(0.95), s[-1], s[0]))
    print("per round (s): " + " ".join("%.3f" % x for x in lat))
else:
    print("latency: 0/%d alerted" % n)
for x in missing:
    print("round " + x)
PY
others=$(jq -s '[.[] | select(.kind == "member.outlier") | select(tostring | test("/bin/tool-") | not)] | length' \
	<(tail -n +$((falsebefore + 1)) "$T/alerts.jsonl"))
echo "member alerts not caused by a tool-<round> exec: $others"
echo "collector --hold-ms ${HOLD_MS:-1000 (default)}, $K members, learning ${LEARN_S} s;" \
	"machine load average $load0 before the rounds, $load1 after ($(nproc) CPUs)"
