# tests/packages/cases.sh - the cases tests/packages/run runs inside the booted root (sourced;
# uses its helpers: in_root, prop, api, runseq, check, wait_for, ok, not_ok).

# Install the three packages the way a user does, with apt, and check what the installation made.
case_install() {
	if in_root env DEBIAN_FRONTEND=noninteractive bash -c 'apt-get install -y -q \
		/root/debs/herdwatch_*.deb /root/debs/herdwatch-agent_*.deb \
		/root/debs/herdwatch-collector_*.deb' >"$W/install.log" 2>&1; then
		ok install_three_packages
	else
		die install_three_packages "apt-get install: $(tail -n 5 "$W/install.log" | tr '\n' ' ')"
	fi
	local cf
	cf=$(in_root dpkg-query -W -f='${Conffiles}\n' herdwatch-agent herdwatch-collector)
	check conffiles "dpkg lists: $cf" grep -q /etc/herdwatch/agent.yaml <<<"$cf"
	check conffiles_collector "dpkg lists: $cf" grep -q /etc/herdwatch/collector.conf <<<"$cf"
	local uid
	uid=$(in_root id -u herdwatch 2>/dev/null)
	check system_user "uid '$uid'" test -n "$uid" -a "${uid:-1000}" -lt 1000
	local subj
	subj=$(in_root openssl x509 -noout -subject -in /etc/herdwatch/pki/agent.pem 2>&1)
	check pki_agent_cert_for_host "agent.pem: $subj" grep -q "CN *= *$MACHINE\$" <<<"$subj"
	check pki_ca_key_root_only "$(in_root stat -c '%U %a' /etc/herdwatch/pki/ca.key)" \
		test "$(in_root stat -c '%U %a' /etc/herdwatch/pki/ca.key)" = "root 600"
	check pki_verifies "collector.pem not signed by ca.pem" in_root openssl verify \
		-CAfile /etc/herdwatch/pki/ca.pem /etc/herdwatch/pki/collector.pem
}

# Both services run after installation, with the privileges of their units.
case_services() {
	wait_for 20 in_root systemctl is-active herdwatch-collector
	check collector_active "$(in_root systemctl status herdwatch-collector 2>&1 | tail -n 5)" \
		in_root systemctl is-active herdwatch-collector
	local cpid st
	cpid=$(prop herdwatch-collector MainPID)
	st=$(in_root cat "/proc/$cpid/status" 2>/dev/null)
	check collector_user "$(grep -E '^Uid' <<<"$st")" \
		grep -qE "^Uid:\s+$(in_root id -u herdwatch)\s" <<<"$st"
	check collector_no_capabilities "$(grep -E '^Cap(Eff|Bnd)' <<<"$st" | tr '\n' ' ')" \
		grep -qE '^CapBnd:\s+0+$' <<<"$st"
	wait_for 60 agent_heartbeat
	check agent_active "$(in_root journalctl -u herdwatch-agent -n 5 --no-pager 2>&1)" agent_heartbeat
	local apid want
	apid=$(prop herdwatch-agent MainPID)
	st=$(in_root cat "/proc/$apid/status" 2>/dev/null)
	want=$(capmask $AGENT_CAPS)
	check agent_capabilities "$(grep -E '^CapEff' <<<"$st"), want $want" \
		grep -qE "^CapEff:\s+$want$" <<<"$st"
	check agent_no_new_privs "$(grep NoNewPrivs <<<"$st")" grep -qE '^NoNewPrivs:\s+1' <<<"$st"
	local rootmnt
	rootmnt=$(in_root awk '$5 == "/" { print $6 }' "/proc/$apid/mountinfo")
	check agent_read_only_root "the agent's / is mounted '$rootmnt'" grep -q '^ro' <<<"$rootmnt"
	# the same probes attach with the unit's capabilities as with every capability
	local mine full
	mine=$(in_root jq -c 'select(.kind=="agent.heartbeat") | .agent.probes' \
		/var/log/herdwatch/events.json | head -n1 | jq -c '[to_entries[] | {(.key): .value.state}] | add')
	full=$(in_root /usr/sbin/herdwatch-agent --probe --control none 2>/dev/null |
		jq -c '[.probes | to_entries[] | {(.key): .value.state}] | add' 2>/dev/null)
	check agent_probes_as_unrestricted "unit: $mine; all capabilities: $full" \
		test -n "$mine" -a "$mine" = "$full"
}

