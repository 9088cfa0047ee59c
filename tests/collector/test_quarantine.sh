#!/usr/bin/env bash
# Network quarantine on the host (ctl quarantine / release; docs/control.md): the real BPF
# agent streaming to a real collector, a TCP+UDP echo server on loopback, two cgroups a and b.
# A quarantined cgroup's connect (TCP) and send (UDP) to the server fail while b's work; its
# connection made before the quarantine stops carrying data; it still reaches the collector's
# address, and the agent's own stream goes on. A process tree is moved into a cgroup of its own
# (new children included) and back on release. Refusals (init, kernel thread, the agent, a
# cgroup or tree holding it, unknown targets, no duration) are answered and reported. From the
# collector only when control.collector_allow names quarantine, with a bounded --for. The agent
# killed -9 while quarantines hold: they still hold, the one whose deadline passes ends in the
# kernel with no agent, a new agent adopts the other and reports the expired one; release
# restores. Every action is an agent.response event.
. "$(dirname "$0")/lib.sh"
AGENT=$B/herdwatch-agent
[ -x "$AGENT" ] || { echo "ok - quarantine # skip: no agent binary (make)"; exit 0; }
[ "$(id -u)" = 0 ] || { echo "ok - quarantine # skip: needs root"; exit 0; }
CG2=$(findmnt -n -t cgroup2 -o TARGET | head -n1)
[ -n "$CG2" ] || { echo "not ok - quarantine: no cgroup2 mount"; exit 1; }
HOST=quar-$$
make_pki "$HOST" >/dev/null 2>&1 || { echo "not ok - pki: herdwatch-ca failed"; exit 1; }
start_collector --learn-s 3600 || exit 1
QD=/sys/fs/bpf/herdwatch/quarantine
TOP=hwq$$
mkdir -p "$CG2/$TOP/a" "$CG2/$TOP/b"
cgid() { command stat -c %i "$CG2/$TOP/$1"; }
IDA=$(cgid a)
IDB=$(cgid b)

cat >"$T/qnet.py" <<'EOF'
# qnet.py MODE HOST PORT: tcp (connect, echo one line), conn (connect only), udp (a datagram
# and its echo), hold (connect, then one echo per line of stdin). Prints ok or the errno name.
import errno, socket, sys
mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
def err(e):
    return errno.errorcode.get(e.errno, "timeout") if e.errno else "timeout"
def echo(s):
    s.sendall(b"ping\n")
    s.settimeout(1.5)
    return "ok" if s.recv(16) else "closed"
try:
    if mode in ("tcp", "conn", "hold"):
        s = socket.create_connection((host, port), timeout=2)
        if mode == "conn":
            print("ok")
        elif mode == "tcp":
            print(echo(s))
        else:
            for _ in sys.stdin:
                try:
                    print(echo(s), flush=True)
                except OSError as e:
                    print(err(e), flush=True)
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(1.5)
        s.sendto(b"ping", (host, port))
        s.recvfrom(16)
        print("ok")
except OSError as e:
    print(err(e), flush=True)
EOF
cat >"$T/echo.py" <<'EOF'
import socket, sys, threading
t = socket.socket()
t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind(("127.0.0.1", 0))
port = t.getsockname()[1]
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("127.0.0.1", port))
t.listen(64)
def udp():
    while True:
        d, a = u.recvfrom(64)
        u.sendto(d, a)
def conn(c):
    while True:
        d = c.recv(64)
        if not d:
            break
        c.sendall(d)
threading.Thread(target=udp, daemon=True).start()
print(port, flush=True)
while True:
    c, _ = t.accept()
    threading.Thread(target=conn, args=(c,), daemon=True).start()
EOF
python3 "$T/echo.py" >"$T/echo.port" &
for _ in $(seq 50); do [ -s "$T/echo.port" ] && break; sleep 0.05; done
EP=$(cat "$T/echo.port")

