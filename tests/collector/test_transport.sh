#!/usr/bin/env bash
# lane: parallel (no BPF, no agent: runs beside the probe tests)
# Transport: mutual TLS refuses agents without a fleet certificate (nothing stored); hostile
# frames close only their own connection, with a counted reason, while another agent streams.
# A certificate speaks only for its own host: events of another host are refused and counted,
# nothing of them is stored. Seqs are de-duplicated per agent run (the frame's run id).
. "$(dirname "$0")/lib.sh"
FR="python3 $HW_ROOT/tests/collector/frames.py $TLS_PORT $T/pki/ca.pem $T/pki/frames-host.pem $T/pki/frames-host.key"

make_pki frames-host vm1 vm1c vm2 relay >/dev/null 2>&1 || { echo "not ok - pki: herdwatch-ca failed"; exit 1; }
start_collector --learn-s 0 || { echo "not ok - collector start"; exit 1; }

# a valid frame from an independent encoder is stored and acknowledged
r=$($FR good)
expect frame_good_acked "answer '$r'" test "$r" = "ack 2 0"
r=$($FR good)
expect frame_resend_is_duplicate "answer '$r'" test "$r" = "ack 0 2"
# the same seqs in another run of the agent are new events; a version 1 frame (an agent from
# before run ids) is read as run 0
r=$($FR good frames-host 2)
expect frame_other_run_stored "answer '$r'" test "$r" = "ack 2 0"
r=$($FR good_v1)
expect frame_v1_acked "answer '$r'" test "$r" = "ack 2 0"
r=$($FR good_v1)
expect frame_v1_resend_is_duplicate "answer '$r'" test "$r" = "ack 0 2"
n_fh=$(api "/api/events?member=frames-host&limit=100" | jq '[.events[].event.seq] | length')
expect frame_runs_all_stored "stored $n_fh events of frames-host, expected 6" test "$n_fh" -eq 6

# a certificate for one host sending events of another: refused, counted, nothing stored
before=$(stat .events_stored)
r=$($FR good vm1)
expect host_mismatch_closed "answer '$r'" grep -q closed <<<"$r"
# a batch whose first event is the certificate's host and the second is not: refused whole,
# and its first event is not remembered as stored either (run 3 is new: both are new after)
r=$($FR mixed frames-host 3)
expect host_mismatch_mixed_closed "answer '$r'" grep -q closed <<<"$r"
r=$($FR good frames-host 3)
expect host_mismatch_mixed_nothing_kept "answer '$r'" test "$r" = "ack 2 0"
before=$((before + 2))
# the agent's own sender with a valid fleet certificate (vm1) claiming host vm1-forged
$GEN baseline --host vm1-forged --members m1 --rounds 2 >"$T/forged.jsonl" 2>/dev/null
replay vm1 forged --timeout-s 3 "$T/forged.jsonl" >"$T/forged.out" 2>&1
rc=$?
expect host_mismatch_replay_refused "replay exited $rc: $(cat "$T/forged.out")" test "$rc" -ne 0
expect host_mismatch_counted "rejected: $(api /api/stats | jq -c .rejected)" \
	test "$(stat .rejected.host_mismatch)" -ge 3
expect host_mismatch_nothing_stored "stored $(stat .events_stored), expected $before" \
	test "$(stat .events_stored)" = "$before"
expect host_mismatch_no_events "events: $(api '/api/events?member=vm1-forged&limit=5' | head -c 300)" \
	test "$(api '/api/events?member=vm1-forged&limit=5' | jq '.events | length')" -eq 0 -a \
	"$(api '/api/events?member=frames-host-other&limit=5' | jq '.events | length')" -eq 0 -a \
	"$(api '/api/events?member=vm1&limit=5' | jq '.events | length')" -eq 0
expect host_mismatch_no_member "members: $(api /api/members | head -c 300)" \
	bash -c "! curl -sf http://127.0.0.1:$HTTP_PORT/api/members | grep -q 'vm1-forged\|frames-host-other'"
expect host_mismatch_logged "$(tail -3 "$T/collector.log")" \
	grep -q '(vm1): event of host "vm1-forged", but the certificate is for "vm1"' "$T/collector.log"

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
# another certificate claiming the streaming agent's host and seqs: refused, and none of vm2's
# own events is taken for a duplicate of it
mm=$(stat .rejected.host_mismatch)
r=$($FR good vm2)
expect host_mismatch_forging_streamer_closed "answer '$r'" grep -q closed <<<"$r"
expect host_mismatch_forging_streamer_counted "host_mismatch $(stat .rejected.host_mismatch), was $mm" \
	test "$(stat .rejected.host_mismatch)" -gt "$mm"
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

