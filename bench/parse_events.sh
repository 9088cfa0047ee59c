# bench/parse_events.sh - sourced by bench/run (and tests/probes/test_bench_count.sh): what a
# workload's run did by its own account, and what a monitor's output says of it.
#
# A workload's report line (bench/workloads/wl.h) gives the operations it made; expected_events
# turns them into event categories. count_events reads a monitor's output and sums, per
# category, the operations its events stand for. For herdwatch an event can stand for several:
#   - net.connect, net.accept: `net.count` (the in-kernel folding of repeats, docs/events-net.md
#     "Folding": the first event has count 1, the summary after the window the repeats); a
#     connect is counted by its final event, the blocking call's or the outcome of a
#     non-blocking one (wrk's): the `pending` start (EINPROGRESS) before an outcome is not
#     counted again, and a start whose outcome never came leaves the count short;
#   - file.*: 1 + `file.repeats` (exact mode folds repeats within 10 s and reports the rest in
#     a `summary` event at exit, which stands for its `repeats` alone); in watch mode (fanotify,
#     docs/events-user.md "Watch mode") the kernel merges identical opens and no summary is
#     written at exit, so the opens are not known: the category there is `file_reports`, one
#     report per (process, file, operation) and 10 s window, and the opens the events stand
#     for are shown beside it, not compared;
#   - process.capability: `cap.checks` of the per-window summaries.
# Folded summaries and capability summaries come after their window (10 s by default), so the
# pinned method recounts those categories from the agent's whole output at the end
# (recount_late) and the fresh method waits for them before stopping the agent
# (wait_late_counts). A count that stays short shows as short: nothing is assumed.
# progress_lines prints bench/run's line per run with these counts (a pinned run's late
# categories marked "(summaries later)" until recount_late has them).
#
# Globals read: METHOD (pinned|fresh), HW_PROBES (pinned: the probes the configuration under
# test attaches), HW_FILE_HOOK (pinned: the hook of file.open, "fanotify" in watch mode),
# AUDIT_LOST_DELTA (auditd), SW_OUT (pinned: the one agent's output).

# Value of key K in a "k=v k=v" line.
kv() { tr ' ' '\n' <"$1" | awk -F= -v k="$2" '$1 == k {print $2; exit}'; }

# The window herdwatch folds repeated opens of one file by one process in (agent: FOLD_MS in
# file_fan_read.c, the exact mode's map in bpf/; docs/events-user.md "Repeats").
FILE_FOLD_S=10

# file_hook OUTFILE: the hook file.open was attached with ("fanotify" in watch mode)
file_hook() {
	if [ "$METHOD" = pinned ]; then
		echo "${HW_FILE_HOOK:-}"
	else
		head -1 "$1" | jq -r '.agent.probes["file.open"].hook // ""' 2>/dev/null
	fi
}

# What the workload generated, per category (from its own report line F).
# expected_events WORKLOAD F [MONITOR OUTFILE]
expected_events() {
	local wl=$1 f=$2 mon=${3:-} out=${4:-}
	case "$wl" in
	exec) echo "exec=$(kv "$f" execs)" ;;
	connect) echo "connect=$(kv "$f" connects) accept=$(kv "$f" accepts)" ;;
	open) echo "file=0" ;;
	watched)
		if [ "$mon" = herdwatch ] && [ "$(file_hook "$out")" = fanotify ]; then
			# one report per 10 s window of the run, at least one (see the header)
			local w
			w=$(kv "$f" wall_ns)
			w=$((w / (FILE_FOLD_S * 1000000000)))
			echo "file_reports=$((w > 1 ? w : 1))"
		else
			echo "file=$(kv "$f" opens)"
		fi ;;
	cap) echo "cap_chown=$(kv "$f" chowns) cap_net_admin=$(kv "$f" setsockopts)" ;;
	# wrk's connects are the server's accepts
	service) echo "exec=$(kv "$f" execs) accept=$(kv "$f" accepts) connect=$(kv "$f" accepts)" ;;
	esac
}

# The jq program that names, for one herdwatch event, the categories it counts in and how many
# operations it stands for ("CATEGORY N" lines); $p is the workload, $w its client (wrk).
HW_EVENT_JQ='
	(if .proc.pid == $p or .proc.ppid == $p or .proc.pid == $w then "own 1" else empty end),
	(if .kind == "process.exec" and .proc.ppid == $p then "exec 1"
	elif .kind == "net.connect" and (.proc.pid == $p or .proc.pid == $w) and .net.pending != true then
		"connect \(.net.count // 1)"
	elif .kind == "net.accept" and .proc.pid == $p then "accept \(.net.count // 1)"
	elif (.kind | startswith("file.")) and .proc.pid == $p then
		"file \((if .file.summary == true then 0 else 1 end) + (.file.repeats // 0))"
	elif .kind == "process.capability" and .proc.pid == $p then
		"cap_\(.cap.name | ascii_downcase | ltrimstr("cap_")) \(.cap.checks)"
	else empty end)'

