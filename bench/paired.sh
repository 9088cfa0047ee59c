# shellcheck shell=bash
# bench/paired.sh - sourced by the pinned, interleaved benchmarks (bench/cap.sh,
# bench/file_watch.sh, bench/floor.sh): the statistics of one (workload, monitor) against the
# same rounds without a monitor.

# median: the median of the numbers on stdin, one per line (the upper one of an even count);
# 0 for none
median() { sort -g | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print 0}'; }

# paired RUNS BASE: RUNS and BASE hold one number per round, in round order (BASE: the runs
# without a monitor). Prints "MEDIAN LOW HIGH PAIRED_MEDIAN PAIRED_LOW PAIRED_HIGH": the runs'
# median and range, and the median and range of each round's run against the same round's base
# in percent (adjacent in time, so a slow period of the machine weighs on both).
paired() {
	local p med lo hi
	med=$(median <"$1")
	lo=$(sort -g "$1" | head -1)
	hi=$(sort -g "$1" | tail -1)
	p=$(paste "$1" "$2" | awk '$2 > 0 {printf "%.6f\n", ($1 - $2) * 100 / $2}')
	echo "$med $lo $hi $(median <<<"$p") $(sort -g <<<"$p" | head -1) $(sort -g <<<"$p" | tail -1)"
}
