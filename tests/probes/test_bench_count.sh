#!/usr/bin/env bash
# The benchmark's accounting of herdwatch's events (bench/parse_events.sh, used by bench/run;
# docs/performance.md, "Measured"): the real workloads of bench/workloads/ under a real agent
# (net folding with a 1 s window, so the summaries come within the test), counted as bench/run
# counts them:
#   - a connect storm's folded connects (and accepts, on socket hooks) sum to every connect
#     (Σ net.count), from fewer events;
#     without its summary the count stays short, in a run's own count and in the pinned
#     method's recount of runs.kv from the whole output (recount_late);
#   - a watched-file storm in watch mode is expected and counted in reports (one per process,
#     file and 10 s window); in exact mode the opens its events stand for (1 + repeats, a
#     summary at exit standing for its repeats alone) are every open;
#   - the service workload driven by curl: its report counts the requests it answered, the
#     accepts and the helper execs, and the monitor's counts match them;
#   - bench/report.py: a run without an operation is a failed run (no division by zero
#     operations), and the captured column says how it counted;
#   - a monitor's CPU (bench/cputime.sh, proc_cpu_ns): a process whose CPU was spent by a
#     thread that has exited (tests/helpers/thread_burn) still has it, where the sum over its
#     live threads (what bench/run read before) has lost it;
#   - the per-run progress lines (bench/run's progress_lines) show the counts the report uses.
. "$(dirname "$0")/../lib.sh"
need_root
WLB=$HW_ROOT/build/bench
for b in connect_storm open_storm service; do
	[ -x "$WLB/$b" ] || {
		not_ok "workloads built" "$WLB/$b missing: run make"
		exit 1
	}
done
METHOD=fresh
# shellcheck source=bench/parse_events.sh
. "$HW_ROOT/bench/parse_events.sh"