# count_events KIND OUTFILE WLPID WRKPID -> "exec=N connect=N accept=N file=N cap_chown=N
# cap_net_admin=N lost=N gaps=N lines=N own=N" (herdwatch also: C_events=N, the events each
# category C was counted from, file_reports=N and probes=LIST)
count_events() {
	local kind=$1 out=$2 p=$3 wp=${4:-0}
	case "$kind" in
	none | floor | hooks | slowpath | cap_empty) echo "exec=0 connect=0 accept=0 file=0 cap_chown=0 cap_net_admin=0 lost=0 gaps=0 lines=0 own=0" ;;
	herdwatch)
		# seq must run 1, 2, 3, ... with no gap; agent.loss events and the final heartbeat's
		# drop counters report what the agent knows it lost.
		# pinned: OUTFILE is this run's part of the one agent's output (its seq starts anywhere,
		# its heartbeats' drop counters are the whole run's: agent.loss says what this part lost)
		local gaps lostev dropped=0 lines probes from1=1
		[ "$METHOD" = pinned ] && from1=0
		lines=$(wc -l <"$out")
		if [ "$METHOD" = pinned ]; then
			probes=$HW_PROBES
		else
			probes=$(grep -m1 -F '"kind":"agent.heartbeat"' "$out" |
				jq -r '[.agent.probes // {} | to_entries[] | select(.value.state == "attached") | .key] | join(",")')
		fi
		gaps=$(grep -o '^{"seq":[0-9]*' "$out" | cut -d: -f2 | sort -n |
			awk -v from1=$from1 'NR == 1 && from1 && $1 != 1 {g += $1 - 1} NR > 1 && $1 != prev + 1 {g += ($1 > prev ? $1 - prev - 1 : 1)} {prev = $1} END {print g + 0}')
		lostev=$(grep -F '"kind":"agent.loss"' "$out" | jq -s '[.[].loss.count // 0] | add // 0')
		[ "$METHOD" = pinned ] || dropped=$(grep -F '"kind":"agent.heartbeat"' "$out" | tail -1 |
			jq '[.agent.stats.dropped // {} | .. | numbers] | add // 0')
		# "own" lines: the workload's (and its children's, and wrk's) share of the output
		{ grep -F -e "\"pid\":$p," -e "\"pid\":$wp," "$out" || true; } |
			jq -r --argjson p "$p" --argjson w "$wp" "$HW_EVENT_JQ" |
			awk -v gaps="$gaps" -v lost="$((lostev > dropped ? lostev : dropped))" -v lines="$lines" -v probes="${probes:-none}" '
				{n[$1] += $2; ev[$1]++}
				END {printf "exec=%d connect=%d accept=%d file=%d cap_chown=%d cap_net_admin=%d lost=%d gaps=%d lines=%d own=%d",
					n["exec"], n["connect"], n["accept"], n["file"], n["cap_chown"], n["cap_net_admin"], lost, gaps, lines, n["own"]
				 printf " connect_events=%d accept_events=%d file_events=%d file_reports=%d cap_chown_events=%d cap_net_admin_events=%d probes=%s\n",
					ev["connect"], ev["accept"], ev["file"], ev["file"], ev["cap_chown"], ev["cap_net_admin"], probes}'
		;;
	auditd)
		# One SYSCALL record per audited syscall; the key names the rule that matched.
		awk -v p="$p" -v w="$wp" -v lost="${AUDIT_LOST_DELTA:-0}" '
			function serial(   s) {
				if (!match($0, /msg=audit\([0-9.]+:[0-9]+\)/)) return ""
				s = substr($0, RSTART, RLENGTH); sub(/.*:/, "", s); return s
			}
			NR == FNR {
				if ($0 ~ /^type=SYSCALL / && ($0 ~ (" pid=" p " ") || $0 ~ (" ppid=" p " ") || (w != 0 && $0 ~ (" pid=" w " "))))
					mine[serial()] = 1
				next
			}
			{ total++; if (serial() in mine) own++ }
			/^type=SYSCALL / {
				pid = ppid = key = ""
				if (match($0, / pid=[0-9]+/)) pid = substr($0, RSTART + 5, RLENGTH - 5)
				if (match($0, / ppid=[0-9]+/)) ppid = substr($0, RSTART + 6, RLENGTH - 6)
				if (match($0, / key="[a-z_]+"/)) key = substr($0, RSTART + 6, RLENGTH - 7)
				if (key == "hw_exec" && ppid == p && $0 ~ / success=yes/) n["exec"]++
				else if (key == "hw_connect" && (pid == p || pid == w)) n["connect"]++
				else if (key == "hw_accept" && pid == p && $0 ~ / success=yes/) n["accept"]++
				else if (key == "hw_file" && pid == p) n["file"]++
				else if (key == "hw_cap" && pid == p) n["cap_chown"]++
			}
			END {printf "exec=%d connect=%d accept=%d file=%d cap_chown=%d cap_net_admin=%d lost=%d gaps=0 lines=%d own=%d\n",
				n["exec"], n["connect"], n["accept"], n["file"], n["cap_chown"], 0, lost, total, own}' "$out" "$out"
		;;
	bpftrace)
		# Text lines (see bench/monitors/bpftrace.bt); "Lost N events" when a perf buffer overflowed.
		awk -v p="$p" -v w="$wp" '
			NR == FNR { if ($1 == "exec" && $3 == p) kid[$2] = 1; next }
			$1 ~ /^(exec|exit|argv|connect|accept|bind|listen|open)$/ {
				total++
				if ($2 == p || $2 == w || ($2 in kid)) own++
			}
			/^@caps\[/ { total++ }
			$1 == "exec" && $3 == p {n["exec"]++}
			$1 == "connect" && ($2 == p || $2 == w) {n["connect"]++}
			$1 == "accept" && $2 == p {n["accept"]++}
			$1 == "open" && $2 == p {n["file"]++}
			/^@caps\[/ {
				# @caps[PID, COMM, CAP, RET]: COUNT  (COMM may hold anything but "]: ")
				line = $0
				sub(/^@caps\[/, "", line)
				split(line, a, "]: ")
				k = split(a[1], f, ", ")
				if (f[1] == p && f[k - 1] == 0) n["cap_chown"] += a[2]
				if (f[1] == p && f[k - 1] == 12) n["cap_net_admin"] += a[2]
			}
			/^@caps\[/ && index($0, "@caps[" p ", ") == 1 { own++ }
			/^Lost [0-9]+ events/ {lost += $2}
			END {printf "exec=%d connect=%d accept=%d file=%d cap_chown=%d cap_net_admin=%d lost=%d gaps=0 lines=%d own=%d\n",
				n["exec"], n["connect"], n["accept"], n["file"], n["cap_chown"], n["cap_net_admin"], lost, total, own}' "$out" "$out"
		;;
	esac
}

# The categories whose events can come after the run: folded summaries, capability summaries,
# and watch-mode file events (read from fanotify after the ring buffer in the agent's pass, so
# they can follow the drain marker's exec).
LATE_CATS="connect accept file file_reports cap_chown cap_net_admin"

# late_short EXP GOT: the late categories where GOT (count_events' line) is below EXP
# (expected_events' line); prints nothing when none is
late_short() {
	local c e g
	for c in $LATE_CATS; do
		e=$(tr ' ' '\n' <<<"$1" | awk -F= -v k="$c" '$1 == k {print $2; exit}')
		[ -n "$e" ] || continue
		g=$(tr ' ' '\n' <<<"$2" | awk -F= -v k="$c" '$1 == k {print $2; exit}')
		[ "${g:-0}" -ge "$e" ] || printf '%s ' "$c"
	done
}

# wait_late_counts OUTFILE WLPID WRKPID EXP SECS: fresh method, herdwatch: until the run's late
# categories are complete in OUTFILE (the agent still running) or SECS have passed
wait_late_counts() {
	local out=$1 p=$2 wp=$3 exp=$4 secs=$5 end
	end=$((SECONDS + secs))
	while [ -n "$(late_short "$exp" "$(count_events herdwatch "$out" "$p" "$wp")")" ] &&
		[ "$SECONDS" -lt "$end" ]; do
		sleep 0.5
	done
}

# late_totals FILE PIDS...: "PID CATEGORY N EVENTS" of the late categories over the whole of
# FILE (one pass), for the processes named
late_totals() {
	local out=$1 pat
	shift
	pat=$(printf '"pid":%s,\n' "$@")
	{ grep -F -e "$pat" "$out" || true; } |
		grep -F -e '"kind":"net.connect"' -e '"kind":"net.accept"' -e '"kind":"process.capability"' -e '"kind":"file.' |
		jq -r --arg pids " $* " '
			select(.proc.pid as $x | $pids | contains(" \($x) "))
			| if .kind == "net.connect" then (if .net.pending == true then empty else "\(.proc.pid) connect \(.net.count // 1)" end)
			elif .kind == "net.accept" then "\(.proc.pid) accept \(.net.count // 1)"
			elif (.kind | startswith("file.")) then
				"\(.proc.pid) file \((if .file.summary == true then 0 else 1 end) + (.file.repeats // 0))",
				"\(.proc.pid) file_reports 1"
			else "\(.proc.pid) cap_\(.cap.name | ascii_downcase | ltrimstr("cap_")) \(.cap.checks)" end' |
		awk '{n[$1 " " $2] += $3; e[$1 " " $2]++} END {for (k in n) print k, n[k], e[k]}'
}

# recount_late RAW OUT: pinned method: the late categories of herdwatch's runs in RAW (runs.kv)
# counted again from the agent's whole output OUT; rewrites got_C and got_C_events of those
# runs. Prints the number of run lines still short.
recount_late() {
	local raw=$1 out=$2 pids
	pids=$(awk '/ monitor=herdwatch ok=1 / && / exp_(connect|accept|file|file_reports|cap_chown|cap_net_admin)=/ {
		for (i = 1; i <= NF; i++) if ($i ~ /^(pid|wrkpid)=[1-9]/) { sub(/^[a-z]*=/, "", $i); print $i } }' "$raw" | sort -u)
	[ -n "$pids" ] || { echo 0; return 0; }
	# shellcheck disable=SC2086
	late_totals "$out" $pids >"$raw.late"
	awk -v cats="$LATE_CATS" '
		FILENAME == ARGV[1] { n[$1 " " $2] = $3; e[$1 " " $2] = $4; next }
		/ monitor=herdwatch ok=1 / {
			p = w = 0
			for (i = 1; i <= NF; i++) {
				if ($i ~ /^pid=/) p = substr($i, 5)
				if ($i ~ /^wrkpid=/) w = substr($i, 8)
			}
			k = split(cats, cs, " ")
			for (j = 1; j <= k; j++) {
				c = cs[j]
				if ($0 !~ (" exp_" c "=")) continue
				g = n[p " " c] + (c == "connect" && w != 0 ? n[w " " c] : 0)
				ev = e[p " " c] + (c == "connect" && w != 0 ? e[w " " c] : 0)
				for (i = 1; i <= NF; i++) {
					if ($i ~ ("^got_" c "=")) $i = "got_" c "=" g
					if ($i ~ ("^got_" c "_events=")) $i = "got_" c "_events=" ev
					if ($i ~ ("^exp_" c "=") && g < substr($i, length(c) + 6) + 0) short[NR] = 1
				}
			}
		}
		{ print > (FILENAME ".new") }
		END { n_ = 0; for (r in short) n_++; print n_ }' "$raw.late" "$raw"
	mv "$raw.new" "$raw"
	rm -f "$raw.late"
}

# progress_lines LATER: one progress line per runs.kv line on stdin, with the counts the
# report uses (what each event stands for: Σ net.count of folded connects and accepts, ...,
# bench/parse_events.sh). LATER=1: the pinned agent's run just ended, its folded and
# capability summaries come after their window and are counted at the end (recount_late):
# a late category still short is marked so, not shown as a loss.
progress_lines() {
	awk -v later="$1" -v late=" $LATE_CATS " '{
		split("", v)
		for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		ev = ""
		for (k in v) if (k ~ /^exp_/) {
			c = substr(k, 5)
			ev = ev sprintf(" %s %d/%d", c, v["got_" c], v[k])
			if (("got_" c "_events") in v && v["got_" c "_events"] != v["got_" c])
				ev = ev sprintf(" in %d events", v["got_" c "_events"])
			if (later && index(late, " " c " ") && v["got_" c] < v[k]) ev = ev " (summaries later)"
		}
		printf "  %-8s %-10s wall %7.3f s  cpu %7.3f s  monitor cpu %7.3f s  events%s  lost %d gaps %d\n",
			v["workload"], v["monitor"], v["wall_ns"] / 1e9, v["cpu_ns"] / 1e9,
			(v["mon_cpu_ns"] + v["kaudit_ns"]) / 1e9, ev, v["got_lost"], v["got_gaps"]}'
}
