# tests/lib.sh - shared helpers for herdwatch's shell tests (sourced).
#
# A test script prints one line per case: "ok - NAME" or "not ok - NAME: WHY" (tests/run
# counts them). Typical use:
#   . "$(dirname "$0")/../lib.sh"
#   agent_start                     # real agent, real BPF, output in $EV
#   ... do the real thing ...
#   ev=$(wait_event 'select(.kind=="process.exec" and .proc.pid=='$pid')')
#   expect_eq "exec exe" "$(jq -r .proc.exe <<<"$ev")" /usr/bin/true
#   agent_stop
set -u
HW_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
AGENT="$HW_ROOT/build/herdwatch-agent"
HELPERS="$HW_ROOT/build/tests/helpers"
T=$(mktemp -d /tmp/hwtest.XXXXXX)
EV="$T/events.json"
# where cgroup v2 is mounted (/sys/fs/cgroup/unified on hybrid hosts, /sys/fs/cgroup on pure v2)
CG2=$(findmnt -n -t cgroup2 -o TARGET | head -n1)
AGENT_PID=
HW_FAILS=0
trap 'hw_cleanup' EXIT

# Shared-agent mode (the kernel matrix, tests/kernels/): HW_SHARED_AGENT names a directory where
# one agent already runs for the whole run (pid in agent.pid, config agent.yaml, control socket
# ctl.sock). Starting an agent under emulation costs ~30 s of verification, so agent_start
# gives that agent the test's configuration by SIGHUP (with `output:` pointing at $EV) instead
# of starting another, and agent_stop leaves it running. HW_TIME_SCALE multiplies every wait.
HW_SHARED_AGENT=${HW_SHARED_AGENT:-}
HW_TIME_SCALE=${HW_TIME_SCALE:-1}

hw_cleanup() {
	[ -n "$AGENT_PID" ] && [ -z "$HW_SHARED_AGENT" ] && kill -TERM "$AGENT_PID" 2>/dev/null && wait "$AGENT_PID" 2>/dev/null
	if [ "${HW_KEEP:-0}" = 1 ] || [ "$HW_FAILS" -gt 0 ]; then
		echo "# test files kept in $T"
	else
		rm -rf "$T"
	fi
}

ok() { echo "ok - $1"; }
not_ok() {
	echo "not ok - $1: $2"
	HW_FAILS=$((HW_FAILS + 1))
}

# expect_eq NAME GOT WANT
expect_eq() {
	if [ "$2" == "$3" ]; then ok "$1"; else not_ok "$1" "got '$2', want '$3'"; fi
}

# expect NAME CMD... : passes when CMD succeeds
expect() {
	local name=$1
	shift
	if "$@" >/dev/null 2>&1; then ok "$name"; else not_ok "$name" "command failed: $*"; fi
}

# expect_jq NAME JSON FILTER : passes when FILTER yields true for JSON
expect_jq() {
	local r
	if [ -z "$2" ]; then
		not_ok "$1" "no event to check"
		return
	fi
	r=$(jq -e "$3" <<<"$2" 2>&1)
	if [ $? -eq 0 ]; then ok "$1"; else not_ok "$1" "$3 is ${r:-false} on: ${2:0:${HW_MSG_MAX:-600}}"; fi
}

need_root() {
	if [ "$(id -u)" -ne 0 ]; then
		not_ok "$(basename "$0")" "needs root"
		exit 1
	fi
}

