#!/usr/bin/env bash
# Container identity (docs/events.md, proc.container; agent/ctrmeta.c) with a real containerd
# and runc: the test starts a containerd of its own (its own root, state and socket: nothing of
# the host's is touched), imports an image it builds from busybox-static (an OCI layout tar, no
# registry), and runs a pod the way CRI lays it out: a sandbox container carrying the pod's
# labels and containers with the io.kubernetes.cri.* annotations, in cgroups named by their
# 64-hex ids. An exec inside a container started before the agent, and one inside a container
# started after it (found through inotify on containerd's state directory), must arrive with
# name, image, digest, pod name/namespace/uid, the chosen labels, herd from the herd label and
# version from the digest. Docker and CRI-O cannot run here: their cases use metadata files laid
# out as those runtimes write them (config.v2.json; userdata/config.json) and real processes in
# cgroups named as theirs. A malformed file is reported, and its events still go out.
. "$(dirname "$0")/../lib.sh"
need_root
for b in containerd ctr runc; do
	command -v $b >/dev/null || {
		not_ok container "$b missing (scripts/deps.sh installs containerd and runc)"
		exit 1
	}
done
[ -x /bin/busybox ] || {
	not_ok container "busybox-static missing"
	exit 1
}
[ -n "$CG2" ] || {
	not_ok container "no cgroup2 mount"
	exit 1
}

