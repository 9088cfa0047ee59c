#!/usr/bin/env bash
# net.connect / net.accept / net.listen / net.bind / net.socket / net.dns: real sockets on loopback
# and between two network namespaces this test creates (and removes); a DNS resolver (dnsmasq)
# this test runs on its own loopback address. Every field is checked, and which process is blamed.
. "$(dirname "$0")/../lib.sh"
need_root

NA="$HELPERS/net_act"
P=$((10000 + $$ % 20000))       # this run's ports: P..P+9, below the ephemeral range (32768-)
X=$(($$ % 250 + 1))
NSA=hwna$$ NSB=hwnb$$ VA=hwva$$ VB=hwvb$$
DNSIP=127.77.$((($$ >> 8) % 250 + 1)).$X
net_cleanup() {
	[ -n "${DNSMASQ_PID:-}" ] && kill "$DNSMASQ_PID" 2>/dev/null
	ip netns del "$NSA" 2>/dev/null
	ip netns del "$NSB" 2>/dev/null
	hw_cleanup
}
trap net_cleanup EXIT

# start_server OUT ADDR PORT BACKLOG MODE [NETNS]: background server; sets SPID once listening
start_server() {
	local out=$1 ns=${6:-}
	shift
	if [ -n "$ns" ]; then
		ip netns exec "$ns" "$NA" server "$1" "$2" "$3" "$4" >"$out" &
	else
		"$NA" server "$1" "$2" "$3" "$4" >"$out" &
	fi
	SJOB=$!
	for _ in $(seq 1 400); do
		[ -s "$out" ] && break
		sleep 0.05
	done
	SPID=$(awk 'NR==1{print $1}' "$out")
}

# proc_is NAME EVENT PID: the event blames PID, a net_act child of this shell
proc_is() {
	expect_jq "$1: blamed process" "$2" ".proc.pid==$3 and .proc.tid==$3 and .proc.comm==\"net_act\" and (.proc.exe|endswith(\"/net_act\")) and .proc.uid==0"
}

HOSTNS=$(stat -L -c %i /proc/self/ns/net)

agent_start || { not_ok "agent starts" "$(cat "$T/agent.err")"; exit 1; }
hb=$(wait_event 'select(.kind=="agent.heartbeat")')
expect_jq "net probes attached" "$hb" '[.agent.probes["net.connect","net.accept","net.listen","net.bind","net.socket","net.dns"].state]|all(.=="attached")'
# net.mode socket (the default where cgroup v2 is mounted): an accept is seen when the handshake
# ends, blamed on the listener's owner (no fd, no syscall); a UDP connect before the kernel
# binds the socket. On syscall hooks: the accepting task and its fd, the bound source.
ACCMODE=$(jq -r 'if .agent.probes["net.accept"].hook=="tp_btf" then "socket" else "syscall" end' <<<"$hb")
CONMODE=$(jq -r 'if .agent.probes["net.connect"].hook=="cgroup" then "socket" else "syscall" end' <<<"$hb")
echo "# net.mode: $(jq -c .agent.net_mode <<<"$hb"); accept on $ACCMODE hooks, connect on $CONMODE hooks"
# acc_is SYSCALL: what an accept event says of how it was seen, in this mode
acc_is() {
	if [ "$ACCMODE" = socket ]; then
		echo '.net.attribution=="listener" and .net.syscall==null and .net.fd==-1'
	else
		echo ".net.attribution==\"accept\" and .net.syscall==\"$1\" and .net.fd>=0"
	fi
}

