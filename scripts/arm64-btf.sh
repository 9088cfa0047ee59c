#!/usr/bin/env bash
# The kernel types the arm64 cross-build compiles the BPF programs against: the BTF of Debian
# 12's arm64 cloud kernel (6.1, the oldest kernel herdwatch supports, so a program that reads a
# type or field only newer kernels have fails to compile unless it goes through a CO-RE flavor:
# bpf/compat.bpf.h). Debian's arm64 vmlinuz is the uncompressed Image, and the kernel keeps its
# BTF in it as one blob (what /sys/kernel/btf/vmlinux serves on a running arm64 host): found by
# its header (magic 0xeb9f, version 1, a 24-byte header whose sections follow without gaps).
# Usage: scripts/arm64-btf.sh [OUT]   (default /var/cache/herdwatch/arm64/vmlinux.btf; cached)
set -euo pipefail
out=${1:-${HW_ARM64_BTF:-/var/cache/herdwatch/arm64/vmlinux.btf}}
[ -s "$out" ] && exit 0
dir=$(dirname "$out")
mkdir -p "$dir"
tmp=$(mktemp -d "$dir/.fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
pkg=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-cloud-arm64-unsigned$' |
	awk '{print $1}' | sort -V | tail -n 1)
if [ -z "$pkg" ]; then
	echo "herdwatch: no Debian arm64 6.1 cloud kernel package is known to apt (is the arm64 architecture added: scripts/deps.sh --test?)" >&2
	exit 1
fi
(cd "$tmp" && apt-get download "$pkg:arm64" >/dev/null 2>&1) ||
	{ echo "herdwatch: cannot download $pkg:arm64" >&2; exit 1; }
dpkg-deb --fsys-tarfile "$tmp"/*.deb | tar -x -C "$tmp" --wildcards './boot/vmlinuz-*'
python3 - "$tmp"/boot/vmlinuz-* "$out.tmp" <<'PY'
import struct, sys
img = open(sys.argv[1], 'rb').read()
hdr = b'\x9f\xeb\x01\x00\x18\x00\x00\x00'
at = img.find(hdr)
while at >= 0:
    hdr_len, type_off, type_len, str_off, str_len = struct.unpack_from('<IIIII', img, at + 4)
    end = at + hdr_len + str_off + str_len
    if type_off == 0 and str_off == type_len and str_len > 0 and end <= len(img):
        open(sys.argv[2], 'wb').write(img[at:end])
        sys.exit(0)
    at = img.find(hdr, at + 1)
sys.exit('herdwatch: no BTF blob in ' + sys.argv[1])
PY
bpftool btf dump file "$out.tmp" format c >/dev/null ||
	{ echo "herdwatch: the BTF taken from $pkg does not parse" >&2; exit 1; }
mv "$out.tmp" "$out"
echo "herdwatch: arm64 kernel types from $pkg in $out" >&2
