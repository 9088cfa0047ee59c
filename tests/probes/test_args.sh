#!/usr/bin/env bash
# argv longer than the process table keeps (1 KiB) but within args_max_bytes (4096): the exec
# event carries all of it; later events of the process and its children's parent.args carry
# the table's copy with args_truncated: true. Also for a process older than the agent (/proc).
. "$(dirname "$0")/../lib.sh"
need_root

# 32 arguments, 3,011 bytes with their NULs: /bin/bash -c SCRIPT MARKER then 28 fillers
marker="hwargs$$"
script="read x <$T/go; /usr/bin/true hwargchild$$; exit 0"
fixed=$(( ${#script} + 1 + 10 + 3 + ${#marker} + 1 ))
args=()
left=$((3011 - fixed))
for i in $(seq 1 28); do
	n=$((left / (29 - i) - 1))
	args+=("$(printf 'f%02d' "$i")$(head -c $((n - 3)) /dev/zero | tr '\0' y)")
	left=$((left - n - 1))
done
want=$(printf '%s\0' /bin/bash -c "$script" "$marker" "${args[@]}" | wc -c)
expect_eq "the argv built is 3,011 bytes" "$want" 3011

mkfifo "$T/go" "$T/go-old"
# a process older than the agent: its argv comes from /proc/PID/cmdline
/bin/bash -c "read x <$T/go-old; /usr/bin/true hwoldchild$$; exit 0" "$marker" "${args[@]}" &
old=$!
agent_start || { not_ok "agent starts" "$(cat "$T/agent.err")"; exit 1; }

/bin/bash -c "$script" "$marker" "${args[@]}" &
pid=$!
ev=$(wait_event "select(.kind==\"process.exec\" and .proc.pid==$pid)") || not_ok "exec seen" "none for $pid"
expect_jq "exec: all 32 arguments" "$ev" '.proc.args|length==32'
expect_jq "exec: every byte of argv" "$ev" "([.proc.args[]|length+1]|add)==3011 and .exec.args_bytes==3011"
expect_jq "exec: last argument whole" "$ev" ".proc.args[31]==\"${args[27]}\""
expect_jq "exec: not truncated" "$ev" '.exec.args_truncated==false and .proc.args_truncated==false'
echo >"$T/go"
ch=$(wait_event "select(.kind==\"process.exec\" and .proc.args[1]==\"hwargchild$$\")") || not_ok "child exec seen" none
expect_jq "child: parent.args is the table's copy, flagged" "$ch" \
	".parent.pid==$pid and .parent.args_truncated==true and ([.parent.args[]|length+1]|add)<=1025"
expect_jq "child: own args whole" "$ch" '.proc.args_truncated==false'
wait $pid
ex=$(wait_event "select(.kind==\"process.exit\" and .proc.pid==$pid)") || not_ok "exit seen" none
expect_jq "exit: proc.args flagged" "$ex" '.proc.args_truncated==true and .proc.args[0]=="/bin/bash"'

echo >"$T/go-old"
ch=$(wait_event "select(.kind==\"process.exec\" and .proc.args[1]==\"hwoldchild$$\")") || not_ok "old child exec seen" none
expect_jq "process older than the agent: parent.args flagged" "$ch" \
	".parent.pid==$old and .parent.args_truncated==true and .parent.args[3]==\"$marker\""
wait $old
short=$(wait_event "select(.kind==\"process.exec\" and .proc.args[1]==\"hwoldchild$$\")")
expect_jq "short argv: not flagged" "$short" '.proc.args_truncated==false'
expect "every line is valid JSON" jq -e . "$EV"
agent_stop || not_ok "agent exits cleanly" "$(cat "$T/agent.err")"
exit 0