# 1. IPv4 TCP: bind, listen, accept (plain accept), connect from a bound source port
start_server "$T/s4" 127.0.0.1 $P 5 accept
read -r CPID CPORT CRES < <("$NA" client 127.0.0.1 $P 127.0.0.1 $((P + 1)))
wait $SJOB
expect_eq "v4 client connected" "$CRES $CPORT" "0 $((P + 1))"
ev=$(wait_event "select(.kind==\"net.bind\" and .proc.pid==$SPID)") || not_ok "v4 bind seen" "pid $SPID"
proc_is "v4 bind" "$ev" "$SPID"
expect_jq "v4 bind fields" "$ev" ".net.proto==\"tcp\" and .net.family==\"inet\" and .net.src=={\"ip\":\"127.0.0.1\",\"port\":$P} and .net.dst==null and .net.result==0 and .net.error==null and .net.syscall==\"bind\""
ev=$(wait_event "select(.kind==\"net.listen\" and .proc.pid==$SPID)") || not_ok "v4 listen seen" "pid $SPID"
proc_is "v4 listen" "$ev" "$SPID"
expect_jq "v4 listen fields" "$ev" ".net.proto==\"tcp\" and .net.family==\"inet\" and .net.type==\"stream\" and .net.src=={\"ip\":\"127.0.0.1\",\"port\":$P} and .net.dst==null and .net.result==0 and .net.backlog==5"
ev=$(wait_event "select(.kind==\"net.connect\" and .proc.pid==$CPID)") || not_ok "v4 connect seen" "pid $CPID"
proc_is "v4 connect" "$ev" "$CPID"
expect_jq "v4 connect fields" "$ev" ".net.proto==\"tcp\" and .net.family==\"inet\" and .net.src=={\"ip\":\"127.0.0.1\",\"port\":$((P + 1))} and .net.dst=={\"ip\":\"127.0.0.1\",\"port\":$P} and .net.result==0 and .net.error==null and .net.direction==\"outbound\" and .net.count==1 and .net.folded==false and .net.pending==false and .net.outcome==false and .net.netns==$HOSTNS"
expect_jq "v4 connect parent is this shell" "$ev" ".proc.ppid==$$ and .parent.pid==$$"
ev=$(wait_event "select(.kind==\"net.bind\" and .proc.pid==$CPID)") || not_ok "v4 client bind seen" "pid $CPID"
expect_jq "v4 client bind fields" "$ev" ".net.src=={\"ip\":\"127.0.0.1\",\"port\":$((P + 1))} and .net.result==0"
ev=$(wait_event "select(.kind==\"net.accept\" and .proc.pid==$SPID)") || not_ok "v4 accept seen" "pid $SPID"
proc_is "v4 accept blames the accepting process" "$ev" "$SPID"
expect_jq "v4 accept fields" "$ev" ".net.proto==\"tcp\" and .net.family==\"inet\" and .net.src=={\"ip\":\"127.0.0.1\",\"port\":$P} and .net.dst=={\"ip\":\"127.0.0.1\",\"port\":$((P + 1))} and .net.result==0 and .net.direction==\"inbound\" and $(acc_is accept)"
expect_eq "v4 exactly one accept event" "$(events "select(.kind==\"net.accept\" and .proc.pid==$SPID)" | wc -l)" 1

# 2. IPv6 TCP with accept4
start_server "$T/s6" ::1 $((P + 2)) 9 accept4
read -r CPID CPORT CRES < <("$NA" client ::1 $((P + 2)) ::1 $((P + 3)))
wait $SJOB
expect_eq "v6 client connected" "$CRES" 0
ev=$(wait_event "select(.kind==\"net.listen\" and .proc.pid==$SPID)") || not_ok "v6 listen seen" "pid $SPID"
proc_is "v6 listen" "$ev" "$SPID"
expect_jq "v6 listen fields" "$ev" ".net.proto==\"tcp\" and .net.family==\"inet6\" and .net.src=={\"ip\":\"::1\",\"port\":$((P + 2))} and .net.backlog==9 and .net.result==0"
ev=$(wait_event "select(.kind==\"net.bind\" and .proc.pid==$SPID)") || not_ok "v6 bind seen" "pid $SPID"
expect_jq "v6 bind fields" "$ev" ".net.family==\"inet6\" and .net.src=={\"ip\":\"::1\",\"port\":$((P + 2))} and .net.result==0"
ev=$(wait_event "select(.kind==\"net.connect\" and .proc.pid==$CPID)") || not_ok "v6 connect seen" "pid $CPID"
proc_is "v6 connect" "$ev" "$CPID"
expect_jq "v6 connect fields" "$ev" ".net.proto==\"tcp\" and .net.family==\"inet6\" and .net.src=={\"ip\":\"::1\",\"port\":$((P + 3))} and .net.dst=={\"ip\":\"::1\",\"port\":$((P + 2))} and .net.result==0"
ev=$(wait_event "select(.kind==\"net.accept\" and .proc.pid==$SPID)") || not_ok "v6 accept seen" "pid $SPID"
proc_is "v6 accept" "$ev" "$SPID"
expect_jq "v6 accept fields" "$ev" ".net.family==\"inet6\" and .net.src=={\"ip\":\"::1\",\"port\":$((P + 2))} and .net.dst=={\"ip\":\"::1\",\"port\":$((P + 3))} and $(acc_is accept4) and .net.result==0"

# 3. v4-mapped: an IPv6 socket connects to ::ffff:127.0.0.1 (an IPv4 listener)
start_server "$T/sm" 127.0.0.1 $((P + 4)) 3 accept4
read -r CPID CPORT CRES < <("$NA" client ::ffff:127.0.0.1 $((P + 4)))
wait $SJOB
ev=$(wait_event "select(.kind==\"net.connect\" and .proc.pid==$CPID)") || not_ok "mapped connect seen" "pid $CPID"
proc_is "mapped connect" "$ev" "$CPID"
expect_jq "mapped connect fields" "$ev" ".net.family==\"inet6\" and .net.proto==\"tcp\" and .net.dst=={\"ip\":\"::ffff:127.0.0.1\",\"port\":$((P + 4)),\"ipv4\":\"127.0.0.1\"} and .net.src.ip==\"::ffff:127.0.0.1\" and .net.src.port==$CPORT and .net.result==0"
ev=$(wait_event "select(.kind==\"net.accept\" and .proc.pid==$SPID)") || not_ok "mapped accept seen" "pid $SPID"
expect_jq "mapped accept: IPv4 listener sees an IPv4 peer" "$ev" ".net.family==\"inet\" and .net.dst=={\"ip\":\"127.0.0.1\",\"port\":$CPORT}"

