#!/usr/bin/env bash
# Transport: mutual TLS refuses agents without a fleet certificate (nothing stored); hostile
# frames close only their own connection, with a counted reason, while another agent streams.
. "$(dirname "$0")/lib.sh"
FR="python3 $HW_ROOT/tests/collector/frames.py $TLS_PORT $T/pki/ca.pem $T/pki/vm1.pem $T/pki/vm1.key"

make_pki vm1 vm2 >/dev/null 2>&1 || { echo "not ok - pki: herdwatch-ca failed"; exit 1; }
start_collector --learn-s 0 || { echo "not ok - collector start"; exit 1; }

# a valid frame from an independent encoder is stored and acknowledged
r=$($FR good)
expect frame_good_acked "answer '$r'" test "$r" = "ack 2 0"
r=$($FR good)
expect frame_resend_is_duplicate "answer '$r'" test "$r" = "ack 0 2"

# refused credentials: no certificate, and a certificate from another CA
before=$(stat .events_stored)
r=$($FR no_cert)
expect tls_no_cert_refused "answer '$r'" grep -q closed <<<"$r"
$GEN baseline --host rogue-host --members m1 --rounds 2 >"$T/rogue.jsonl" 2>/dev/null
replay rogue rogue --timeout-s 3 "$T/rogue.jsonl" >"$T/rogue.out" 2>&1
rc=$?
expect tls_wrong_ca_refused "replay exited $rc: $(cat "$T/rogue.out")" test "$rc" -ne 0
expect tls_refused_counted "tls_refused=$(stat .tls_refused)" test "$(stat .tls_refused)" -ge 2
expect tls_refused_nothing_stored "stored $(stat .events_stored), was $before" \
	test "$(stat .events_stored)" = "$before"
expect tls_refused_no_member "members: $(api /api/members)" \
	bash -c "! curl -sf http://127.0.0.1:$HTTP_PORT/api/members | grep -q rogue-host"

# a well-behaved agent streams while hostile frames arrive on other connections
$GEN baseline --host vm2 --members m1,m2 --rounds 1000 >"$T/vm2.jsonl" 2>/dev/null
n=$(wc -l <"$T/vm2.jsonl")
replay vm2 vm2 --rate 4000 --timeout-s 60 "$T/vm2.jsonl" >"$T/vm2.out" 2>&1 &
rp=$!
sleep 0.5
for c in garbage oversized bad_version bad_count decompress; do
	r=$($FR $c)
	expect "frame_${c}_closed" "answer '$r'" grep -q closed <<<"$r"
done
$FR truncated >/dev/null
sleep 0.3
rj=$(api /api/stats | jq -c .rejected)
for reason in bad_magic oversized bad_version bad_count decompress truncated; do
	expect "frame_${reason}_counted" "rejected: $rj" test "$(jq ".$reason" <<<"$rj")" -ge 1
done
wait $rp
rc=$?
expect other_agent_served "replay rc $rc: $(cat "$T/vm2.out")" test "$rc" -eq 0
got=$(stored_seqs vm2 | sort -n | uniq | wc -l)
expect other_agent_all_stored "stored $got of $n" test "$got" -eq "$n"
expect collector_still_running "collector exited" kill -0 "$COLL_PID"
