#!/usr/bin/env bash
# lane: parallel (no BPF, no agent: runs beside the probe tests)
# Hostile input of issue 15. Strict JSON on ingest: a batch with an event holding a duplicate
# key, an escaped NUL in an identifier, invalid UTF-8 or a non-integer seq or pid is refused
# whole (counted by reason, one log line per connection, nothing of it stored). Every
# /api/events answer is valid UTF-8 JSON. The query API refuses foreign Host names (DNS
# rebinding), cross-origin state changes, oversized bodies and bad query parameters.
. "$(dirname "$0")/lib.sh"
FR="python3 $HW_ROOT/tests/collector/frames.py $TLS_PORT $T/pki/ca.pem $T/pki/web-7.pem $T/pki/web-7.key"

make_pki web-7 >/dev/null 2>&1 || { echo "not ok - pki: herdwatch-ca failed"; exit 1; }
# --console-requests: /api/request from a page (an Origin header) is refused without it
start_collector --learn-s 0 --http-host collector.example --console-requests || { echo "not ok - collector start"; exit 1; }

# --- strict JSON: each case on its own run id, so every batch's seqs are new
run=10
for c in dup_key nul_host bad_utf8 seq_exp seq_float seq_str pid_float; do
	run=$((run + 1))
	lines=$(wc -l <"$T/collector.log")
	r=$($FR $c web-7 $run)
	expect "strict_${c}_refused" "answer '$r'" grep -q closed <<<"$r"
	n=$(($(wc -l <"$T/collector.log") - lines))
	expect "strict_${c}_logged_once" "$n new log lines: $(tail -n 3 "$T/collector.log")" test "$n" -eq 1
done
rj=$(api /api/stats | jq -c .rejected)
expect strict_counted "rejected: $rj" test "$(jq '.dup_key == 1 and .nul_in_identifier == 1 and
	.bad_utf8 == 1 and .not_integer == 4' <<<"$rj")" = true
expect strict_nothing_stored "stored $(stat .events_stored)" test "$(stat .events_stored)" -eq 0
expect strict_dup_key_names_key "$(grep dup_key "$T/collector.log")" \
	grep -q 'frame refused (dup_key: duplicate key "name", batch refused)' "$T/collector.log"
expect strict_not_integer_names_field "$(grep not_integer "$T/collector.log" | tail -1)" \
	grep -q 'not_integer: field proc.pid is not an integer' "$T/collector.log"
expect strict_no_db1 "members: $(api /api/members | head -c 300)" \
	bash -c "! curl -sf http://127.0.0.1:$HTTP_PORT/api/members | grep -q db-1"

# valid UTF-8, escaped bytes (the agent's \u00XX) and an escaped NUL in an argument: stored
r=$($FR utf8_ok web-7 30)
expect strict_utf8_ok_stored "answer '$r'" test "$r" = "ack 2 0"
curl -s "http://127.0.0.1:$HTTP_PORT/api/events?member=web-7&limit=100" >"$T/events.json"
expect api_events_valid_utf8_json "$(head -c 300 "$T/events.json")" python3 -c '
import json, sys
d = json.loads(open(sys.argv[1], "rb").read().decode("utf-8", errors="strict"), strict=True)
ex = [e["event"]["proc"] for e in d["events"] if e["event"]["seq"] == 3002]
assert ex and ex[0]["exe"] == "/usr/bin/caf\u00e9 \u20ac" and ex[0]["args"] == ["\u00ff\u00fe", "a\u0000b"], ex
' "$T/events.json"
for ep in alerts members herds stats; do
	curl -s "http://127.0.0.1:$HTTP_PORT/api/$ep" >"$T/$ep.json"
done
expect api_all_valid_utf8_json "answers not valid" python3 -c '
import json, sys
for f in sys.argv[1:]:
    json.loads(open(f, "rb").read().decode("utf-8", errors="strict"), strict=True)
