# bench/cputime.sh - sourced by bench/run and bench/footprint.sh (and
# tests/probes/test_bench_count.sh): a monitor's CPU time.
#
# proc_cpu_ns PID: the CPU time (user + system, ns) of the whole process PID so far, the
# threads that have exited included (build/bench/hw-cputime: the process's CPU clock); 0 when
# there is no such process. A sum over /proc/PID/task/*/schedstat, what was read before, counts
# only the threads alive at the reading: a thread that exited during a run took its time out
# of the run's end reading, and a monitor's CPU over a run could come out negative.
HW_CPUTIME=${HW_CPUTIME:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/build/bench/hw-cputime}

proc_cpu_ns() {
	local pid=$1
	[ -n "$pid" ] && [ -d "/proc/$pid" ] || { echo 0; return; }
	"$HW_CPUTIME" "$pid"
}