# 4. refused connect (nothing listens on P+5)
read -r CPID CPORT CRES < <("$NA" client 127.0.0.1 $((P + 5)))
expect_eq "refused client got ECONNREFUSED" "$CRES" 111
ev=$(wait_event "select(.kind==\"net.connect\" and .proc.pid==$CPID)") || not_ok "refused connect seen" "pid $CPID"
proc_is "refused connect" "$ev" "$CPID"
expect_jq "refused connect fields" "$ev" ".net.result==-111 and .net.error==\"ECONNREFUSED\" and .net.proto==\"tcp\" and .net.family==\"inet\" and .net.dst=={\"ip\":\"127.0.0.1\",\"port\":$((P + 5))} and .net.address_from==\"caller\""
expect_eq "blocking refused connect: no outcome event" "$(events "select(.kind==\"net.connect\" and .proc.pid==$CPID)" | wc -l)" 1

# 4a. non-blocking connect: EINPROGRESS at once, then the outcome, blamed on the caller
read -r CPID CPORT CRES CFIN < <("$NA" nbclient 127.0.0.1 $((P + 5)))
expect_eq "non-blocking refused client" "$CRES $CFIN" "115 111"
ev=$(wait_event "select(.kind==\"net.connect\" and .proc.pid==$CPID and .net.pending)") || not_ok "non-blocking start seen" "pid $CPID"
proc_is "non-blocking start" "$ev" "$CPID"
expect_jq "non-blocking start fields" "$ev" ".net.result==-115 and .net.error==\"EINPROGRESS\" and .net.outcome==false and .net.dst=={\"ip\":\"127.0.0.1\",\"port\":$((P + 5))} and .net.syscall==\"connect\""
ev=$(wait_event "select(.kind==\"net.connect\" and .proc.pid==$CPID and .net.outcome)") || not_ok "non-blocking refused outcome seen" "pid $CPID"
proc_is "non-blocking refused outcome" "$ev" "$CPID"
expect_jq "non-blocking refused outcome fields" "$ev" ".net.result==-111 and .net.error==\"ECONNREFUSED\" and .net.pending==false and .net.proto==\"tcp\" and .net.family==\"inet\" and .net.dst=={\"ip\":\"127.0.0.1\",\"port\":$((P + 5))} and .net.syscall==\"connect\" and .net.fd>=0 and .net.netns==$HOSTNS and (.net.elapsed_us|type==\"number\") and .proc.ppid==$$"
expect_eq "non-blocking refused: exactly one outcome" "$(events "select(.kind==\"net.connect\" and .proc.pid==$CPID and .net.outcome)" | wc -l)" 1
start_server "$T/snb" ::1 $((P + 5)) 2 accept4
read -r CPID CPORT CRES CFIN < <("$NA" nbclient ::1 $((P + 5)))
wait $SJOB
expect_eq "non-blocking client connected" "$CRES $CFIN" "115 0"
ev=$(wait_event "select(.kind==\"net.connect\" and .proc.pid==$CPID and .net.outcome)") || not_ok "non-blocking success outcome seen" "pid $CPID"
proc_is "non-blocking success outcome" "$ev" "$CPID"
expect_jq "non-blocking success outcome fields" "$ev" ".net.result==0 and .net.error==null and .net.family==\"inet6\" and .net.src=={\"ip\":\"::1\",\"port\":$CPORT} and .net.dst=={\"ip\":\"::1\",\"port\":$((P + 5))}"

# 4c. io_uring connect (IORING_OP_CONNECT): seen through the socket's state change
read -r CPID CPORT CFIN < <("$NA" uring 127.0.0.1 $((P + 5)))
if [ "$CFIN" = -1 ]; then
	ok "io_uring connect # SKIP io_uring not available"
else
	expect_eq "io_uring refused client" "$CFIN" 111
	ev=$(wait_event "select(.kind==\"net.connect\" and .proc.pid==$CPID)") || not_ok "io_uring refused connect seen" "pid $CPID"
	proc_is "io_uring refused connect" "$ev" "$CPID"
	expect_jq "io_uring refused connect fields" "$ev" ".net.result==-111 and .net.error==\"ECONNREFUSED\" and .net.syscall==\"io_uring\" and .net.outcome==true and .net.dst=={\"ip\":\"127.0.0.1\",\"port\":$((P + 5))} and .net.fd==-1"
	start_server "$T/sur" 127.0.0.1 $((P + 5)) 2 accept4
	read -r CPID CPORT CFIN < <("$NA" uring 127.0.0.1 $((P + 5)))
	wait $SJOB
	expect_eq "io_uring client connected" "$CFIN" 0
	ev=$(wait_event "select(.kind==\"net.connect\" and .proc.pid==$CPID)") || not_ok "io_uring connect seen" "pid $CPID"
	proc_is "io_uring connect" "$ev" "$CPID"
	expect_jq "io_uring connect fields" "$ev" ".net.result==0 and .net.syscall==\"io_uring\" and .net.outcome==true and .net.src=={\"ip\":\"127.0.0.1\",\"port\":$CPORT} and .net.dst=={\"ip\":\"127.0.0.1\",\"port\":$((P + 5))}"
	ev=$(wait_event "select(.kind==\"net.accept\" and .proc.pid==$SPID)") || not_ok "accept of io_uring peer seen" "pid $SPID"
