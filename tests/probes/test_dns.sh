#!/usr/bin/env bash
# net.dns answers and net.connect's dst.name: a resolver (dnsmasq) this test runs on its own
# loopback address, queried over UDP (unconnected: recvfrom, recvmsg; connected: recv, read)
# and TCP (length and message in one read; the length read alone); a connect to the resolved
# address carries the name, a connect to an address never resolved does not; a hostile
# responder's compression loop is reported as malformed and the agent keeps running; an
# answer-shaped datagram to a socket that never asked is not reported.
. "$(dirname "$0")/../lib.sh"
need_root

DC="/usr/bin/python3 $HW_ROOT/tests/helpers/dns_client.py"
X=$(($$ % 250 + 1))
NET=127.78.$((($$ >> 8) % 250 + 1))
DNSIP=$NET.$X
BADIP=$NET.$((X % 250 + 2))
ADDR=127.79.$((($$ >> 8) % 250 + 1)).$X # what the test names resolve to
OTHER=127.79.$((($$ >> 8) % 250 + 1)).$((X % 250 + 2)) # never resolved
P=$((10000 + $$ % 20000))
dns_cleanup() {
	[ -n "${DNSMASQ_PID:-}" ] && kill "$DNSMASQ_PID" 2>/dev/null
	[ -n "${BAD_PID:-}" ] && kill "$BAD_PID" 2>/dev/null
	hw_cleanup
}
trap dns_cleanup EXIT

agent_start || { not_ok "agent starts" "$(cat "$T/agent.err")"; exit 1; }
hb=$(wait_event 'select(.kind=="agent.heartbeat")')
expect_jq "dns answer probe attached" "$hb" '.agent.probes["net.dns_answer"].state=="attached" and .agent.probes["net.dns"].state=="attached"'

dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts --user=root \
	--listen-address=$DNSIP --bind-interfaces --port=53 --address=/hwans$$.test/$ADDR \
	--address=/hwans6-$$.test/fd00::1:2:3 2>"$T/dnsmasq.err" &
DNSMASQ_PID=$!
$DC hostile $BADIP >"$T/bad.out" 2>"$T/bad.err" &
BAD_PID=$!
for _ in $(seq 1 100); do
	ss -Hlun "src $DNSIP" 2>/dev/null | grep -q ":53 " && [ -s "$T/bad.out" ] && break
	sleep 0.05
done
kill -0 $DNSMASQ_PID 2>/dev/null || not_ok "dnsmasq runs" "$(cat "$T/dnsmasq.err")"
[ -s "$T/bad.out" ] || not_ok "hostile responder runs" "$(cat "$T/bad.err")"

NAME=hwans$$.test
# answer MODE SYSCALL PROTO: one query in MODE; its answer event has the name and address
answer() {
	local mode=$1 sc=$2 proto=$3 pid addr ev
	read -r pid addr < <($DC query $DNSIP "$mode" $NAME)
	expect_eq "$mode: client resolved" "$addr" "$ADDR"
	ev=$(wait_grep "\"pid\":$pid," "select(.kind==\"net.dns\" and .proc.pid==$pid and .dns.direction==\"answer\")") ||
		{ not_ok "$mode: answer seen" "pid $pid"; return; }
	expect_jq "$mode: answer fields" "$ev" ".dns.query==\"$NAME\" and .dns.type==\"A\" and .dns.server=={\"ip\":\"$DNSIP\",\"port\":53} and .dns.proto==\"$proto\" and .dns.syscall==\"$sc\" and .dns.id==20817 and .dns.response==true and .dns.malformed==null and .dns.truncated==false and .dns.answer.rcode==0 and .dns.answer.rcode_name==\"NOERROR\" and .dns.answer.count==1 and .dns.answer.tc==false and .dns.answer.records==[{\"name\":\"$NAME\",\"type\":\"A\",\"ttl\":0,\"data\":\"$ADDR\"}]"
	expect_eq "$mode: one answer event" "$(grep_events "\"pid\":$pid," "select(.kind==\"net.dns\" and .proc.pid==$pid and .dns.direction==\"answer\")" | wc -l)" 1
	ev=$(wait_grep "\"pid\":$pid," "select(.kind==\"net.dns\" and .proc.pid==$pid and .dns.direction==\"query\")") ||
		not_ok "$mode: query still seen" "pid $pid"
}
answer udp recvfrom udp
answer udpmsg recvmsg udp
answer udpc recvfrom udp
answer udpread read udp
answer tcp1 recvfrom tcp
answer tcp2 recvfrom tcp