agent_heartbeat() {
	in_root systemctl is-active herdwatch-agent &&
		in_root grep -q '"agent.heartbeat"' /var/log/herdwatch/events.json
}

# The one edited file: uncomment agent.yaml's collector block, restart, and events arrive.
case_stream() {
	in_root sed -i -e 's/^#collector:/collector:/' -e 's/^#  \(address\|ca\|cert\|key\|spool_dir\):/  \1:/' \
		/etc/herdwatch/agent.yaml
	in_root systemctl restart herdwatch-agent
	wait_for 60 stream_has_events
	check stream_events_stored "collector has no events of $MACHINE: $(api /api/members | head -c 300)" \
		stream_has_events
}
stream_has_events() {
	[ "$(api "/api/events?member=$MACHINE&limit=1" | jq '.events | length')" -ge 1 ]
}

# A real Prometheus (the host's) in the root's network namespace scrapes /metrics.
case_prometheus() {
	local m
	m=$(api /metrics)
	check metrics_promtool "$(promtool check metrics <<<"$m" 2>&1 | head -n 3)" \
		bash -c 'promtool check metrics <<<"$0"' "$m"
	mkdir -p "$W/prom"
	cat >"$W/prom/prometheus.yml" <<EOF
global: {scrape_interval: 1s}
scrape_configs:
  - job_name: herdwatch
    static_configs: [{targets: ['127.0.0.1:7480']}]
EOF
	nsenter -t "$LEADER" -n prometheus --config.file="$W/prom/prometheus.yml" \
		--storage.tsdb.path="$W/prom/data" --web.listen-address=127.0.0.1:9491 \
		>"$W/prom/log" 2>&1 &
	local prom=$! q
	q() {
		nsenter -t "$LEADER" -n curl -sf 'http://127.0.0.1:9491/api/v1/query' \
			--data-urlencode "query=$1" | jq -r '.data.result[0].value[1] // empty'
	}
	scraped() { [ "$(q 'up{job="herdwatch"}')" = 1 ] &&
		[ "$(q 'herdwatch_collector_events_stored_total')" -gt 0 ] 2>/dev/null; }
	wait_for 40 scraped
	check prometheus_scrape "up=$(q 'up{job="herdwatch"}') stored=$(q herdwatch_collector_events_stored_total)" \
		scraped
	kill "$prom"
	wait "$prom" 2>/dev/null
}

# reload: same process, the new config applies (the events' herd changes).
case_reload() {
	local pid
	pid=$(prop herdwatch-agent MainPID)
	in_root sed -i 's/^herd: default$/herd: web/' /etc/herdwatch/agent.yaml
	in_root systemctl reload herdwatch-agent
	reloaded() { in_root grep -q '"host":{[^}]*"herd":"web"' /var/log/herdwatch/events.json; }
	wait_for 20 reloaded
	check reload_applies "no event with herd web after reload" reloaded
	check reload_same_process "MainPID $pid -> $(prop herdwatch-agent MainPID)" \
		test "$(prop herdwatch-agent MainPID)" = "$pid"
}

# stop: a clean exit (status 0, the spool's state says clean); start again.
case_stop_start() {
	in_root systemctl stop herdwatch-agent
	check stop_inactive "$(prop herdwatch-agent ActiveState)" \
		test "$(prop herdwatch-agent ActiveState)" = inactive
	check stop_exit_0 "Result $(prop herdwatch-agent Result), status $(prop herdwatch-agent ExecMainStatus)" \
		test "$(prop herdwatch-agent Result)/$(prop herdwatch-agent ExecMainStatus)" = success/0
	check stop_spool_clean "$(in_root cat /var/lib/herdwatch/spool/state 2>&1)" \
		in_root grep -q clean=1 /var/lib/herdwatch/spool/state
	in_root systemctl start herdwatch-agent
	wait_for 60 in_root systemctl is-active herdwatch-agent
	check start_active "$(prop herdwatch-agent ActiveState)" in_root systemctl is-active herdwatch-agent
}

