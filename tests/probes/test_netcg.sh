#!/usr/bin/env bash
# net.connect / net.accept on socket hooks (net.mode socket; docs/events-net.md "Hooks and
# why"): programs on the cgroup v2 root see processes in child cgroups this test makes, with
# the agent itself started in a child cgroup; the v2 mount is found on a hybrid host (v1
# controllers beside it); a listener older than the agent is given its owner; the exact accept
# on demand (ctl enable net.accept_exact --for) and back; links beside another program on the
# root (BPF_F_ALLOW_MULTI); and, with net.cgroup2_path pointing at a directory that is not
# cgroup v2, the named reason and the syscall hooks as the fallback.
. "$(dirname "$0")/../lib.sh"
need_root

NA="$HELPERS/net_act"
P=$((10000 + ($$ + 7000) % 20000)) # this run's ports: P..P+9
CG2=$(awk '$3=="cgroup2"{print $2; exit}' /proc/self/mounts)
if [ -z "$CG2" ]; then
	ok "socket hooks # SKIP no cgroup v2 mount on this host"
	exit 0
fi
TOP=hwncg$$
ORIG=$(awk -F: '$1=="0"{print $3}' /proc/self/cgroup)
netcg_cleanup() {
	echo $$ >"$CG2$ORIG/cgroup.procs" 2>/dev/null
	hw_cleanup
	for c in $(find "$CG2/$TOP" -depth -type d 2>/dev/null); do
		for p in $(cat "$c/cgroup.procs" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
	done
	sleep 0.1
	find "$CG2/$TOP" -depth -type d -exec rmdir {} \; 2>/dev/null
}
trap netcg_cleanup EXIT
mkdir -p "$CG2/$TOP/agent" "$CG2/$TOP/app/child" || {
	not_ok "cgroups made" "mkdir under $CG2 failed"
	exit 1
}

# incg CGROUP CMD...: CMD in $CG2/$TOP/CGROUP
incg() {
	local cg=$1
	shift
	sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$CG2/$TOP/$cg" "$@"
}
# start_server OUT ADDR PORT MODE [CGROUP]: background server; sets SPID once listening
start_server() {
	if [ -n "${5:-}" ]; then
		incg "$5" "$NA" server "$2" "$3" 4 "$4" >"$1" &
	else
		"$NA" server "$2" "$3" 4 "$4" >"$1" &
	fi
	SJOB=$!
	for _ in $(seq 1 400); do
		[ -s "$1" ] && break
		sleep 0.02
	done
	SPID=$(awk 'NR==1{print $1}' "$1")
}

# A listener older than the agent (seeded from /proc at start), in a child cgroup.
start_server "$T/old" 127.0.0.1 "$P" accept4 app
OLDPID=$SPID OLDJOB=$SJOB

# The agent in a child cgroup of the v2 root (the shell moves there while it starts it).
printf 'net: {mode: socket}\n' >"$T/sock.yaml" # the default, named
echo $$ >"$CG2/$TOP/agent/cgroup.procs"
agent_start "$T/sock.yaml"
rc=$?
echo $$ >"$CG2$ORIG/cgroup.procs"
[ $rc = 0 ] || {
	not_ok "agent starts" "$(cat "$T/agent.err")"
	exit 1
}
expect_eq "agent runs in a child cgroup" "$(awk -F: '$1=="0"{print $3}' /proc/$AGENT_PID/cgroup)" "/$TOP/agent"
hb=$(last_heartbeat)
expect_jq "socket mode on the v2 mount (hybrid host: wherever it is)" "$hb" ".agent.net_mode.mode==\"socket\" and .agent.net_mode.cgroup2==\"$CG2\" and .agent.net_mode.listeners_seeded>=1"
expect_jq "connect on cgroup hooks, accept on the state change" "$hb" '.agent.probes["net.connect"].hook=="cgroup" and .agent.probes["net.connect"].syscall_tracepoints==0 and .agent.probes["net.accept"].hook=="tp_btf" and .agent.probes["net.accept_exact"].state=="disabled"'
if command -v bpftool >/dev/null; then
	sh=$(bpftool cgroup show "$CG2" 2>&1)
	# ID  AttachType  AttachFlags  Name: a link is attached in multi mode
	expect_eq "root: connect4 and connect6 attached as multi links" "$(grep -Ec 'inet[46]_connect +multi +hws_conn[46]' <<<"$sh")" 2
else
	ok "bpftool cgroup show # SKIP no bpftool"
fi


# 1. the old listener: its accept is blamed on it (seeded owner)
read -r CPID CPORT CRES < <("$NA" client 127.0.0.1 "$P")
expect_eq "client of the old listener connected" "$CRES" 0
ev=$(wait_event "select(.kind==\"net.accept\" and .net.dst.port==$CPORT)") || not_ok "old listener's accept seen" "port $CPORT"
expect_jq "old listener's accept blamed on it" "$ev" ".proc.pid==$OLDPID and .proc.comm==\"net_act\" and .proc.uid==0 and .net.attribution==\"listener\" and .net.src.port==$P and .net.fd==-1 and .net.syscall==null and .proc.cgroup==\"/$TOP/app\""
ev=$(wait_event "select(.kind==\"net.connect\" and .proc.pid==$CPID)") || not_ok "connect from the root cgroup seen" "pid $CPID"
expect_jq "connect fields (blocking, one event)" "$ev" ".net.result==0 and .net.pending==false and .net.outcome==false and .net.dst=={\"ip\":\"127.0.0.1\",\"port\":$P} and .net.src.port==$CPORT and .net.syscall==\"connect\" and .net.fd>=0 and .proc.cgroup==\"$ORIG\""
wait $OLDJOB

# 2. processes two levels down: a server in app, clients in app/child (TCP and UDP)
start_server "$T/s1" ::1 $((P + 1)) accept4 app
read -r CPID CPORT CRES < <(incg app/child "$NA" client ::1 $((P + 1)))
expect_eq "nested client connected" "$CRES" 0
ev=$(wait_event "select(.kind==\"net.connect\" and .proc.pid==$CPID)") || not_ok "nested connect seen" "pid $CPID"
expect_jq "nested connect: process and cgroup" "$ev" ".proc.comm==\"net_act\" and .proc.cgroup==\"/$TOP/app/child\" and .net.family==\"inet6\" and .net.dst=={\"ip\":\"::1\",\"port\":$((P + 1))} and .net.src=={\"ip\":\"::1\",\"port\":$CPORT} and .net.result==0"
ev=$(wait_event "select(.kind==\"net.accept\" and .proc.pid==$SPID)") || not_ok "nested accept seen" "pid $SPID"
expect_jq "nested accept: the listener's process, its cgroup, both ends" "$ev" ".proc.cgroup==\"/$TOP/app\" and .net.attribution==\"listener\" and .net.src=={\"ip\":\"::1\",\"port\":$((P + 1))} and .net.dst=={\"ip\":\"::1\",\"port\":$CPORT}"
expect_eq "nested: exactly one accept" "$(events "select(.kind==\"net.accept\" and .proc.pid==$SPID)" | wc -l)" 1
wait $SJOB
read -r UPID UPORT URES < <(incg app/child "$NA" udpconnect 127.0.0.1 $((P + 2)))
ev=$(wait_event "select(.kind==\"net.connect\" and .proc.pid==$UPID)") || not_ok "nested udp connect seen" "pid $UPID"
expect_jq "nested udp connect (cgroup/connect4)" "$ev" ".proc.cgroup==\"/$TOP/app/child\" and .net.proto==\"udp\" and .net.dst=={\"ip\":\"127.0.0.1\",\"port\":$((P + 2))} and .net.result==0 and .net.src=={\"ip\":\"0.0.0.0\",\"port\":0}"

# 3. a second set of programs on the same root hooks (another agent's, as any other software's
# multi programs): it attaches beside these, and its exit leaves these attached and working
m=$("$AGENT" --probe --control none --config "$T/sock.yaml" 2>/dev/null)
expect_jq "second agent attaches beside the first" "$m" '.probes["net.connect"].state=="attached" and .probes["net.connect"].hook=="cgroup"'
expect_eq "first agent's links still on the root" "$(bpftool cgroup show "$CG2" 2>/dev/null | grep -c 'hws_conn')" 2
read -r UPID UPORT URES < <("$NA" udpconnect 127.0.0.1 $((P + 2)))
wait_event "select(.kind==\"net.connect\" and .proc.pid==$UPID)" >/dev/null && ok "first agent still sees connects" ||
	not_ok "first agent still sees connects" "pid $UPID"

# 4. the exact accept on demand, and back
r=$(ctl enable net.accept_exact --for 3)
expect_jq "ctl enable net.accept_exact --for 3" "$r" '.ok'
st=$(ctl status)
expect_jq "exact: net.accept steps aside" "$st" '.probes["net.accept_exact"].state=="attached" and .probes["net.accept"].state=="disabled" and (.probes["net.accept"].reason|test("net.accept_exact"))'
start_server "$T/s2" 127.0.0.1 $((P + 3)) accept4 app
read -r CPID CPORT CRES < <("$NA" client 127.0.0.1 $((P + 3)))
ev=$(wait_event "select(.kind==\"net.accept\" and .proc.pid==$SPID)") || not_ok "exact accept seen" "pid $SPID"
expect_jq "exact accept: the accepting call and its fd" "$ev" ".net.attribution==\"accept\" and .net.syscall==\"accept4\" and .net.fd>=0 and .net.dst.port==$CPORT"
wait $SJOB
expect_eq "exact: exactly one accept" "$(events "select(.kind==\"net.accept\" and .proc.pid==$SPID)" | wc -l)" 1
back=
for _ in $(seq 1 100); do
	st=$(ctl status)
	jq -e '.probes["net.accept"].state=="attached" and .probes["net.accept_exact"].state=="disabled"' <<<"$st" >/dev/null && back=1 && break
	sleep 0.1
done
expect_eq "after --for: socket-hook accept back" "${back:-no}" 1
start_server "$T/s3" 127.0.0.1 $((P + 4)) accept4
read -r CPID CPORT CRES < <("$NA" client 127.0.0.1 $((P + 4)))
ev=$(wait_event "select(.kind==\"net.accept\" and .proc.pid==$SPID)") || not_ok "accept after exact mode seen" "pid $SPID"
expect_jq "accept after exact mode: listener again" "$ev" ".net.attribution==\"listener\" and .net.dst.port==$CPORT"
wait $SJOB

# 5. one program on the state-change tracepoint serves net.connect and net.accept: one link,
# shared by the two probes (agent/probes.c); each probe's part follows its own switch
# (hws_roles), and the link goes with the last of them
st_links() { # the agent's links (its descriptors' fdinfo) to a program named hws_state_btf
	local ids
	ids=$(bpftool -j prog show name hws_state_btf 2>/dev/null | jq -r '.id' | paste -sd'|')
	[ -n "$ids" ] || { echo none; return; }
	grep -l '^link_type' /proc/"$AGENT_PID"/fdinfo/* 2>/dev/null | xargs -r grep -h '^prog_id' |
		awk '{print $2}' | grep -cxE "$ids"
}
if command -v bpftool >/dev/null; then
	expect_eq "one link of hws_state_btf for net.connect and net.accept" "$(st_links)" 1
	r=$(ctl disable net.connect)
	expect_jq "ctl disable net.connect" "$r" '.ok'
	expect_eq "net.connect off: the link stays (net.accept holds it)" "$(st_links)" 1
	start_server "$T/s4" 127.0.0.1 $((P + 5)) accept4
	read -r CPID CPORT CRES < <("$NA" client 127.0.0.1 $((P + 5)))
	ev=$(wait_event "select(.kind==\"net.accept\" and .proc.pid==$SPID)") || not_ok "net.connect off: accept still seen" "pid $SPID"
	expect_jq "net.connect off: accept still seen, listener's" "$ev" ".net.attribution==\"listener\" and .net.dst.port==$CPORT"
	expect_eq "net.connect off: no connect event" "$(events "select(.kind==\"net.connect\" and .proc.pid==$CPID)" | wc -l)" 0
	wait $SJOB
	r=$(ctl disable net.accept)
	expect_jq "ctl disable net.accept" "$r" '.ok'
	expect_eq "both off: the link is gone" "$(st_links)" 0
	ctl enable net.accept >/dev/null
	r=$(ctl enable net.connect)
	expect_jq "ctl enable net.accept and net.connect" "$r" '.ok'
	expect_eq "both on again: one link" "$(st_links)" 1
	start_server "$T/s5" 127.0.0.1 $((P + 6)) accept4
	read -r CPID CPORT CRES < <("$NA" client 127.0.0.1 $((P + 6)))
	ev=$(wait_event "select(.kind==\"net.connect\" and .proc.pid==$CPID)") || not_ok "connect seen again" "pid $CPID"
	expect_jq "connect seen again, one event" "$ev" ".net.result==0 and .net.src.port==$CPORT and .net.dst.port==$((P + 6))"
	wait_event "select(.kind==\"net.accept\" and .proc.pid==$SPID and .net.dst.port==$CPORT)" >/dev/null &&
		ok "accept seen again" || not_ok "accept seen again" "pid $SPID"
	wait $SJOB
else
	ok "one program for connect and accept # SKIP no bpftool"
fi
# 6. a slot of hws_slot held by a mark whose end the kernel skipped (test_netnest.sh) is taken
# by a later connect once it is older than any handshake (300 s); a younger one is left alone.
# Every even slot gets a stale mark, every odd one a fresh mark (tags no real socket has:
# cookies count up from 1), then a storm of blocking connects: it takes stale slots, leaves
# fresh ones, and every connect is still reported (those whose slot is held, through hws_blk).
# One process's connects on one CPU cycle through one group of 64 slots (bpf/net_cg.bpf.c,
# netcg_slot): 300 connects pass every slot of it, so every stale mark of that group is taken
# (of two groups when the cookies cross a batch, the second at least).
jiffies=$(awk '/last_jiffies/ {print $3; exit}' /proc/timer_list 2>/dev/null)
mine=$(cat /proc/"$AGENT_PID"/fdinfo/* 2>/dev/null | awk '/^map_id:/ {print $2}' | sort -un | jq -sc .)
slot_id=$(bpftool -j map show 2>/dev/null | jq -r --argjson m "${mine:-[]}" '.[] | select(.name == "hws_slot" and (.id as $i | $m | index($i))) | .id' | head -1)
STORM=$HW_ROOT/build/bench/connect_storm
if [ "${jiffies:-0}" -gt 0 ] && [ -n "$slot_id" ] && [ -x "$STORM" ]; then
	vsz=$(bpftool -j map show id "$slot_id" | jq .bytes_value)
	python3 - "$slot_id" "$vsz" "$jiffies" >"$T/slots.batch" <<'PY'
import sys, time
mid, vsz, j = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
hz = round(1 / time.clock_getres(6))  # CLOCK_MONOTONIC_COARSE: one tick
hexb = lambda b: " ".join("%02x" % x for x in b)
for i in range(512):
    since = ((j - 400 * hz) if i % 2 == 0 else j) | 1  # struct ncg_slot: sk, since, the mark
    v = (0x7ead000000000000 + i).to_bytes(8, "little") + since.to_bytes(8, "little") + bytes(vsz - 16)
    print("map update id %d key hex %s value hex %s" % (mid, hexb(i.to_bytes(4, "little")), hexb(v)))
PY
	bpftool batch file "$T/slots.batch" >/dev/null 2>&1 || not_ok "stale slots written" "bpftool batch failed"
	"$STORM" -n 300 >"$T/storm.out"
	spid=$(sed -n 's/.* pid=\([0-9]*\).*/\1/p' "$T/storm.out")
	read -r stale fresh cleared < <(bpftool -j map dump id "$slot_id" | python3 -c '
import json, sys
st = fr = 0
left = [0] * 8  # stale marks left per group of 64 slots
for e in json.load(sys.stdin):
    k = int.from_bytes(bytes(int(x, 16) for x in e["key"]), "little")
    tag = int.from_bytes(bytes(int(x, 16) for x in e["value"][:8]), "little")
    if tag >> 48 == 0x7ead:
        if k % 2: fr += 1
        else:
            st += 1
            left[k // 64] += 1
print(st, fr, left.count(0))')
	expect_eq "fresh marks left alone" "$fresh" 256
	expect "stale marks taken by connects (256 before, $stale after)" [ "${stale:-256}" -le 224 ]
	expect "every stale mark of the storm's group taken (groups cleared: ${cleared:-0})" [ "${cleared:-0}" -ge 1 ]
	n=0
	for _ in $(seq 1 60); do # the folded count comes with the window's summary (10 s)
		n=$(events "select(.kind==\"net.connect\" and .proc.pid==${spid:-0}) | .net.count" | awk '{s += $1} END {print s + 0}')
		[ "$n" -ge 300 ] && break
		sleep 0.5
	done
	expect_eq "every connect of the storm reported beside the marks" "$n" 300
else
	ok "stale slots # SKIP no /proc/timer_list, hws_slot or connect_storm"
fi
# skipped runs of hws_state_btf (cause recursion) are counted for any TCP state change of the
# host, the test's or not (test_netnest.sh): the accepts above are checked one by one
expect_eq "no loss announced but skipped runs" "$(events 'select(.kind=="agent.loss" and .loss.kind=="net.accept" and .loss.cause!="recursion")' | wc -l)" 0
agent_stop
expect_eq "agent exits 0" "$?" 0
expect_eq "links gone with the agent" "$(bpftool cgroup show "$CG2" 2>/dev/null | grep -c hws_)" 0

# 5. no cgroup v2 where the config says: the reason, and the syscall hooks
printf 'net: {mode: socket, cgroup2_path: "%s"}\n' "$T" >"$T/nocg.yaml"
agent_start "$T/nocg.yaml" || {
	not_ok "agent starts without cgroup v2" "$(cat "$T/agent.err")"
	exit 1
}
hb=$(last_heartbeat)
expect_jq "fallback: named reason" "$hb" ".agent.net_mode.mode==\"syscall\" and .agent.net_mode.reason==\"$T is not a cgroup v2 mount\""
expect_jq "fallback: net probes on syscall hooks" "$hb" '[.agent.probes["net.connect","net.accept"].state]==["attached","attached"] and .agent.probes["net.connect"].hook!="cgroup" and .agent.probes["net.accept"].hook!="tp_btf" and (.agent.probes["net.connect"].reason|test("not a cgroup v2 mount"))'
ctl enable net.accept_exact >/dev/null
expect_jq "fallback: accept_exact stays off when enabled (exact already)" "$(ctl status)" '.probes["net.accept_exact"].state=="disabled" and (.probes["net.accept_exact"].reason|test("exact already")) and .probes["net.accept"].state=="attached"'
start_server "$T/s4" 127.0.0.1 $((P + 5)) accept
read -r CPID CPORT CRES < <("$NA" client 127.0.0.1 $((P + 5)))
ev=$(wait_event "select(.kind==\"net.accept\" and .proc.pid==$SPID)") || not_ok "fallback accept seen" "pid $SPID"
expect_jq "fallback accept: the accepting call" "$ev" ".net.attribution==\"accept\" and .net.syscall==\"accept\" and .net.fd>=0"
ev=$(wait_event "select(.kind==\"net.connect\" and .proc.pid==$CPID)") || not_ok "fallback connect seen" "pid $CPID"
expect_jq "fallback connect fields" "$ev" ".net.result==0 and .net.dst.port==$((P + 5)) and .net.src.port==$CPORT"
wait $SJOB
agent_stop

# 6. bad values refused before anything loads
printf 'net: {mode: sockets}\n' >"$T/bad.yaml"
out=$("$AGENT" --probe --control none --config "$T/bad.yaml" 2>&1)
expect "net.mode: sockets refused" grep -q "'net.mode' must be socket or syscall, not 'sockets'" <<<"$out"
printf 'net: {cgroup2_path: sys/fs/cgroup}\n' >"$T/bad2.yaml"
out=$("$AGENT" --probe --control none --config "$T/bad2.yaml" 2>&1)
expect "relative cgroup2_path refused" grep -q "'net.cgroup2_path' must be an absolute path" <<<"$out"
