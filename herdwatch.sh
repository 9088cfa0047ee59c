#!/usr/bin/env bash
# herdwatch entry point: installs dependencies from Debian's packages, builds, and runs.
#   ./herdwatch.sh run [agent options]   build and run the agent on this host (JSON lines on stdout)
#   ./herdwatch.sh test                  build and run the whole test suite
#   ./herdwatch.sh test-kernels [NAME...] build and run the kernel matrix: the probe tests on Debian's
#                                        kernels under qemu (tests/kernels/kernels.list)
#   ./herdwatch.sh bench                 build and run the benchmarks (installs auditd, bpftrace, ...)
#   ./herdwatch.sh bench-kernels [NAME...] bench/floor.sh inside the matrix's VMs: herdwatch against
#                                        empty programs on the same hooks, per kernel
#   ./herdwatch.sh test-packages         build the Debian packages, check them with lintian, install
#                                        them into a Debian 12 root booted with systemd (nspawn) and
#                                        test the services there (tests/packages/run)
#   ./herdwatch.sh build                 only install dependencies and build
set -euo pipefail
cd "$(dirname "$0")"
cmd="${1:-run}"
shift || true
if [ "$(id -u)" -ne 0 ]; then
	echo "herdwatch: run as root (the agent loads BPF programs; setup installs packages)" >&2
	exit 1
fi
case "$cmd" in
bench) scripts/deps.sh --bench ;;
test) scripts/deps.sh --test && scripts/arm64-btf.sh ;;
test-packages) scripts/deps.sh --packages ;;
*) scripts/deps.sh ;;
esac
make -s -j"$(nproc)" all
case "$cmd" in
run) exec build/herdwatch-agent "$@" ;;
test) exec tests/run "$@" ;;
test-kernels) exec tests/kernels/run "$@" ;;
test-packages) exec tests/packages/run "$@" ;;
bench-kernels)
	# the lockdown configuration refuses the programs: nothing to measure there
	[ $# -gt 0 ] || set -- 6.1 6.12 6.1-nobpflsm
	HW_VM_TIMEOUT=${HW_VM_TIMEOUT:-5400} HW_KERNEL_APPEND="${HW_KERNEL_APPEND:-} hw.bench=${HW_BENCH_ROUNDS:-12}" \
		exec tests/kernels/run "$@" ;;
bench) exec bench/run "$@" ;;
build) ;;
*) echo "herdwatch: unknown command '$cmd' (run, test, test-kernels, test-packages, bench, bench-kernels, build)" >&2; exit 2 ;;
esac