# kill -9: systemd restarts the agent; the killed run's events up to its durable seq all reach
# the collector (the spool), the new run announces the crash and its own seqs are contiguous.
case_kill9() {
	local pid r1 n0 ev durable r2 end got max2
	pid=$(prop herdwatch-agent MainPID)
	n0=$(prop herdwatch-agent NRestarts)
	wait_for 30 stream_run_of "$pid"
	r1=$(stream_run_of "$pid")
	# activity to be in flight at the kill
	in_root bash -c 'for i in $(seq 300); do /bin/true; done' &
	local storm=$!
	sleep 1
	in_root kill -KILL "$pid"
	wait "$storm"
	restarted() { [ "$(prop herdwatch-agent NRestarts)" -gt "$n0" ] &&
		in_root systemctl is-active herdwatch-agent; }
	wait_for 30 restarted
	check kill9_restarted "NRestarts $(prop herdwatch-agent NRestarts), $(prop herdwatch-agent ActiveState)" restarted
	crash_ev() { in_root jq -c 'select(.kind=="agent.loss" and .loss.cause=="previous_run_crash")' \
		/var/log/herdwatch/events.json | grep -F "\"$r1\"" | head -n1 | grep .; }
	wait_for 30 crash_ev
	ev=$(crash_ev)
	check kill9_crash_announced "no previous_run_crash naming run $r1" test -n "$ev"
	durable=$(jq -r '.loss.durable_seq // 0' <<<"${ev:-{\}}")
	end=$((SECONDS + 60))
	while [ $SECONDS -lt $end ]; do
		runseq "$r1" | contiguous 1 "$durable" && break
		sleep 0.5
	done
	got=$(runseq "$r1" | awk -v d="$durable" '$1 >= 1 && $1 <= d' | wc -l)
	check kill9_nothing_lost "run $r1: $got of 1..$durable stored" \
		test "$durable" -gt 0 -a "$got" -eq "$durable"
	r2=$(jq -r .host.run <<<"${ev:-{\}}")
	local seqs
	seqs=$(runseq "$r2")
	max2=$(tail -n1 <<<"$seqs")
	check kill9_new_run_contiguous "run $r2: $(grep -c . <<<"$seqs") seqs stored, highest ${max2:-none}" \
		test -n "$max2" -a "$(head -n1 <<<"$seqs")" = 1 -a "$(grep -c . <<<"$seqs")" = "${max2:-x}"
}
# stream_run_of PID: the run id of the agent's events once the collector stores them
stream_run_of() {
	local r
	r=$(in_root jq -r "select(.kind==\"agent.heartbeat\" and .agent.pid==$1) | .host.run" \
		/var/log/herdwatch/events.json | tail -n1)
	[ -n "$r" ] && [ -n "$(runseq "$r" | head -n1)" ] && echo "$r"
}

no_agent() { ! in_root pidof herdwatch-agent; }

# remove keeps config and state; purge removes them (the CA stays, docs/packaging.md).
case_remove_purge() {
	in_root env DEBIAN_FRONTEND=noninteractive apt-get remove -y -q herdwatch-agent \
		herdwatch-collector >"$W/remove.log" 2>&1
	check remove_stops_agent "agent still running after remove: $(in_root pidof herdwatch-agent)" \
		no_agent
	check remove_keeps_config "agent.yaml gone after remove" in_root test -e /etc/herdwatch/agent.yaml
	check remove_keeps_db "collector.db gone after remove" \
		in_root test -e /var/lib/herdwatch/collector/collector.db
	in_root env DEBIAN_FRONTEND=noninteractive apt-get purge -y -q herdwatch-agent \
		herdwatch-collector >>"$W/remove.log" 2>&1
	check purge_removes_state "$(in_root ls -a /var/lib/herdwatch /etc/herdwatch 2>&1 | tr '\n' ' ')" \
		in_root bash -c '! test -e /var/lib/herdwatch/collector -o -e /var/lib/herdwatch/spool -o -e /etc/herdwatch/agent.yaml -o -e /var/log/herdwatch'
	check purge_keeps_ca "/etc/herdwatch/pki/ca.key gone" in_root test -e /etc/herdwatch/pki/ca.key
}
