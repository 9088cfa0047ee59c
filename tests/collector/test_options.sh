#!/usr/bin/env bash
# lane: parallel (no BPF, no agent: runs beside the probe tests)
# The collector's command line and start-up steps (collector/options.c, setup.c, main.c): a
# wrong option or mode is a specific line and exit 2 before anything is opened (no database
# file appears); each start-up step that fails says which and exits 1; --mode all (the
# default) starts, writes the API token file where it is told to, and a SIGTERM commits and
# ends with status 0.
. "$(dirname "$0")/lib.sh"
make_pki >/dev/null 2>&1 || { echo "not ok - pki: herdwatch-ca failed"; exit 1; }
TLS=(--ca "$T/pki/ca.pem" --cert "$T/pki/collector.pem" --key "$T/pki/collector.key")

# run_coll NAME ARGS...: runs the collector to its end (it must not start: 10 s at most),
# its status in $RC and its stderr in $T/NAME.err
run_coll() {
	local name=$1
	shift
	timeout 10 "$B/herdwatch-collector" "$@" >/dev/null 2>"$T/$name.err"
	RC=$?
}
# refused NAME STATUS TEXT ARGS...: the run ends with STATUS, stderr holds TEXT
refused() {
	local name=$1 want=$2 text=$3
	shift 3
	run_coll "$name" "$@"
	if [ "$RC" != "$want" ]; then
		notok "$name" "exit status $RC, want $want; stderr: $(head -c 300 "$T/$name.err")"
	elif ! grep -qF -- "$text" "$T/$name.err"; then
		notok "$name" "stderr lacks '$text': $(head -c 300 "$T/$name.err")"
	else
		ok "$name"
	fi
}
P="--listen 127.0.0.1:$TLS_PORT --http 127.0.0.1:$HTTP_PORT"

refused mode_unknown 2 "--mode worker-x: unknown mode (one of: all, ingest, worker, events, api)" \
	"${TLS[@]}" --db "$T/mode.db" --mode worker-x
expect mode_unknown_opens_nothing "$T/mode.db exists" test ! -e "$T/mode.db"
refused no_tls_files 2 "usage: herdwatch-collector --ca FILE" --db "$T/u.db"
refused unknown_option 2 "usage: herdwatch-collector" "${TLS[@]}" --db "$T/u.db" --no-such
relays=()
for i in $(seq 17); do relays+=(--relay-cert "r$i"); done
refused relay_cert_at_most_16 2 "--relay-cert: at most 16 non-empty names" \
	"${TLS[@]}" --db "$T/u.db" "${relays[@]}"
refused http_host_not_empty 2 "--http-host: at most 16 non-empty names" \
	"${TLS[@]}" --db "$T/u.db" --http-host ""
hdrs=()
for i in $(seq 9); do hdrs+=(--webhook-header "X-H$i: v"); done
refused webhook_header_at_most_8 2 "--webhook-header: at most 8" \
	"${TLS[@]}" --db "$T/u.db" --webhook http://127.0.0.1:9/ "${hdrs[@]}"
expect options_open_nothing "$T/u.db exists after refused options" test ! -e "$T/u.db"

# the start-up steps, each failing on its own
refused tls_step_bad_key 1 "cannot load TLS files" --ca "$T/pki/ca.pem" \
	--cert "$T/pki/collector.pem" --key "$T/pki/ca.pem" --db "$T/s.db" $P
refused crl_step_missing 1 "--crl $T/none.crl: No such file or directory" \
	"${TLS[@]}" --db "$T/s.db" --crl "$T/none.crl" $P
refused listen_step_bad_address 1 "bad --listen nonsense" \
	"${TLS[@]}" --db "$T/s.db" --listen nonsense --http "127.0.0.1:$HTTP_PORT"
refused http_step_bad_address 1 "cannot serve HTTP on 127.0.0.1:0x" \
	"${TLS[@]}" --db "$T/s.db" --listen "127.0.0.1:$TLS_PORT" --http 127.0.0.1:0x

# --mode all starts; the token file is where --api-token-file says, or DB.api-token
start_collector --mode all --api-token-file "$T/tok" || { notok mode_all_starts "see above"; exit 1; }
ok mode_all_starts
expect api_token_file_written "no 64-hex-digit token in $T/tok" grep -qE '^[0-9a-f]{64}$' "$T/tok"
expect api_token_mode_0600 "mode $(command stat -c %a "$T/tok" 2>/dev/null)" \
	test "$(command stat -c %a "$T/tok")" = 600
kill -TERM "$COLL_PID"
wait "$COLL_PID"
rc=$?
COLL_PID=
expect sigterm_exit_0 "exit status $rc" test "$rc" = 0
expect sigterm_commits "no exit line in the log" grep -q "signal 15, committing and exiting" "$T/collector.log"
start_collector || { notok default_token_file "the collector did not start"; exit 1; }
expect default_token_file "no token in $T/c.db.api-token" grep -qE '^[0-9a-f]{64}$' "$T/c.db.api-token"
stop_collector
exit 0