fi

# 4b. the peer resets before accept() (a scanner's connect + RST): still the listener's port
start_server "$T/sr" 127.0.0.1 $((P + 4)) 3 accept4-late
read -r CPID CPORT CRES < <("$NA" clientrst 127.0.0.1 $((P + 4)))
wait $SJOB
ev=$(wait_event "select(.kind==\"net.accept\" and .proc.pid==$SPID)") || not_ok "accept after reset seen" "pid $SPID"
expect_jq "accept after reset fields" "$ev" ".net.src=={\"ip\":\"127.0.0.1\",\"port\":$((P + 4))} and .net.dst=={\"ip\":\"127.0.0.1\",\"port\":$CPORT} and .net.result==0"

# 5. UDP connect
read -r CPID CPORT CRES < <("$NA" udpconnect 127.0.0.1 $((P + 6)))
ev=$(wait_event "select(.kind==\"net.connect\" and .proc.pid==$CPID)") || not_ok "udp connect seen" "pid $CPID"
proc_is "udp connect" "$ev" "$CPID"
USRC="{\"ip\":\"127.0.0.1\",\"port\":$CPORT}"
[ "$CONMODE" = socket ] && USRC='{"ip":"0.0.0.0","port":0}' # the socket before connect() binds it
expect_jq "udp connect fields" "$ev" ".net.proto==\"udp\" and .net.type==\"dgram\" and .net.family==\"inet\" and .net.src==$USRC and .net.dst=={\"ip\":\"127.0.0.1\",\"port\":$((P + 6))} and .net.result==0"

# 6. failed bind (address in use): the address asked for is reported
read -r BPID BERR < <("$NA" bindbusy 127.0.0.1 $((P + 7)))
expect_eq "bindbusy got EADDRINUSE" "$BERR" 98
ev=$(wait_event "select(.kind==\"net.bind\" and .proc.pid==$BPID and .net.result!=0)") || not_ok "failed bind seen" "pid $BPID"
expect_jq "failed bind fields" "$ev" ".net.result==-98 and .net.error==\"EADDRINUSE\" and .net.src=={\"ip\":\"127.0.0.1\",\"port\":$((P + 7))} and .net.address_from==\"caller\" and .proc.pid==$BPID"

# 7. from one network namespace to another over a veth pair
ip netns add $NSA && ip netns add $NSB &&
	ip link add $VA type veth peer name $VB &&
	ip link set $VA netns $NSA && ip link set $VB netns $NSB &&
	ip -n $NSA addr add 10.213.$X.1/30 dev $VA && ip -n $NSB addr add 10.213.$X.2/30 dev $VB &&
	ip -n $NSA link set $VA up && ip -n $NSB link set $VB up || not_ok "netns setup" "ip failed"
start_server "$T/sn" 10.213.$X.2 $((P + 8)) 4 accept4 $NSB
read -r CPID CPORT CRES < <(ip netns exec $NSA "$NA" client 10.213.$X.2 $((P + 8)))
wait $SJOB
expect_eq "netns client connected" "$CRES" 0
ev=$(wait_event "select(.kind==\"net.connect\" and .proc.pid==$CPID)") || not_ok "netns connect seen" "pid $CPID"
NSAI=$(stat -L -c %i /run/netns/$NSA) NSBI=$(stat -L -c %i /run/netns/$NSB)
proc_is "netns connect" "$ev" "$CPID"
expect_jq "netns connect: parent" "$ev" ".proc.ppid==$$"
expect_jq "netns connect fields" "$ev" ".net.netns==$NSAI and .net.netns!=$HOSTNS and .net.proto==\"tcp\" and .net.src=={\"ip\":\"10.213.$X.1\",\"port\":$CPORT} and .net.dst=={\"ip\":\"10.213.$X.2\",\"port\":$((P + 8))} and .net.result==0"
ev=$(wait_event "select(.kind==\"net.accept\" and .proc.pid==$SPID)") || not_ok "netns accept seen" "pid $SPID"
proc_is "netns accept" "$ev" "$SPID"
expect_jq "netns accept: parent" "$ev" ".proc.ppid==$$"
expect_jq "netns accept fields" "$ev" ".net.netns==$NSBI and .net.src=={\"ip\":\"10.213.$X.2\",\"port\":$((P + 8))} and .net.dst=={\"ip\":\"10.213.$X.1\",\"port\":$CPORT} and $(acc_is accept4)"
ip netns del $NSA
ip netns del $NSB

