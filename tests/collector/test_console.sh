#!/usr/bin/env bash
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
# token the page acknowledges; a new alert shows up without a reload. Here (curl): headers (CSP,
# nosniff, content types), parameter checks, and the same refusals outside a browser.
# Screenshots of the main pages go to build/console-shots/ (docs/console/ holds a copy).
. "$(dirname "$0")/lib.sh"
command -v chromium >/dev/null || { echo "not ok - chromium: not installed (scripts/deps.sh)"; exit 1; }
make_pki vm1 >/dev/null 2>&1 || { echo "not ok - pki: herdwatch-ca failed"; exit 1; }
start_collector --learn-s 2 --hold-ms 300 --min-herd 4 --silent-s 0 --change-window-s 600 || exit 1
BASE=http://127.0.0.1:$HTTP_PORT
TOKEN=$(cat "$T/c.db.api-token")
EV="python3 $HW_ROOT/tests/collector/console_events.py"
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

# ---- headers and parameters (curl) ----
hdr() { curl -s -o /dev/null -D - "$BASE$1" | tr -d '\r'; }
h=$(hdr /console/)
expect page_csp "headers: $h" grep -q "^Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self';.*frame-ancestors 'none'$" <<<"$h"
expect page_nosniff_html "headers: $h" grep -q '^X-Content-Type-Options: nosniff$' <<<"$h"
expect page_content_type "headers: $h" grep -q '^Content-Type: text/html; charset=utf-8$' <<<"$h"
expect script_content_type "headers: $(hdr /console/app.js)" grep -q '^Content-Type: text/javascript; charset=utf-8$' <<<"$(hdr /console/app.js)"
expect style_content_type "headers: $(hdr /console/style.css)" grep -q '^Content-Type: text/css; charset=utf-8$' <<<"$(hdr /console/style.css)"
expect api_nosniff "headers: $(hdr /api/alert-list)" grep -q '^X-Content-Type-Options: nosniff$' <<<"$(hdr /api/alert-list)"
expect root_redirects "headers: $(hdr /)" grep -q '^Location: /console/$' <<<"$(hdr /)"
expect page_no_inline_script "index.html: $(api /console/)" \
	test "$(api /console/ | grep -Ec '<script>|<script [^s]| on[a-z]+=')" -eq 0
code() { curl -s -o "$T/body" -w '%{http_code}' "$@"; }
expect unknown_file_404 "status" test "$(code "$BASE/console/../../etc/passwd")" != 200
for bad in '/api/alert-list?severity=high' '/api/alert-list?kind=x' '/api/alert-list?limit=0' \
	'/api/alert-list?color=red' '/api/alert?id=abc' '/api/alert' '/api/member' '/api/fleet?since=x' \
	'/api/herd-change?id=-1' '/api/coverage?hostx=1'; do
	c=$(code "$BASE$bad")
	expect "bad_param_400 $bad" "status $c, body $(cat "$T/body")" test "$c" = 400 -a "$(jq -r .error "$T/body")" != null
done
expect alert_404 "status" test "$(code "$BASE/api/alert?id=99999")" = 404
# the same refusals outside a browser
expect ack_get_refused "status" test "$(code "$BASE/api/ack?id=$M4")" = 405
expect ack_no_token_401 "status" test "$(code -X POST -d "id=$M4" "$BASE/api/ack")" = 401
expect ack_cross_origin_403 "body $(cat "$T/body")" test "$(code -X POST -H "Authorization: Bearer $TOKEN" \
	-H 'Origin: http://evil.example' -d "id=$M4" "$BASE/api/ack")" = 403
expect ack_cross_site_403 "body $(cat "$T/body")" test "$(code -X POST -H "Authorization: Bearer $TOKEN" \
	-H 'Sec-Fetch-Site: same-site' -d "id=$M4" "$BASE/api/ack")" = 403
expect ack_still_open "alert: $(api "/api/alert?id=$M4" | head -c 200)" \
	test "$(api "/api/alert?id=$M4" | jq -r .state)" = open
expect ack_missing_404 "status" test "$(code -X POST -H "Authorization: Bearer $TOKEN" -d 'id=99999' "$BASE/api/ack")" = 404
expect request_page_off_403 "body $(cat "$T/body")" test "$(code -X POST -H "Authorization: Bearer $TOKEN" \
	-H "Origin: $BASE" -d 'host=vm1&arg=enable&arg=file' "$BASE/api/request")" = 403

# ---- the browser ----
SHOTS=$B/console-shots
mkdir -p "$SHOTS"
export BASE TOKEN SHOTS TMP=$T M3 M4 CHANGE
python3 "$HW_ROOT/tests/collector/console_browser.py" >"$T/browser.out" 2>"$T/browser.err" &
bpid=$!
# the live case asks for one more attack while its page is open
while kill -0 $bpid 2>/dev/null; do
	if [ -e "$T/live.go" ]; then
		rm -f "$T/live.go"
		send attack2 --host vm1 --herd web --member m5
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
