#!/usr/bin/env bash
# Parse + extract per event, two builds of the collector's JSON and token code compared.
#   bench/parse_extract.sh [OLD_REV] [ROUNDS] [PASSES] [CPU]
# Builds bench/parse/parse_extract.c against OLD_REV's collector/ (default: the merge base with
# main) and against the work tree, records 5,001 events of bench/gen_events.py (a 5-container
# web service: exec, accept, connect, open), then runs the two binaries alternately, ROUNDS
# times each (default 15), each run PASSES passes over the events (default 60), pinned to CPU
# (default 1) with taskset. Prints every run, then per build the median and the range in ns
# per event. Compiled with the flags the collector's per-event objects use (-O3).
set -euo pipefail
cd "$(dirname "$0")/.."
OLD=${1:-$(git merge-base main HEAD)}
ROUNDS=${2:-15}
PASSES=${3:-60}
CPU=${4:-1}
T=$(mktemp -d /tmp/hw-parse.XXXXXX)
trap 'rm -rf "$T"' EXIT
FLAGS="-O3 -g -std=gnu11 -D_GNU_SOURCE -fno-strict-aliasing -Wall -Wextra -Wno-unused-parameter"
mkdir -p "$T/old"
git archive "$OLD" collector | tar -x -C "$T/old"
lax=
grep -q json_parse_strict "$T/old/collector/json.h" || lax=-DHW_PARSE_LAX
gcc $FLAGS $lax -I"$T/old" bench/parse/parse_extract.c "$T/old/collector/json.c" \
	"$T/old/collector/tokens.c" -o "$T/pe-old" -lm -lpsl
gcc $FLAGS -I. bench/parse/parse_extract.c collector/json.c collector/tokens.c -o "$T/pe-new" -lm -lpsl
python3 bench/gen_events.py baseline --host vm --members m1,m2,m3,m4,m5 --rounds 200 \
	>"$T/ev.jsonl" 2>/dev/null
echo "events: $(wc -l <"$T/ev.jsonl") ($(($(wc -c <"$T/ev.jsonl") / $(wc -l <"$T/ev.jsonl"))) B each), old = $(git rev-parse --short "$OLD"), new = work tree, CPU $CPU"
for r in $(seq "$ROUNDS"); do
	for b in old new; do
		ns=$(taskset -c "$CPU" "$T/pe-$b" "$T/ev.jsonl" "$PASSES" | cut -d' ' -f1)
		echo "$b $ns" | tee -a "$T/runs"
	done
done
for b in old new; do
	grep "^$b " "$T/runs" | cut -d' ' -f2 | sort -g | awk -v b="$b" '{ v[NR] = $1 }
		END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		      printf "%s: median %.1f ns per event, range %.1f-%.1f (%d runs)\n", b, m, v[1], v[NR], NR }'
done