# in CGROUP CMD...: run CMD as a new process of cgroup $TOP/CGROUP (a path below it)
incg() { bash -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' _ "$CG2/$TOP/$1" "${@:2}"; }
net() { incg "$1" python3 "$T/qnet.py" "$2" 127.0.0.1 "${3:-$EP}"; }

write_config() { # collector_allow list
	cat >"$T/agent.yaml" <<EOC
host_name: $HOST
heartbeat_interval: 1
collector:
  address: 127.0.0.1:$TLS_PORT
  ca: $T/pki/ca.pem
  cert: $T/pki/$HOST.pem
  key: $T/pki/$HOST.key
  spool_dir: $T/spool
# process events only: an agent with fewer links attached dies faster (kill -9 below)
probes: {net: false, file: false, user: false, system: false, kernel: false}
containers:
  - cgroup: '^/$TOP/([ab])'
control:
  collector_allow: [$1]
EOC
}
APID=
start_agent() { # EVENTS-FILE
	EV=$1
	"$AGENT" --config "$T/agent.yaml" --control "$T/ctl.sock" --output "$EV" 2>>"$T/agent.err" &
	APID=$!
	for _ in $(seq 600); do grep -q '"agent.heartbeat"' "$EV" 2>/dev/null && return 0; sleep 0.1; done
	echo "not ok - agent_start: $(tail -n 3 "$T/agent.err")"
	exit 1
}
ctl() { "$AGENT" ctl --socket "$T/ctl.sock" "$@"; }
request() { "$B/herdwatch" --api "127.0.0.1:$HTTP_PORT" --token-file "$T/c.db.api-token" request "$HOST" "$@"; }
# wait_ev FILTER [TIMEOUT_S]: the first event of $EV that FILTER selects
wait_ev() {
	local r end=$((SECONDS + ${2:-5}))
	while :; do
		r=$(grep -F '"agent.' "$EV" | jq -c "$1" 2>/dev/null | head -n1)
		[ -n "$r" ] && { echo "$r"; return 0; }
		[ $SECONDS -ge $end ] && return 1
		sleep 0.1
	done
}
# expect_jq NAME JSON FILTER
jqt() { jq -e "$1" >/dev/null 2>&1 <<<"$2"; }
expect_jq() { expect "$1" "${2:0:500}" jqt "$3" "$2"; }
# poll_net CGROUP MODE WANT [TIMEOUT_S]: until MODE prints WANT; prints the last answer
poll_net() {
	local r end=$((SECONDS + ${4:-5}))
	while :; do
		r=$(net "$1" "$2")
		[ "$r" = "$3" ] || [ $SECONDS -ge $end ] && { echo "$r"; return 0; }
		sleep 0.2
	done
}
finish() {
	[ -n "${HOLD_FD:-}" ] && exec 7>&-
	[ -n "$APID" ] && kill -TERM "$APID" 2>/dev/null && wait "$APID" 2>/dev/null
	[ -n "${TREE:-}" ] && kill "$TREE" 2>/dev/null
	for id in $IDA $IDB ${IDT:-}; do
		rm -f "$QD/$id"/* 2>/dev/null
		rmdir "$QD/$id" 2>/dev/null
	done
	for c in $(find "$CG2/$TOP" -depth -type d 2>/dev/null); do
		for p in $(cat "$c/cgroup.procs" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
	done
	sleep 0.2
	find "$CG2/$TOP" -depth -type d -exec rmdir {} \; 2>/dev/null
	cleanup
}
trap finish EXIT

write_config "enable, add-probe"
start_agent "$T/ev1.json"

# ---- before: every path works (so the checks below can fail) ----
expect q_before_tcp "$(net a tcp)" test "$(net a tcp)" = ok
expect q_before_udp "$(net a udp)" test "$(net a udp)" = ok
mkfifo "$T/hold.in"
incg a python3 "$T/qnet.py" hold 127.0.0.1 "$EP" <"$T/hold.in" >"$T/hold.out" &
exec 7>"$T/hold.in"
HOLD_FD=7
echo >&7
for _ in $(seq 30); do [ -s "$T/hold.out" ] && break; sleep 0.1; done
expect q_before_existing_connection "$(cat "$T/hold.out")" test "$(cat "$T/hold.out")" = ok

echo "# at $SECONDS s"
# ---- a cgroup ----
r=$(ctl quarantine "/$TOP/a" --for 60)
expect_jq q_cgroup_answer "$r" ".ok and .now==\"quarantined\" and .kind==\"cgroup\" and .cgroup==\"/$TOP/a\" and .remaining_s==60 and .loopback==false"
ev=$(wait_ev "select(.kind==\"agent.response\" and .response.action==\"quarantine\")")
expect_jq q_cgroup_event "$ev" ".response.source==\"socket\" and .response.target==\"/$TOP/a\" and .response.kind==\"cgroup\" and .response.ok"
expect q_cgroup_pinned "$(ls "$QD/$IDA" 2>&1)" test "$(ls "$QD/$IDA" | wc -l)" = 6
r=$(net a tcp)
expect q_cgroup_tcp_refused "got $r" test "$r" = EPERM
r=$(net a udp)
expect q_cgroup_udp_refused "got $r" test "$r" = EPERM
# net.connect on socket hooks runs on the cgroup v2 root, after the quarantine's program on
# the child: it reports the refused connects with the refusal (docs/events-net.md)
for proto in tcp udp; do
	ev=
	for _ in $(seq 50); do
		ev=$(grep -F '"net.connect"' "$EV" | jq -c "select(.net.proto==\"$proto\" and .net.dst.port==$EP and .net.result==-1)" 2>/dev/null | head -n1)
		[ -n "$ev" ] && break
		sleep 0.1
	done
	expect_jq "q_cgroup_${proto}_connect_event_eperm" "$ev" ".net.error==\"EPERM\" and .proc.cgroup==\"/$TOP/a\""
done
r=$(incg a bash -c "echo >/dev/tcp/127.0.0.1/$EP" 2>&1)
expect q_cgroup_child_shell_refused "got $r" grep -q "Operation not permitted" <<<"$r"
r=$(net b tcp)
expect q_other_cgroup_tcp "got $r" test "$r" = ok
r=$(net b udp)
expect q_other_cgroup_udp "got $r" test "$r" = ok
echo >&7
for _ in $(seq 40); do [ "$(wc -l <"$T/hold.out")" -ge 2 ] && break; sleep 0.1; done
r=$(sed -n 2p "$T/hold.out")
expect q_existing_connection_cut "got '$r'" test -n "$r" -a "$r" != ok
r=$(net a conn "$TLS_PORT")
expect q_collector_address_allowed "got $r" test "$r" = ok
n0=$(stat .events_stored)
hb=$(wait_ev "select(.kind==\"agent.heartbeat\" and .seq>$(jq .seq <<<"$ev"))")
expect_jq q_heartbeat_lists_it "$hb" ".agent.quarantine.active|map(select(.cgroup==\"/$TOP/a\"))|length==1"
hb=$(wait_ev 'select(.kind=="agent.heartbeat" and .agent.quarantine.refused.connect>=2 and .agent.quarantine.refused.sendmsg>=1 and .agent.quarantine.refused.egress>=1)' 4)
expect_jq q_heartbeat_counts_refusals "${hb:-$(grep -F agent.heartbeat "$EV" | tail -n1)}" '.agent.quarantine.refused.connect>=2 and .agent.quarantine.refused.sendmsg>=1 and .agent.quarantine.refused.egress>=1'

for _ in $(seq 40); do [ "$(stat .events_stored)" -gt "$n0" ] && break; sleep 0.1; done
expect q_agent_stream_survives "stored $n0 -> $(stat .events_stored)" test "$(stat .events_stored)" -gt "$n0"

echo "# at $SECONDS s"
# ---- refusals ----
refused() { # NAME REGEX ARGS...
	local name=$1 re=$2
	shift 2
	local r
	r=$(ctl "$@")
	expect "$name" "got $r" jqt ".ok==false and (.error|test(\"$re\"))" "$r"
}
refused q_refuse_init "init" quarantine 1 --for 10
refused q_refuse_kthread "kernel thread" quarantine "$(pgrep -x kthreadd)" --for 10
refused q_refuse_agent "the agent itself" quarantine "$APID" --for 10
refused q_refuse_tree_with_agent "contains the agent" quarantine $$ --for 10
refused q_refuse_cgroup_with_agent "contains the agent" quarantine / --for 10
refused q_refuse_unknown_cgroup "no cgroup" quarantine "/$TOP/nope" --for 10
refused q_refuse_unknown_pid "no process" quarantine 4000000 --for 10
refused q_refuse_garbage "neither a pid nor a process key" quarantine x1y2 --for 10
refused q_refuse_no_duration "needs --for" quarantine "/$TOP/b"
refused q_release_not_quarantined "not quarantined" release "/$TOP/b"
ev=$(wait_ev 'select(.kind=="agent.response" and .response.action=="quarantine" and .response.ok==false and (.response.error|test("init")))')
expect_jq q_refusal_event "$ev" '.response.target=="1" and .response.source=="socket"'

echo "# at $SECONDS s"
# ---- a process tree: moved into a cgroup of its own below its cgroup, children included ----
bash -c 'echo $$ >"$1/cgroup.procs" && exec bash -c "$2"' _ "$CG2/$TOP/b" "sleep 100 & while :; do if [ -e $T/go ]; then python3 $T/qnet.py tcp 127.0.0.1 $EP >$T/tree.out; rm -f $T/go; fi; sleep 0.05; done" &
TREE=$!
sleep 0.3
key=
for _ in $(seq 30); do
	key=$(grep -F '"process.exec"' "$EV" | jq -r "select(.proc.pid==$TREE) | .proc.key" | tail -n1)
	[ -n "$key" ] && break
	sleep 0.1
done
r=$(ctl quarantine "$TREE" --for 60)
expect_jq q_tree_answer "$r" ".ok and .kind==\"process\" and .pid==$TREE and .moved>=2 and .cgroup==\"/$TOP/b/hw-quarantine-$TREE\""
IDT=$(command stat -c %i "$CG2/$TOP/b/hw-quarantine-$TREE" 2>/dev/null)
expect q_tree_moved "$(cat /proc/$TREE/cgroup)" grep -qx "0::/$TOP/b/hw-quarantine-$TREE" /proc/$TREE/cgroup
: >"$T/go"
for _ in $(seq 60); do [ -e "$T/go" ] || break; sleep 0.1; done
expect q_tree_new_child_refused "got $(cat "$T/tree.out")" test "$(cat "$T/tree.out")" = EPERM
r=$(net b tcp)
expect q_tree_rest_of_cgroup_free "got $r" test "$r" = ok
r=$(ctl release "$key")
expect_jq q_tree_release_by_key "$r" '.ok and .now=="released" and .kind=="process"'
expect q_tree_moved_back "$(cat /proc/$TREE/cgroup)" grep -qx "0::/$TOP/b" /proc/$TREE/cgroup
expect q_tree_cgroup_removed "still there" test ! -e "$CG2/$TOP/b/hw-quarantine-$TREE"
: >"$T/go"
for _ in $(seq 60); do [ -e "$T/go" ] || break; sleep 0.1; done
expect q_tree_released_works "got $(cat "$T/tree.out")" test "$(cat "$T/tree.out")" = ok
kill "$TREE"
TREE=

echo "# at $SECONDS s"
# ---- from the collector: refused unless control.collector_allow names quarantine ----
r=$(request quarantine "/$TOP/b" --for 30)
ev=$(wait_ev 'select(.kind=="agent.request" and .request.args[0]=="quarantine")')
expect_jq q_collector_refused_by_default "$ev" '.request.ok==false and (.request.refused|test("not allowed"))'
r=$(net b tcp)
expect q_collector_refused_changes_nothing "got $r" test "$r" = ok
write_config "enable, add-probe, quarantine, release"
r=$(ctl reload)
expect_jq q_allow_reload "$r" '.ok'
s0=$(grep -F '"agent.request"' "$EV" | tail -n1 | jq .seq)
request quarantine "/$TOP/b" >/dev/null
request quarantine "/$TOP/b" --for 999999 >/dev/null
# as an alert's response command: the member's cgroup from its stored events
for _ in $(seq 50); do
	[ -n "$("$B/herdwatch" --api "127.0.0.1:$HTTP_PORT" --json events --member "$HOST/b" --limit 1 2>/dev/null)" ] && break
	sleep 0.1
done
echo "{\"kind\":\"member.outlier\",\"severity\":\"alert\",\"member\":\"$HOST/b\",\"host\":\"$HOST\"}" |
	"$HW_ROOT/scripts/herdwatch-respond-trace" --quarantine --for 30 --cli "$B/herdwatch" --api "127.0.0.1:$HTTP_PORT" \
		--cli-arg --token-file --cli-arg "$T/c.db.api-token" 2>"$T/respond.err"
for _ in $(seq 50); do [ "$(grep -cF '"agent.request"' "$EV")" -ge 4 ] && break; sleep 0.1; done
rq=$(grep -F '"agent.request"' "$EV" | jq -c "select(.seq>$s0)")
expect_jq q_collector_needs_for "$(sed -n 1p <<<"$rq")" '.request.ok==false and (.request.refused|test("needs --for"))'
expect_jq q_collector_for_bounded "$(sed -n 2p <<<"$rq")" '.request.ok==false and (.request.refused|test("needs --for"))'
expect_jq q_collector_allowed "$(sed -n 3p <<<"$rq")" ".request.ok and .request.answer.kind==\"cgroup\" and .request.answer.remaining_s==30"
ev=$(wait_ev 'select(.kind=="agent.response" and .response.source=="collector" and .response.action=="quarantine")')
expect_jq q_collector_response_event "$ev" ".response.ok and .response.cgroup==\"/$TOP/b\""
r=$(net b tcp)
expect q_collector_quarantine_holds "got $r" test "$r" = EPERM
request release "/$TOP/b" >/dev/null
ev=$(wait_ev 'select(.kind=="agent.response" and .response.source=="collector" and .response.action=="release")')
expect_jq q_collector_release "$ev" '.response.ok'
r=$(net b tcp)
expect q_collector_release_restores "got $r" test "$r" = ok

echo "# at $SECONDS s"
# ---- the agent killed -9: the quarantines hold; b's deadline passes with no agent ----
# (an agent's exit takes seconds here: closing its tracepoint links waits for RCU grace periods)
r=$(ctl quarantine "/$TOP/b" --for 5)
expect_jq q_short_quarantine "$r" '.ok and .remaining_s==5'
t0=$SECONDS
kill -9 "$APID"
wait "$APID" 2>/dev/null
APID=
echo "# the agent took $((SECONDS - t0)) s to die"
r=$(net a tcp)
expect q_holds_without_agent "got $r" test "$r" = EPERM
r=$(net b tcp)
expect q_short_holds_without_agent "got $r" test "$r" = EPERM
r=$(poll_net b tcp ok 10)
expect q_deadline_ends_it_without_agent "got $r" test "$r" = ok
expect q_pins_left_for_the_next_agent "$(ls "$QD")" test -e "$QD/$IDB/egress" -a -e "$QD/$IDA/egress"
r=$(net a tcp)
expect q_other_still_holds "got $r" test "$r" = EPERM
start_agent "$T/ev2.json"
ev=$(wait_ev 'select(.kind=="agent.response" and .response.action=="adopt")')
expect_jq q_new_agent_adopts "$ev" ".response.source==\"start\" and .response.cgroup==\"/$TOP/a\" and .response.remaining_s>0 and .response.remaining_s<=60"
ev=$(wait_ev 'select(.kind=="agent.response" and .response.action=="expire")')
expect_jq q_new_agent_reports_expired "$ev" ".response.cgroup==\"/$TOP/b\" and .response.ok"
expect q_expired_pins_removed "$(ls "$QD" 2>&1)" test ! -e "$QD/$IDB"
r=$(net a tcp)
expect q_adopted_holds "got $r" test "$r" = EPERM
r=$(ctl release "/$TOP/a")
expect_jq q_release_adopted "$r" '.ok and .now=="released"'
r=$(net a tcp)
expect q_release_restores "got $r" test "$r" = ok
expect q_released_pins_removed "$(ls "$QD" 2>&1)" test ! -e "$QD/$IDA"

echo "# at $SECONDS s"
# ---- expiry while the agent runs ----
r=$(ctl quarantine "/$TOP/a" --for 3 --loopback)
expect_jq q_loopback_option "$r" '.ok and .loopback==true'
r=$(net a tcp)
expect q_loopback_kept "got $r" test "$r" = ok
ev=$(wait_ev "select(.kind==\"agent.response\" and .response.action==\"expire\" and .response.cgroup==\"/$TOP/a\")" 6)
expect_jq q_expiry_event "$ev" ".response.cgroup==\"/$TOP/a\" and .response.ok"
r=$(net a tcp)
expect q_expired_restores "got $r" test "$r" = ok
expect q_nothing_left_in_bpffs "$(ls -R /sys/fs/bpf/herdwatch 2>&1)" test ! -e /sys/fs/bpf/herdwatch
echo "# ran in $SECONDS s"
