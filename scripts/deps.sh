#!/usr/bin/env bash
# Install herdwatch's build, run and test dependencies from Debian's packages.
# Idempotent: does nothing when everything is already present.
set -euo pipefail
PKGS=(make gcc clang llvm clang-format pkg-config libbpf-dev bpftool libelf-dev zlib1g-dev libyaml-dev
      libssl-dev libzstd-dev libevent-dev libsqlite3-dev sqlite3 openssl
      libpsl-dev publicsuffix
      jq curl iproute2 procps util-linux psmisc kmod python3
      pamtester openssh-server openssh-client sshpass sudo dnsmasq-base netcat-openbsd)
PKGS+=(libcap2-bin) # priv probe tests: setcap
PKGS+=(nats-server libnats-dev) # scale-out mode (docs/scale-out.md): the C client; tests run a
                                # 3-node JetStream cluster of their own on loopback
PKGS+=(rsyslog) # output tests: a real syslog receiver (started by the test, own config)
PKGS+=(chromium)    # tests/collector/test_console.sh: the web console in a real browser
PKGS+=(containerd runc busybox-static) # tests/probes/test_container.sh: a containerd of the
                                      # test's own running an image built from busybox-static
PKGS+=(prometheus prometheus-node-exporter) # metrics tests: promtool, a real server scraping
                                            # /metrics, the textfile collector the agent writes for
# the test command also cross-builds the BPF object and the agent for arm64 (tests/style/
# test_arm64.sh): Debian's cross compiler and the arm64 libraries through multiarch
CROSS=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross libbpf-dev:arm64 libelf-dev:arm64 zlib1g-dev:arm64
       libyaml-dev:arm64 libssl-dev:arm64 libzstd-dev:arm64)
if [ "${1:-}" = "--test" ]; then
	if ! dpkg --print-foreign-architectures | grep -qx arm64; then
		[ "$(id -u)" -eq 0 ] || { echo "herdwatch: the arm64 cross-build needs root to add the architecture" >&2; exit 1; }
		dpkg --add-architecture arm64
	fi
	PKGS+=("${CROSS[@]}")
fi
if [ "${1:-}" = "--bench" ]; then
	PKGS+=(auditd bpftrace hyperfine wrk gnuplot-nox stress-ng linux-perf) # busybox: busybox-static, above (they conflict)
fi
if [ "${1:-}" = "--packages" ]; then # ./herdwatch.sh test-packages: build, check, boot a root
	PKGS+=(debhelper lintian fakeroot debootstrap systemd-container)
fi
missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "herdwatch: missing packages ${missing[*]}; run as root to install them" >&2
		exit 1
	fi
	echo "herdwatch: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null
	# sshd and auditd must not start as services merely because they were installed
	printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
	apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
	rm -f /usr/sbin/policy-rc.d
fi
