#!/usr/bin/env bash
# lane: parallel (no BPF, no agent: runs beside the probe tests)
# The web console (issue 21) in a real browser: headless Chromium, driven through the DevTools
# protocol (tests/collector/cdp.py), against a collector fed a small herd: web = five containers
# m1..m5 on host vm1 whose heartbeat says file.open is unavailable; m3 is attacked (shell from
# nginx, nc to 203.0.113.7:4444, cat /etc/shadow), m4 runs a process whose exe, argv (with
# bytes that are not UTF-8), file path and DNS name carry markup, and a deploy changes the herd.
# Cases (console_browser.py): fleet counts and blind probes; the attack's alert newest first,
# filters; the alert opens to its tokens, peer counts and events; the member's process tree
# shows the shell with nc's connection under it; the herd change; hostile strings render as
# text (no element made, title untouched, no CSP violation); state-changing calls without the
# token, with a wrong one, and /api/request without --console-requests are refused; another
# origin's page cannot acknowledge (no-cors fetch, preflighted fetch, form post); with the
# token the page acknowledges; a new alert shows up without a reload; restarted with
# --console-requests, the member page's button sends the request. Before the browser, plain
# HTTP: headers (CSP, nosniff, content types), parameter checks, and the same refusals outside
# a browser.
# Screenshots of the main pages go to build/console-shots/ (docs/console/ holds a copy).
. "$(dirname "$0")/lib.sh"
command -v chromium >/dev/null || { echo "not ok - chromium: not installed (scripts/deps.sh)"; exit 1; }
make_pki vm1 >/dev/null 2>&1 || { echo "not ok - pki: herdwatch-ca failed"; exit 1; }
start_collector --learn-s 2 --hold-ms 300 --min-herd 4 --silent-s 0 --change-window-s 600 || exit 1
BASE=http://127.0.0.1:$HTTP_PORT
TOKEN=$(cat "$T/c.db.api-token")
# python3 itself, not a version manager's wrapper script (each start counts on a loaded machine)
PY=$(command -v /usr/bin/python3 || command -v python3)
EV="$PY $HW_ROOT/tests/collector/console_events.py"
GEN="$PY $HW_ROOT/bench/gen_events.py"
seq=1
# send MODE [gen_events.py options]: the next events of vm1, shipped
send() {
	local f=$T/ev-$RANDOM.jsonl gen=$EV
	case $1 in baseline|deploy|attack2) gen=$GEN ;; esac
	$gen "$@" --seq-start $seq >"$f" 2>"$f.next" || return 1
	seq=$(cat "$f.next")
	replay vm1 vm1 --timeout-s 20 "$f" >/dev/null 2>&1
}
# wait_alert JQ-FILTER: id of the first stored alert matching (5 s at most)
wait_alert() {
	local id
	for _ in $(seq 50); do
		id=$(api '/api/alerts?limit=1000' | jq -r "[.alerts[] | select(.alert | $1)][0].id // empty")
		[ -n "$id" ] && { echo "$id"; return 0; }
		sleep 0.1
	done
	return 1
}
send learn
sleep 2.3
send learn --rounds 1
send attack
M3=$(wait_alert '.member == "vm1/m3" and .kind == "member.outlier"')
send hostile
M4=$(wait_alert '.member == "vm1/m4" and .kind == "member.outlier"')
send deploy --host vm1 --herd web --members m1,m2,m3,m4,m5
CHANGE=$(wait_alert '.kind == "herd.change"')
expect alerts_raised "m3 '$M3' m4 '$M4' change '$CHANGE'; alerts: $(cat "$T/alerts.jsonl")" \
	test -n "$M3" -a -n "$M4" -a -n "$CHANGE"
[ -n "$M3" ] && [ -n "$M4" ] && [ -n "$CHANGE" ] || exit 1

# the rest runs in python (console_browser.py: HTTP checks, then the browser), one process
# rather than hundreds of curl calls; it asks for one more attack (live.go) and a restart with
# --console-requests (restart.go)
SHOTS=$B/console-shots
mkdir -p "$SHOTS"
export BASE TOKEN SHOTS TMP=$T M3 M4 CHANGE
$PY "$HW_ROOT/tests/collector/console_browser.py" >"$T/browser.out" 2>"$T/browser.err" &
bpid=$!

# ---- serve the browser half's requests (one more attack, a restart), then its results ----
while kill -0 $bpid 2>/dev/null; do
	if [ -e "$T/live.go" ]; then
		rm -f "$T/live.go"
		send attack2 --host vm1 --herd web --member m5
	fi
	if [ -e "$T/restart.go" ]; then
		rm -f "$T/restart.go"
		stop_collector
		start_collector --learn-s 2 --hold-ms 300 --min-herd 4 --silent-s 0 --change-window-s 600 \
			--console-requests && cp "$T/c.db.api-token" "$T/restart.done"
	fi
	sleep 0.1
done
wait $bpid
brc=$?
cat "$T/browser.out"
grep -q '^not ok' "$T/browser.out" && FAILED=1
if [ "$brc" -ne 0 ] && ! grep -q '^not ok' "$T/browser.out"; then
	notok browser "driver exited $brc: $(tail -3 "$T/browser.err")"
fi
expect screenshots_saved "$(ls "$SHOTS")" test "$(ls "$SHOTS"/*.png 2>/dev/null | wc -l)" -ge 6
exit $FAILED