# 8. raw and packet sockets; a raw socket refused to an unprivileged user
read -r RPID RFD RERR < <("$NA" raw)
ev=$(wait_event "select(.kind==\"net.socket\" and .proc.pid==$RPID)") || not_ok "raw socket seen" "pid $RPID"
proc_is "raw socket" "$ev" "$RPID"
expect_jq "raw socket fields" "$ev" ".net.family==\"inet\" and .net.type==\"raw\" and .net.protocol==1 and .net.protocol_name==\"icmp\" and .net.result==0 and .net.error==null and .net.fd==$RFD"
read -r KPID KFD KERR < <("$NA" packet)
ev=$(wait_event "select(.kind==\"net.socket\" and .proc.pid==$KPID)") || not_ok "packet socket seen" "pid $KPID"
proc_is "packet socket" "$ev" "$KPID"
expect_jq "packet socket fields" "$ev" ".net.family==\"packet\" and .net.type==\"raw\" and .net.protocol==768 and .net.ethertype==\"0x0003\" and .net.result==0 and .net.fd==$KFD and .net.type_raw==(3+524288)"
read -r UPID UFD UERR < <(setpriv --reuid=65534 --regid=65534 --clear-groups "$NA" raw)
expect_eq "unprivileged raw socket refused" "$UERR" 1
ev=$(wait_event "select(.kind==\"net.socket\" and .proc.pid==$UPID)") || not_ok "refused raw socket seen" "pid $UPID"
expect_jq "refused raw socket fields" "$ev" ".proc.uid==65534 and .proc.euid==65534 and .net.result==-1 and .net.error==\"EPERM\" and .net.fd==-1 and .net.type==\"raw\""
expect_eq "no net.socket for ordinary sockets" "$(events "select(.kind==\"net.socket\" and (.net.type!=\"raw\" and .net.family!=\"packet\"))" | wc -l)" 0

# 9. DNS: a resolver on this test's own loopback address; a name with unusual bytes
dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts --user=root \
	--listen-address=$DNSIP --bind-interfaces --port=53 --address=/hwdns-ok.test/10.1.2.3 \
	--log-queries --log-facility="$T/dnsmasq.log" 2>"$T/dnsmasq.err" &
DNSMASQ_PID=$!
for _ in $(seq 1 200); do # until it listens (the test does not depend on how long that takes)
	ss -Hlun "src $DNSIP" 2>/dev/null | grep -q ":53 " && break
	kill -0 $DNSMASQ_PID 2>/dev/null || break
	sleep 0.05
