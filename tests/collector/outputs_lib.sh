# Helpers of the output tests (sourced after lib.sh): a real rsyslogd with its own config
# (TCP and UDP on loopback, a unix socket in $T, everything into $T/syslog.out, one line per
# message: input|pri|timestamp|hostname|app|procid|msgid|msg), and the webhook receiver
# (webhook_recv.py: HTTP or HTTPS with a test certificate, every POST into $T/hook-NAME.jsonl).
# The system's rsyslog is never touched (SysSock.Use="off": not /dev/log).
RSYSLOG_PID=
SYSLOG_PORT=$((TLS_PORT + 2))
HOOK_PORT=$((TLS_PORT + 3))
HOOK_PID=

# start_rsyslog: returns when it accepts TCP connections
start_rsyslog() {
	mkdir -p "$T/rsyslog"
	cat >"$T/rsyslog.conf" <<EOC
global(workDirectory="$T/rsyslog" maxMessageSize="64k")
module(load="imtcp")
module(load="imudp")
module(load="imuxsock" SysSock.Use="off")
template(name="hw" type="string" string="%inputname%|%pri%|%timereported:::date-rfc3339%|%hostname%|%app-name%|%procid%|%msgid%|%msg%\n")
ruleset(name="hw") { action(type="omfile" file="$T/syslog.out" template="hw") }
input(type="imtcp" port="$SYSLOG_PORT" address="127.0.0.1" ruleset="hw")
input(type="imudp" port="$SYSLOG_PORT" address="127.0.0.1" ruleset="hw")
input(type="imuxsock" Socket="$T/log.sock" useSpecialParser="off" parseHostname="on" ruleset="hw")
EOC
	/usr/sbin/rsyslogd -n -f "$T/rsyslog.conf" -i "$T/rsyslog.pid" >>"$T/rsyslog.log" 2>&1 &
	RSYSLOG_PID=$!
	started rsyslogd "$T/rsyslog.log" tcp_open "$SYSLOG_PORT"
}

stop_rsyslog() { stop_bg RSYSLOG_PID; }

# make_web_cert: a CA and a certificate for 127.0.0.1 signed by it ($T/web/ca.pem, srv.pem, srv.key)
make_web_cert() {
	local d=$T/web
	mkdir -p "$d"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-subj /CN=hw-test-web-ca -keyout "$d/ca.key" -out "$d/ca.pem" >/dev/null 2>&1 &&
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
			-subj /CN=127.0.0.1 -keyout "$d/srv.key" -out "$d/srv.csr" >/dev/null 2>&1 &&
		printf 'subjectAltName=IP:127.0.0.1\n' >"$d/ext" &&
		openssl x509 -req -in "$d/srv.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
			-days 2 -extfile "$d/ext" -out "$d/srv.pem" >/dev/null 2>&1
}

# start_hook NAME [tls]: the receiver on $HOOK_PORT writing $T/hook-NAME.jsonl
start_hook() {
	local tls=()
	[ "${2:-}" = tls ] && tls=(--cert "$T/web/srv.pem" --key "$T/web/srv.key")
	python3 "$HW_ROOT/tests/collector/webhook_recv.py" --port "$HOOK_PORT" --out "$T/hook-$1.jsonl" \
		--status-file "$T/hook-status" "${tls[@]}" >"$T/hook.log" 2>&1 &
	HOOK_PID=$!
	started "webhook receiver" "$T/hook.log" grep -q listening "$T/hook.log"
}

stop_hook() { stop_bg HOOK_PID; }

# started WHAT LOG COMMAND...: returns when COMMAND succeeds (5 s at most); otherwise says
# that WHAT did not start, with its LOG
started() {
	local what=$1 log=$2
	shift 2
	poll 5 "$@" && return 0
	echo "# $what did not start: $(cat "$log")"
	return 1
}

# tcp_open PORT: whether something accepts TCP connections on 127.0.0.1:PORT
tcp_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# stop_bg VAR: the background process whose pid VAR holds ended and reaped; VAR emptied
stop_bg() {
	local pid=${!1}
	[ -n "$pid" ] || return 0
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	printf -v "$1" '%s' ''
}

# pollx SECONDS 'SHELL CODE': until the code (evaluated anew each time) succeeds
pollx() {
	local n=$(($1 * 10))
	for _ in $(seq "$n"); do
		eval "$2" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# poll SECONDS COMMAND...: until COMMAND succeeds (status 0) or the time is up
poll() {
	local n=$(($1 * 20))
	shift
	for _ in $(seq "$n"); do
		"$@" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