' "$T"/alerts.json "$T"/members.json "$T"/herds.json "$T"/stats.json

# --- HTTP: Host (DNS rebinding), Origin, body size, parameters
code() { curl -s -o "$T/body" -w '%{http_code}' "$@"; }
U=http://127.0.0.1:$HTTP_PORT
expect http_host_foreign_421 "got $(code -H 'Host: evil.example' $U/api/stats)" \
	test "$(code -H 'Host: evil.example' $U/api/stats)" = 421
expect http_host_foreign_port_421 "got $(code -H 'Host: 127.0.0.1:1' $U/api/stats)" \
	test "$(code -H "Host: 127.0.0.1:1" $U/api/stats)" = 421
expect http_host_allowed "localhost, ip:port, --http-host" test \
	"$(code -H 'Host: localhost' $U/api/stats)$(code $U/api/stats)$(code -H "Host: collector.example:$HTTP_PORT" $U/api/stats)" = 200200200
tok=$(cat "$T/c.db.api-token")
auth=(-H "Authorization: Bearer $tok")
expect http_origin_foreign_403 "got $(code -X POST "${auth[@]}" -H 'Origin: http://evil.example' --data 'host=web-7&arg=status' $U/api/request)" \
	test "$(code -X POST "${auth[@]}" -H 'Origin: http://evil.example' --data 'host=web-7&arg=status' $U/api/request)" = 403
expect http_origin_same_ok "got $(code -X POST "${auth[@]}" -H "Origin: http://127.0.0.1:$HTTP_PORT" --data 'host=web-7&arg=status' $U/api/request)" \
	test "$(code -X POST "${auth[@]}" -H "Origin: http://127.0.0.1:$HTTP_PORT" --data 'host=web-7&arg=status' $U/api/request)" = 200
expect http_fetch_site_cross_403 "got $(code -X POST "${auth[@]}" -H 'Sec-Fetch-Site: cross-site' --data 'host=web-7&arg=status' $U/api/request)" \
	test "$(code -X POST "${auth[@]}" -H 'Sec-Fetch-Site: cross-site' --data 'host=web-7&arg=status' $U/api/request)" = 403
head -c $((2 << 20)) /dev/zero | tr '\0' a >"$T/big"
c=$(code -X POST "${auth[@]}" --data-binary @"$T/big" $U/api/request)
expect http_body_limit "got $c" test "$c" = 413
big_hdr=$(head -c 40000 /dev/zero | tr '\0' b)
c=$(code -H "X-Big: $big_hdr" $U/api/stats)
expect http_header_limit "got $c" test "$c" != 200
for q in 'limit=abc' 'limit=-5' 'limit=0' 'limit=10001' 'limit=99999999999999999999' 'after=x' \
	'before=1e3' 'since=yesterday' 'until=2026-13-45T00:00:00Z' 'limt=5'; do
	c=$(code "$U/api/events?$q")
	expect "http_events_bad_param_400 ($q)" "got $c: $(cat "$T/body")" \
		bash -c "test $c = 400 && jq -e .error '$T/body' >/dev/null"
done
for q in 'kind=member.nonsense' 'limit=abc' 'since=x'; do
	c=$(code "$U/api/alerts?$q")
	expect "http_alerts_bad_param_400 ($q)" "got $c: $(cat "$T/body")" test "$c" = 400
done
expect http_stats_unknown_param_400 "got $(code "$U/api/stats?x=1")" test "$(code "$U/api/stats?x=1")" = 400
expect http_good_params_200 "events/alerts with valid parameters" test \
	"$(code "$U/api/events?limit=10000&after=0&since=2026-11-27T00:00:00Z")$(code "$U/api/alerts?kind=member.outlier&limit=5")" = 200200
expect cli_still_works "herdwatch events failed" \
	bash -c "$B/herdwatch --api 127.0.0.1:$HTTP_PORT events --member web-7 --json | grep -q web-7"