D=$T/ctrd
NS=hwtest
A=(ctr --address "$D/c.sock" -n $NS)
TOP=hwctr$$
CTRD_PID=
COLL_PID=
CIDS=()
ctr_cleanup() {
	for id in "${CIDS[@]}"; do
		"${A[@]}" tasks kill -s KILL "$id" >/dev/null 2>&1
	done
	for id in "${CIDS[@]}"; do
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			"${A[@]}" tasks rm -f "$id" >/dev/null 2>&1 && break
			sleep 0.1
		done
		"${A[@]}" containers rm "$id" >/dev/null 2>&1
	done
	[ -n "$CTRD_PID" ] && kill "$CTRD_PID" 2>/dev/null && wait "$CTRD_PID" 2>/dev/null
	[ -n "$COLL_PID" ] && kill "$COLL_PID" 2>/dev/null && wait "$COLL_PID" 2>/dev/null
	[ -n "${SH_PID:-}" ] && kill "$SH_PID" 2>/dev/null
	for h in "$CG2" /sys/fs/cgroup/*/; do
		[ -d "$h/$TOP" ] || continue
		find "$h/$TOP" -depth -mindepth 1 -type d -exec rmdir {} + 2>/dev/null
		rmdir "$h/$TOP" 2>/dev/null
	done
	umount -R "$D/state" 2>/dev/null
}
trap 'ctr_cleanup; hw_cleanup' EXIT
hexid() { head -c 32 /dev/urandom | sha256sum | cut -c1-64; }

# --- containerd of the test's own
mkdir -p "$D"
cat >"$D/config.toml" <<EOF
version = 2
root = "$D/root"
state = "$D/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$D/c.sock"
[ttrpc]
  address = "$D/c.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
EOF
t0=$(date +%s%N)
containerd --config "$D/config.toml" >"$D/containerd.log" 2>&1 &
CTRD_PID=$!
for _ in $(seq 1 200); do
	"${A[@]}" version >/dev/null 2>&1 && break
	sleep 0.05
done
"${A[@]}" version >/dev/null 2>&1 || {
	not_ok containerd "did not start: $(tail -n3 "$D/containerd.log")"
	exit 1
}
echo "# containerd ready in $((($(date +%s%N) - t0) / 1000000)) ms"

# --- an image from busybox-static: an OCI image layout in a tar, imported
mkimage() {
	local w=$D/img
	mkdir -p "$w/root/bin" "$w/oci/blobs/sha256"
	cp /bin/busybox "$w/root/bin/busybox"
	for c in sh sleep true cat; do ln -s busybox "$w/root/bin/$c"; done
	tar -C "$w/root" --owner=0 --group=0 --mtime=@0 --sort=name -cf "$w/layer" bin
	blob() { # file -> its digest hex and size; moved into the layout before they are said
		# (the caller reads them through a process substitution and goes on at once: a move
		# after the echo could come after the tar below, which then lacked the blob)
		local h s
		h=$(sha256sum "$1" | cut -d' ' -f1)
		s=$(stat -c %s "$1")
		mv "$1" "$w/oci/blobs/sha256/$h"
		echo "$h $s"
	}
	read -r L LS < <(blob "$w/layer")
	printf '{"architecture":"amd64","os":"linux","config":{"Cmd":["/bin/sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
		"$L" >"$w/config"
	read -r C CS < <(blob "$w/config")
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
		"$C" "$CS" "$L" "$LS" >"$w/manifest"
	read -r M MS < <(blob "$w/manifest")
	printf '{"imageLayoutVersion":"1.0.0"}' >"$w/oci/oci-layout"
	printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"1"}}]}' \
		"$M" "$MS" "$IMAGE" >"$w/oci/index.json"
	tar -C "$w/oci" -cf "$D/image.tar" oci-layout index.json blobs
	DIGEST=sha256:$M
	LAYER=sha256:$L
}
IMAGE=herdwatch.test/busybox:1
mkimage
# a refused import is tried again (a containerd that has just opened its socket may still be
# loading its plugins), and its error said if it stays refused
for try in 1 2 3 4 5; do
	"${A[@]}" images import --snapshotter native "$D/image.tar" >/dev/null 2>"$T/import.err" && break
	[ $try = 5 ] && {
		not_ok "image import" "ctr images import failed: $(tail -c 400 "$T/import.err")"
		exit 1
	}
	sleep 1
done
expect_eq "image imported with its digest" \
	"$("${A[@]}" images ls | awk -v i=$IMAGE '$1==i{print $3}')" "$DIGEST"

# --- containers as CRI lays them out: a spec with the CRI annotations, the image's snapshot
# as the root, a cgroup /<TOP>/pod<uid>/<id> (kubelet's cgroupfs layout)
"${A[@]}" oci spec >"$D/base.json"
POD_UID=$(cat /proc/sys/kernel/random/uuid)
SANDBOX=$(hexid)
# run_ctr ID ANNOTATIONS-JSON LABEL... : start a container sleeping in the image
run_ctr() {
	local id=$1 ann=$2 p
	shift 2
	"${A[@]}" snapshots --snapshotter native prepare "snap-$id" "$LAYER" >/dev/null || return 1
	p=$("${A[@]}" snapshots --snapshotter native mounts /x "snap-$id" | awk '{print $4}')
	jq --arg id "$id" --arg root "$p" --arg cg "/$TOP/pod$POD_UID/$id" --argjson ann "$ann" \
		'.process.args=["/bin/sleep","120"] | .process.terminal=false | .root.path=$root |
		 .linux.cgroupsPath=$cg | .annotations=$ann' "$D/base.json" >"$D/spec-$id.json"
	local labels=()
	for l in "$@"; do labels+=(--label "$l"); done
	CIDS+=("$id")
	"${A[@]}" run -d --config "$D/spec-$id.json" "${labels[@]}" "$id" >/dev/null 2>"$D/run-$id.err"
}
cri_ann() { # NAME TYPE: the annotations CRI sets
	jq -nc --arg name "$1" --arg type "$2" --arg sb "$SANDBOX" --arg uid "$POD_UID" --arg img "$IMAGE" \
		'{"io.kubernetes.cri.container-type":$type,"io.kubernetes.cri.container-name":$name,
		  "io.kubernetes.cri.sandbox-id":$sb,"io.kubernetes.cri.sandbox-name":"web-0",
		  "io.kubernetes.cri.sandbox-namespace":"shop","io.kubernetes.cri.sandbox-uid":$uid,
		  "io.kubernetes.cri.image-name":$img}'
}
# the sandbox holds the pod's labels; a container has kubelet's own labels
run_ctr "$SANDBOX" "$(cri_ann "" sandbox)" app=web tier=front secret=no ||
	not_ok "sandbox started" "$(cat "$D/run-$SANDBOX.err")"
C1=$(hexid)
run_ctr "$C1" "$(cri_ann app container)" io.kubernetes.pod.name=web-0 io.kubernetes.container.name=app ||
	not_ok "container started" "$(cat "$D/run-$C1.err")"

# --- Docker and CRI-O: their files as they lay them out
DK=$T/docker/containers
CO=$T/crio/overlay-containers
mkdir -p "$DK" "$CO"

cat >"$T/agent.yaml" <<EOF
heartbeat_interval: 1
container_meta:
  containerd_state: $D/state/io.containerd.runtime.v2.task
  containerd_address: $D/c.sock
  docker_root: $DK
  crio_root: $CO
  labels: [app, tier]
  herd_label: app
metrics:
  textfile: $T/metrics.prom
  interval: 1
EOF
echo "# containers running at $SECONDS s"
agent_start "$T/agent.yaml" || {
	not_ok "agent start" "see above"
	exit 1
}

# exec_until ID EXE-NAME: exec EXE in container ID until an exec event of it carries the found
# identity (the first ones may say "pending"); prints that event
exec_until() {
	local id=$1 n=0 ev end=$((SECONDS + 10))
	while [ $SECONDS -lt $end ]; do
		n=$((n + 1))
		"${A[@]}" tasks exec --exec-id "e$n" "$id" /bin/true >/dev/null 2>&1
		ev=$(grep_events "${id:0:12}" "select(.kind==\"process.exec\" and .proc.exe==\"/bin/busybox\" and (.proc.cgroup|endswith(\"$id\")) and .proc.container.identity==\"found\")" | head -n1)
		[ -n "$ev" ] && {
			echo "$ev"
			return 0
		}
		sleep 0.1
	done
	return 1
}
echo "# agent ready at $SECONDS s"
t1=$(date +%s%N)
ev=$(exec_until "$C1")
echo "# container before the agent: full identity $((($(date +%s%N) - t1) / 1000000)) ms after the first exec"
expect_jq "containerd: exec in a container started before the agent" "$ev" \
	".proc.container | .runtime==\"containerd\" and .name==\"app\" and .image==\"$IMAGE\" and
	 .image_digest==\"$DIGEST\" and .id==\"${C1:0:12}\""
expect_jq "containerd: pod name, namespace, uid" "$ev" \
	".proc.container.pod == {\"name\":\"web-0\",\"namespace\":\"shop\",\"uid\":\"$POD_UID\"}"
expect_jq "containerd: chosen labels only, from the pod's sandbox" "$ev" \
	'.proc.container.labels == {"app":"web","tier":"front"}'
expect_jq "containerd: herd from the herd label, version from the digest" "$ev" \
	".proc.container.herd==\"web\" and .proc.container.version==\"$DIGEST\""
# events before the identity was known went out, saying so
expect_jq "the event that started the lookup went out at once (pending)" \
	"$(grep_events "${C1:0:12}" 'select(.proc.container.id=="'"${C1:0:12}"'")' | head -n1)" \
	'.proc.container.identity=="pending" and .proc.container.name==null and .proc.container.herd==null'

# --- a container started after the agent: inotify on the namespace's directory looks it up
C2=$(hexid)
run_ctr "$C2" "$(cri_ann worker container)" || not_ok "second container started" "$(cat "$D/run-$C2.err")"
ev=$(exec_until "$C2")
expect_jq "containerd: container started after the agent" "$ev" \
	".proc.container | .name==\"worker\" and .image_digest==\"$DIGEST\" and .herd==\"web\" and
	 .pod.name==\"web-0\" and .labels.tier==\"front\""
# the first event of its first exec: looked up at the creation of its directory
first=$(grep_events "${C2:0:12}" "select(.kind==\"process.exec\" and (.proc.cgroup|endswith(\"$C2\")) and .proc.comm==\"true\")" | head -n1)
echo "# first exec in the later container: identity $(jq -r .proc.container.identity <<<"$first")"

# --- removal evicts the entry (metrics textfile counts it)
"${A[@]}" tasks kill -s KILL "$C2" >/dev/null 2>&1
for _ in $(seq 1 30); do "${A[@]}" tasks rm -f "$C2" >/dev/null 2>&1 && break; sleep 0.1; done
ev_ok=
for _ in $(seq 1 30); do
	[ -d "$D/state/io.containerd.runtime.v2.task/$NS/$C2" ] || {
		ev_ok=1
		break
	}
	sleep 0.1
done
expect_eq "containerd removed the task's directory" "${ev_ok:-0}" 1
evicted=$(poll_first 5 awk '/^herdwatch_agent_container_cache_evictions_total [1-9]/{print $2}' "$T/metrics.prom")
expect_eq "its cache entry evicted (metrics)" "${evicted:-0}" 1

echo "# containerd cases done at $SECONDS s"
# --- Docker (files as dockerd writes them) and CRI-O: real processes in their cgroups
# put FILE: standard input into FILE at once (the runtimes write theirs by a rename)
put() {
	cat >"$T/put.tmp" && mv "$T/put.tmp" "$1"
}
DID=$(hexid)
mkdir -p "$DK/$DID"
jq -n --arg id "$DID" '{ID:$id, Name:"/shop-api", Image:"sha256:1111111111111111111111111111111111111111111111111111111111111111",
	Config:{Image:"shop/api:2.1", Labels:{app:"api", tier:"back", "io.kubernetes.pod.name":"api-7",
	"io.kubernetes.pod.namespace":"shop", "io.kubernetes.pod.uid":"u-7"}}, State:{Running:true}}' \
	| put "$DK/$DID/config.v2.json"
SB2=$(hexid)
XID=$(hexid)
mkdir -p "$CO/$SB2/userdata"
jq -n '{ociVersion:"1.0.2", annotations:{"io.kubernetes.cri-o.ContainerType":"sandbox",
	"io.kubernetes.cri-o.Labels":"{\"app\":\"db\",\"tier\":\"data\"}"}}' | put "$CO/$SB2/userdata/config.json"
mkdir -p "$CO/$XID/userdata"
jq -n --arg sb "$SB2" '{ociVersion:"1.0.2", annotations:{"io.kubernetes.container.name":"db",
	"io.kubernetes.pod.name":"db-0","io.kubernetes.pod.namespace":"data","io.kubernetes.pod.uid":"u-db",
	"io.kubernetes.cri-o.ImageName":"registry.test/db:15",
	"io.kubernetes.cri-o.ImageRef":"2222222222222222222222222222222222222222222222222222222222222222",
	"io.kubernetes.cri-o.SandboxID":$sb, "io.kubernetes.cri-o.ContainerType":"container",
	"io.kubernetes.cri-o.Labels":"{\"io.kubernetes.container.name\":\"db\"}"}}' | put "$CO/$XID/userdata/config.json"
BAD=$(hexid)
mkdir -p "$DK/$BAD"
printf '{"ID":"%s","Name":"/broken",' "$BAD" | put "$DK/$BAD/config.v2.json"

# cg_exec CGROUP: a shell in that cgroup v2 directory execs /bin/true until the identity is found
cg_exec() {
	local cg=$1 want=$2 ev end=$((SECONDS + 10))
	mkdir -p "$CG2/$TOP/$cg"
	while [ $SECONDS -lt $end ]; do
		sh -c "echo \$\$ > $CG2/$TOP/$cg/cgroup.procs && exec /bin/true"
		ev=$(grep_events "${cg: -22}" "select(.kind==\"process.exec\" and .proc.exe==\"/usr/bin/true\" and (.proc.cgroup|endswith(\"$cg\")) and .proc.container.identity==\"$want\")" | head -n1)
		[ -n "$ev" ] && {
			echo "$ev"
			return 0
		}
		sleep 0.1
	done
	return 1
}
ev=$(cg_exec "docker-$DID.scope" found)
expect_jq "docker (files as laid out by dockerd): name, image, image id, pod, labels" "$ev" \
	'.proc.container | .runtime=="docker" and .name=="shop-api" and .image=="shop/api:2.1" and
	 .image_digest=="sha256:1111111111111111111111111111111111111111111111111111111111111111" and
	 .pod=={"name":"api-7","namespace":"shop","uid":"u-7"} and .labels=={"app":"api","tier":"back"} and
	 .herd=="api" and .version==.image_digest'
ev=$(cg_exec "crio-$XID.scope" found)
expect_jq "cri-o (files as laid out by CRI-O): name, image, ref, pod, sandbox labels" "$ev" \
	'.proc.container | .runtime=="cri-o" and .name=="db" and .image=="registry.test/db:15" and
	 .image_digest=="sha256:2222222222222222222222222222222222222222222222222222222222222222" and
	 .pod=={"name":"db-0","namespace":"data","uid":"u-db"} and .labels=={"app":"db","tier":"data"} and
	 .herd=="db"'
ev=$(cg_exec "docker-$BAD.scope" unknown)
expect_jq "malformed metadata: events go out without the identity" "$ev" \
	'.proc.container | .identity=="unknown" and .name==null and .herd==null'
if grep -q "container ${BAD:0:12}: identity unreadable: .*config.v2.json: not a JSON object" "$T/agent.err"; then
	ok "malformed metadata: reported with its reason"
else
	not_ok "malformed metadata: reported with its reason" "agent log: $(tail -n3 "$T/agent.err")"
fi
agent_stop >/dev/null

# --- the collector: the pod's container is a member of herd "web" (its herd label) in the
# cohort of its image digest; the agent's events reach it through the agent's own sender
HOST=$(jq -r 'select(.kind=="agent.heartbeat") | .host.name' "$EV" | head -n1)
CA=$HW_ROOT/scripts/herdwatch-ca
if $CA init "$T/pki" >/dev/null 2>&1 && $CA collector "$T/pki" collector >/dev/null 2>&1 &&
	$CA agent "$T/pki" "$HOST" >/dev/null 2>&1; then
	port=$((10000 + RANDOM % 22000))
	"$HW_ROOT/build/herdwatch-collector" --ca "$T/pki/ca.pem" --cert "$T/pki/collector.pem" \
		--key "$T/pki/collector.key" --db "$T/c.db" --listen "127.0.0.1:$port" \
		--http "127.0.0.1:$((port + 1))" >/dev/null 2>"$T/collector.log" &
	COLL_PID=$!
	poll_first 5 curl -sf "http://127.0.0.1:$((port + 1))/api/stats" >/dev/null
	"$HW_ROOT/build/herdwatch-replay" --collector "127.0.0.1:$port" --ca "$T/pki/ca.pem" \
		--cert "$T/pki/$HOST.pem" --key "$T/pki/$HOST.key" --spool "$T/spool" --timeout-s 15 \
		"$EV" >"$T/replay.json" 2>&1
	m=$(curl -sf "http://127.0.0.1:$((port + 1))/api/members" |
		jq -c --arg m "$HOST/${C1:0:12}" '.[] | select(.member==$m)')
	expect_jq "collector: member of herd web in the cohort of its image digest" "$m" \
		".herd==\"web\" and .version==\"$DIGEST\" and .cohort==\"web@$DIGEST\" and .type==\"container\""
else
	not_ok "collector: member of herd web" "herdwatch-ca failed"
fi
echo "# ran in $SECONDS s"