# --- a monitor's CPU: the whole process, exited threads included ------------------------------
# shellcheck source=bench/cputime.sh
. "$HW_ROOT/bench/cputime.sh"
TB=$HW_ROOT/build/tests/helpers/thread_burn
if [ -x "$HW_CPUTIME" ] && [ -x "$TB" ]; then
	coproc BURN { exec "$TB" 300; }
	BP=$BURN_PID
	burned=
	while read -r -t 20 line <&"${BURN[0]}"; do
		case $line in burned_ns=*) burned=${line#burned_ns=} ;; joined) break ;; esac
	done
	whole=$(proc_cpu_ns "$BP")
	live=$(cat /proc/"$BP"/task/*/schedstat | awk '{s += $1} END {printf "%.0f\n", s}')
	kill "$BP"
	wait "$BP" 2>/dev/null
	if [ -n "$burned" ] && [ "$burned" -ge 300000000 ]; then ok "cputime: the thread burned ${burned} ns"; else
		not_ok "cputime: the thread burned 300 ms" "burned_ns=$burned"; fi
	# the whole process: the exited thread's time and the little the main thread spent
	if [ -n "$burned" ] && [ "$whole" -ge "$burned" ] && [ "$whole" -lt $((burned + 100000000)) ]; then
		ok "cputime: the process's CPU includes its exited thread ($whole ns)"
	else
		not_ok "cputime: the process's CPU includes its exited thread" "whole=$whole burned=$burned"
	fi
	# what the sum over live threads read: the fault the whole-process clock fixes
	if [ "$live" -lt 100000000 ]; then ok "cputime: the live threads' sum had lost it ($live ns)"; else
		not_ok "cputime: the live threads' sum had lost it" "live=$live"; fi
	expect_eq "cputime: a process that is gone reads 0" "$(proc_cpu_ns "$BP")" 0
else
	not_ok "cputime: tools built" "$HW_CPUTIME or $TB missing: run make"
fi

printf 'net: {connect: {fold_window_s: 1}, accept: {fold_window_s: 1}}\nprobes: {kernel: false, system: false, user: false}\n' >"$T/agent.yaml"
agent_start "$T/agent.yaml" || {
	not_ok "agent starts" "$(cat "$T/agent.err")"
	exit 1
}
# got KEY LINE: the value of KEY in a "k=v ..." line
got() { tr ' ' '\n' <<<"$2" | awk -F= -v k="$1" '$1 == k {print $2; exit}'; }

# --- folded connects ----------------------------------------------------------------------------
N=300
"$WLB/connect_storm" -n $N >"$T/connect.out"
CP=$(kv "$T/connect.out" pid)
exp=$(expected_events connect "$T/connect.out" herdwatch "$EV")
expect_eq "connect: expected from the workload's report" "$exp" "connect=$N accept=$N"
wait_late_counts "$EV" "$CP" 0 "$exp" 8
c=$(count_events herdwatch "$EV" "$CP" 0)
expect_eq "connect: folded connects sum to every connect" "$(got connect "$c")" $N
ev=$(got connect_events "$c")
if [ "$ev" -ge 2 ] && [ "$ev" -lt $N ]; then ok "connect: counted from fewer events ($ev)"; else
	not_ok "connect: counted from fewer events" "$ev events"; fi
expect_eq "connect: every accept" "$(got accept "$c")" $N
expect_eq "connect: nothing late is short" "$(late_short "$exp" "$c")" ""

# the same output without the summary: short, and said to be short
grep -vF '"folded":true' "$EV" >"$T/nosum.json"
c=$(count_events herdwatch "$T/nosum.json" "$CP" 0)
if [ "$(got connect "$c")" -lt $N ]; then ok "connect: without the summary the count is short"; else
	not_ok "connect: without the summary the count is short" "$c"; fi
# accepts are folded too on socket hooks (net.mode socket, the default where cgroup v2 is mounted)
short="connect "
[ "$(jq -r '.agent.net_mode.mode' <<<"$(last_heartbeat)")" = socket ] && short="connect accept "
expect_eq "connect: without the summary late_short names it" "$(late_short "$exp" "$c")" "$short"

# the pinned method's recount from the whole output, of a run line whose part had the first
# event only
line="rep=1 workload=connect monitor=herdwatch ok=1 pid=$CP wrkpid=0 ops=$N wall_ns=1000 exp_connect=$N exp_accept=$N got_connect=1 got_accept=$N got_connect_events=1"
echo "$line" >"$T/runs.kv"
expect_eq "recount_late: no run short" "$(recount_late "$T/runs.kv" "$EV")" 0
if grep -q " got_connect=$N got_accept=$N got_connect_events=[0-9]" "$T/runs.kv"; then
	ok "recount_late: the run's connects rewritten"
else
	not_ok "recount_late: the run's connects rewritten" "$(cat "$T/runs.kv")"
fi
# the progress lines: the run as it ended (its summary still to come: said so, not a loss),
# then as recounted (Σ net.count, as the report counts)
p=$(progress_lines 1 <<<"$line")
expect "progress line: a pending summary said so" grep -qF "connect 1/$N (summaries later)" <<<"$p"
p=$(progress_lines 0 <"$T/runs.kv")
if grep -qE " connect $N/$N in [0-9]+ events accept" <<<"$p" || grep -qE " accept $N/$N.* connect $N/$N in [0-9]+ events" <<<"$p"; then
	ok "progress line: the recounted run's connects by Σ net.count"
else
	not_ok "progress line: the recounted run's connects by Σ net.count" "$p"
fi
echo "$line" >"$T/runs2.kv"
expect_eq "recount_late: one run short without the summary" "$(recount_late "$T/runs2.kv" "$T/nosum.json")" 1

# --- watched-file opens ---------------------------------------------------------------------------
"$WLB/open_storm" -p /etc/shadow -w watched -n $N >"$T/watched.out"
WP=$(kv "$T/watched.out" pid)
if [ "$(file_hook "$EV")" = fanotify ]; then
	expect_eq "watched, watch mode: one report expected" \
		"$(expected_events watched "$T/watched.out" herdwatch "$EV")" "file_reports=1"
	wait_grep "\"pid\":$WP," "select(.kind==\"file.open\" and .proc.pid==$WP)" 5 >/dev/null
	c=$(count_events herdwatch "$EV" "$WP" 0)
	expect_eq "watched, watch mode: one report" "$(got file_reports "$c")" 1
else
	ok "watched, watch mode # SKIP file.open is not on fanotify here"
fi
expect_eq "watched: auditd and bpftrace are expected every open" \
	"$(expected_events watched "$T/watched.out" auditd "$EV")" "file=$N"
if ctl enable file.exact >"$T/ctl.out" 2>&1; then
	"$WLB/open_storm" -p /etc/shadow -w watched -n $N >"$T/exact.out"
	XP=$(kv "$T/exact.out" pid)
	wait_grep "\"pid\":$XP," "select(.kind==\"process.exit\" and .proc.pid==$XP)" 5 >/dev/null
	c=$(count_events herdwatch "$EV" "$XP" 0)
	expect_eq "watched, exact mode: the events stand for every open" "$(got file "$c")" $N
	ctl disable file.exact >/dev/null 2>&1
else
	not_ok "ctl enable file.exact" "$(cat "$T/ctl.out")"
fi

# --- the service workload -----------------------------------------------------------------------
PORT=$((20000 + ($$ % 20000)))
"$WLB/service" -p $PORT -k 10 -x 10 >"$T/service.out" &
SP=$!
for _ in $(seq 100); do
	[ -n "$(ss -Htln "sport = :$PORT")" ] && break
	sleep 0.05
done
urls=()
for _ in $(seq 25); do urls+=("http://127.0.0.1:$PORT/index.html"); done
curl -s "${urls[@]}" >/dev/null &
CU=$!
wait $CU
expect_eq "service: curl got its answers" "$?" 0
kill -TERM $SP
wait $SP
svc=$(cat "$T/service.out")
expect_eq "service: ops are the requests answered" "$(got ops "$svc") $(got requests "$svc")" "25 25"
expect_eq "service: a reconnect every 10 requests, a helper every 10" \
	"$(got accepts "$svc") $(got execs "$svc")" "3 2"
w=$(got wall_ns "$svc")
if [ "$w" -gt 0 ] && [ "$((w / 25))" -gt 1000 ]; then ok "service: time per request over 1 µs"; else
	not_ok "service: time per request over 1 µs" "$svc"; fi
exp=$(expected_events service "$T/service.out" herdwatch "$EV")
expect_eq "service: expected" "$exp" "exec=2 accept=3 connect=3"
wait_late_counts "$EV" "$SP" "$CU" "$exp" 8
c=$(count_events herdwatch "$EV" "$SP" "$CU")
expect_eq "service: counted" "$(got exec "$c") $(got accept "$c") $(got connect "$c")" "2 3 3"

# --- the report ---------------------------------------------------------------------------------
R=$T/results
mkdir -p "$R"
ok_line() { # ok_line WORKLOAD MONITOR REPORT_FILE [COUNTS]
	echo "rep=1 workload=$1 monitor=$2 ok=1 pid=1 ops=$(kv "$3" ops) wall_ns=$(kv "$3" wall_ns) cpu_ns=$(kv "$3" cpu_ns) mon_cpu_ns=1000 kaudit_ns=0 rss_kb=1024 host_ns=1 ${4:-}"
}
c=$(count_events herdwatch "$EV" "$CP" 0 | sed 's/\([a-z_]*=\)/got_\1/g')
{
	ok_line connect none "$T/connect.out"
	ok_line connect herdwatch "$T/connect.out" "exp_connect=$N exp_accept=$N $c"
	echo "rep=1 workload=service monitor=none ok=1 pid=1 ops=0 wall_ns=461 cpu_ns=8000 mon_cpu_ns=0 kaudit_ns=0 rss_kb=0 host_ns=1"
	echo "rep=1 workload=service monitor=herdwatch ok=1 pid=2 ops=0 wall_ns=331 cpu_ns=9000 mon_cpu_ns=4575655 kaudit_ns=0 rss_kb=32652 host_ns=1"
} >"$R/2000-01-01-runs.kv"
echo "date=2000-01-01T00:00:00Z mode=quick reps=1 method=pinned cpu=1" >"$R/2000-01-01-env.kv"
if python3 "$HW_ROOT/bench/report.py" --dir "$R" --date 2000-01-01 >"$T/report.md" 2>"$T/report.err"; then
	ok "report.py runs"
else
	not_ok "report.py runs" "$(tail -3 "$T/report.err")"
fi
expect "report: folded connects said so" grep -qF "connect $N/$N in $(got got_connect_events "$c") events (Σ net.count)" "$T/report.md"
expect "report: service runs without a request failed" \
	grep -qF "2 run(s) failed and are left out: service/none (no_operations) round 1, service/herdwatch (no_operations) round 1" "$T/report.md"
expect_eq "report: no service row" "$(grep -c '^| service |' "$T/report.md")" 0
agent_stop
expect_eq "agent exits 0" "$?" 0