# --- revocation: `herdwatch-ca revoke` writes the CRL; the collector checks it at every
# handshake and re-reads the file when it changes, closing the revoked agent's connection
CA=$HW_ROOT/scripts/herdwatch-ca
stop_collector
$CA agent "$T/pki" vm3 >/dev/null 2>&1 && $CA crl "$T/pki" >/dev/null
start_collector --learn-s 0 --crl "$T/pki/crl.pem" --relay-cert relay || notok crl_collector_start "$(tail -3 "$T/collector.log")"
$GEN baseline --host vm3 --members m1 --rounds 2000 >"$T/vm3.jsonl" 2>/dev/null
s0=$(stat .events_stored)
EXEC=1 replay vm3 vm3 --rate 300 --timeout-s 60 "$T/vm3.jsonl" >"$T/vm3.out" 2>&1 &
rp=$!
for _ in $(seq 50); do [ "$(stat .events_stored)" -gt "$s0" ] && break; sleep 0.1; done
expect crl_valid_agent_accepted "nothing stored from vm3" test "$(stat .events_stored)" -gt "$s0"
loads=$(stat .crl_loads)
$CA revoke "$T/pki" vm3 >/dev/null
for _ in $(seq 50); do [ "$(stat .revoked_closed)" -ge 1 ] && break; sleep 0.1; done
expect crl_reloaded_on_change "crl_loads $(stat .crl_loads), was $loads" test "$(stat .crl_loads)" -gt "$loads"
expect crl_open_connection_closed "revoked_closed=$(stat .revoked_closed)" test "$(stat .revoked_closed)" -ge 1
expect crl_close_logged "$(tail -3 "$T/collector.log")" grep -q "(vm3): certificate revoked, connection closed" "$T/collector.log"
n1=$(stat .events_stored)
refused=$(stat .tls_refused)
sleep 2
expect crl_revoked_reconnect_refused "tls_refused $(stat .tls_refused), was $refused" test "$(stat .tls_refused)" -gt "$refused"
expect crl_revoked_nothing_more_stored "stored $(stat .events_stored), was $n1" test "$(stat .events_stored)" -eq "$n1"
expect crl_refusal_names_reason "$(tail -2 "$T/collector.log")" grep -q "TLS refused: agent certificate: certificate revoked" "$T/collector.log"
kill "$rp" 2>/dev/null
wait "$rp" 2>/dev/null
$GEN baseline --host vm1c --members m1 --rounds 3 >"$T/vm1c.jsonl" 2>/dev/null
replay vm1c vm1c --timeout-s 10 "$T/vm1c.jsonl" >"$T/vm1c.out" 2>&1
expect crl_other_agent_still_accepted "replay: $(cat "$T/vm1c.out")" test "$(stored_seqs vm1c | wc -l)" -eq "$(wc -l <"$T/vm1c.jsonl")"
# --relay-cert: that one certificate may send events of any host (a relay, a load generator)
$GEN baseline --host relayed-a --members m1 --rounds 2 >"$T/relayed.jsonl" 2>/dev/null
$GEN baseline --host relayed-b --members m1 --rounds 2 >>"$T/relayed.jsonl" 2>/dev/null
replay relay relayed --timeout-s 10 "$T/relayed.jsonl" >"$T/relayed.out" 2>&1
expect relay_cert_any_host "replay: $(cat "$T/relayed.out")" \
	test "$(stored_seqs relayed-a | wc -l)" -gt 0 -a "$(stored_seqs relayed-b | wc -l)" -gt 0
expect relay_logged "$(grep relay "$T/collector.log" | tail -2)" grep -q "(relay): relay certificate (--relay-cert), may send events of any host" "$T/collector.log"
mm=$(stat .rejected.host_mismatch)
replay vm1c relayed-by-vm1c --timeout-s 3 "$T/relayed.jsonl" >/dev/null 2>&1
expect relay_only_named_cert "host_mismatch $(stat .rejected.host_mismatch), was $mm" \
	test "$(stat .rejected.host_mismatch)" -gt "$mm"
# bad revocation lists are refused at start with a message naming the problem
stop_collector
$CA crl "$T/rogue" >/dev/null
start_collector_once --crl "$T/rogue/crl.pem" >/dev/null 2>&1
expect crl_foreign_refused "$(tail -2 "$T/collector.log")" grep -q "crl.pem refused: a CRL in it is not signed by the fleet CA" "$T/collector.log"
start_collector_once --crl "$T/nonexistent.pem" >/dev/null 2>&1
expect crl_missing_refused "$(tail -2 "$T/collector.log")" grep -q "crl $T/nonexistent.pem: No such file or directory" "$T/collector.log"
echo "not a crl" >"$T/junk.pem"
start_collector_once --crl "$T/junk.pem" >/dev/null 2>&1
expect crl_junk_refused "$(tail -2 "$T/collector.log")" grep -q "junk.pem refused: no PEM CRL in it" "$T/collector.log"