# an answer without records (dnsmasq refuses the A question for a name it holds AAAA for)
read -r pid addr < <($DC query $DNSIP udp hwans6-$$.test)
ev=$(wait_grep "\"pid\":$pid," "select(.kind==\"net.dns\" and .proc.pid==$pid and .dns.direction==\"answer\")") ||
	not_ok "empty answer seen" "pid $pid"
expect_jq "empty answer: rcode, no records" "$ev" ".dns.answer.rcode!=null and (.dns.answer.rcode_name|type)==\"string\" and .dns.answer.count==0 and .dns.answer.records==[] and .dns.malformed==null"

# dst.name: the process that resolved, another process, an address never resolved
read -r pid addr < <($DC query $DNSIP udp $NAME $P)
ev=$(wait_grep "\"pid\":$pid," "select(.kind==\"net.connect\" and .proc.pid==$pid)") ||
	not_ok "connect after resolving seen" "pid $pid"
expect_jq "connect carries dst.name (process)" "$ev" ".net.dst.ip==\"$ADDR\" and .net.dst.port==$P and .net.dst.name==\"$NAME\" and .net.dst.name_from==\"process\""
read -r pid < <($DC connect $ADDR $((P + 1)))
ev=$(wait_grep "\"pid\":$pid," "select(.kind==\"net.connect\" and .proc.pid==$pid)") ||
	not_ok "connect by another process seen" "pid $pid"
expect_jq "connect carries dst.name (host)" "$ev" ".net.dst.ip==\"$ADDR\" and .net.dst.name==\"$NAME\" and .net.dst.name_from==\"host\""
read -r pid < <($DC connect $OTHER $P)
ev=$(wait_grep "\"pid\":$pid," "select(.kind==\"net.connect\" and .proc.pid==$pid)") ||
	not_ok "connect to an unresolved address seen" "pid $pid"
expect_jq "unresolved address: no dst.name" "$ev" ".net.dst.ip==\"$OTHER\" and (.net.dst|has(\"name\")|not)"

# hostile responder: a compression loop; reported as malformed, nothing cached, agent alive
read -r pid addr < <($DC query $BADIP udp loop$$.test)
ev=$(wait_grep "\"pid\":$pid," "select(.kind==\"net.dns\" and .proc.pid==$pid and .dns.direction==\"answer\")") ||
	not_ok "hostile answer seen" "pid $pid"
expect_jq "hostile answer: malformed, reported" "$ev" ".dns.query==\"loop$$.test\" and (.dns.malformed|test(\"pointer\")) and .dns.answer.records==[] and .dns.server.ip==\"$BADIP\""
read -r pid < <($DC connect 10.9.9.9 $P)
ev=$(wait_grep "\"pid\":$pid," "select(.kind==\"net.connect\" and .proc.pid==$pid)") ||
	not_ok "connect to the hostile address seen" "pid $pid"
expect_jq "hostile answer: nothing cached" "$ev" "(.net.dst|has(\"name\")|not)"

# an answer-shaped datagram from port 53 to a socket that never sent a query: not reported
read -r pid < <($DC unsolicited $BADIP $((P + 2)) 2>/dev/null)
kill -0 "$AGENT_PID" 2>/dev/null && ok "agent alive after hostile answers" || not_ok "agent alive after hostile answers" "exited"
read -r last < <($DC connect $OTHER $((P + 3)))
wait_grep "\"pid\":$last," "select(.kind==\"net.connect\" and .proc.pid==$last)" >/dev/null ||
	not_ok "marker connect seen" "pid $last"
expect_eq "unsolicited datagram not reported" "$(grep_events "\"pid\":$pid," "select(.kind==\"net.dns\" and .proc.pid==$pid)" | wc -l)" 0