# agent_start [CONFIG_FILE] [extra args...]: start the agent writing to $EV, wait until ready
# (its first heartbeat is written after every probe is attached and /proc is read).
agent_start() {
	if [ -n "$HW_SHARED_AGENT" ]; then
		shared_agent_config "$@"
		return
	fi
	local args=(--output "$EV" --control "$T/ctl.sock")
	if [ $# -gt 0 ] && [ -n "$1" ]; then args+=(--config "$1"); fi
	[ $# -gt 0 ] && shift
	: >"$EV"
	"$AGENT" "${args[@]}" "$@" 2>"$T/agent.err" &
	AGENT_PID=$!
	# loading verifies every program: slow on a busy shared machine, hence the long wait
	for _ in $(seq 1 1200); do
		if grep -q '"kind":"agent.heartbeat"' "$EV" 2>/dev/null; then return 0; fi
		if ! kill -0 "$AGENT_PID" 2>/dev/null; then
			echo "# agent died: $(cat "$T/agent.err")"
			AGENT_PID=
			return 1
		fi
		sleep 0.1
	done
	echo "# agent not ready after 120 s"
	return 1
}

# shared_agent_config [CONFIG_FILE]: the shared agent takes CONFIG_FILE (or the defaults), writing
# to $EV from now on; returns when the new config is applied and a heartbeat followed it.
shared_agent_config() {
	local cfg="$T/shared-agent.yaml"
	AGENT_PID=$(cat "$HW_SHARED_AGENT/agent.pid")
	# The agent reads $HW_SHARED_AGENT/agent.yaml: a link to the test's own file, so that a
	# test that edits its config and sends SIGHUP reloads its own edits. `output:` goes first
	# (a line appended later by the test may continue the file's last list).
	if [ $# -gt 0 ] && [ -n "$1" ]; then
		cfg=$1
		grep -q '^output:' "$cfg" || sed -i "1i output: $EV" "$cfg"
	else
		printf 'output: %s\n' "$EV" >"$cfg"
	fi
	ln -sfn "$cfg" "$HW_SHARED_AGENT/agent.yaml"
	ln -sf "$HW_SHARED_AGENT/ctl.sock" "$T/ctl.sock"
	: >"$EV"
	kill -HUP "$AGENT_PID" || return 1
	if ! wait_event 'select(.kind=="agent.config")' 60 >/dev/null; then
		echo "# shared agent did not take the config"
		return 1
	fi
	if ! wait_event 'select(.kind=="agent.config" and .config.result=="applied")' 1 >/dev/null; then
		echo "# shared agent refused the config: $(events 'select(.kind=="agent.config")')"
		return 1
	fi
	wait_event 'select(.kind=="agent.heartbeat")' 60 >/dev/null
}

# last_heartbeat: the agent's last heartbeat in $EV (after agent_stop: the final one)
last_heartbeat() { grep -F '"kind":"agent.heartbeat"' "$EV" | tail -n1; }

# agent_stop: SIGTERM and wait; returns the agent's exit status
agent_stop() {
	local rc=0
	if [ -n "$HW_SHARED_AGENT" ]; then
		# the shared agent runs on; a reload writes the heartbeat a stop would have written
		local n
		n=$(grep -c -F '"kind":"agent.heartbeat"' "$EV")
		kill -HUP "$AGENT_PID"
		for _ in $(seq 1 $((100 * HW_TIME_SCALE))); do
			[ "$(grep -c -F '"kind":"agent.heartbeat"' "$EV")" -gt "$n" ] && break
			sleep 0.1
		done
		AGENT_PID=
		return 0
	fi
	if [ -n "$AGENT_PID" ]; then
		kill -TERM "$AGENT_PID"
		wait "$AGENT_PID" || rc=$?
		AGENT_PID=
	fi
	return $rc
}

# events FILTER: every event (compact JSON, one per line) matching a jq select() expression.
# A filter that names one kind (.kind=="x", no "or", no "not") reads only the lines of that
# kind: jq over the whole file at every poll made waits quadratic under emulation.
events() {
	local f=$1
	if [[ $f != *" or "* && $f != *not* && $f =~ \.kind==\"([a-z_.]+)\" ]] &&
		[ "${f#*.kind==}" = "${f##*.kind==}" ]; then
		grep -F "\"kind\":\"${BASH_REMATCH[1]}\"" "$EV" 2>/dev/null | jq -c "$f" 2>/dev/null
	else
		jq -c "$f" "$EV" 2>/dev/null
	fi
}

# poll_first TIMEOUT_S CMD...: run CMD every 0.1 s until it prints something; prints its first
# line; fails after TIMEOUT_S
poll_first() {
	# a deadline, not a number of rounds: under emulation one round (a jq over the events)
	# can take seconds
	local r end=$((SECONDS + $1 * HW_TIME_SCALE))
	shift
	while :; do
		r=$("$@" | head -n 1)
		if [ -n "$r" ]; then
			echo "$r"
			return 0
		fi
		[ "$SECONDS" -ge "$end" ] && return 1
		sleep 0.1
	done
}

# wait_event FILTER [TIMEOUT_S]: wait until an event matches; prints the first match
wait_event() { poll_first "${2:-10}" events "$1"; }

# wait_grep STRING FILTER [TIMEOUT_S]: as wait_event, over the lines that contain STRING only
# (cheap when other activity on the machine makes the event file large)
wait_grep() { poll_first "${3:-10}" grep_events "$1" "$2"; }

# grep_events STRING FILTER: as events, over the lines that contain STRING only
grep_events() { grep -F -- "$1" "$EV" 2>/dev/null | jq -c "$2" 2>/dev/null; }

# seq_contiguous: every seq from 1 to the last, once each, in order
# (a shared agent's file starts where the test gave it its config: from that seq on)
seq_contiguous() {
	local first=1
	[ -n "$HW_SHARED_AGENT" ] && first=$(head -n1 "$EV" | jq .seq)
	jq -s -e --argjson f "$first" '[.[].seq] as $s | ($s | length) > 0 and $s == [range($f; $f + ($s | length))]' "$EV" >/dev/null
}

# fev NAME FILTER [TIMEOUT_S]: the first event matching FILTER, or {} after reporting NAME as
# missing (so that every check on it fails)
fev() {
	local r
	r=$(wait_event "$2" "${3:-10}") && { echo "$r"; return; }
	not_ok "$1" "no event matching $2" >&2
	HW_FAILS=$((HW_FAILS + 1))
	echo '{}'
}

# run_pid CMD...: run it in the background and wait, leaving its pid in $P (its output in $T/out)
run_pid() {
	"$@" >"$T/out" 2>/dev/null &
	P=$!
	wait $P
}

# last_seq: the seq of the agent's last event
last_seq() { tail -n1 "$EV" | jq .seq; }

# hb_after SEQ: the first heartbeat after seq SEQ (a reload writes one)
hb_after() { wait_event "select(.kind==\"agent.heartbeat\" and .seq>$1)" 5; }

# agent_reload: SIGHUP the test's agent and wait (10 s at most) for the agent.config that says
# the configuration was applied
agent_reload() {
	local s
	s=$(last_seq)
	kill -HUP "$AGENT_PID"
	wait_event "select(.kind==\"agent.config\" and .seq>$s and .config.result==\"applied\")" 10 >/dev/null
}

# ctl ARGS...: talk to the running test agent's control socket
ctl() { "$AGENT" ctl --socket "$T/ctl.sock" "$@"; }
