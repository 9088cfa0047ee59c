#!/usr/bin/env bash
# lane: parallel (no BPF, no agent: runs beside the probe tests)
# The fleet simulation at its small size (bench/fleetsim/fleetsim.c; docs/collector.md "Fleet
# simulation"): six herds of hosts and containers (3 to 12 members) for 2.25 days of virtual
# time, judged by the collector's own parser, token extraction and herd engine. Asserts recall
# within 5 s (>= 95%), intruder sequences paged (>= 90%), p95 latency (<= 2 s), and for
# precision of pages, pages during release waves and false pages per 1000 member-days what the
# engine reaches at this size with one page of margin (the targets of issue 18 are for the full
# size: bench/fleetsim/fleetsim.c, --check); that the spooled intrusion's alert is marked late,
# and that the same seed gives the same alerts.
set -u
HW_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SIM=$HW_ROOT/build/bench/fleetsim
[ -x "$SIM" ] || make -s -C "$HW_ROOT" build/bench/fleetsim >/dev/null || { echo "not ok - build: fleetsim"; exit 1; }
T=$(mktemp -d /tmp/hw-fleetsim.XXXXXX)
trap 'rm -rf "$T"' EXIT
"$SIM" --size small --seed 18 --check --alerts "$T/a1.jsonl" >"$T/out" 2>"$T/err"
rc=$?
cat "$T/out"
[ "$rc" -le 1 ] || { echo "not ok - fleetsim_ran: exit $rc: $(tail -3 "$T/err")"; exit 1; }
"$SIM" --size small --seed 18 --alerts "$T/a2.jsonl" >/dev/null 2>&1
if cmp -s "$T/a1.jsonl" "$T/a2.jsonl" && [ -s "$T/a1.jsonl" ]; then
	echo "ok - fleetsim_deterministic"
else
	echo "not ok - fleetsim_deterministic: two runs with seed 18 gave different alerts"
fi
# the alerts read well: a page names member, tokens, evidence; a folded page says so
if jq -e -s '[.[] | select(.kind == "member.outlier" and .severity == "alert")] | length > 0 and
	all(.explanation | test("^[^ ]+ .* of [0-9]+ peers.*(never seen in this herd in|first seen in this herd)"))' \
	"$T/a1.jsonl" >/dev/null &&
	jq -e -s '[.[] | select(.kind == "member.folded")] | length > 0 and
	all(.explanation | test("became part of (herd|cohort) change #[0-9]+ .*not an outlier"))' "$T/a1.jsonl" >/dev/null; then
	echo "ok - fleetsim_alerts_explained"
else
	echo "not ok - fleetsim_alerts_explained: a page or a follow-up without member, tokens or evidence"
fi
