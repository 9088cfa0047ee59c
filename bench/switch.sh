# bench/switch.sh - sourced by bench/run, bench/floor.sh, bench/priv.sh and bench/file_watch.sh:
# the parts of the pinned, interleaved method that switch what is attached between two runs of
# a workload.
#
#   - one herdwatch-agent for a whole benchmark, switched by SIGHUP between "off" (every probe
#     family disabled: nothing attached, the agent idle) and "on" (the configuration under test),
#     so that a run with herdwatch and its base run are seconds apart and the agent's start
#     (verification of its programs) is paid once;
#   - empty BPF programs ("return 0", build/bench/hw-floor) on chosen hooks: what any monitor
#     built on those hooks pays before it does any work;
#   - the hooks herdwatch attaches on this kernel, from its coverage manifest (--probe).
#
# The caller sets SW_DIR (a scratch directory), AGENT (the agent binary), WLB (build/bench) and
# optionally SW_CONFIG (the configuration under test; empty: the agent's defaults) and SW_OFF_EXTRA
# (YAML lines added to the "off" configuration, e.g. the same summary window). Functions
# return non-zero and print "switch: ..." on stderr when something did not come up; sw_cleanup
# stops whatever is still running (call it from the caller's EXIT trap).

SW_AGENT_PID=
SW_FLOOR_PID=
SW_STATE=
SW_OUT=

# The agent's configuration: every family off (off), the one under test (on: SW_CONFIG), or the
# YAML file named (a benchmark that compares several configurations with one agent).
sw_cfg() {
	if [ "$1" = on ]; then
		if [ -n "${SW_CONFIG:-}" ]; then cp "$SW_CONFIG" "$SW_DIR/cfg.yaml"; else : >"$SW_DIR/cfg.yaml"; fi
	elif [ "$1" != off ]; then
		cp "$1" "$SW_DIR/cfg.yaml"
	else
		{
			echo 'probes: {process: false, kernel: false, system: false, agent: false, net: false, user: false, file: false}'
			[ -n "${SW_OFF_EXTRA:-}" ] && printf '%s\n' "$SW_OFF_EXTRA"
		} >"$SW_DIR/cfg.yaml"
	fi
}

sw_napplied() { grep -c '"result":"applied"' "$SW_OUT" 2>/dev/null; }

# sw_start [off|on]: start the agent (default: off), wait for its first heartbeat.
sw_start() {
	local i
	SW_OUT=$SW_DIR/herdwatch.json
	: >"$SW_OUT"
	SW_STATE=${1:-off}
	sw_cfg "$SW_STATE"
	"$AGENT" --config "$SW_DIR/cfg.yaml" --output "$SW_OUT" --control none 2>"$SW_DIR/herdwatch.err" &
	SW_AGENT_PID=$!
	for ((i = 0; i < 6000; i++)); do
		grep -q '"agent.heartbeat"' "$SW_OUT" 2>/dev/null && return 0
		if ! kill -0 "$SW_AGENT_PID" 2>/dev/null; then
			echo "switch: the agent died: $(tail -2 "$SW_DIR/herdwatch.err")" >&2
			SW_AGENT_PID=
			return 1
		fi
		sleep 0.1
	done
	echo "switch: the agent wrote no heartbeat within 600 s" >&2
	return 1
}

# sw_switch on|off|FILE: rewrite the config, SIGHUP, wait until the agent says it applied it, then
# let detach/attach work (RCU, tracepoint sync) settle. Nothing to do when already there.
sw_switch() {
	local n i
	[ "$SW_STATE" = "$1" ] && return 0
	n=$(sw_napplied)
	sw_cfg "$1"
	kill -HUP "$SW_AGENT_PID" || return 1
	for ((i = 0; i < 1200; i++)); do
		if [ "$(sw_napplied)" -gt "$n" ]; then
			SW_STATE=$1
			sleep "${SW_SETTLE:-0.3}"
			sw_quiet
			return 0
		fi
		sleep 0.05
	done
	echo "switch: the agent did not apply a reload: $(tail -2 "$SW_DIR/herdwatch.err")" >&2
	return 1
}

# sw_quiet: wait (3 s at most) until the agent's work after a reload (attaching, reading the
# process table) is over: under 2 ticks of its CPU time in 0.2 s, so it does not compete with
# the next run for the CPU.
sw_quiet() {
	local a b i
	for ((i = 0; i < 15; i++)); do
		a=$(awk '{print $14 + $15}' "/proc/$SW_AGENT_PID/stat" 2>/dev/null) || return 0
		sleep 0.2
		b=$(awk '{print $14 + $15}' "/proc/$SW_AGENT_PID/stat" 2>/dev/null) || return 0
		[ $((b - a)) -lt 2 ] && return 0
	done
}

sw_stop() {
	if [ -n "$SW_AGENT_PID" ]; then
		kill -CONT "$SW_AGENT_PID" 2>/dev/null
		kill -TERM "$SW_AGENT_PID" 2>/dev/null
		wait "$SW_AGENT_PID" 2>/dev/null
	fi
	SW_AGENT_PID=
	SW_STATE=
}

# sw_hooks: the hooks herdwatch attaches here with the configuration under test, one per line,
# in hw-floor's syntax (raw:NAME, tp:CAT/NAME, fentry:FN, fexit:FN, lsm:HOOK); uprobes left out
# (they cost nothing to programs that do not call the probed functions).
sw_hooks() {
	local sec
	"$AGENT" --probe ${SW_CONFIG:+--config "$SW_CONFIG"} 2>/dev/null |
		jq -r '.probes[] | select(.attach) | .attach[]' | sort -u |
		while read -r sec; do
			case $sec in
			tp_btf/* | raw_tp/*) echo "raw:${sec#*/}" ;;
			tracepoint/*) echo "tp:${sec#tracepoint/}" ;;
			fentry/* | fexit/* | lsm/*) echo "${sec%%/*}:${sec#*/}" ;;
			esac
		done
}

# sw_floor_start HOOK...: empty programs on these hooks until sw_floor_stop.
sw_floor_start() {
	local i
	: >"$SW_DIR/floor.out" # a previous run's "attached" must not be read
	"$WLB/hw-floor" "$@" >"$SW_DIR/floor.out" 2>"$SW_DIR/floor.err" &
	SW_FLOOR_PID=$!
	for ((i = 0; i < 1200; i++)); do
		grep -q attached "$SW_DIR/floor.out" 2>/dev/null && return 0
		kill -0 "$SW_FLOOR_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "switch: hw-floor $* failed: $(cat "$SW_DIR/floor.err")" >&2
	SW_FLOOR_PID=
	return 1
}

sw_floor_stop() {
	if [ -n "$SW_FLOOR_PID" ]; then
		kill -TERM "$SW_FLOOR_PID" 2>/dev/null
		wait "$SW_FLOOR_PID" 2>/dev/null
	fi
	SW_FLOOR_PID=
}

sw_cleanup() {
	sw_floor_stop
	sw_stop
}