done
kill -0 $DNSMASQ_PID 2>/dev/null || not_ok "dnsmasq runs" "$(cat "$T/dnsmasq.err")"
# wire-format names: labels  we.ird | sp ace | q"uo\te | nl<LF>x | <FF>z | é | hwdns<PID> | test
odd=$(python3 -c '
import sys
ls=[b"we.ird",b"sp ace",b"q\"uo\\te",b"nl\nx",b"\xffz","é".encode(),b"hwdns'$$'",b"test"]
print("".join("%02x"%len(l)+l.hex() for l in ls)+"00")')
want='we\.ird.sp\032ace.q"uo\\te.nl\010x.\255z.\195\169.hwdns'$$'.test'
ok_name=$(python3 -c 'print("".join("%02x"%len(l)+l.hex() for l in [b"hwdns-ok",b"test"])+"00")')
read -r DPID < <("$NA" dns $DNSIP sendto 1 "$odd")
ev=$(wait_event "select(.kind==\"net.dns\" and .dns.direction==\"query\" and .proc.pid==$DPID)") || not_ok "dns sendto seen" "pid $DPID"
proc_is "dns sendto" "$ev" "$DPID"
expect_eq "dns odd name escaped exactly" "$(jq -r .dns.query <<<"$ev")" "$want"
expect_jq "dns sendto fields" "$ev" ".dns.type==\"A\" and .dns.type_code==1 and .dns.class==1 and .dns.server=={\"ip\":\"$DNSIP\",\"port\":53} and .dns.proto==\"udp\" and .dns.family==\"inet\" and .dns.syscall==\"sendto\" and .dns.id==18432 and .dns.malformed==null and .dns.truncated==false and .dns.result>0 and .dns.response==false and .dns.netns==$HOSTNS"
for _ in $(seq 1 100); do
	grep -q 'query\[A\] <name unprintable> from 127.0.0.1' "$T/dnsmasq.log" 2>/dev/null && break
	sleep 0.1
done
grep -q 'query\[A\] <name unprintable> from 127.0.0.1' "$T/dnsmasq.log" 2>/dev/null && ok "resolver received the odd query" ||
	not_ok "resolver received the odd query" "$(tail -3 "$T/dnsmasq.log" 2>/dev/null)"
# glibc style: connected UDP socket, A and AAAA in one sendmmsg
read -r DPID < <("$NA" dns $DNSIP sendmmsg 1 "$ok_name" "$ok_name")
ev=$(wait_event "select(.kind==\"net.dns\" and .dns.direction==\"query\" and .proc.pid==$DPID and .dns.type==\"A\")") || not_ok "dns sendmmsg A seen" "pid $DPID"
expect_jq "dns sendmmsg A fields" "$ev" ".dns.query==\"hwdns-ok.test\" and .dns.syscall==\"sendmmsg\" and .dns.server=={\"ip\":\"$DNSIP\",\"port\":53} and .dns.src.ip==\"127.0.0.1\" and .dns.id==18432 and .proc.pid==$DPID"
ev=$(wait_event "select(.kind==\"net.dns\" and .dns.direction==\"query\" and .proc.pid==$DPID and .dns.type==\"AAAA\")") || not_ok "dns sendmmsg AAAA seen" "pid $DPID"
expect_jq "dns sendmmsg second message" "$ev" ".dns.query==\"hwdns-ok.test\" and .dns.type_code==28 and .dns.id==18433"
# TCP with the 2-byte length prefix
read -r DPID < <("$NA" dns $DNSIP tcp 16 "$ok_name")
ev=$(wait_event "select(.kind==\"net.dns\" and .dns.direction==\"query\" and .proc.pid==$DPID)") || not_ok "dns tcp seen" "pid $DPID"
expect_jq "dns tcp fields" "$ev" ".dns.query==\"hwdns-ok.test\" and .dns.type==\"TXT\" and .dns.proto==\"tcp\" and .dns.syscall==\"write\" and .dns.server=={\"ip\":\"$DNSIP\",\"port\":53} and .proc.pid==$DPID"
# TCP, the length prefix and the message in two writes (as some resolvers do)
read -r DPID < <("$NA" dns $DNSIP tcp2 1 "$ok_name")
ev=$(wait_event "select(.kind==\"net.dns\" and .dns.direction==\"query\" and .proc.pid==$DPID)") || not_ok "dns tcp two writes seen" "pid $DPID"
expect_jq "dns tcp two writes fields" "$ev" ".dns.query==\"hwdns-ok.test\" and .dns.type==\"A\" and .dns.proto==\"tcp\" and .dns.syscall==\"write\" and .dns.id==18432 and .dns.malformed==null and .dns.server=={\"ip\":\"$DNSIP\",\"port\":53} and .proc.pid==$DPID"
expect_eq "dns tcp two writes: one event" "$(events "select(.kind==\"net.dns\" and .dns.direction==\"query\" and .proc.pid==$DPID)" | wc -l)" 1
# a message with the QR (response) bit sent to port 53: reported, flagged
read -r DPID < <("$NA" dns 127.0.0.1 response 1 "$ok_name")
ev=$(wait_event "select(.kind==\"net.dns\" and .dns.direction==\"query\" and .proc.pid==$DPID)") || not_ok "dns response to port 53 seen" "pid $DPID"
proc_is "dns response to port 53" "$ev" "$DPID"
expect_jq "dns response to port 53 fields" "$ev" ".dns.response==true and .dns.query==\"hwdns-ok.test\" and .dns.server=={\"ip\":\"127.0.0.1\",\"port\":53}"
# hostile: a compression pointer in the question, straight to 127.0.0.1:53 (nobody has to answer)
read -r DPID < <("$NA" dns 127.0.0.1 sendto 1 "0568776d616cc00c")
ev=$(wait_event "select(.kind==\"net.dns\" and .dns.direction==\"query\" and .proc.pid==$DPID)") || not_ok "dns malformed seen" "pid $DPID"
expect_jq "dns malformed reported safely" "$ev" ".dns.query==null and (.dns.malformed|test(\"compression\")) and .dns.server=={\"ip\":\"127.0.0.1\",\"port\":53}"
# IPv6 resolver address, unusual type
read -r DPID < <("$NA" dns ::1 sendto 65 "$ok_name")
ev=$(wait_event "select(.kind==\"net.dns\" and .dns.direction==\"query\" and .proc.pid==$DPID)") || not_ok "dns v6 seen" "pid $DPID"
expect_jq "dns v6 fields" "$ev" ".dns.type==\"HTTPS\" and .dns.family==\"inet6\" and .dns.server=={\"ip\":\"::1\",\"port\":53}"
expect_eq "no dns events for the resolver's answers" "$(events "select(.kind==\"net.dns\" and .proc.pid==$DNSMASQ_PID)" | wc -l)" 0
kill $DNSMASQ_PID
DNSMASQ_PID=

agent_stop
expect_eq "agent exits 0" "$?" 0
expect "every line is valid JSON" jq -e . "$EV"
expect "seq contiguous from 1" seq_contiguous

# 10. configuration: folding repeats, ignore_loopback / ports / CIDRs per kind
cat >"$T/net.yaml" <<EOF
net:
  connect:
    fold_window_s: 5
    ignore_ports: [$((P + 9))]
    ignore_cidrs: ["fd00:1234::/32"]
  bind:
    ignore_cidrs: ["127.0.0.0/8"]
    ignore_ports: [$((P + 7))]
  accept:
    ignore_cidrs: ["127.0.0.0/8"]
  listen:
    ignore_loopback: true
  dns:
    ignore_cidrs: ["::1/128"]
EOF
agent_start "$T/net.yaml" || { not_ok "agent starts with net config" "$(cat "$T/agent.err")"; exit 1; }
start_server "$T/sf" ::1 $((P + 2)) 2 accept4
python3 - $((P + 5)) $((P + 9)) <<'EOF' >"$T/fold.out"
import socket, sys, os
print(os.getpid(), flush=True)
for port in [int(sys.argv[1])] * 5 + [int(sys.argv[2])]:
    s = socket.socket()
    try: s.connect(("127.0.0.1", port))
    except OSError: pass
    s.close()
EOF
FPID=$(head -n1 "$T/fold.out")
read -r CPID CPORT CRES < <("$NA" client ::1 $((P + 2)))
wait $SJOB
ev=$(wait_event "select(.kind==\"net.connect\" and .proc.pid==$FPID and .net.folded==false)") || not_ok "fold first connect seen" "pid $FPID"
expect_jq "fold: first connect at once" "$ev" ".net.count==1 and .net.window_s==5 and .net.result==-111 and .net.dst.port==$((P + 5))"
ev=$(wait_event "select(.kind==\"net.connect\" and .proc.pid==$FPID and .net.folded==true)" 30) || not_ok "fold summary seen" "pid $FPID"
expect_jq "fold: summary counts the 4 repeats" "$ev" ".net.count==4 and .net.window_s==5 and .net.error==\"ECONNREFUSED\" and .net.dst=={\"ip\":\"127.0.0.1\",\"port\":$((P + 5))} and .proc.pid==$FPID"
expect_eq "fold: 2 events for 5 connects" "$(events "select(.kind==\"net.connect\" and .proc.pid==$FPID and .net.dst.port==$((P + 5)))" | wc -l)" 2
expect_eq "ignore_ports: connect to P+9 dropped" "$(events "select(.kind==\"net.connect\" and .net.dst.port==$((P + 9)))" | wc -l)" 0
ev=$(wait_event "select(.kind==\"net.connect\" and .proc.pid==$CPID)") || not_ok "unfiltered connect still seen" "pid $CPID"
ev=$(wait_event "select(.kind==\"net.accept\" and .proc.pid==$SPID)") || not_ok "accept from ::1 seen under config" "pid $SPID"
expect_jq "ignore_cidrs 127/8 leaves ::1 accept" "$ev" ".net.dst.ip==\"::1\""
expect_eq "ignore_loopback: listen on ::1 dropped" "$(events "select(.kind==\"net.listen\" and .proc.pid==$SPID)" | wc -l)" 0
expect_eq "bind on ::1 not filtered by 127/8" "$(events "select(.kind==\"net.bind\" and .proc.pid==$SPID)" | wc -l)" 1
start_server "$T/sg" 127.0.0.1 $((P + 3)) 2 accept4
read -r CPID CPORT CRES < <("$NA" client 127.0.0.1 $((P + 3)))
wait $SJOB
wait_event "select(.kind==\"net.connect\" and .proc.pid==$CPID)" >/dev/null || not_ok "v4 connect seen under config" "pid $CPID"
expect_eq "ignore_cidrs: 127.0.0.1 accept dropped" "$(events "select(.kind==\"net.accept\" and .proc.pid==$SPID)" | wc -l)" 0
expect_eq "bind ignore_cidrs: 127.0.0.1 bind dropped" "$(events "select(.kind==\"net.bind\" and .proc.pid==$SPID)" | wc -l)" 0
start_server "$T/sh" ::ffff:127.0.0.1 $((P + 6)) 2 accept4
read -r CPID2 CPORT2 CRES2 < <("$NA" client ::ffff:127.0.0.1 $((P + 6)))
wait $SJOB
ev=$(wait_event "select(.kind==\"net.connect\" and .proc.pid==$CPID2)") || not_ok "connect to v4-mapped listener seen" "pid $CPID2"
expect_eq "bind ignore_cidrs 127/8: v4-mapped ::ffff:127.0.0.1 bind dropped" "$(events "select(.kind==\"net.bind\" and .proc.pid==$SPID)" | wc -l)" 0
read -r CPID CPORT CRES < <("$NA" client ::1 $((P + 5)) ::1 $((P + 7)))
ev=$(wait_event "select(.kind==\"net.connect\" and .proc.pid==$CPID)") || not_ok "connect from a bound port seen" "pid $CPID"
expect_eq "bind ignore_ports: bind to port P+7 dropped" "$(events "select(.kind==\"net.bind\" and .proc.pid==$CPID)" | wc -l)" 0
read -r UPID1 _ _ < <("$NA" udpconnect fd00:1234::5 $((P + 6)))
read -r UPID2 _ _ < <("$NA" udpconnect fd00:1235::5 $((P + 6)))
ev=$(wait_event "select(.kind==\"net.connect\" and .proc.pid==$UPID2)") || not_ok "connect outside the IPv6 CIDR seen" "pid $UPID2"
expect_jq "connect outside the IPv6 CIDR fields" "$ev" ".net.dst.ip==\"fd00:1235::5\" and .net.proto==\"udp\""
expect_eq "connect ignore_cidrs fd00:1234::/32 dropped" "$(events "select(.kind==\"net.connect\" and .proc.pid==$UPID1)" | wc -l)" 0
read -r DPID < <("$NA" dns ::1 sendto 1 "$ok_name")
read -r D4PID < <("$NA" dns 127.0.0.1 sendto 1 "$ok_name")
wait_event "select(.kind==\"net.dns\" and .proc.pid==$D4PID)" >/dev/null && ok "dns to 127.0.0.1 kept" || not_ok "dns to 127.0.0.1 kept" "pid $D4PID"
expect_eq "dns ignore_cidrs ::1 dropped" "$(events "select(.kind==\"net.dns\" and .dns.direction==\"query\" and .proc.pid==$DPID)" | wc -l)" 0
agent_stop
expect_eq "agent exits 0 (config run)" "$?" 0

# 12. ignore_loopback on connect; folding never loses a count, even with the fold map full
cat >"$T/net2.yaml" <<EOF
net:
  connect:
    ignore_loopback: true
    fold_window_s: 1
EOF
agent_start "$T/net2.yaml" || { not_ok "agent starts with net config 2" "$(cat "$T/agent.err")"; exit 1; }
read -r L1 _ _ < <("$NA" udpconnect 127.0.0.1 $((P + 6)))
read -r L2 _ _ < <("$NA" udpconnect ::1 $((P + 6)))
read -r L3 _ _ < <("$NA" udpconnect ::ffff:127.0.0.1 $((P + 6)))
read -r L4 _ _ < <("$NA" nbclient 127.0.0.1 $((P + 5)))
# 9000 destinations (more than the 8192 entries of the fold map), each connected twice in a row
NFOLD=9000
python3 - $NFOLD <<'PYEOF' >"$T/fold2.out"
import socket, sys, os, time
print(os.getpid(), flush=True)
t0 = time.monotonic()
for i in range(int(sys.argv[1])):
    for _ in range(2):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try: s.connect(("198.18.0.1", 20000 + i))
        except OSError: pass
        s.close()
print(time.monotonic() - t0, flush=True)
PYEOF
FPID=$(head -n1 "$T/fold2.out")
FSECS=$(sed -n 2p "$T/fold2.out")
ev=$(wait_event "select(.kind==\"net.connect\" and .proc.pid==$FPID)") || not_ok "fold-capacity connects seen" "pid $FPID"
# every finished window is summarised within about a second of its end (window 1 s, the agent
# sweeps once a second): all counts are in well within 10 s (at 256 windows a second, as
# before, the 8192 summaries took 32 s)
total=0 end=$((SECONDS + 10 * HW_TIME_SCALE))
while :; do
	total=$(events "select(.kind==\"net.connect\" and .proc.pid==$FPID) | .net.count" | awk '{s+=$1} END{print s+0}')
	[ "$total" -ge $((2 * NFOLD)) ] || [ $SECONDS -ge $end ] && break
	sleep 0.3
done
expect_eq "fold: every connect counted with a full fold map" "$total" $((2 * NFOLD))
# the map is full only if its 8192 destinations arrive within a window or two (1 s each): so
# at native speed, not under emulation (the kernel matrix), where the windows end first
if awk -v s="$FSECS" 'BEGIN{exit !(s < 1.5)}'; then
	expect "fold: connects beyond the map emitted unfolded (fold_full)" test "$(events "select(.kind==\"net.connect\" and .proc.pid==$FPID and .net.fold_full==true)" | wc -l)" -gt 0
fi
# skipped runs (cause recursion) count any TCP state change of the host: the connects are
# counted above, one by one
expect_eq "fold: no loss announced but skipped runs" "$(events 'select(.kind=="agent.loss" and .loss.cause!="recursion")' | wc -l)" 0
expect_eq "ignore_loopback: loopback connects (127.0.0.1, ::1, ::ffff:127.0.0.1, non-blocking) dropped" "$(events "select(.kind==\"net.connect\" and (.proc.pid==$L1 or .proc.pid==$L2 or .proc.pid==$L3 or .proc.pid==$L4))" | wc -l)" 0
agent_stop
expect_eq "agent exits 0 (config run 2)" "$?" 0

# 11. bad net config is refused with file:line
printf 'net:\n  connect:\n    ignore_cidrs: ["10.0.0.0/33"]\n' >"$T/bad.yaml"
out=$("$AGENT" --config "$T/bad.yaml" --output "$T/bad.json" 2>&1)
case "$out" in *bad.yaml:3:*CIDR*) ok "bad CIDR refused with file:line" ;; *) not_ok "bad CIDR refused with file:line" "$out" ;; esac
